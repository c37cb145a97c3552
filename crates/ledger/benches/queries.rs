//! Questions on a ledger of a million records with a brand of 10,000 stores: one order's
//! verdict in-process, one order's story (`chl replay --order`), the brand's channel view,
//! opening from a snapshot, and a full rebuild.

mod common;

use chl_ledger::story::StoryOptions;
use chl_ledger::{Ledger, LedgerConfig, StateSource};
use chl_model::event::OriginName;
use chl_model::{BrandId, OrderId, Timestamp};
use common::{bench_dir, channel_history};
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

const RECORDS: u64 = 1_000_000;
const STORES: u64 = 10_000;

fn queries(c: &mut Criterion) {
    let tmp = bench_dir();
    let root = tmp.path().join("ledger");
    let history = channel_history(RECORDS, STORES);
    {
        let mut ledger = Ledger::init(
            &root,
            OriginName::parse("bench.channel-ledger.example").unwrap(),
            LedgerConfig::default(),
        )
        .unwrap();
        ledger.import(history.as_slice(), &mut |_| {}).unwrap();
        ledger.snapshot().unwrap();
    }
    let mut ledger = Ledger::open(&root, LedgerConfig::default()).unwrap();
    ledger.state().unwrap();
    assert_eq!(ledger.state_source(), Some(StateSource::Snapshot(chl_model::Seq(RECORDS - 1))));
    let sales = RECORDS - 1 - (5 + 100 + 10 * 4 + STORES * 4);
    let orders: Vec<OrderId> =
        (0..1000).map(|i| OrderId::parse(&format!("TB-{:010}", i * 7919 % sales)).unwrap()).collect();
    let brand = BrandId::parse("brand-0").unwrap();
    let at = Timestamp::parse_rfc3339("2014-06-01T00:00:00Z").unwrap();
    {
        let (view, _) = ledger.channel(&brand, Some(at), None, None, None).unwrap().unwrap();
        let stores: usize = view.stores.values().map(Vec::len).sum();
        assert_eq!(stores as u64, STORES);
        assert!(view.stores.values().flatten().all(|s| s.authorized));
    }

    let mut group = c.benchmark_group("queries_1m");
    group.sample_size(50);
    let mut next = 0;
    group.bench_function("check_one_order", |b| {
        b.iter(|| {
            next = (next + 1) % orders.len();
            ledger.check_order(&orders[next], None).unwrap()
        })
    });
    // The investigator's story of one order: three verdicts, the chain, the agreement, the
    // suppliers' histories, each record read by seq (chl replay --order).
    group.bench_function("order_story", |b| {
        b.iter(|| {
            next = (next + 1) % orders.len();
            ledger.order_story(&orders[next], StoryOptions::default()).unwrap().unwrap()
        })
    });
    group.bench_function("order_story_markdown", |b| {
        b.iter(|| {
            next = (next + 1) % orders.len();
            ledger.order_story(&orders[next], StoryOptions::default()).unwrap().unwrap().to_markdown(None)
        })
    });
    group.bench_function("channel_view_10000_stores", |b| {
        b.iter(|| {
            ledger.channel(&brand, Some(at), None, None, None).unwrap().map(|(view, _)| view.stores.len())
        })
    });
    drop(ledger);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("open_from_snapshot", |b| {
        b.iter(|| {
            let mut ledger = Ledger::open(&root, LedgerConfig::default()).unwrap();
            ledger.state().unwrap();
            assert!(matches!(ledger.state_source(), Some(StateSource::Snapshot(_))));
        })
    });
    group.bench_function("full_rebuild", |b| {
        b.iter(|| {
            let mut ledger = Ledger::open(&root, LedgerConfig::default()).unwrap();
            ledger.rebuild().unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
