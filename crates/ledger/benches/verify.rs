//! A ledger of a million records: `chl verify`, import with every rule judged against import
//! with form checks only (the same file, in one run), and the size on disk against the
//! canonical record bytes.

use chl_ledger::{Ledger, LedgerConfig, RuleMode};
use chl_model::event::OriginName;
mod common;

use common::{bench_dir, channel_history};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

const RECORDS: u64 = 1_000_000;

fn new_ledger(root: &std::path::Path, rules: RuleMode) -> Ledger {
    let config = LedgerConfig { rules, ..LedgerConfig::default() };
    Ledger::init(root, OriginName::parse("bench.channel-ledger.example").unwrap(), config).unwrap()
}

fn ledger_1m(c: &mut Criterion) {
    let history = channel_history(RECORDS, 1000);
    let tmp = bench_dir();
    let root = tmp.path().join("ledger");
    let mut ledger = new_ledger(&root, RuleMode::Enforced);
    let outcome = ledger.import(history.as_slice(), &mut |_| {}).unwrap();
    assert_eq!(outcome.appended + 1, RECORDS);
    let summary = ledger.verify(&mut |_| {}).unwrap();
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
    for (name, rules) in
        [("import_rules_enforced", RuleMode::Enforced), ("import_form_only", RuleMode::FormOnly)]
    {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let dir = bench_dir();
                    let ledger = new_ledger(&dir.path().join("ledger"), rules);
                    (dir, ledger)
                },
                |(dir, mut ledger)| {
                    ledger.import(history.as_slice(), &mut |_| {}).unwrap();
                    (dir, ledger)
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, ledger_1m);
criterion_main!(benches);
