//! `chl verify` and `chl import` at a million records, and the ledger's size on disk against
//! its canonical record bytes.

use chl_ledger::{Ledger, LedgerConfig};
use chl_log::sample::sample_event;
use chl_model::event::OriginName;
use chl_model::{PartyId, Submission, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

const RECORDS: u64 = 1_000_000;

fn sample_submissions(n: u64) -> Vec<u8> {
    let effective_at = Some(Timestamp::parse_rfc3339("2013-11-11T00:00:00Z").unwrap());
    let mut out = Vec::with_capacity(n as usize * 330);
    for i in 1..=n {
        let submission = Submission { actor: PartyId::platform(), effective_at, event: sample_event(i) };
        submission.write_json(&mut out).unwrap();
        out.push(b'\n');
    }
    out
}

fn bench_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(std::env::var_os("CHL_BENCH_DIR").unwrap_or_else(|| ".".into())).unwrap()
}

fn new_ledger(root: &std::path::Path) -> Ledger {
    Ledger::init(root, OriginName::parse("bench.channel-ledger.example").unwrap(), LedgerConfig::default())
        .unwrap()
}

fn verify_and_import(c: &mut Criterion) {
    let submissions = sample_submissions(RECORDS - 1);
    let tmp = bench_dir();
    let root = tmp.path().join("ledger");
    let mut ledger = new_ledger(&root);
    ledger.import(submissions.as_slice(), &mut |_| {}).unwrap();
    let summary = ledger.verify(&mut |_| {}).unwrap();
    assert_eq!(summary.records, RECORDS);
    let on_disk = ledger.size_bytes().unwrap();
    eprintln!(
        "disk: {on_disk} bytes on disk (log, offset index and sled) for {} canonical record bytes: {:.3} x",
        summary.record_bytes,
        on_disk as f64 / summary.record_bytes as f64
    );
    drop(ledger);

    let mut group = c.benchmark_group("ledger_1m");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(RECORDS));
    group.bench_function("verify", |b| b.iter(|| Ledger::verify_at(&root, &mut |_| {}).unwrap().unwrap()));
    group.throughput(Throughput::Elements(RECORDS - 1));
    group.bench_function("import_form_checked", |b| {
        b.iter_batched(
            || {
                let dir = bench_dir();
                let ledger = new_ledger(&dir.path().join("ledger"));
                (dir, ledger)
            },
            |(dir, mut ledger)| {
                ledger.import(submissions.as_slice(), &mut |_| {}).unwrap();
                (dir, ledger)
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, verify_and_import);
criterion_main!(benches);
