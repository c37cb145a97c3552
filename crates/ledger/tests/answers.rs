//! The same questions get the same answers from the live state, from a state rebuilt from the
//! log alone, and from a state restored from a snapshot, over generated histories.

use chl_ledger::{Ledger, LedgerConfig, StateSource};
use chl_model::event::OriginName;
use chl_model::{BrandId, OrderId, Seq, Sku, StoreId, Submission, Timestamp};
use proptest::prelude::*;
use serde_json::{Value, json};

const SAMPLE: &str = include_str!("../../../replay/samples/acme-channel.jsonl");
const PARTIES: &[&str] = &["acme", "agent-east", "franchise-sh", "seller-li", "grey-trader", "tp-hosting"];
const CHANNELS: &[&str] = &["tmall_flagship", "tmall_franchise", "tmall_specialty", "taobao", "offline"];
const REGIONS: &[&str] = &["CN-31", "CN-32", "CN-44"];
const SKUS: &[&str] = &["ACME-SERUM-30", "ACME-CREAM-50"];

fn day(n: u8) -> String {
    // Days from 2013-03-01 on, two years of them.
    let t = Timestamp::parse_rfc3339("2013-03-01T00:00:00Z").unwrap();
    t.saturating_add_micros(i64::from(n) * 3 * 86_400_000_000).to_string()
}

#[allow(clippy::too_many_arguments)]
/// One generated operation, as a submission line; many break a rule and are refused, which is
/// part of the test (a refusal must leave nothing behind).
fn operation(
    kind: u8,
    a: u8,
    b: u8,
    c: u8,
    n: usize,
    stores: &[String],
    grants: &[String],
    orders: &[String],
) -> String {
    let pick = |list: &[&str], i: u8| list[i as usize % list.len()].to_owned();
    let pick_owned =
        |list: &[String], i: u8| list.get(i as usize % list.len().max(1)).cloned().unwrap_or_default();
    let at = day(c);
    let line = match kind % 7 {
        0 => json!({"type": "store_opened", "actor": "platform", "effective_at": at, "data": {
            "store": format!("gen-store-{n}"), "operator": pick(PARTIES, a), "channel": pick(CHANNELS, b),
            "name": format!("Generated store {n}"), "region": pick(REGIONS, a ^ b)}}),
        1 => json!({"type": "grant_issued", "actor": "agent-east", "effective_at": at, "data": {
            "grant": format!("gen-grant-{n}"), "brand": "acme-beauty", "grantor": "agent-east",
            "grantee": pick(PARTIES, a), "parent": "g-east", "scope": {"skus": [pick(SKUS, b)]},
            "channels": [pick(&["taobao", "tmall_franchise"], b)], "regions": [pick(&["CN-31", "CN-32"], a)],
            "exclusive": false, "sublicensable": false, "valid_from": at, "valid_until": day(c.saturating_add(a % 60 + 1))}}),
        2 => json!({"type": "grant_revoked", "actor": "agent-east", "effective_at": at,
            "data": {"grant": pick_owned(grants, a), "reason": "generated revocation"}}),
        3 => json!({"type": "sale_recorded", "actor": "platform", "effective_at": at, "data": {
            "order": format!("GEN-{n}"), "store": pick_owned(stores, a), "sku": pick(SKUS, b), "quantity": 1 + a % 3,
            "unit_price": {"value": 15_000 + i64::from(b) * 50, "currency": "CNY"}}}),
        4 => json!({"type": "store_closed", "actor": "platform", "effective_at": at,
            "data": {"store": pick_owned(stores, a), "reason": "generated closing"}}),
        5 => json!({"type": "sale_refunded", "actor": "platform", "effective_at": at,
            "data": {"order": pick_owned(orders, a), "reason": "generated refund"}}),
        _ => {
            json!({"type": if a.is_multiple_of(2) { "supplier_suspended" } else { "supplier_reinstated" }, "actor": "platform",
            "effective_at": at, "data": if a.is_multiple_of(2) { json!({"supplier": "acme", "reason": "review"}) } else { json!({"supplier": "acme"}) }})
        }
    };
    line.to_string()
}

