//! Durable append: batches of 1,000 records of about 200 bytes, with and without the Merkle
//! tree maintained, one record per commit, and the machine's bare fdatasync of a small append
//! for comparison, all in one run.

use chl_log::sample::append_sample_batch;
use chl_log::{Log, StoreConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::fs::OpenOptions;
use std::io::Write;
use std::time::Duration;

fn open_log(dir: &std::path::Path) -> Log {
    let (mut log, _) = Log::open_dir(&dir.join("log"), StoreConfig::default()).unwrap();
    append_sample_batch(&mut log, 1);
    log.commit().unwrap();
    log
}

fn durable_append(c: &mut Criterion) {
    let tmp = tempfile::tempdir_in(std::env::var_os("CHL_BENCH_DIR").unwrap_or_else(|| ".".into())).unwrap();
    let mut log = open_log(tmp.path());
    let mut group = c.benchmark_group("durable_append");
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(1000));
    group.bench_function("batch_of_1000_records", |b| {
        b.iter(|| {
            append_sample_batch(&mut log, 1000);
            log.commit().unwrap()
        })
    });
    // The same log without its tree: what maintaining the tree adds is the difference.
    let mut treeless = open_log(&tmp.path().join("treeless"));
    treeless.without_tree_for_measurement();
    group.bench_function("batch_of_1000_records_without_tree", |b| {
        b.iter(|| {
            append_sample_batch(&mut treeless, 1000);
            treeless.commit().unwrap()
        })
    });
    drop(treeless);
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_record_per_commit", |b| {
        b.iter(|| {
            append_sample_batch(&mut log, 1);
            log.commit().unwrap()
        })
    });
    // The work the Merkle tree adds to a batch of 1,000, measured alone in the same run: one
    // SHA-256 per leaf and the interior nodes it completes (the leaves are hashed on a second
    // core during the fsync in the log, so this is an upper bound of what the tree costs).
    let bodies: Vec<Vec<u8>> = (1..=1000).map(|seq| log.record_bytes(chl_model::Seq(seq)).unwrap()).collect();
    let mut tree = chl_log::tree::MerkleTree::empty(&tmp.path().join("scratch-tree"));
    group.throughput(Throughput::Elements(1000));
    group.bench_function("merkle_tree_work_for_1000_records", |b| {
        b.iter(|| {
            for body in &bodies {
                tree.push_leaf(<chl_log::merkle::Sha256Hasher as chl_log::merkle::TreeHasher>::leaf(body));
            }
            tree.root()
        })
    });
    group.throughput(Throughput::Elements(1));
    let path = tmp.path().join("bare");
    let mut file = OpenOptions::new().create(true).append(true).open(&path).unwrap();
    let record = [0x5au8; 240];
    group.bench_function("bare_fdatasync_of_a_240_byte_append", |b| {
        b.iter(|| {
            file.write_all(&record).unwrap();
            file.sync_data().unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, durable_append);
criterion_main!(benches);
