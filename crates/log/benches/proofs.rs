//! Inclusion and consistency proofs on a log of 10,000,000 records.

use chl_log::sample::append_sample_batch;
use chl_log::{Log, StoreConfig};
use chl_model::Seq;
use criterion::{Criterion, criterion_group, criterion_main};

const LEAVES: u64 = 10_000_000;

fn proofs(c: &mut Criterion) {
    let tmp = tempfile::tempdir_in(std::env::var_os("CHL_BENCH_DIR").unwrap_or_else(|| ".".into())).unwrap();
    let dir = tmp.path().join("log");
    {
        let (mut log, _) = Log::open_dir(&dir, StoreConfig::default()).unwrap();
        while log.record_count() < LEAVES {
            let n = (LEAVES - log.record_count()).min(100_000);
            append_sample_batch(&mut log, n);
            log.commit().unwrap();
        }
    }
    // Opened again: the tree's stored levels are loaded from their files.
    let (log, _) = Log::open_dir(&dir, StoreConfig::default()).unwrap();
    let mut group = c.benchmark_group("proofs_10m");
    let mut i = 0u64;
    group.bench_function("inclusion_proof", |b| {
        b.iter(|| {
            i = (i + 7_654_321) % LEAVES;
            log.inclusion_proof(Seq(i), LEAVES).unwrap()
        })
    });
    group.bench_function("consistency_proof", |b| {
        b.iter(|| {
            i = (i + 7_654_321) % LEAVES;
            log.consistency_proof(i.max(1), LEAVES).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, proofs);
criterion_main!(benches);
