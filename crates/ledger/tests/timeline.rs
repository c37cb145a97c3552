//! The timeline (`chl replay`, `GET /v1/replay`) over the sample history.
//!
//! `Ledger::init` writes record 0 (`ledger_created`, actor `platform`) and the import appends
//! the sample's lines in order, so the record on line N of replay/samples/acme-channel.jsonl
//! has seq N. Every expected list below was read off the sample by hand; the comments say
//! which line each seq is and why it concerns the id asked about.

use chl_ledger::{Ledger, LedgerConfig, LedgerError, Timeline, TimelineFilter};
use chl_model::event::OriginName;
use chl_model::{AgreementId, BrandId, GrantId, OrderId, PartyId, Seq, Sku, StoreId, Submission, Timestamp};
use serde_json::Value;

const SAMPLE: &str = include_str!("../../../replay/samples/acme-channel.jsonl");
const HEAD: Seq = Seq(40);

fn sample() -> (Ledger, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger =
        Ledger::init(tmp.path(), OriginName::parse("timeline.example").unwrap(), LedgerConfig::default())
            .unwrap();
    ledger.import(SAMPLE.as_bytes(), &mut |_| {}).unwrap();
    ledger.state().unwrap();
    assert_eq!(ledger.head().unwrap().seq, HEAD);
    (ledger, tmp)
}