/// Every question the tests ask, answered by `ledger`, as JSON.
fn answers(ledger: &mut Ledger, stores: &[String], orders: &[String]) -> Vec<Value> {
    ledger.state().unwrap();
    let head = ledger.record_count() - 1;
    let horizons = [Some(Seq(20)), Some(Seq(head / 2)), None];
    let mut out = Vec::new();
    for order in orders {
        for known in horizons {
            let verdict = ledger.check_order(&OrderId::parse(order).unwrap(), known).unwrap();
            out.push(json!({"order": order, "known": known.map(|k| k.0), "verdict": verdict}));
        }
    }
    for store in stores {
        for sku in SKUS {
            for d in [10u8, 80, 200] {
                let at = Timestamp::parse_rfc3339(&day(d)).unwrap();
                let answer = ledger
                    .check_at(&StoreId::parse(store).unwrap(), &Sku::parse(sku).unwrap(), at, None)
                    .unwrap()
                    .map_err(|e| e.to_string());
                out.push(json!({"store": store, "sku": sku, "at": at.to_string(), "answer": format!("{answer:?}")}));
            }
        }
    }
    for d in [0u8, 60, 120, 250] {
        let at = Timestamp::parse_rfc3339(&day(d)).unwrap();
        for known in horizons {
            let since = Some(Timestamp::parse_rfc3339(&day(d / 2)).unwrap());
            let view = ledger
                .channel(&BrandId::parse("acme-beauty").unwrap(), Some(at), known, None, since)
                .unwrap();
            let view = serde_json::to_value(view).unwrap();
            out.push(json!({"channel_at": at.to_string(), "known": known.map(|k| k.0), "view": view}));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn live_rebuilt_and_snapshot_states_answer_alike(
        ops in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()), 40..160),
        batch in 1usize..6,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("ledger");
        let mut ledger = Ledger::init(&root, OriginName::parse("answers.example").unwrap(), LedgerConfig::default()).unwrap();
        ledger.import(SAMPLE.as_bytes(), &mut |_| {}).unwrap();
        let mut stores: Vec<String> = ["acme-flagship", "jingan-franchise", "li-taobao", "grey-taobao"].map(String::from).to_vec();
        let mut grants: Vec<String> = ["g-east", "g-east-franchise", "g-east-li"].map(String::from).to_vec();
        let mut orders: Vec<String> =
            ["TM-20130601-0001", "TM-20130601-0002", "TB-20130602-0003", "TB-20130603-0004", "TB-20130915-0005"].map(String::from).to_vec();
        for (n, chunk) in ops.chunks(batch).enumerate() {
            // Each chunk is one batch through the same path as the API: stage, then commit or
            // roll back; a refused submission takes its batch with it.
            let mark = ledger.mark();
            let mut refused = false;
            for (i, (kind, a, b, c)) in chunk.iter().enumerate() {
                let id = n * 10 + i;
                let line = operation(*kind, *a, *b, *c, id, &stores, &grants, &orders);
                let staged = Submission::parse_json(&line).map_err(drop).and_then(|s| ledger.stage(s).map_err(drop));
                if staged.is_err() {
                    refused = true;
                    break;
                }
            }
            if refused {
                ledger.rollback_to(mark).unwrap();
                continue;
            }
            ledger.commit().unwrap();
            for (i, (kind, ..)) in chunk.iter().enumerate() {
                let id = n * 10 + i;
                match kind % 7 {
                    0 => stores.push(format!("gen-store-{id}")),
                    1 => grants.push(format!("gen-grant-{id}")),
                    3 => orders.push(format!("GEN-{id}")),
                    _ => {}
                }
            }
        }
        // Ids that were refused are simply unknown everywhere; asking about them is fine.
        let live = answers(&mut ledger, &stores, &orders);
        let live_digest = ledger.state().unwrap().digest();
        ledger.snapshot().unwrap();
        drop(ledger);

        let mut from_snapshot = Ledger::open(&root, LedgerConfig::default()).unwrap();
        let snapshot_digest = from_snapshot.state().unwrap().digest();
        prop_assert!(matches!(from_snapshot.state_source(), Some(StateSource::Snapshot(_))));
        prop_assert_eq!(snapshot_digest, live_digest);
        prop_assert_eq!(&answers(&mut from_snapshot, &stores, &orders), &live);
        drop(from_snapshot);

        std::fs::remove_dir_all(root.join("snapshots")).unwrap();
        let mut rebuilt = Ledger::open(&root, LedgerConfig::default()).unwrap();
        prop_assert_eq!(rebuilt.state().unwrap().digest(), live_digest);
        prop_assert_eq!(rebuilt.state_source(), Some(StateSource::Replay));
        prop_assert_eq!(&answers(&mut rebuilt, &stores, &orders), &live);
    }
}
