//! The story of an order (`chl replay --order`) over the sample history.
//!
//! `Ledger::init` writes record 0 and the import appends the sample's lines in order, so the
//! record on line N of replay/samples/acme-channel.jsonl has seq N. Every expected seq below was
//! read off the sample by hand; the comments say which line each is.
//!
//! The sample is imported now, years after its effective times, so every record of it is
//! "recorded late": the stories below find it backfilled, and the findings that matter are the
//! ones drawn from seqs.

use chl_ledger::story::{OrderStory, StoryOptions};
use chl_ledger::{Ledger, LedgerConfig, LedgerError, TimelineFilter};
use chl_model::event::OriginName;
use chl_model::{OrderId, PartyId, Seq, Timestamp};
use chl_state::{VerdictKind, Warning};

const SAMPLE: &str = include_str!("../../../replay/samples/acme-channel.jsonl");
const HEAD: u64 = 40;

fn ledger_of(history: &str) -> (Ledger, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger =
        Ledger::init(tmp.path(), OriginName::parse("story.example").unwrap(), LedgerConfig::default())
            .unwrap();
    ledger.import(history.as_bytes(), &mut |_| {}).unwrap();
    ledger.state().unwrap();
    (ledger, tmp)
}

fn sample() -> (Ledger, tempfile::TempDir) {
    let (ledger, tmp) = ledger_of(SAMPLE);
    assert_eq!(ledger.head().unwrap().seq, Seq(HEAD));
    (ledger, tmp)
}

fn story(ledger: &Ledger, order: &str) -> OrderStory {
    ledger.order_story(&OrderId::parse(order).unwrap(), StoryOptions::default()).unwrap().unwrap()
}

fn seqs<'a>(items: impl IntoIterator<Item = &'a chl_ledger::story::Item>) -> Vec<u64> {
    items.into_iter().map(|i| i.seq.0).collect()
}

fn kinds<'a>(items: impl IntoIterator<Item = &'a chl_ledger::story::Item>) -> Vec<&'static str> {
    items.into_iter().map(|i| i.kind).collect()
}

fn finding_kinds(story: &OrderStory) -> Vec<&'static str> {
    story.findings.iter().map(|f| f.kind).collect()
}

fn evidence(story: &OrderStory, horizon: &str) -> Vec<u64> {
    story.verdict_at(horizon).unwrap().verdict.evidence.iter().map(|s| s.0).collect()
}