fn seqs(timeline: &Timeline) -> Vec<u64> {
    timeline.records.iter().map(|r| r.seq.0).collect()
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// The seqs of the whole timeline (no limit to speak of), checking that it is complete.
fn all(ledger: &Ledger, filter: TimelineFilter) -> Vec<u64> {
    let timeline = ledger.timeline(&filter, 1000).unwrap();
    assert!(!timeline.truncated, "{filter:?}");
    assert_eq!(timeline.scanned_upto, Some(HEAD), "{filter:?}");
    seqs(&timeline)
}

fn order(id: &str) -> TimelineFilter {
    TimelineFilter { order: Some(OrderId::parse(id).unwrap()), ..TimelineFilter::default() }
}

fn store(id: &str) -> TimelineFilter {
    TimelineFilter { store: Some(StoreId::parse(id).unwrap()), ..TimelineFilter::default() }
}

fn brand(id: &str) -> TimelineFilter {
    TimelineFilter { brand: Some(BrandId::parse(id).unwrap()), ..TimelineFilter::default() }
}

fn party(id: &str) -> TimelineFilter {
    TimelineFilter { party: Some(PartyId::parse(id).unwrap()), ..TimelineFilter::default() }
}

fn grant(id: &str) -> TimelineFilter {
    TimelineFilter { grant: Some(GrantId::parse(id).unwrap()), ..TimelineFilter::default() }
}

fn agreement(id: &str) -> TimelineFilter {
    TimelineFilter { agreement: Some(AgreementId::parse(id).unwrap()), ..TimelineFilter::default() }
}

fn sku(id: &str) -> TimelineFilter {
    TimelineFilter { sku: Some(Sku::parse(id).unwrap()), ..TimelineFilter::default() }
}

#[test]
fn an_order_is_its_sale_then_its_refund_or_disputes() {
    let (ledger, _tmp) = sample();
    // 28: the sale of TB-20130603-0004 at grey-taobao; 32: dispute D-2013-0001 opened on it;
    // 33: that dispute closed (it names only the dispute, whose order is TB-20130603-0004).
    assert_eq!(all(&ledger, order("TB-20130603-0004")), [28, 32, 33]);
    // 26: the sale of TM-20130601-0002; 31: its refund (recorded after seq 30 but effective
    // earlier: the timeline is in seq order).
    assert_eq!(all(&ledger, order("TM-20130601-0002")), [26, 31]);
    // 30: the only record of TB-20130915-0005.
    assert_eq!(all(&ledger, order("TB-20130915-0005")), [30]);
}

#[test]
fn a_grant_is_its_own_records_and_the_grants_issued_under_it() {
    let (ledger, _tmp) = sample();
    // 16: g-east issued; 17 and 18: g-east-franchise and g-east-li issued with parent g-east.
    // 29 revokes g-east-li, not g-east, so it is not part of g-east's timeline.
    assert_eq!(all(&ledger, grant("g-east")), [16, 17, 18]);
    // 18: issued; 29: revoked.
    assert_eq!(all(&ledger, grant("g-east-li")), [18, 29]);
    // 17 only: never revoked, no grant under it.
    assert_eq!(all(&ledger, grant("g-east-franchise")), [17]);
}

#[test]
fn an_agreement_is_its_signing_and_termination() {
    let (ledger, _tmp) = sample();
    // 23: signed; 38: terminated by the distributor.
    assert_eq!(all(&ledger, agreement("agr-east-jingan")), [23, 38]);
    assert_eq!(all(&ledger, agreement("agr-acme-li")), [24]);
}

#[test]
fn a_store_is_its_opening_closing_and_sales_with_their_refunds_and_disputes() {
    let (ledger, _tmp) = sample();
    // 21: opened; 27 and 30: sales in it; 34: closed.
    assert_eq!(all(&ledger, store("li-taobao")), [21, 27, 30, 34]);
    // 22: opened; 28: the sale of TB-20130603-0004 in it; 32 and 33: the dispute on that order
    // (the store is found through the sale).
    assert_eq!(all(&ledger, store("grey-taobao")), [22, 28, 32, 33]);
    // 20: opened; 26: a sale in it; 31: that sale's refund.
    assert_eq!(all(&ledger, store("jingan-franchise")), [20, 26, 31]);
}

#[test]
fn a_brand_is_what_names_it_and_what_its_products_grants_agreements_and_sales_become() {
    let (ledger, _tmp) = sample();
    // 10: brand_registered; 11, 12: its products; 13: host appointed for it; 16, 17, 18: its
    // grants; 23, 24: its agreements; 25-28 and 30: sales of its skus; 29: revocation of its
    // grant g-east-li; 31: refund of a sale of its sku; 32, 33: dispute on such a sale;
    // 38: termination of its agreement agr-east-jingan; 39: its host dismissed.
    // Not: parties, supplier admissions, suspensions and margins (1-9, 14, 15, 35-37, 40),
    // store openings and closings (19-22, 34): none names the brand or one of its things.
    assert_eq!(
        all(&ledger, brand("acme-beauty")),
        [10, 11, 12, 13, 16, 17, 18, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 38, 39]
    );
}

#[test]
fn a_sku_is_what_names_it() {
    let (ledger, _tmp) = sample();
    // 12: registered; 25: its one sale. The grants and agreements scoped by category
    // (skincare) do not name it.
    assert_eq!(all(&ledger, sku("ACME-CREAM-50")), [12, 25]);
    // 11: registered; 18: g-east-li's scope lists it; 24: agr-acme-li's scope lists it;
    // 26, 27, 28, 30: its sales; 29: revocation of g-east-li (whose scope lists it); 31: refund
    // of sale 26; 32, 33: dispute on sale 28.
    assert_eq!(all(&ledger, sku("ACME-SERUM-30")), [11, 18, 24, 26, 27, 28, 29, 30, 31, 32, 33]);
}

#[test]
fn a_party_is_what_it_did_and_what_names_it_or_its_grants_agreements_and_stores() {
    let (ledger, _tmp) = sample();
    // 4: registered; 18: grantee of g-east-li; 21: operator of li-taobao; 24: distributor of
    // agr-acme-li; 27, 30: sales in its store; 29: revocation of its grant g-east-li;
    // 34: its store closed.
    assert_eq!(all(&ledger, party("seller-li")), [4, 18, 21, 24, 27, 29, 30, 34]);
    // 3: registered; 17: grantee of g-east-franchise; 20: operator of jingan-franchise;
    // 23: distributor of agr-east-jingan; 26: a sale in its store; 31: that sale's refund;
    // 38: it terminated agr-east-jingan (actor).
    assert_eq!(all(&ledger, party("franchise-sh")), [3, 17, 20, 23, 26, 31, 38]);
    // 5: registered; 13: appointed host; 16: it issued g-east for acme (actor); 39: dismissed.
    assert_eq!(all(&ledger, party("tp-hosting")), [5, 13, 16, 39]);
    // 2: registered; 14, 15: admitted, margin; 16: grantee of g-east; 17, 18: grantor of the
    // sub-grants; 23: supplier of agr-east-jingan; 29: it revoked g-east-li (actor and grantor);
    // 35, 36, 37: suspended, reinstated, margin deducted; 38: termination of its agreement;
    // 40: margin refunded.
    assert_eq!(all(&ledger, party("agent-east")), [2, 14, 15, 16, 17, 18, 23, 29, 35, 36, 37, 38, 40]);
}

#[test]
fn a_time_window_takes_effective_times_at_its_ends_included_in_seq_order() {
    let (ledger, _tmp) = sample();
    // Effective in June 2013 (China time): the four sales 25-28 (June 1-3), the refund 31
    // (June 5) and the dispute opening 32 (June 10). Not 29, 30 (September, though recorded
    // between them) nor 33 (July 10).
    let june = TimelineFilter {
        from: Some(at("2013-06-01T00:00:00+08:00")),
        to: Some(at("2013-06-30T23:59:59+08:00")),
        ..TimelineFilter::default()
    };
    assert_eq!(all(&ledger, june), [25, 26, 27, 28, 31, 32]);
    // Both ends are included: 25 is effective at exactly `from`, 31 at exactly `to`.
    let exact = TimelineFilter {
        from: Some(at("2013-06-01T12:30:00+08:00")),
        to: Some(at("2013-06-05T09:00:00+08:00")),
        ..TimelineFilter::default()
    };
    assert_eq!(all(&ledger, exact), [25, 26, 27, 28, 31]);
    // Only `from`: everything effective from 2014 on: record 0 (effective when the test ran)
    // and 35-40 (38 and 40 on March 1, 39 on January 15).
    let since_2014 =
        TimelineFilter { from: Some(at("2014-01-01T00:00:00+08:00")), ..TimelineFilter::default() };
    assert_eq!(all(&ledger, since_2014), [0, 35, 36, 37, 38, 39, 40]);
    // Only `to`: record 0 is effective when the test ran, so it is out; lines 1-6 are the
    // registrations of January 2-7, 2013.
    let early = TimelineFilter { to: Some(at("2013-01-07T09:00:00+08:00")), ..TimelineFilter::default() };
    assert_eq!(all(&ledger, early), [1, 2, 3, 4, 5, 6]);
    // An empty window.
    let backwards = TimelineFilter {
        from: Some(at("2013-06-30T00:00:00+08:00")),
        to: Some(at("2013-06-01T00:00:00+08:00")),
        ..TimelineFilter::default()
    };
    assert_eq!(all(&ledger, backwards), Vec::<u64>::new());
}

#[test]
fn every_id_given_must_be_concerned() {
    let (ledger, _tmp) = sample();
    // li-taobao's records that also concern ACME-SERUM-30: its two sales (not the opening 21
    // or the closing 34).
    let f = TimelineFilter { sku: Some(Sku::parse("ACME-SERUM-30").unwrap()), ..store("li-taobao") };
    assert_eq!(all(&ledger, f), [27, 30]);
    // seller-li's records that concern the brand: 18 (its grant), 24 (its agreement), 27 and 30
    // (sales in its store), 29 (its grant revoked). Not 4, 21, 34 (its registration, store
    // opening and closing name no brand).
    let f = TimelineFilter { brand: Some(BrandId::parse("acme-beauty").unwrap()), ..party("seller-li") };
    assert_eq!(all(&ledger, f), [18, 24, 27, 29, 30]);
    // g-east-li's records that agent-east is part of: both (grantor, and actor of 29).
    let f = TimelineFilter { party: Some(PartyId::parse("agent-east").unwrap()), ..grant("g-east-li") };
    assert_eq!(all(&ledger, f), [18, 29]);
    // seller-li from September 1, 2013: 29 (effective exactly then), 30, 34.
    let f = TimelineFilter { from: Some(at("2013-09-01T00:00:00+08:00")), ..party("seller-li") };
    assert_eq!(all(&ledger, f), [29, 30, 34]);
    // Two known ids that no record joins: an order sold at grey-taobao, asked with li-taobao.
    let f = TimelineFilter { store: Some(StoreId::parse("li-taobao").unwrap()), ..order("TB-20130603-0004") };
    assert_eq!(all(&ledger, f), Vec::<u64>::new());
    // The order and its store: the sale and the dispute, as for the order alone.
    let f =
        TimelineFilter { store: Some(StoreId::parse("grey-taobao").unwrap()), ..order("TB-20130603-0004") };
    assert_eq!(all(&ledger, f), [28, 32, 33]);
}

#[test]
fn an_unknown_id_gives_an_empty_timeline() {
    let (ledger, _tmp) = sample();
    for filter in [
        order("TM-20990101-0001"),
        store("no-such-store"),
        brand("no-such-brand"),
        party("nobody"),
        grant("g-none"),
        agreement("agr-none"),
        sku("NO-SKU"),
        // One unknown id among known ones.
        TimelineFilter { party: Some(PartyId::parse("nobody").unwrap()), ..brand("acme-beauty") },
    ] {
        assert_eq!(all(&ledger, filter), Vec::<u64>::new());
    }
}

#[test]
fn the_platform_acts_from_record_0_and_a_limit_truncates() {
    let (ledger, _tmp) = sample();
    // The platform is never registered, yet it is the actor of record 0 and lines 1-10.
    let t = ledger.timeline(&party("platform"), 3).unwrap();
    assert_eq!(seqs(&t), [0, 1, 2]);
    assert!(t.truncated);
    // Complete through seq 2: the next match (3) is left out.
    assert_eq!(t.scanned_upto, Some(Seq(2)));

    // The brand's first five (see the brand test); the sixth, 17, is left out.
    let t = ledger.timeline(&brand("acme-beauty"), 5).unwrap();
    assert_eq!(seqs(&t), [10, 11, 12, 13, 16]);
    assert!(t.truncated);
    assert_eq!(t.scanned_upto, Some(Seq(16)));

    // Exactly as many matches as the limit: not truncated.
    let t = ledger.timeline(&order("TB-20130603-0004"), 3).unwrap();
    assert_eq!(seqs(&t), [28, 32, 33]);
    assert!(!t.truncated);
    assert_eq!(t.scanned_upto, Some(HEAD));

    // A limit of 0 says only whether anything matches.
    let t = ledger.timeline(&order("TB-20130603-0004"), 0).unwrap();
    assert!(t.records.is_empty());
    assert!(t.truncated);
    assert_eq!(t.scanned_upto, Some(Seq(27)));
    let t = ledger.timeline(&order("TM-20990101-0001"), 0).unwrap();
    assert!(!t.truncated);
}

#[test]
fn entries_serialize_as_the_export_form() {
    let (ledger, _tmp) = sample();
    let t = ledger.timeline(&order("TM-20130601-0002"), 10).unwrap();
    let json: Value = serde_json::to_value(&t).unwrap();
    let mut export = Vec::new();
    ledger.export(Seq(26), None, &mut export).unwrap();
    let export: Vec<Value> =
        String::from_utf8(export).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // Records 26 and 31, exactly as `chl export` writes them.
    assert_eq!(json["records"], Value::Array(vec![export[0].clone(), export[31 - 26].clone()]));
    assert_eq!(json["truncated"], Value::Bool(false));
    assert_eq!(json["scanned_upto"], Value::from(40));
    assert_eq!(json["records"][1]["type"], "sale_refunded");
    assert_eq!(t.records[1].hash, ledger.read(Seq(31)).unwrap().1);
}

#[test]
fn the_state_must_be_loaded_and_only_durable_records_count() {
    let (ledger, tmp) = sample();
    drop(ledger);
    let mut ledger = Ledger::open(tmp.path(), LedgerConfig::default()).unwrap();
    assert!(matches!(ledger.timeline(&order("TM-20130601-0002"), 10), Err(LedgerError::StateNotLoaded)));
    ledger.state().unwrap();

    // A store staged and appended to the log but not yet synced: the state knows it, the
    // durable log does not, so its timeline is still empty.
    let line = r#"{"type":"store_opened","actor":"platform","data":{"store":"new-store","operator":"seller-li","channel":"taobao","name":"New"}}"#;
    ledger.stage(Submission::parse_json(line).unwrap()).unwrap();
    ledger.end_batch().unwrap();
    assert_eq!(all(&ledger, store("new-store")), Vec::<u64>::new());
    assert_eq!(all(&ledger, party("seller-li")), [4, 18, 21, 24, 27, 29, 30, 34]);
    ledger.commit().unwrap();
    let t = ledger.timeline(&store("new-store"), 10).unwrap();
    assert_eq!(seqs(&t), [41]);
    assert_eq!(t.scanned_upto, Some(Seq(41)));
}