#[test]
fn an_authentic_sale_whose_grant_was_revoked_later() {
    let (ledger, _tmp) = sample();
    let s = story(&ledger, "TB-20130602-0003");
    // 27: the sale at li-taobao (seller-li), ACME-SERUM-30 at 159.00 CNY, region CN-31.
    assert_eq!(s.sale.seq, Seq(27));
    assert_eq!(s.known_at_seq, Seq(HEAD));
    assert_eq!(s.sale.operator.as_str(), "seller-li");
    assert!(!s.sale.region_from_store);
    // No dispute: two horizons.
    let horizons: Vec<&str> = s.verdicts.iter().map(|v| v.horizon).collect();
    assert_eq!(horizons, ["sale", "now"]);
    assert_eq!(s.verdict_at("sale").unwrap().known_at_seq, Seq(27));
    let at_sale = &s.verdict_at("sale").unwrap().verdict;
    let now = &s.verdict_at("now").unwrap().verdict;
    assert_eq!(at_sale.verdict, VerdictKind::Authentic);
    assert_eq!(now.verdict, VerdictKind::Authentic);
    assert_eq!(at_sale.warnings, [Warning::PriceBelowFloor]);
    assert_eq!(now.warnings, [Warning::PriceBelowFloor, Warning::RevokedLater]);
    // 7 acme admitted, 10 brand, 11 serum, 16 g-east, 18 g-east-li, 21 li-taobao opened, 24
    // agr-acme-li, 27 the sale; now also 29, g-east-li's revocation.
    assert_eq!(evidence(&s, "sale"), [7, 10, 11, 16, 18, 21, 24, 27]);
    assert_eq!(evidence(&s, "now"), [7, 10, 11, 16, 18, 21, 24, 27, 29]);

    // One chain, named at both horizons: g-east (16) issued, g-east-li (18) sub-granted under
    // it, g-east-li revoked (29), then the two expiries (2014-03-20 from 18, 2015-03-01 from 16).
    assert_eq!(s.grant_chains.len(), 1);
    let chain = &s.grant_chains[0];
    assert_eq!(chain.named_at, ["sale", "now"]);
    let grants: Vec<&str> = chain.grants.iter().map(|g| g.grant.as_str()).collect();
    assert_eq!(grants, ["g-east", "g-east-li"]);
    assert_eq!(kinds(&chain.events), ["issued", "sub_granted", "revoked", "expires", "expires"]);
    assert_eq!(seqs(&chain.events), [16, 18, 29, 18, 16]);
    let li = &chain.grants[1];
    assert_eq!(li.at_sale, "valid");
    assert!(li.does_not_cover.is_empty());
    let revoked = li.revoked.as_ref().unwrap();
    assert_eq!((revoked.seq, revoked.grant.as_str()), (Seq(29), "g-east-li"));
    assert!(chain.grants[0].revoked.is_none());
    assert!(s.other_grants_held.is_empty());

    // agr-acme-li (24), the only agreement of seller-li.
    assert_eq!(s.agreements.len(), 1);
    let agreement = &s.agreements[0];
    assert_eq!(agreement.agreement.as_str(), "agr-acme-li");
    assert_eq!(agreement.named_at, ["sale", "now"]);
    assert_eq!((agreement.at_sale, agreement.fails_at_sale.is_empty()), ("active", true));
    assert_eq!(kinds(&agreement.events), ["signed", "expires"]);

    // acme: owner, g-east's grantor, agr-acme-li's supplier: admitted 7, deposit 8. agent-east:
    // admitted 14, suspended 35, reinstated 36; deposit 15 (20,000.00), deduction 37 (5,000.00),
    // refund 40 (10,000.00). seller-li is no supplier.
    let suppliers: Vec<&str> = s.suppliers.iter().map(|p| p.supplier.as_str()).collect();
    assert_eq!(suppliers, ["acme", "agent-east"]);
    assert_eq!(
        s.suppliers[0].roles,
        ["brand owner of acme-beauty", "grantor of g-east", "supplier under agr-acme-li"]
    );
    assert_eq!(s.suppliers[1].roles, ["holder of g-east", "grantor of g-east-li"]);
    let east = &s.suppliers[1];
    assert_eq!(seqs(&east.statuses), [14, 35, 36]);
    assert_eq!(kinds(&east.statuses), ["admitted", "suspended", "reinstated"]);
    let margins: Vec<(u64, &str, i64, i64)> =
        east.margins.iter().map(|m| (m.item.seq.0, m.item.kind, m.delta, m.balance_after)).collect();
    assert_eq!(
        margins,
        [
            (15, "deposited", 2_000_000, 2_000_000),
            (37, "deducted", -500_000, 1_500_000),
            (40, "margin_refunded", -1_000_000, 500_000)
        ]
    );
    assert_eq!((east.status_at_sale, east.status_now), (Some("active"), Some("active")));
    assert_eq!(east.balance_at_sale[0].value, 2_000_000);
    assert_eq!(east.balance_now[0].value, 500_000);
    // The policy in force at the sale: 10,000.00 CNY (9).
    let policy = s.min_margin_at_sale.as_ref().unwrap();
    assert_eq!((policy.min_margin.value(), policy.seq), (1_000_000, Seq(9)));

    assert_eq!(seqs(&s.order_events), [27]);
    // li-taobao opened (21) and closed (34); the brand (10), the product (11), the policy (9).
    assert_eq!(kinds(&s.store.events), ["opened", "closed"]);
    assert_eq!(seqs(&s.store.events), [21, 34]);
    assert_eq!(seqs(&s.context), [9, 10, 11]);
    assert_eq!(
        finding_kinds(&s),
        ["revoked_later", "supplier_suspended", "margin_deducted", "price_below_floor", "backfilled"]
    );
    assert!(s.backfilled());
    assert!(
        s.conclusion.starts_with(
            "Authentic at every horizon: seller-li is authorized through g-east -> g-east-li and sourced under \
             agreement agr-acme-li; a grant relied on was revoked after the sale (seq 29)"
        ),
        "{}",
        s.conclusion
    );
    // Every record cited, once, in seq order, in export form.
    let cited: Vec<u64> = s.records.iter().map(|r| r.seq.0).collect();
    assert_eq!(cited, [7, 8, 9, 10, 11, 14, 15, 16, 18, 21, 24, 27, 29, 34, 35, 36, 37, 40]);
    for entry in &s.records {
        let (_, hash) = ledger.read(entry.seq).unwrap();
        assert_eq!(entry.hash, hash);
        let json: serde_json::Value = serde_json::from_str(entry.record.get()).unwrap();
        assert_eq!(json["seq"], entry.seq.0);
        assert_eq!(json["hash"], hash.to_string());
    }
}

#[test]
fn a_grey_seller_never_authorized_and_disputed() {
    let (ledger, _tmp) = sample();
    let s = story(&ledger, "TB-20130603-0004");
    // 28: the sale at grey-taobao (grey-trader, CN-44), 3 x ACME-SERUM-30 at 99.00 CNY; 32 the
    // dispute opened, 33 closed with finding counterfeit.
    assert_eq!(s.sale.seq, Seq(28));
    let horizons: Vec<(&str, u64)> = s.verdicts.iter().map(|v| (v.horizon, v.known_at_seq.0)).collect();
    assert_eq!(horizons, [("sale", 28), ("dispute", 32), ("now", HEAD)]);
    assert_eq!(s.verdict_at("dispute").unwrap().dispute.as_ref().unwrap().as_str(), "D-2013-0001");
    for hv in &s.verdicts {
        assert_eq!(hv.verdict.verdict, VerdictKind::Unauthorized);
        assert!(hv.verdict.grant_chain.is_empty());
    }
    assert_eq!(s.verdict_at("sale").unwrap().verdict.warnings, [Warning::PriceBelowFloor]);
    assert_eq!(
        s.verdict_at("dispute").unwrap().verdict.warnings,
        [Warning::PriceBelowFloor, Warning::Disputed]
    );
    // 7, 10, 11, 22 grey-taobao opened, 28; at the dispute also 32.
    assert_eq!(evidence(&s, "sale"), [7, 10, 11, 22, 28]);
    assert_eq!(evidence(&s, "dispute"), [7, 10, 11, 22, 28, 32]);
    assert_eq!(evidence(&s, "now"), [7, 10, 11, 22, 28, 32]);
    assert_eq!(kinds(&s.order_events), ["sale", "dispute_opened", "dispute_closed"]);
    assert_eq!(seqs(&s.order_events), [28, 32, 33]);
    assert!(s.grant_chains.is_empty() && s.other_grants_held.is_empty() && s.agreements.is_empty());
    let suppliers: Vec<&str> = s.suppliers.iter().map(|p| p.supplier.as_str()).collect();
    assert_eq!(suppliers, ["acme"]);
    assert_eq!(finding_kinds(&s), ["no_grant", "no_agreement", "price_below_floor", "dispute", "backfilled"]);
    assert_eq!(s.findings[3].seqs, [Seq(32), Seq(33)]);
    assert_eq!(
        s.conclusion,
        "Unauthorized at every horizon (no_grant): grey-trader never held a grant of acme-beauty. Dispute \
         D-2013-0001 was closed with finding counterfeit."
    );
}

#[test]
fn a_sale_after_the_revocation() {
    let (ledger, _tmp) = sample();
    let s = story(&ledger, "TB-20130915-0005");
    // 30: the sale at li-taobao on 2013-09-15; g-east-li was revoked from 2013-09-01 (29).
    assert_eq!(s.sale.seq, Seq(30));
    for hv in &s.verdicts {
        assert_eq!(hv.verdict.verdict, VerdictKind::Unauthorized);
        assert_eq!(format!("{:?}", hv.verdict.reasons), "[GrantRevoked]");
    }
    assert_eq!(evidence(&s, "sale"), [7, 10, 11, 16, 18, 21, 29, 30]);
    assert_eq!(s.grant_chains[0].grants[1].at_sale, "revoked");
    // agr-acme-li (24) was in force, but an agreement is no authorization.
    assert_eq!(s.agreements[0].named_at, Vec::<&str>::new());
    assert_eq!(
        finding_kinds(&s),
        ["grant_revoked", "agreement_without_grant", "supplier_suspended", "margin_deducted", "backfilled"]
    );
    assert!(s.conclusion.starts_with(
        "Unauthorized at every horizon (grant_revoked): grant g-east-li was revoked from 2013-08-31T16:00:00Z (seq 29)"
    ));
}

#[test]
fn a_refunded_franchise_sale_and_the_owners_own_store() {
    let (ledger, _tmp) = sample();
    // 26: jingan-franchise (franchise-sh, region CN-31 from the store), refunded at 31; chain
    // g-east (16) -> g-east-franchise (17), agreement agr-east-jingan (23) from agent-east, whose
    // status (14) and grant (16) the verdict rests on.
    let s = story(&ledger, "TM-20130601-0002");
    assert!(s.sale.region_from_store);
    assert_eq!(s.verdict_at("now").unwrap().verdict.verdict, VerdictKind::Authentic);
    assert_eq!(s.verdict_at("now").unwrap().verdict.warnings, [Warning::Refunded]);
    assert_eq!(evidence(&s, "now"), [7, 10, 11, 14, 16, 17, 20, 23, 26, 31]);
    assert_eq!(kinds(&s.order_events), ["sale", "refunded"]);
    // agr-east-jingan signed (23), terminated by franchise-sh from 2014-03-01 (38), ends 2014-03-28.
    assert_eq!(kinds(&s.agreements[0].events), ["signed", "terminated", "expires"]);
    assert_eq!(seqs(&s.agreements[0].events), [23, 38, 23]);
    assert!(finding_kinds(&s).contains(&"refunded"));

    // 25: acme's own flagship store: no grant, no agreement needed.
    let own = story(&ledger, "TM-20130601-0001");
    assert_eq!(own.verdict_at("now").unwrap().verdict.verdict, VerdictKind::Authentic);
    assert!(own.grant_chains.is_empty() && own.agreements.is_empty());
    assert_eq!(own.suppliers[0].roles, ["brand owner of acme-beauty", "operator of acme-flagship"]);
    assert_eq!(finding_kinds(&own), ["owner_store", "backfilled"]);
    assert!(
        own.conclusion.starts_with("Authentic at every horizon: the store is the brand owner acme's own")
    );
}

#[test]
fn unknown_orders_and_an_unloaded_state() {
    let (ledger, tmp) = sample();
    let unknown = OrderId::parse("TB-00000000-0000").unwrap();
    assert!(ledger.order_story(&unknown, StoryOptions::default()).unwrap().is_none());
    drop(ledger);
    let reopened = Ledger::open(tmp.path(), LedgerConfig::default()).unwrap();
    let order = OrderId::parse("TB-20130603-0004").unwrap();
    assert!(matches!(
        reopened.order_story(&order, StoryOptions::default()),
        Err(LedgerError::StateNotLoaded)
    ));
}

#[test]
fn a_threshold_past_every_delay_marks_nothing_late() {
    let (ledger, _tmp) = sample();
    let order = OrderId::parse("TB-20130603-0004").unwrap();
    // Far more hours than since 2013: nothing counts as recorded late.
    let s = ledger.order_story(&order, StoryOptions { late_after_hours: 1_000_000 }).unwrap().unwrap();
    assert!(!s.backfilled());
    assert!(s.order_events.iter().all(|i| i.recorded_late_hours.is_none()));
    assert!(!finding_kinds(&s).iter().any(|k| *k == "recorded_late" || *k == "backfilled"));
    // With the default, every item of the sample is late, by years.
    let s = story(&ledger, "TB-20130603-0004");
    assert!(s.order_events.iter().all(|i| i.recorded_late_hours.is_some_and(|h| h > 24 * 365)));
}

/// replay/scenarios/investigation-backdated-grant: a grant recorded (17) after the sale (15) it
/// authorizes, with a dispute (16) opened in between and closed (18) after it.
#[test]
fn a_backdated_grant_changes_the_verdict_after_the_sale() {
    let history = include_str!("../../../replay/scenarios/investigation-backdated-grant/history.jsonl");
    let (ledger, _tmp) = ledger_of(history);
    let s = story(&ledger, "TB-20130602-2101");
    let verdicts: Vec<(&str, u64, VerdictKind)> =
        s.verdicts.iter().map(|v| (v.horizon, v.known_at_seq.0, v.verdict.verdict)).collect();
    assert_eq!(
        verdicts,
        [
            ("sale", 15, VerdictKind::Unauthorized),
            ("dispute", 16, VerdictKind::Unauthorized),
            ("now", 18, VerdictKind::Authentic)
        ]
    );
    assert_eq!(
        s.verdict_at("now").unwrap().verdict.warnings,
        [Warning::GrantRecordedAfterSale, Warning::Disputed]
    );
    assert_eq!(s.grant_chains[0].named_at, ["now"]);
    let kinds = finding_kinds(&s);
    assert_eq!(kinds[..3], ["verdict_changed", "grant_recorded_after_sale", "dispute"]);
    // Records after the sale that the later verdicts rest on: the grant (17); the dispute (16) is
    // the order's own.
    assert_eq!(s.findings[0].seqs, [Seq(17)]);
    assert_eq!(s.findings[1].seqs, [Seq(17)]);
    assert!(
        s.conclusion.starts_with(
            "Authentic as the ledger knows it now (seq 18), but unauthorized (no_grant) as known when the sale \
             was recorded (seq 15) and still when dispute D-2013-2101 was opened (seq 16): the authorization \
             was recorded only after the sale (seq 17), a sign of backdating."
        ),
        "{}",
        s.conclusion
    );
}

#[test]
fn the_forms_of_a_story() {
    let (ledger, _tmp) = sample();
    let s = story(&ledger, "TB-20130602-0003");
    let json = serde_json::to_value(&s).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "order",
        "known_at_seq",
        "head_hash",
        "verifier_key",
        "late_after_hours",
        "conclusion",
        "sale",
        "verdicts",
        "order_events",
        "store",
        "grant_chains",
        "other_grants_held",
        "agreements",
        "suppliers",
        "min_margin_at_sale",
        "context",
        "findings",
        "records",
    ];
    let mut keys = keys;
    keys.sort_unstable();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(json["verdicts"][0]["verdict"]["verdict"], "authentic");
    assert_eq!(json["grant_chains"][0]["events"][2]["kind"], "revoked");
    assert_eq!(json["grant_chains"][0]["events"][2]["seq"], 29);
    assert_eq!(json["suppliers"][1]["margins"][1]["delta"], -500_000);
    assert_eq!(json["records"][0]["type"], "supplier_admitted");

    let text = s.to_text(None);
    assert!(text.starts_with("Order TB-20130602-0003: its story as the ledger holds it through seq 40"));
    assert!(text.contains("seq 29"));
    // Backfilled: the finding says it once; no line is marked late.
    assert!(!text.contains("late]"));
    let markdown = s.to_markdown(None);
    assert!(markdown.starts_with("# Case report: order TB-20130602-0003\n"));
    for section in
        ["## The sale", "## Verdicts at each horizon", "## Grant chains", "## Findings", "## Conclusion"]
    {
        assert!(markdown.contains(section), "{section}");
    }
    assert!(!markdown.contains("## Proof bundle"));
    // A bundle is appended as a JSON block that verifies.
    let bundle = ledger.prove_order(&OrderId::parse("TB-20130602-0003").unwrap()).unwrap();
    let with_bundle = s.to_markdown(Some(&bundle));
    let block = with_bundle.split("```json\n").nth(1).unwrap().split("\n```").next().unwrap();
    let key = chl_ledger::bundle::VerifierKey::parse(&s.verifier_key).unwrap();
    let report = chl_ledger::bundle::verify_bundle(block, &key).unwrap();
    assert_eq!(report.records, [7, 10, 11, 16, 18, 21, 24, 27, 29]);
}

#[test]
fn timelines_between_recorded_times() {
    let (ledger, _tmp) = sample();
    let filter =
        TimelineFilter { party: Some(PartyId::parse("agent-east").unwrap()), ..TimelineFilter::default() };
    let all = ledger.timeline(&filter, 1000).unwrap();
    let recorded = |seq: Seq| ledger.read(seq).unwrap().0.recorded_at;
    // No window: the timeline itself.
    let same = ledger.timeline_recorded(&filter, None, None, 1000).unwrap();
    assert_eq!(same.records.len(), all.records.len());
    // From the recording of the fifth record on: what the full timeline holds from then on.
    let from = recorded(all.records[4].seq);
    let expected: Vec<Seq> = all.records.iter().map(|r| r.seq).filter(|s| recorded(*s) >= from).collect();
    let got = ledger.timeline_recorded(&filter, Some(from), None, 1000).unwrap();
    assert_eq!(got.records.iter().map(|r| r.seq).collect::<Vec<_>>(), expected);
    assert!(!got.truncated);
    assert_eq!(got.scanned_upto, Some(Seq(HEAD)));
    // Up to it: the rest.
    let to = recorded(all.records[4].seq);
    let expected: Vec<Seq> = all.records.iter().map(|r| r.seq).filter(|s| recorded(*s) <= to).collect();
    let got = ledger.timeline_recorded(&filter, None, Some(to), 1000).unwrap();
    assert_eq!(got.records.iter().map(|r| r.seq).collect::<Vec<_>>(), expected);
    assert!(!got.truncated);
    // A limit below what matches: truncated after `limit` records, complete up to the next one.
    let got = ledger.timeline_recorded(&filter, Some(Timestamp::MIN), None, 2).unwrap();
    assert_eq!(got.records.len(), 2);
    assert!(got.truncated);
    assert_eq!(got.scanned_upto, Some(Seq(all.records[2].seq.0 - 1)));
    // A window after every record: nothing, and complete.
    let later = ledger.timeline_recorded(&filter, Some(Timestamp::MAX), None, 10).unwrap();
    assert!(later.records.is_empty() && !later.truncated);
}
