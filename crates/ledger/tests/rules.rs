//! The rules of spec/events.md as a ledger judges them on import, written as specifications.
//!
//! Every test starts from a fresh ledger holding the sample history
//! (replay/samples/acme-channel.jsonl: its line N is the record with seq N) and imports a few
//! submissions on top. A refusal is checked for its line, rule, field and the ids it names,
//! for leaving the ledger byte-identical, and for leaving it able to take the next import.
//!
//! Times are written in China Standard Time like the sample (`t("2013-06-01 09:00")`);
//! messages show them in UTC with microseconds (`utc(...)`).

use chl_ledger::{ImportError, ImportOutcome, Ledger, LedgerConfig, Staged};
use chl_model::event::OriginName;
use chl_model::{Seq, Submission, Timestamp};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

const SAMPLE: &str = include_str!("../../../replay/samples/acme-channel.jsonl");
const SAMPLE_RECORDS: u64 = 40;

// ---- fixture ------------------------------------------------------------------------------

struct Fixture {
    tmp: tempfile::TempDir,
    ledger: Option<Ledger>,
}

impl Fixture {
    /// A new ledger: record 0 only.
    fn empty() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let origin = OriginName::parse("rules.channel-ledger.example").unwrap();
        let ledger = Ledger::init(tmp.path(), origin, LedgerConfig::default()).unwrap();
        Fixture { tmp, ledger: Some(ledger) }
    }

    /// A new ledger with the sample history imported: seqs 1..=40.
    fn sample() -> Fixture {
        let mut fx = Fixture::empty();
        let outcome = fx
            .ledger()
            .import(SAMPLE.as_bytes(), &mut |_| {})
            .unwrap_or_else(|e| panic!("the sample history is refused: {e}"));
        assert_eq!(outcome.appended, SAMPLE_RECORDS);
        assert_eq!(outcome.repeats, 0);
        assert_eq!(outcome.range, Some((Seq(1), Seq(SAMPLE_RECORDS))));
        fx
    }

    fn ledger(&mut self) -> &mut Ledger {
        self.ledger.as_mut().expect("the ledger is open")
    }

    /// Closes the ledger and opens it again from its directory.
    fn reopen(&mut self) {
        self.ledger = None;
        self.ledger = Some(Ledger::open(self.tmp.path(), LedgerConfig::default()).unwrap());
    }

    fn export(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.ledger().export(Seq::ZERO, None, &mut out).unwrap();
        out
    }

    fn next_seq(&mut self) -> u64 {
        self.ledger().record_count()
    }

    /// Imports `lines` as one file.
    fn import(&mut self, lines: &[String]) -> Result<ImportOutcome, ImportError> {
        let mut text = lines.join("\n");
        text.push('\n');
        self.ledger().import(text.as_bytes(), &mut |_| {})
    }

    /// Imports `lines`, which must all be new and accepted; returns the first seq they got.
    fn accept(&mut self, lines: &[String]) -> u64 {
        let first = self.next_seq();
        let outcome =
            self.import(lines).unwrap_or_else(|e| panic!("refused: {e}\nlines:\n{}", lines.join("\n")));
        assert_eq!(outcome.appended, lines.len() as u64, "{outcome:?}");
        assert_eq!(outcome.repeats, 0, "{outcome:?}");
        assert_eq!(outcome.range, Some((Seq(first), Seq(first + lines.len() as u64 - 1))));
        assert_eq!(self.next_seq(), first + lines.len() as u64);
        first
    }

    /// Imports `lines` and asserts the import is refused at `line` by `rule` on `field`, with
    /// a message containing every one of `needles`; that nothing was appended (the export is
    /// byte-identical); and that a valid import right after still works. Returns the error.
    fn refuse(&mut self, lines: &[String], line: u64, rule: &str, field: &str, needles: &[&str]) -> String {
        let before = self.export();
        let count = self.next_seq();
        let error = match self.import(lines) {
            Ok(outcome) => panic!(
                "expected line {line}: {rule}: {field}: ..., but the import was accepted: {outcome:?}\nlines:\n{}",
                lines.join("\n")
            ),
            Err(e) => e.to_string(),
        };
        let head = format!("line {line}: {rule}: {field}: ");
        assert!(error.starts_with(&head), "expected `{head}...`, got `{error}`");
        for needle in needles {
            assert!(error.contains(needle), "`{error}` does not contain `{needle}`");
        }
        assert_eq!(self.next_seq(), count, "a refused import appended records: {error}");
        assert!(self.export() == before, "a refused import changed the export: {error}");
        let n = PROBES.fetch_add(1, Ordering::Relaxed);
        let probe = ev(
            "party_registered",
            "platform",
            None,
            json!({"party": format!("probe-{n}"), "legal_name": "Probe"}),
        );
        let outcome = self.import(&[probe]).unwrap_or_else(|e| panic!("a valid import after `{error}`: {e}"));
        assert_eq!(outcome.appended, 1);
        error
    }
}

static PROBES: AtomicU64 = AtomicU64::new(0);

// ---- submissions --------------------------------------------------------------------------

/// `2013-06-01` or `2013-06-01 09:00` in China Standard Time, as RFC 3339.
fn t(local: &str) -> String {
    match local.split_once(' ') {
        None => format!("{local}T00:00:00+08:00"),
        Some((date, time)) => format!("{date}T{time}:00+08:00"),
    }
}

/// How a message shows the time `t(local)`.
fn utc(local: &str) -> String {
    Timestamp::parse_rfc3339(&t(local)).unwrap().to_string()
}

/// One submission line; `at` is the local time of `t`, or none for "now".
fn ev(kind: &str, actor: &str, at: Option<&str>, data: Value) -> String {
    let mut line = json!({"type": kind, "actor": actor, "data": data});
    if let Some(at) = at {
        line["effective_at"] = Value::String(t(at));
    }
    line.to_string()
}

/// `base` with the keys of `patch` set (a null value removes the key).
fn patched(mut base: Value, patch: Value) -> Value {
    for (key, value) in patch.as_object().expect("a patch is an object") {
        let map = base.as_object_mut().unwrap();
        if value.is_null() {
            map.remove(key);
        } else {
            map.insert(key.clone(), value.clone());
        }
    }
    base
}

fn platform(kind: &str, at: &str, data: Value) -> String {
    ev(kind, "platform", Some(at), data)
}

fn party(id: &str, at: &str) -> String {
    platform("party_registered", at, json!({"party": id, "legal_name": format!("{id} Co., Ltd.")}))
}

/// A root grant of acme-beauty from acme to seller-li on taobao, every product, everywhere,
/// 2013-06-01 to 2014-06-01, not exclusive, not sublicensable; `patch` changes it.
fn grant(actor: &str, at: &str, id: &str, patch: Value) -> String {
    let base = json!({
        "grant": id, "brand": "acme-beauty", "grantor": "acme", "grantee": "seller-li", "scope": {},
        "channels": ["taobao"], "exclusive": false, "sublicensable": false,
        "valid_from": t("2013-06-01"), "valid_until": t("2014-06-01"),
    });
    ev("grant_issued", actor, Some(at), patched(base, patch))
}

/// A sub-grant under g-east from agent-east to seller-li: skincare, taobao, CN-31,
/// 2013-06-01 to 2014-06-01; `patch` changes it.
fn sub_grant(actor: &str, at: &str, id: &str, patch: Value) -> String {
    let base = json!({
        "grant": id, "brand": "acme-beauty", "grantor": "agent-east", "grantee": "seller-li",
        "parent": "g-east", "scope": {"categories": ["skincare"]}, "channels": ["taobao"],
        "regions": ["CN-31"], "exclusive": false, "sublicensable": false,
        "valid_from": t("2013-06-01"), "valid_until": t("2014-06-01"),
    });
    ev("grant_issued", actor, Some(at), patched(base, patch))
}

fn revoke(actor: &str, at: &str, grant: &str) -> String {
    ev("grant_revoked", actor, Some(at), json!({"grant": grant, "reason": "test"}))
}

/// An agreement of acme-beauty from acme to seller-li, wholesale, skincare, 2013-06-01 to
/// 2014-06-01; `patch` changes it.
fn agreement(actor: &str, at: &str, id: &str, patch: Value) -> String {
    let base = json!({
        "agreement": id, "supplier": "acme", "distributor": "seller-li", "brand": "acme-beauty",
        "mode": "wholesale", "scope": {"categories": ["skincare"]},
        "valid_from": t("2013-06-01"), "valid_until": t("2014-06-01"),
    });
    ev("agreement_signed", actor, Some(at), patched(base, patch))
}

fn terminate(actor: &str, at: &str, agreement: &str) -> String {
    ev("agreement_terminated", actor, Some(at), json!({"agreement": agreement, "reason": "test"}))
}

fn sale(at: &str, order: &str, store: &str, sku: &str) -> String {
    platform(
        "sale_recorded",
        at,
        json!({"order": order, "store": store, "sku": sku, "quantity": 1,
               "unit_price": {"value": 19900, "currency": "CNY"}}),
    )
}

fn money(value: i64) -> Value {
    json!({"value": value, "currency": "CNY"})
}

fn deposit(at: &str, supplier: &str, value: i64) -> String {
    platform("margin_deposited", at, json!({"supplier": supplier, "amount": money(value)}))
}

fn deduct(at: &str, supplier: &str, value: i64) -> String {
    platform("margin_deducted", at, json!({"supplier": supplier, "amount": money(value), "reason": "test"}))
}

fn refund_margin(at: &str, supplier: &str, value: i64) -> String {
    platform("margin_refunded", at, json!({"supplier": supplier, "amount": money(value)}))
}

fn suspend(at: &str, supplier: &str) -> String {
    platform("supplier_suspended", at, json!({"supplier": supplier, "reason": "test"}))
}

fn reinstate(at: &str, supplier: &str) -> String {
    platform("supplier_reinstated", at, json!({"supplier": supplier}))
}

fn expel(at: &str, supplier: &str) -> String {
    platform("supplier_expelled", at, json!({"supplier": supplier, "reason": "test"}))
}

fn appoint(at: &str, host: &str, powers: &[&str], from: &str, until: &str) -> String {
    ev(
        "channel_host_appointed",
        "acme",
        Some(at),
        json!({"brand": "acme-beauty", "host": host, "powers": powers, "valid_from": t(from), "valid_until": t(until)}),
    )
}

fn dismiss(at: &str, host: &str) -> String {
    ev("channel_host_dismissed", "acme", Some(at), json!({"brand": "acme-beauty", "host": host}))
}

fn product(actor: &str, at: &str, sku: &str, brand: &str) -> String {
    ev(
        "product_registered",
        actor,
        Some(at),
        json!({"sku": sku, "brand": brand, "name": format!("{sku} product"), "category": "skincare"}),
    )
}

fn brand(at: &str, id: &str, owner: &str) -> String {
    platform("brand_registered", at, json!({"brand": id, "name": id, "owner": owner, "trademark_no": "TM-1"}))
}

/// Line `n` (from 1) of the sample: the record with seq `n`.
fn sample_line(n: usize) -> String {
    SAMPLE.lines().nth(n - 1).unwrap().to_owned()
}

// ---- rule 2: references -------------------------------------------------------------------

#[test]
fn references_to_unknown_ids_of_every_kind_are_refused_naming_the_id() {
    let mut fx = Fixture::sample();
    let at = "2013-06-01";
    let cases: Vec<(String, &str, &str)> = vec![
        (product("acme", at, "ACME-NEW", "no-brand"), "data.brand", "brand no-brand does not exist"),
        (brand(at, "new-brand", "nobody"), "data.owner", "party nobody does not exist"),
        (
            platform(
                "store_opened",
                at,
                json!({"store": "s-new", "operator": "nobody", "channel": "taobao", "name": "S"}),
            ),
            "data.operator",
            "party nobody does not exist",
        ),
        (
            appoint(at, "nobody", &["grants"], "2013-06-01", "2014-01-01"),
            "data.host",
            "party nobody does not exist",
        ),
        (
            grant("acme", at, "g-new", json!({"grantee": "nobody"})),
            "data.grantee",
            "party nobody does not exist",
        ),
        (
            grant("acme", at, "g-new", json!({"scope": {"skus": ["NO-SKU"]}})),
            "data.scope.skus[0]",
            "sku NO-SKU does not exist",
        ),
        (
            sub_grant("agent-east", at, "g-new", json!({"parent": "g-nope"})),
            "data.parent",
            "grant g-nope does not exist",
        ),
        (revoke("acme", at, "g-nope"), "data.grant", "grant g-nope does not exist"),
        (
            agreement("acme", at, "agr-new", json!({"distributor": "nobody"})),
            "data.distributor",
            "party nobody does not exist",
        ),
        (terminate("acme", at, "agr-nope"), "data.agreement", "agreement agr-nope does not exist"),
        (sale(at, "ORD-NEW", "no-store", "ACME-SERUM-30"), "data.store", "store no-store does not exist"),
        (sale(at, "ORD-NEW", "acme-flagship", "NO-SKU"), "data.sku", "sku NO-SKU does not exist"),
        (
            platform("sale_refunded", at, json!({"order": "ORD-NOPE", "reason": "r"})),
            "data.order",
            "order ORD-NOPE does not exist",
        ),
        (
            platform(
                "dispute_opened",
                at,
                json!({"dispute": "D-NEW", "order": "ORD-NOPE", "claim": "counterfeit"}),
            ),
            "data.order",
            "order ORD-NOPE does not exist",
        ),
        (
            platform("dispute_closed", at, json!({"dispute": "D-NOPE", "finding": "authentic"})),
            "data.dispute",
            "dispute D-NOPE does not exist",
        ),
    ];
    for (line, field, message) in cases {
        fx.refuse(&[line], 1, "references", field, &[message]);
    }
}

#[test]
fn references_to_ids_that_exist_only_from_a_later_time_are_refused() {
    let mut fx = Fixture::sample();
    // grey-taobao opened 2013-04-01 10:00 (seq 22).
    let exists =
        |what: &str, from: &str, seq: u64| format!("{what} exists only from {} (seq {seq})", utc(from));
    fx.refuse(
        &[sale("2013-04-01 09:59", "ORD-EARLY", "grey-taobao", "ACME-SERUM-30")],
        1,
        "references",
        "data.store",
        &[&exists("store grey-taobao", "2013-04-01 10:00", 22), &utc("2013-04-01 09:59")],
    );
    fx.refuse(
        &[product("acme", "2013-01-14", "ACME-EARLY", "acme-beauty")],
        1,
        "references",
        "data.brand",
        &[&exists("brand acme-beauty", "2013-01-15 10:00", 10)],
    );
    fx.refuse(
        &[platform(
            "store_opened",
            "2013-01-06",
            json!({"store": "grey-early", "operator": "grey-trader", "channel": "taobao", "name": "Early"}),
        )],
        1,
        "references",
        "data.operator",
        &[&exists("party grey-trader", "2013-01-07 09:00", 6)],
    );
    fx.refuse(
        &[revoke("agent-east", "2013-03-19", "g-east-li")],
        1,
        "references",
        "data.grant",
        &[&exists("grant g-east-li", "2013-03-20", 18)],
    );
    fx.refuse(
        &[terminate("acme", "2013-03-29 09:00", "agr-acme-li")],
        1,
        "references",
        "data.agreement",
        &[&exists("agreement agr-acme-li", "2013-03-29 10:00", 24)],
    );
    fx.refuse(
        &[sale("2013-01-20 10:02", "ORD-EARLY", "acme-flagship", "ACME-CREAM-50")],
        1,
        "references",
        "data.store",
        &["store acme-flagship exists only from"],
    );
    // A fact counts from its effective_at itself.
    fx.accept(&[sale("2013-04-01 10:00", "ORD-ON-TIME", "grey-taobao", "ACME-SERUM-30")]);
    fx.accept(&[revoke("agent-east", "2013-03-20", "g-east-franchise")]);
}

#[test]
fn a_sku_of_another_brand_is_refused_in_a_scope() {
    let mut fx = Fixture::sample();
    fx.accept(&[
        brand("2013-05-01", "other-brand", "acme"),
        product("acme", "2013-05-02", "OTHER-1", "other-brand"),
    ]);
    fx.refuse(
        &[grant("acme", "2013-06-01", "g-mixed", json!({"scope": {"skus": ["ACME-SERUM-30", "OTHER-1"]}}))],
        1,
        "references",
        "data.scope.skus[1]",
        &["sku OTHER-1 is a product of brand other-brand, not of brand acme-beauty"],
    );
    fx.refuse(
        &[agreement("acme", "2013-06-01", "agr-mixed", json!({"scope": {"skus": ["OTHER-1"]}}))],
        1,
        "references",
        "data.scope.skus[0]",
        &["sku OTHER-1 is a product of brand other-brand, not of brand acme-beauty"],
    );
    fx.accept(&[
        grant(
            "acme",
            "2013-06-01",
            "g-other",
            json!({"brand": "other-brand", "scope": {"skus": ["OTHER-1"]}}),
        ),
        agreement(
            "acme",
            "2013-06-01",
            "agr-other",
            json!({"brand": "other-brand", "scope": {"skus": ["OTHER-1"]}}),
        ),
    ]);
}

#[test]
fn platform_is_reserved_and_never_a_new_party_id() {
    let mut fx = Fixture::sample();
    fx.refuse(
        &[party("platform", "2013-06-01")],
        1,
        "references",
        "data.party",
        &["platform is the reserved id of the platform operator"],
    );
    fx.accept(&[party("platform-services", "2013-06-01")]);
}

#[test]
fn a_submission_may_refer_to_ids_created_earlier_in_the_same_batch() {
    let mut fx = Fixture::sample();
    fx.accept(&[
        party("new-seller", "2013-06-01"),
        platform(
            "store_opened",
            "2013-06-02",
            json!({"store": "new-store", "operator": "new-seller", "channel": "taobao", "name": "New"}),
        ),
        sale("2013-06-03", "ORD-NEW-STORE", "new-store", "ACME-CREAM-50"),
        platform(
            "dispute_opened",
            "2013-06-04",
            json!({"dispute": "D-NEW", "order": "ORD-NEW-STORE", "claim": "counterfeit"}),
        ),
    ]);
}

#[test]
fn a_new_id_must_never_have_been_used_at_any_time() {
    let mut fx = Fixture::sample();
    let late = fx.accept(&[party("late-party", "2013-06-01")]);
    // Used from 2013-06-01 only; a different registration backdated before it is still a conflict.
    let conflict = format!("party id late-party is already taken by seq {late} with different content");
    fx.refuse(
        &[platform("party_registered", "2012-06-01", json!({"party": "late-party", "legal_name": "Other"}))],
        1,
        "idempotency",
        "data.party",
        &[&conflict],
    );
    let cases: Vec<(String, &str, &str)> = vec![
        (
            brand("2013-06-01", "acme-beauty", "acme"),
            "data.brand",
            "brand id acme-beauty is already taken by seq 10",
        ),
        (
            product("acme", "2013-06-01", "ACME-SERUM-30", "acme-beauty"),
            "data.sku",
            "sku id ACME-SERUM-30 is already taken by seq 11",
        ),
        (
            grant("acme", "2013-06-01", "g-east", json!({})),
            "data.grant",
            "grant id g-east is already taken by seq 16",
        ),
        (
            platform(
                "store_opened",
                "2013-06-01",
                json!({"store": "acme-flagship", "operator": "acme", "channel": "tmall_flagship", "name": "Again"}),
            ),
            "data.store",
            "store id acme-flagship is already taken by seq 19",
        ),
        (
            agreement("acme", "2013-06-01", "agr-acme-li", json!({})),
            "data.agreement",
            "agreement id agr-acme-li is already taken by seq 24",
        ),
        (
            platform(
                "dispute_opened",
                "2013-08-01",
                json!({"dispute": "D-2013-0001", "order": "TB-20130602-0003", "claim": "counterfeit"}),
            ),
            "data.dispute",
            "dispute id D-2013-0001 is already taken by seq 32",
        ),
    ];
    for (line, field, message) in cases {
        fx.refuse(&[line], 1, "idempotency", field, &[message]);
    }
}

// ---- rule 3: authority --------------------------------------------------------------------

#[test]
fn platform_only_types_are_refused_from_any_other_actor() {
    let mut fx = Fixture::sample();
    let at = Some("2013-06-01");
    let cases: Vec<(String, &str, &str)> = vec![
        (
            ev("party_registered", "acme", at, json!({"party": "p-new", "legal_name": "P"})),
            "party_registered",
            "acme",
        ),
        (
            ev(
                "sale_recorded",
                "franchise-sh",
                at,
                json!({"order": "ORD-SELF", "store": "jingan-franchise", "sku": "ACME-SERUM-30", "quantity": 1,
                       "unit_price": money(21900)}),
            ),
            "sale_recorded",
            "franchise-sh",
        ),
        (
            ev(
                "store_opened",
                "acme",
                at,
                json!({"store": "s-new", "operator": "acme", "channel": "taobao", "name": "S"}),
            ),
            "store_opened",
            "acme",
        ),
        (ev("policy_set", "acme", at, json!({"min_margin": money(1)})), "policy_set", "acme"),
        (
            ev("supplier_suspended", "acme", at, json!({"supplier": "agent-east", "reason": "r"})),
            "supplier_suspended",
            "acme",
        ),
        (
            ev("margin_deposited", "agent-east", at, json!({"supplier": "agent-east", "amount": money(1)})),
            "margin_deposited",
            "agent-east",
        ),
        (
            ev(
                "dispute_opened",
                "seller-li",
                at,
                json!({"dispute": "D-NEW", "order": "TB-20130603-0004", "claim": "counterfeit"}),
            ),
            "dispute_opened",
            "seller-li",
        ),
    ];
    for (line, kind, actor) in cases {
        let only = format!("only platform may submit {kind}; the actor is {actor}");
        fx.refuse(&[line], 1, "authority", "actor", &[&only]);
    }
    // The same acts by platform.
    fx.accept(&[
        platform("party_registered", "2013-06-01", json!({"party": "p-new", "legal_name": "P"})),
        platform("margin_deposited", "2013-06-01", json!({"supplier": "agent-east", "amount": money(1)})),
    ]);
}

#[test]
fn ledger_created_cannot_be_submitted() {
    let mut fx = Fixture::sample();
    let line = ev("ledger_created", "platform", None, json!({"origin": "x.example", "public_key": "AAAA"}));
    fx.refuse(&[line], 1, "authority", "type", &["ledger_created is written only by chl init"]);
}

#[test]
fn products_are_registered_by_the_owner_or_a_host_with_power_grants_within_its_appointment() {
    let mut fx = Fixture::sample();
    fx.refuse(
        &[product("grey-trader", "2013-06-01", "ACME-FAKE", "acme-beauty")],
        1,
        "authority",
        "actor",
        &["grey-trader is neither the owner of brand acme-beauty (acme) nor its channel host with power grants"],
    );
    // tp-hosting is dismissed from 2014-01-15.
    fx.refuse(
        &[product("tp-hosting", "2014-01-16", "ACME-LATE", "acme-beauty")],
        1,
        "authority",
        "actor",
        &["tp-hosting is neither the owner of brand acme-beauty (acme)", &utc("2014-01-16")],
    );
    // Its appointment was recorded as of 2013-02-01 09:00, though its window opens at 00:00.
    fx.refuse(
        &[product("tp-hosting", "2013-02-01 08:00", "ACME-EARLY", "acme-beauty")],
        1,
        "authority",
        "actor",
        &["tp-hosting is neither the owner"],
    );
    fx.accept(&[
        product("acme", "2013-06-01", "ACME-OWN", "acme-beauty"),
        product("tp-hosting", "2013-06-01", "ACME-HOSTED", "acme-beauty"),
        product("tp-hosting", "2013-02-01 09:00", "ACME-FIRST-DAY", "acme-beauty"),
    ]);
}

#[test]
fn channel_hosts_are_appointed_and_dismissed_only_by_the_brand_owner() {
    let mut fx = Fixture::sample();
    let mut by_agent = appoint("2013-06-01", "grey-trader", &["grants"], "2013-06-01", "2014-01-01");
    by_agent = by_agent.replace(r#""actor":"acme""#, r#""actor":"agent-east""#);
    assert!(by_agent.contains("agent-east"));
    fx.refuse(
        &[by_agent],
        1,
        "authority",
        "actor",
        &["only the owner of brand acme-beauty (acme) may submit channel_host_appointed; the actor is agent-east"],
    );
    fx.accept(&[appoint("2013-06-01", "grey-trader", &["grants"], "2013-06-01", "2014-01-01")]);
    let by_host =
        dismiss("2013-07-01", "grey-trader").replace(r#""actor":"acme""#, r#""actor":"tp-hosting""#);
    fx.refuse(
        &[by_host],
        1,
        "authority",
        "actor",
        &["only the owner of brand acme-beauty (acme) may submit channel_host_dismissed; the actor is tp-hosting"],
    );
    fx.accept(&[dismiss("2013-07-01", "grey-trader")]);
}

#[test]
fn a_grant_is_issued_by_its_grantor_and_not_by_anyone_else() {
    let mut fx = Fixture::sample();
    fx.refuse(
        &[sub_grant("seller-li", "2013-06-01", "g-forged", json!({}))],
        1,
        "authority",
        "actor",
        &["seller-li may not issue grant g-forged for grantor agent-east"],
    );
    // agent-east holds no appointment: it cannot issue a root grant in acme's name.
    fx.refuse(
        &[grant("agent-east", "2013-06-01", "g-forged", json!({}))],
        1,
        "authority",
        "actor",
        &["agent-east may not issue grant g-forged for grantor acme"],
    );
    // A host acts for the owner only: not for a grantee issuing a sub-grant.
    fx.refuse(
        &[sub_grant("tp-hosting", "2013-06-01", "g-forged", json!({}))],
        1,
        "authority",
        "actor",
        &["tp-hosting may not issue grant g-forged for grantor agent-east"],
    );
    fx.accept(&[
        sub_grant("agent-east", "2013-06-01", "g-sub", json!({})),
        grant("acme", "2013-06-01", "g-root", json!({})),
    ]);
}

#[test]
fn a_host_issues_root_grants_for_the_owner_only_inside_its_appointment() {
    let mut fx = Fixture::sample();
    // tp-hosting: appointed 2013-02-01 09:00 for 2013-02-01..2014-02-01, dismissed 2014-01-15.
    fx.accept(&[grant("tp-hosting", "2013-06-01", "g-hosted", json!({}))]);
    fx.accept(&[grant("tp-hosting", "2014-01-14", "g-hosted-late", json!({"valid_from": t("2014-01-14")}))]);
    fx.refuse(
        &[grant("tp-hosting", "2014-01-16", "g-after-dismissal", json!({"valid_from": t("2014-01-16")}))],
        1,
        "authority",
        "actor",
        &["tp-hosting may not issue grant g-after-dismissal for grantor acme", "acme-beauty"],
    );
    fx.refuse(
        &[grant("tp-hosting", "2013-02-01 08:00", "g-before-appointment", json!({}))],
        1,
        "authority",
        "actor",
        &["tp-hosting may not issue grant g-before-appointment"],
    );
    // host-b: appointed for 2013-04-01..2013-05-01 and never dismissed.
    fx.accept(&[
        party("host-b", "2013-03-01"),
        appoint("2013-04-01", "host-b", &["grants"], "2013-04-01", "2013-05-01"),
    ]);
    fx.accept(&[grant("host-b", "2013-04-15", "g-by-host-b", json!({}))]);
    fx.refuse(
        &[grant("host-b", "2013-05-01", "g-host-b-expired", json!({}))],
        1,
        "authority",
        "actor",
        &["host-b may not issue grant g-host-b-expired for grantor acme"],
    );
    fx.refuse(
        &[grant("host-b", "2013-06-01", "g-host-b-expired", json!({}))],
        1,
        "authority",
        "actor",
        &["host-b may not issue grant g-host-b-expired for grantor acme"],
    );
}

#[test]
fn grants_are_revoked_by_their_grantor_a_host_acting_for_it_or_platform() {
    let mut fx = Fixture::sample();
    fx.refuse(
        &[revoke("grey-trader", "2013-06-01", "g-east")],
        1,
        "authority",
        "actor",
        &["grey-trader may not revoke grant g-east: only its grantor acme"],
    );
    // The grantee is not the grantor.
    fx.refuse(
        &[revoke("agent-east", "2013-06-01", "g-east")],
        1,
        "authority",
        "actor",
        &["agent-east may not revoke grant g-east: only its grantor acme"],
    );
    // A host acts for the owner, not for agent-east.
    fx.refuse(
        &[revoke("tp-hosting", "2013-06-01", "g-east-franchise")],
        1,
        "authority",
        "actor",
        &["tp-hosting may not revoke grant g-east-franchise: only its grantor agent-east"],
    );
    // Nor after its dismissal.
    fx.refuse(
        &[revoke("tp-hosting", "2014-01-16", "g-east")],
        1,
        "authority",
        "actor",
        &["tp-hosting may not revoke grant g-east"],
    );
    fx.accept(&[revoke("platform", "2013-05-01", "g-east-franchise")]);
    fx.accept(&[revoke("tp-hosting", "2013-06-01", "g-east")]);
    let mut own = Fixture::sample();
    own.accept(&[revoke("acme", "2013-06-01", "g-east")]);
}

#[test]
fn agreements_for_the_owner_are_signed_by_a_host_only_with_power_agreements() {
    let mut fx = Fixture::sample();
    fx.refuse(
        &[agreement("tp-hosting", "2013-06-01", "agr-hosted", json!({}))],
        1,
        "authority",
        "actor",
        &["tp-hosting may not sign agreement agr-hosted for supplier acme", "power agreements"],
    );
    fx.refuse(
        &[agreement("seller-li", "2013-06-01", "agr-self", json!({}))],
        1,
        "authority",
        "actor",
        &["seller-li may not sign agreement agr-self for supplier acme"],
    );
    fx.accept(&[
        party("host-b", "2013-03-01"),
        appoint("2013-04-01", "host-b", &["agreements"], "2013-04-01", "2014-04-01"),
    ]);
    // Power agreements only for the owner's agreements.
    fx.refuse(
        &[agreement("host-b", "2013-06-01", "agr-for-agent", json!({"supplier": "agent-east"}))],
        1,
        "authority",
        "actor",
        &["host-b may not sign agreement agr-for-agent for supplier agent-east"],
    );
    fx.accept(&[agreement("host-b", "2013-06-01", "agr-hosted", json!({}))]);
    // Power agreements is not power grants.
    fx.refuse(&[grant("host-b", "2013-06-01", "g-host-b", json!({}))], 1, "authority", "actor", &["host-b"]);
}

#[test]
fn agreements_are_terminated_by_their_supplier_or_distributor_or_platform() {
    let mut fx = Fixture::sample();
    fx.refuse(
        &[terminate("grey-trader", "2013-06-01", "agr-acme-li")],
        1,
        "authority",
        "actor",
        &["grey-trader may not terminate agreement agr-acme-li: only its supplier acme, its distributor seller-li or platform may"],
    );
    fx.accept(&[
        terminate("seller-li", "2013-06-01", "agr-acme-li"),
        agreement("acme", "2013-06-01", "agr-2", json!({"distributor": "franchise-sh"})),
        agreement("acme", "2013-06-01", "agr-3", json!({"distributor": "franchise-sh"})),
    ]);
    fx.accept(&[terminate("acme", "2013-07-01", "agr-2"), terminate("platform", "2013-07-01", "agr-3")]);
}

// ---- rule 4: suppliers --------------------------------------------------------------------

#[test]
fn a_brand_owner_must_be_an_active_admitted_supplier() {
    let mut fx = Fixture::sample();
    // agent-east: suspended 2014-01-05 (seq 35), reinstated 2014-01-20.
    let suspended = format!(
        "owner agent-east is suspended (since {}, seq 35) and may not own a new brand",
        utc("2014-01-05")
    );
    fx.refuse(
        &[brand("2014-01-10", "east-brand", "agent-east")],
        1,
        "suppliers",
        "data.owner",
        &[&suspended],
    );
    fx.refuse(
        &[brand("2013-06-01", "li-brand", "seller-li")],
        1,
        "suppliers",
        "data.owner",
        &["owner seller-li is not an admitted supplier"],
    );
    fx.accept(&[brand("2014-01-25", "east-brand", "agent-east")]);
}

#[test]
fn an_expelled_supplier_is_never_reinstated() {
    let mut fx = Fixture::sample();
    let expelled = fx.accept(&[expel("2014-06-01", "agent-east")]);
    let since = format!("since {}, seq {expelled}", utc("2014-06-01"));
    fx.refuse(
        &[reinstate("2014-07-01", "agent-east")],
        1,
        "suppliers",
        "data.supplier",
        &["supplier agent-east was expelled", &since, "expulsion is final"],
    );
    fx.refuse(
        &[suspend("2014-07-01", "agent-east")],
        1,
        "suppliers",
        "data.supplier",
        &["agent-east is already expelled"],
    );
    fx.refuse(
        &[expel("2014-07-01", "agent-east")],
        1,
        "suppliers",
        "data.supplier",
        &["agent-east is already expelled"],
    );
    fx.refuse(
        &[deposit("2014-07-01", "agent-east", 1_000_000)],
        1,
        "suppliers",
        "data.supplier",
        &["supplier agent-east is expelled", "takes no deposits"],
    );
    fx.refuse(
        &[sub_grant(
            "agent-east",
            "2014-07-01",
            "g-expelled",
            json!({"valid_from": t("2014-07-01"), "valid_until": t("2015-01-01")}),
        )],
        1,
        "suppliers",
        "data.grantor",
        &["grantor agent-east is expelled", "may not issue grants"],
    );
    // Before the expulsion it was active, and a suspension then is fine.
    fx.accept(&[suspend("2014-04-01", "agent-east")]);
}

#[test]
fn a_backdated_expulsion_stays_final_over_a_later_recorded_reinstatement() {
    let mut fx = Fixture::sample();
    // agent-east is suspended 2014-01-05 and reinstated 2014-01-20 (seq 36). An expulsion
    // effective 2014-01-10 must either be refused or stay final: after it agent-east may do
    // nothing a supplier does.
    match fx.import(&[expel("2014-01-10", "agent-east")]) {
        Err(e) => assert!(e.to_string().starts_with("line 1: suppliers: data.supplier: "), "{e}"),
        Ok(_) => {
            // On 2014-02-10 agent-east holds 1,500,000 CNY, above the minimum: only the
            // expulsion can stop it.
            fx.refuse(
                &[sub_grant(
                    "agent-east",
                    "2014-02-10",
                    "g-after-expulsion",
                    json!({"valid_from": t("2014-02-10")}),
                )],
                1,
                "suppliers",
                "data.grantor",
                &["agent-east is expelled"],
            );
            fx.refuse(
                &[brand("2014-02-10", "east-brand", "agent-east")],
                1,
                "suppliers",
                "data.owner",
                &["agent-east is expelled"],
            );
        }
    }
}

#[test]
fn a_supplier_is_not_suspended_twice_nor_reinstated_while_active() {
    let mut fx = Fixture::sample();
    let already = format!("supplier agent-east is already suspended (since {}, seq 35)", utc("2014-01-05"));
    fx.refuse(&[suspend("2014-01-10", "agent-east")], 1, "suppliers", "data.supplier", &[&already]);
    fx.refuse(
        &[reinstate("2013-06-01", "agent-east")],
        1,
        "suppliers",
        "data.supplier",
        &["supplier agent-east is not suspended at", &utc("2013-06-01")],
    );
    fx.refuse(
        &[suspend("2013-06-01", "seller-li")],
        1,
        "suppliers",
        "data.supplier",
        &["supplier seller-li is not an admitted supplier"],
    );
    // Before its admission (2013-02-10) agent-east is no supplier at all.
    fx.refuse(
        &[suspend("2013-02-01", "agent-east")],
        1,
        "suppliers",
        "data.supplier",
        &["supplier agent-east is not an admitted supplier", &utc("2013-02-01")],
    );
    fx.accept(&[suspend("2014-02-10", "agent-east")]);
    fx.accept(&[reinstate("2014-02-20", "agent-east")]);
}

#[test]
fn margin_withdrawals_never_take_the_balance_below_zero() {
    let mut fx = Fixture::sample();
    // acme holds 5,000,000 CNY from 2013-01-11.
    let below = format!(
        "the margin of supplier acme would go below zero at {}: balance 5000000 CNY, withdrawal 6000000 CNY",
        utc("2013-06-01")
    );
    fx.refuse(&[deduct("2013-06-01", "acme", 6_000_000)], 1, "suppliers", "data.amount", &[&below]);
    fx.refuse(
        &[refund_margin("2013-06-01", "acme", 5_000_001)],
        1,
        "suppliers",
        "data.amount",
        &["the margin of supplier acme would go below zero", "withdrawal 5000001 CNY"],
    );
    // Balances are kept per currency.
    fx.refuse(
        &[platform(
            "margin_refunded",
            "2013-06-01",
            json!({"supplier": "acme", "amount": {"value": 1, "currency": "USD"}}),
        )],
        1,
        "suppliers",
        "data.amount",
        &["balance 0 USD"],
    );
    // Before the deposit there is nothing to take.
    fx.refuse(&[deduct("2013-01-10 12:00", "acme", 1)], 1, "suppliers", "data.amount", &["balance 0 CNY"]);
    fx.accept(&[refund_margin("2013-06-01", "acme", 1_000_000)]);
    fx.accept(&[deduct("2013-06-02", "acme", 4_000_000)]);
    fx.refuse(&[deduct("2013-06-03", "acme", 1)], 1, "suppliers", "data.amount", &["balance 0 CNY"]);
}

#[test]
fn a_backdated_deduction_may_not_make_a_later_balance_negative() {
    let mut fx = Fixture::sample();
    // agent-east: +2,000,000 (2013-02-11), -500,000 (2014-02-01), -1,000,000 (2014-03-01, seq 40).
    let later = format!(
        "the margin of supplier agent-east would go below zero at {} (after seq 40)",
        utc("2014-03-01")
    );
    fx.refuse(&[deduct("2013-06-01", "agent-east", 1_000_000)], 1, "suppliers", "data.amount", &[&later]);
    fx.refuse(
        &[refund_margin("2014-02-15", "agent-east", 600_000)],
        1,
        "suppliers",
        "data.amount",
        &[&later],
    );
    // Exactly down to zero at the end is fine.
    fx.accept(&[deduct("2013-06-01", "agent-east", 500_000)]);
    fx.refuse(
        &[deduct("2013-06-02", "agent-east", 1)],
        1,
        "suppliers",
        "data.amount",
        &["agent-east would go below zero"],
    );
    // A deposit made later does not help a withdrawal dated before it.
    fx.accept(&[deposit("2014-04-01", "agent-east", 1_000_000)]);
    fx.refuse(&[deduct("2014-03-15", "agent-east", 1)], 1, "suppliers", "data.amount", &["balance 0 CNY"]);
    fx.accept(&[deduct("2014-04-02", "agent-east", 1_000_000)]);
}

#[test]
fn below_the_minimum_margin_a_supplier_may_not_issue_grants_until_a_deposit_restores_it() {
    let mut fx = Fixture::sample();
    // acme: 5,000,000 CNY; the minimum is 1,000,000 CNY from 2013-01-12 (seq 9).
    fx.accept(&[deduct("2016-01-01", "acme", 4_500_000)]);
    let below = format!(
        "supplier acme holds a margin of 500000 CNY at {}, below the minimum of 1000000 CNY set at seq 9, and may not issue grants",
        utc("2016-02-01")
    );
    let g = grant(
        "acme",
        "2016-02-01",
        "g-2016",
        json!({"valid_from": t("2016-02-01"), "valid_until": t("2017-01-01")}),
    );
    fx.refuse(std::slice::from_ref(&g), 1, "suppliers", "data.grantor", &[&below]);
    // Through its host too (a brand with a current host).
    fx.accept(&[appoint("2016-01-15", "grey-trader", &["grants"], "2016-01-01", "2017-01-01")]);
    fx.refuse(
        &[grant(
            "grey-trader",
            "2016-02-01",
            "g-2016-hosted",
            json!({"valid_from": t("2016-02-01"), "valid_until": t("2017-01-01")}),
        )],
        1,
        "suppliers",
        "data.grantor",
        &["supplier acme holds a margin of 500000 CNY"],
    );
    fx.accept(&[deposit("2016-03-01", "acme", 600_000)]);
    // Still below at 2016-02-01: the deposit counts from 2016-03-01.
    fx.refuse(std::slice::from_ref(&g), 1, "suppliers", "data.grantor", &[&below]);
    fx.accept(&[grant(
        "acme",
        "2016-04-01",
        "g-2016",
        json!({"valid_from": t("2016-04-01"), "valid_until": t("2017-01-01")}),
    )]);
    // Before the deduction the margin was enough.
    fx.accept(&[grant(
        "acme",
        "2015-12-01",
        "g-2015",
        json!({"valid_from": t("2015-12-01"), "valid_until": t("2016-12-01")}),
    )]);
}

#[test]
fn below_the_minimum_margin_a_supplier_may_not_sign_agreements() {
    let mut fx = Fixture::sample();
    fx.accept(&[refund_margin("2016-01-01", "acme", 4_500_000)]);
    let a = agreement(
        "acme",
        "2016-02-01",
        "agr-2016",
        json!({"valid_from": t("2016-02-01"), "valid_until": t("2017-01-01")}),
    );
    fx.refuse(
        std::slice::from_ref(&a),
        1,
        "suppliers",
        "data.supplier",
        &[
            "supplier acme holds a margin of 500000 CNY",
            "below the minimum of 1000000 CNY set at seq 9",
            "may not sign agreements",
        ],
    );
    fx.accept(&[deposit("2016-01-20", "acme", 500_000)]);
    // Exactly the minimum is enough.
    fx.accept(&[a]);
}

#[test]
fn the_sample_agent_falls_below_the_minimum_with_its_margin_refund() {
    let mut fx = Fixture::sample();
    // agent-east: 1,500,000 CNY from 2014-02-01, 500,000 CNY from 2014-03-01.
    fx.accept(&[sub_grant("agent-east", "2014-02-10", "g-feb", json!({"valid_from": t("2014-02-10")}))]);
    let below = format!(
        "supplier agent-east holds a margin of 500000 CNY at {}, below the minimum of 1000000 CNY set at seq 9",
        utc("2014-03-01")
    );
    fx.refuse(
        &[sub_grant("agent-east", "2014-03-01", "g-mar", json!({"valid_from": t("2014-03-01")}))],
        1,
        "suppliers",
        "data.grantor",
        &[&below],
    );
    fx.refuse(
        &[agreement(
            "agent-east",
            "2014-03-01",
            "agr-mar",
            json!({"supplier": "agent-east", "valid_from": t("2014-03-01")}),
        )],
        1,
        "suppliers",
        "data.supplier",
        &["supplier agent-east holds a margin of 500000 CNY", "may not sign agreements"],
    );
}

#[test]
fn a_suspended_supplier_may_not_sign_agreements_or_issue_grants() {
    let mut fx = Fixture::sample();
    let suspended = format!(
        "supplier agent-east is suspended (since {}, seq 35) and may not sign agreements",
        utc("2014-01-05")
    );
    let during = json!({"supplier": "agent-east", "valid_from": t("2014-01-10")});
    fx.refuse(
        &[agreement("agent-east", "2014-01-10", "agr-susp", during)],
        1,
        "suppliers",
        "data.supplier",
        &[&suspended],
    );
    fx.refuse(
        &[sub_grant("agent-east", "2014-01-10", "g-susp", json!({"valid_from": t("2014-01-10")}))],
        1,
        "suppliers",
        "data.grantor",
        &["grantor agent-east is suspended", "may not issue grants"],
    );
    // acme suspended: neither it nor its host may act for it.
    fx.accept(&[suspend("2013-06-01", "acme")]);
    fx.refuse(
        &[agreement("acme", "2013-07-01", "agr-acme-susp", json!({}))],
        1,
        "suppliers",
        "data.supplier",
        &["supplier acme is suspended"],
    );
    fx.refuse(
        &[grant("tp-hosting", "2013-07-01", "g-acme-susp", json!({}))],
        1,
        "suppliers",
        "data.grantor",
        &["grantor acme is suspended"],
    );
    let after = json!({"supplier": "agent-east", "valid_from": t("2014-01-25")});
    fx.accept(&[agreement("agent-east", "2014-01-25", "agr-reinstated", after)]);
}

// ---- rule 5: grants -----------------------------------------------------------------------

#[test]
fn a_root_grant_is_issued_by_the_brand_owner() {
    let mut fx = Fixture::sample();
    fx.refuse(
        &[grant("agent-east", "2013-06-01", "g-self", json!({"grantor": "agent-east"}))],
        1,
        "grants",
        "data.grantor",
        &["a grant with no parent is issued by the brand owner; agent-east is not the owner of brand acme-beauty (acme)"],
    );
    fx.accept(&[grant("acme", "2013-06-01", "g-root", json!({"grantee": "grey-trader"}))]);
}

#[test]
fn a_sub_grant_is_issued_by_the_parents_grantee_under_a_sublicensable_parent() {
    let mut fx = Fixture::sample();
    fx.refuse(
        &[sub_grant("agent-east", "2013-06-01", "g-wrong-grantor", json!({"parent": "g-east-franchise"}))],
        1,
        "grants",
        "data.grantor",
        &["a sub-grant is issued by its parent's grantee: parent g-east-franchise was granted to franchise-sh, not to agent-east"],
    );
    fx.refuse(
        &[sub_grant(
            "franchise-sh",
            "2013-06-01",
            "g-under-franchise",
            json!({"grantor": "franchise-sh", "parent": "g-east-franchise", "channels": ["tmall_franchise"]}),
        )],
        1,
        "grants",
        "data.parent",
        &["parent g-east-franchise is not sublicensable"],
    );
    fx.accept(&[sub_grant("agent-east", "2013-06-01", "g-under-east", json!({}))]);
}

#[test]
fn a_sub_grant_lies_within_its_parents_window() {
    let mut fx = Fixture::sample();
    // g-east: 2013-03-01..2015-03-01.
    fx.refuse(
        &[sub_grant("agent-east", "2013-06-01", "g-long", json!({"valid_until": t("2015-06-01")}))],
        1,
        "grants",
        "data.valid_until",
        &["grant g-long would outlive its parent g-east", &utc("2015-06-01"), &utc("2015-03-01")],
    );
    fx.refuse(
        &[sub_grant("agent-east", "2013-06-01", "g-early", json!({"valid_from": t("2013-02-01")}))],
        1,
        "grants",
        "data.valid_from",
        &["grant g-early starts at", "before its parent g-east", &utc("2013-02-01"), &utc("2013-03-01")],
    );
    fx.accept(&[sub_grant(
        "agent-east",
        "2013-06-01",
        "g-same-window",
        json!({"valid_from": t("2013-03-01"), "valid_until": t("2015-03-01")}),
    )]);
}

#[test]
fn a_sub_grant_lies_within_its_parents_scope_channels_and_regions() {
    let mut fx = Fixture::sample();
    // g-east: skincare, tmall_franchise + taobao, CN-31 + CN-32.
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"channels": ["taobao", "tmall_flagship"]}),
            "data.channels",
            "channel tmall_flagship is not granted by parent g-east",
        ),
        (json!({"regions": ["CN-31", "CN-44"]}), "data.regions", "region CN-44 is not covered"),
        (json!({"regions": null}), "data.regions", "it covers every region"),
        (
            json!({"scope": {"categories": ["makeup"]}}),
            "data.scope",
            "category makeup is not covered as a whole",
        ),
        (json!({"scope": {}}), "data.scope", "it covers every product of the brand"),
    ];
    for (patch, field, message) in cases {
        fx.refuse(
            &[sub_grant("agent-east", "2013-06-01", "g-wide", patch)],
            1,
            "grants",
            field,
            &[message, "g-east"],
        );
    }
    // Under g-east-li (sku ACME-SERUM-30 only) a category is too wide; tested on a
    // sublicensable copy.
    fx.accept(&[sub_grant(
        "agent-east",
        "2013-04-01",
        "g-serum",
        json!({"scope": {"skus": ["ACME-SERUM-30"]}, "sublicensable": true}),
    )]);
    fx.refuse(
        &[sub_grant(
            "seller-li",
            "2013-06-01",
            "g-under-serum",
            json!({"grantor": "seller-li", "grantee": "grey-trader", "parent": "g-serum", "scope": {"skus": ["ACME-CREAM-50"]}}),
        )],
        1,
        "grants",
        "data.scope",
        &["sku ACME-CREAM-50 is not covered", "g-serum"],
    );
    fx.accept(&[
        sub_grant(
            "agent-east",
            "2013-06-01",
            "g-narrow",
            json!({"scope": {"skus": ["ACME-CREAM-50"]}, "channels": ["tmall_franchise"], "regions": ["CN-32"]}),
        ),
        sub_grant(
            "seller-li",
            "2013-06-01",
            "g-under-serum",
            json!({"grantor": "seller-li", "grantee": "grey-trader", "parent": "g-serum", "scope": {"skus": ["ACME-SERUM-30"]}}),
        ),
    ]);
}

/// A sublicensable grant g-sub from agent-east to seller-li under g-east, recorded as of
/// 2013-04-01, with `patch`; and a grant under it from seller-li to grey-trader.
fn g_sub(patch: Value) -> String {
    let base = json!({"sublicensable": true, "valid_from": t("2013-04-01"), "valid_until": t("2014-01-01")});
    sub_grant("agent-east", "2013-04-01", "g-sub", patched(base, patch))
}

fn under_g_sub(at: &str, id: &str) -> String {
    sub_grant(
        "seller-li",
        at,
        id,
        json!({"grantor": "seller-li", "grantee": "grey-trader", "parent": "g-sub",
               "valid_from": t("2013-07-01"), "valid_until": t("2013-08-01")}),
    )
}

#[test]
fn a_sub_grant_needs_a_parent_that_holds_at_its_effective_time() {
    // Revoked parent: the revocation counts from its effective_at.
    let mut fx = Fixture::sample();
    fx.accept(&[g_sub(json!({}))]);
    let revoked = fx.accept(&[revoke("agent-east", "2013-07-15", "g-sub")]);
    let message = format!("parent g-sub was revoked at {} (seq {revoked})", utc("2013-07-15"));
    fx.refuse(&[under_g_sub("2013-07-15", "g-child")], 1, "grants", "data.parent", &[&message]);
    fx.accept(&[under_g_sub("2013-07-14", "g-child")]);

    // Revoked ancestor: the revocation of g-east cascades to g-sub.
    let mut fx = Fixture::sample();
    fx.accept(&[g_sub(json!({}))]);
    let revoked = fx.accept(&[revoke("platform", "2013-07-15", "g-east")]);
    let message = format!(
        "parent g-sub is revoked from {} by the revocation of its ancestor g-east (seq {revoked})",
        utc("2013-07-15")
    );
    fx.refuse(&[under_g_sub("2013-07-20", "g-child")], 1, "grants", "data.parent", &[&message]);
    fx.accept(&[under_g_sub("2013-07-10", "g-child")]);

    // Expired parent.
    let mut fx = Fixture::sample();
    fx.accept(&[g_sub(json!({"valid_until": t("2013-07-10")}))]);
    let message = format!("parent g-sub expired at {}", utc("2013-07-10"));
    fx.refuse(&[under_g_sub("2013-07-10", "g-child")], 1, "grants", "data.parent", &[&message]);

    // Not yet valid parent: its window opens later than the child's effective time.
    let mut fx = Fixture::sample();
    fx.accept(&[g_sub(json!({"valid_from": t("2013-06-15")}))]);
    let message = format!(
        "parent g-sub is not valid yet at {}: it holds from {}",
        utc("2013-06-01"),
        utc("2013-06-15")
    );
    fx.refuse(&[under_g_sub("2013-06-01", "g-child")], 1, "grants", "data.parent", &[&message]);
    fx.accept(&[under_g_sub("2013-06-15", "g-child")]);

    // A parent recorded as of a later time does not exist yet.
    let mut fx = Fixture::sample();
    fx.accept(&[g_sub(json!({}))]);
    fx.refuse(
        &[under_g_sub("2013-03-31", "g-child")],
        1,
        "references",
        "data.parent",
        &["grant g-sub exists only from"],
    );

    // A parent whose window started before its own record counts only from the record.
    let mut fx = Fixture::sample();
    let late = sub_grant(
        "agent-east",
        "2013-06-20",
        "g-sub",
        json!({"sublicensable": true, "valid_from": t("2013-04-01"), "valid_until": t("2014-01-01")}),
    );
    fx.accept(&[late]);
    fx.refuse(
        &[under_g_sub("2013-06-10", "g-child")],
        1,
        "references",
        "data.parent",
        &["grant g-sub exists only from"],
    );
}

#[test]
fn exclusive_grants_of_a_brand_may_not_overlap_on_a_channel() {
    let mut fx = Fixture::sample();
    let flagship = |id: &str, grantee: &str, from: &str, until: &str| {
        grant(
            "acme",
            "2013-05-01",
            id,
            json!({"grantee": grantee, "channels": ["tmall_flagship"], "exclusive": true,
                   "valid_from": t(from), "valid_until": t(until)}),
        )
    };
    let first = fx.accept(&[flagship("g-flag-1", "franchise-sh", "2013-06-01", "2014-06-01")]);
    let overlap = format!(
        "exclusive grant g-flag-2 ({} to {}) overlaps exclusive grant g-flag-1",
        utc("2014-01-01"),
        utc("2015-01-01")
    );
    let on = format!("seq {first}) of brand acme-beauty on channel tmall_flagship");
    fx.refuse(
        &[flagship("g-flag-2", "seller-li", "2014-01-01", "2015-01-01")],
        1,
        "grants",
        "data.exclusive",
        &[&overlap, &on],
    );
    // One inside the other overlaps too.
    fx.refuse(
        &[flagship("g-flag-2", "seller-li", "2013-07-01", "2013-08-01")],
        1,
        "grants",
        "data.exclusive",
        &["overlaps exclusive grant g-flag-1"],
    );
    // Windows are half-open: one may start where the other ends.
    fx.accept(&[flagship("g-flag-2", "seller-li", "2014-06-01", "2015-01-01")]);
    // Another channel, or a grant that is not exclusive, does not conflict.
    fx.accept(&[
        grant(
            "acme",
            "2013-05-01",
            "g-specialty",
            json!({"grantee": "seller-li", "channels": ["tmall_specialty"], "exclusive": true,
                   "valid_from": t("2014-01-01"), "valid_until": t("2015-01-01")}),
        ),
        grant(
            "acme",
            "2013-05-01",
            "g-flag-open",
            json!({"grantee": "grey-trader", "channels": ["tmall_flagship"],
                   "valid_from": t("2014-01-01"), "valid_until": t("2015-01-01")}),
        ),
    ]);
    // The sample's exclusive sub-grant g-east-franchise (tmall_franchise, 2013-03-15..2014-03-15)
    // counts as well, whoever issued it.
    fx.refuse(
        &[grant(
            "acme",
            "2013-06-01",
            "g-franchise-2",
            json!({"grantee": "seller-li", "channels": ["taobao", "tmall_franchise"], "exclusive": true}),
        )],
        1,
        "grants",
        "data.exclusive",
        &["overlaps exclusive grant g-east-franchise", "on channel tmall_franchise"],
    );
}

#[test]
fn an_exclusive_sub_grant_overlapping_its_own_exclusive_parent_is_refused_as_the_spec_reads() {
    // Rule 5 read literally: any two exclusive grants of a brand on a channel, a parent and its
    // child included. (Doubtful for a chain of exclusive distributors; see the report.)
    let mut fx = Fixture::sample();
    fx.accept(&[grant(
        "acme",
        "2013-05-01",
        "g-excl",
        json!({"grantee": "agent-east", "channels": ["tmall_flagship"], "exclusive": true, "sublicensable": true}),
    )]);
    let child = |id: &str, exclusive: bool| {
        sub_grant(
            "agent-east",
            "2013-06-01",
            id,
            json!({"parent": "g-excl", "grantee": "franchise-sh", "channels": ["tmall_flagship"], "exclusive": exclusive}),
        )
    };
    fx.refuse(
        &[child("g-excl-child", true)],
        1,
        "grants",
        "data.exclusive",
        &["exclusive grant g-excl-child", "overlaps exclusive grant g-excl ", "on channel tmall_flagship"],
    );
    fx.accept(&[child("g-excl-child", false)]);
}

#[test]
fn an_exclusive_grant_may_follow_one_that_ended_or_was_revoked_before_it_starts() {
    let mut fx = Fixture::sample();
    let flagship = |at: &str, id: &str, from: &str, until: &str| {
        grant(
            "acme",
            at,
            id,
            json!({"channels": ["tmall_flagship"], "exclusive": true, "valid_from": t(from), "valid_until": t(until)}),
        )
    };
    fx.accept(&[flagship("2013-05-01", "g-flag-1", "2013-06-01", "2014-06-01")]);
    fx.refuse(
        &[flagship("2013-05-01", "g-flag-2", "2014-01-01", "2015-01-01")],
        1,
        "grants",
        "data.exclusive",
        &["g-flag-1"],
    );
    fx.accept(&[revoke("acme", "2013-12-01", "g-flag-1")]);
    fx.accept(&[flagship("2013-05-01", "g-flag-2", "2014-01-01", "2015-01-01")]);
    // A grant recorded as of a later time covers nothing before its record: its window
    // starts at its effective_at.
    fx.accept(&[flagship("2015-01-01", "g-flag-3", "2013-01-01", "2016-01-01")]);
}

#[test]
fn a_grant_is_revoked_once_and_not_after_an_ancestor_revocation() {
    let mut fx = Fixture::sample();
    let already = format!("grant g-east-li was already revoked at {} (seq 29)", utc("2013-09-01"));
    fx.refuse(&[revoke("agent-east", "2013-10-01", "g-east-li")], 1, "grants", "data.grant", &[&already]);
    fx.refuse(&[revoke("platform", "2013-08-01", "g-east-li")], 1, "grants", "data.grant", &[&already]);
    let ancestor = fx.accept(&[revoke("platform", "2013-10-01", "g-east")]);
    let cascade = format!(
        "grant g-east-franchise is already revoked from {} by the revocation of its ancestor g-east (seq {ancestor})",
        utc("2013-10-01")
    );
    fx.refuse(
        &[revoke("agent-east", "2013-11-01", "g-east-franchise")],
        1,
        "grants",
        "data.grant",
        &[&cascade],
    );
    fx.refuse(
        &[revoke("agent-east", "2013-10-01", "g-east-franchise")],
        1,
        "grants",
        "data.grant",
        &[&cascade],
    );
    // Before the ancestor's revocation the child still holds and may be revoked itself.
    fx.accept(&[revoke("agent-east", "2013-09-15", "g-east-franchise")]);
}

// ---- rule 6: agreements -------------------------------------------------------------------

#[test]
fn an_agreement_needs_the_owner_or_a_covering_grant_valid_at_its_time() {
    let mut fx = Fixture::sample();
    let by_agent = |at: &str, id: &str| {
        agreement("agent-east", at, id, json!({"supplier": "agent-east", "valid_from": t(at)}))
    };
    // agent-east is admitted and holds margin from 2013-02-11, but g-east starts 2013-03-01.
    let no_grant = format!(
        "supplier agent-east is not the owner of brand acme-beauty and holds no grant of it valid at {} whose scope covers the agreement's",
        utc("2013-02-20")
    );
    fx.refuse(&[by_agent("2013-02-20", "agr-early")], 1, "agreements", "data.supplier", &[&no_grant]);
    fx.accept(&[by_agent("2013-06-01", "agr-east-li")]);
    // The owner needs no grant.
    fx.accept(&[agreement("acme", "2013-02-20", "agr-acme-early", json!({"valid_from": t("2013-02-20")}))]);
    // A grant revoked at or before the time no longer covers.
    fx.accept(&[revoke("acme", "2013-07-01", "g-east")]);
    fx.refuse(
        &[by_agent("2013-07-01", "agr-revoked")],
        1,
        "agreements",
        "data.supplier",
        &["agent-east", "acme-beauty"],
    );
    // An admitted supplier that holds no grant at all.
    fx.accept(&[
        platform(
            "supplier_admitted",
            "2013-05-01",
            json!({"supplier": "grey-trader", "qualifications": [{"kind": "business_license", "reference": "BL-1"}]}),
        ),
        deposit("2013-05-02", "grey-trader", 1_000_000),
    ]);
    fx.refuse(
        &[agreement("grey-trader", "2013-06-01", "agr-grey", json!({"supplier": "grey-trader"}))],
        1,
        "agreements",
        "data.supplier",
        &["supplier grey-trader is not the owner of brand acme-beauty and holds no grant of it"],
    );
}

#[test]
fn an_agreement_scope_must_lie_within_the_suppliers_grant() {
    let mut fx = Fixture::sample();
    // g-east covers skincare.
    for (id, scope) in [("agr-all", json!({})), ("agr-makeup", json!({"categories": ["makeup"]}))] {
        fx.refuse(
            &[agreement("agent-east", "2013-06-01", id, json!({"supplier": "agent-east", "scope": scope}))],
            1,
            "agreements",
            "data.supplier",
            &[
                "supplier agent-east is not the owner of brand acme-beauty",
                "whose scope covers the agreement's",
            ],
        );
    }
    fx.accept(&[agreement(
        "agent-east",
        "2013-06-01",
        "agr-cream",
        json!({"supplier": "agent-east", "scope": {"skus": ["ACME-CREAM-50"]}}),
    )]);
    // The owner's agreement may cover everything.
    fx.accept(&[agreement("acme", "2013-06-01", "agr-acme-all", json!({"scope": {}}))]);
}

#[test]
fn an_agreement_is_terminated_once() {
    let mut fx = Fixture::sample();
    let already =
        format!("agreement agr-east-jingan was already terminated at {} (seq 38)", utc("2014-03-01"));
    fx.refuse(
        &[terminate("agent-east", "2014-04-01", "agr-east-jingan")],
        1,
        "agreements",
        "data.agreement",
        &[&already],
    );
    fx.refuse(
        &[terminate("platform", "2014-02-01", "agr-east-jingan")],
        1,
        "agreements",
        "data.agreement",
        &[&already],
    );
    fx.accept(&[terminate("acme", "2013-12-01", "agr-acme-li")]);
    fx.refuse(
        &[terminate("seller-li", "2013-12-02", "agr-acme-li")],
        1,
        "agreements",
        "data.agreement",
        &["agreement agr-acme-li was already terminated"],
    );
}

// ---- rule 7: sales ------------------------------------------------------------------------

#[test]
fn a_sale_needs_a_known_store_and_sku() {
    let mut fx = Fixture::sample();
    fx.refuse(
        &[sale("2013-06-01", "ORD-X", "nowhere", "ACME-SERUM-30")],
        1,
        "references",
        "data.store",
        &["store nowhere does not exist"],
    );
    fx.refuse(
        &[sale("2013-06-01", "ORD-X", "acme-flagship", "ACME-FAKE")],
        1,
        "references",
        "data.sku",
        &["sku ACME-FAKE does not exist"],
    );
    fx.accept(&[sale("2013-06-01", "ORD-X", "acme-flagship", "ACME-SERUM-30")]);
}

#[test]
fn a_sale_at_a_store_never_authorized_is_recorded() {
    let mut fx = Fixture::sample();
    // grey-trader holds no grant and no agreement: the sale is a fact all the same.
    fx.accept(&[
        sale("2013-07-01", "TB-GREY-2", "grey-taobao", "ACME-CREAM-50"),
        sale("2015-07-01", "TB-GREY-3", "grey-taobao", "ACME-SERUM-30"),
    ]);
    // Nor does a closed store stop a sale from being recorded (li-taobao closed 2013-10-01):
    // the authenticity check reports it as store_closed.
    fx.accept(&[sale("2013-11-01", "TB-CLOSED-1", "li-taobao", "ACME-SERUM-30")]);
}

#[test]
fn an_order_id_with_different_content_is_a_conflict() {
    let mut fx = Fixture::sample();
    let line = sample_line(25).replace(r#""quantity":1"#, r#""quantity":2"#);
    assert_ne!(line, sample_line(25));
    fx.refuse(
        &[line],
        1,
        "idempotency",
        "data.order",
        &["order id TM-20130601-0001 is already taken by seq 25 with different content"],
    );
    // Even at another store and time.
    fx.refuse(
        &[sale("2014-01-01", "TM-20130601-0001", "grey-taobao", "ACME-SERUM-30")],
        1,
        "idempotency",
        "data.order",
        &["order id TM-20130601-0001 is already taken by seq 25"],
    );
}

#[test]
fn an_exact_repeat_of_a_sale_is_accepted_and_appends_nothing() {
    let mut fx = Fixture::sample();
    let before = fx.export();
    let outcome = fx.import(&[sample_line(25)]).unwrap();
    assert_eq!(outcome.appended, 0);
    assert_eq!(outcome.repeats, 1);
    assert_eq!(outcome.range, None);
    assert_eq!(outcome.head.map(|h| h.seq), Some(Seq(SAMPLE_RECORDS)));
    assert!(fx.export() == before);
    // The answer names the seq it already has.
    let submission = Submission::parse_json(&sample_line(25)).unwrap();
    assert_eq!(fx.ledger().stage(submission).unwrap(), Staged::Repeat(Seq(25)));
    fx.ledger().commit().unwrap();
    assert!(fx.export() == before);
    fx.accept(&[sale("2013-06-01", "ORD-AFTER-REPEAT", "acme-flagship", "ACME-SERUM-30")]);
}

#[test]
fn a_sale_is_refunded_once_and_not_before_it_happened() {
    let mut fx = Fixture::sample();
    let refund = |at: &str, order: &str, reason: &str| {
        platform("sale_refunded", at, json!({"order": order, "reason": reason}))
    };
    let already =
        format!("order TM-20130601-0002 was already refunded at {} (seq 31)", utc("2013-06-05 09:00"));
    fx.refuse(&[refund("2013-06-06", "TM-20130601-0002", "again")], 1, "sales", "data.order", &[&already]);
    let early = format!("order TB-20130915-0005 exists only from {} (seq 30)", utc("2013-09-15 16:20"));
    fx.refuse(&[refund("2013-09-01", "TB-20130915-0005", "early")], 1, "references", "data.order", &[&early]);
    fx.accept(&[refund("2013-09-16", "TB-20130915-0005", "returned")]);
    fx.refuse(
        &[refund("2013-09-17", "TB-20130915-0005", "returned twice")],
        1,
        "sales",
        "data.order",
        &["order TB-20130915-0005 was already refunded"],
    );
}

#[test]
fn a_dispute_is_opened_on_a_known_order_and_closed_once() {
    let mut fx = Fixture::sample();
    let open = |at: &str, dispute: &str, order: &str| {
        platform(
            "dispute_opened",
            at,
            json!({"dispute": dispute, "order": order, "claim": "price_violation"}),
        )
    };
    let close = |at: &str, dispute: &str| {
        platform("dispute_closed", at, json!({"dispute": dispute, "finding": "inconclusive"}))
    };
    let already = format!("dispute D-2013-0001 was already closed at {} (seq 33)", utc("2013-07-10 09:00"));
    fx.refuse(&[close("2013-08-01", "D-2013-0001")], 1, "sales", "data.dispute", &[&already]);
    // An order can only be disputed once it exists.
    fx.refuse(
        &[open("2013-09-01", "D-2", "TB-20130915-0005")],
        1,
        "references",
        "data.order",
        &["order TB-20130915-0005 exists only from"],
    );
    let opened = fx.accept(&[open("2013-07-01", "D-2", "TB-20130602-0003")]);
    fx.refuse(
        &[close("2013-06-30", "D-2")],
        1,
        "references",
        "data.dispute",
        &[&format!("dispute D-2 exists only from {} (seq {opened})", utc("2013-07-01"))],
    );
    let closed = fx.accept(&[close("2013-08-01", "D-2")]);
    fx.refuse(
        &[close("2013-09-01", "D-2")],
        1,
        "sales",
        "data.dispute",
        &[&format!("dispute D-2 was already closed at {} (seq {closed})", utc("2013-08-01"))],
    );
}

// ---- rule 8: idempotency ------------------------------------------------------------------

#[test]
fn repeats_of_several_kinds_among_new_submissions_append_only_the_new_ones() {
    let mut fx = Fixture::sample();
    let before = fx.export();
    let lines = vec![
        sample_line(1), // party_registered
        party("newcomer", "2013-06-01"),
        sample_line(16), // grant_issued by the host
        sample_line(25), // sale_recorded
        sample_line(29), // grant_revoked: a repeat, not "already revoked"
        sale("2013-06-02", "ORD-NEW", "acme-flagship", "ACME-CREAM-50"),
        sample_line(33), // dispute_closed
        sample_line(38), // agreement_terminated
        sample_line(40), // margin_refunded
    ];
    let outcome = fx.import(&lines).unwrap();
    assert_eq!(outcome.appended, 2, "{outcome:?}");
    assert_eq!(outcome.repeats, 7, "{outcome:?}");
    assert_eq!(outcome.range, Some((Seq(41), Seq(42))));
    let after = fx.export();
    assert!(after.starts_with(&before));
    let added = String::from_utf8(after[before.len()..].to_vec()).unwrap();
    let added: Vec<&str> = added.lines().collect();
    assert_eq!(added.len(), 2);
    assert!(added[0].contains(r#""seq":41"#) && added[0].contains("newcomer"), "{}", added[0]);
    assert!(added[1].contains(r#""seq":42"#) && added[1].contains("ORD-NEW"), "{}", added[1]);
    // The whole sample again is 40 repeats.
    let outcome = fx.ledger().import(SAMPLE.as_bytes(), &mut |_| {}).unwrap();
    assert_eq!((outcome.appended, outcome.repeats, outcome.range), (0, SAMPLE_RECORDS, None));
}

#[test]
fn a_line_twice_in_one_batch_is_appended_once() {
    let mut fx = Fixture::sample();
    let new_party = party("twice", "2013-06-01");
    let new_sale = sale("2013-06-02", "ORD-TWICE", "acme-flagship", "ACME-CREAM-50");
    let outcome =
        fx.import(&[new_party.clone(), new_sale.clone(), new_party.clone(), new_sale.clone()]).unwrap();
    assert_eq!((outcome.appended, outcome.repeats), (2, 2), "{outcome:?}");
    assert_eq!(outcome.range, Some((Seq(41), Seq(42))));
    // And it stays a repeat in the next batch.
    let outcome = fx.import(&[new_sale]).unwrap();
    assert_eq!((outcome.appended, outcome.repeats), (0, 1));
}

#[test]
fn a_repeat_is_judged_on_content_not_on_spelling() {
    let mut fx = Fixture::sample();
    // Line 1 with the same instant in UTC, the keys in another order and spaces.
    let respelled = r#"{ "data": {"credit_code": "91310106MA1FY10007", "legal_name": "Acme Cosmetics (Shanghai) Co., Ltd.", "party": "acme"},
        "effective_at": "2013-01-02T01:00:00Z", "actor": "platform", "type": "party_registered" }"#
        .replace('\n', " ");
    let outcome = fx.import(&[respelled]).unwrap();
    assert_eq!((outcome.appended, outcome.repeats), (0, 1), "{outcome:?}");
}

#[test]
fn the_same_content_at_another_effective_time_or_by_another_actor_is_not_a_repeat() {
    let mut fx = Fixture::sample();
    let moved = sample_line(1).replace("2013-01-02T09:00:00+08:00", "2013-01-02T09:00:01+08:00");
    assert_ne!(moved, sample_line(1));
    fx.refuse(
        &[moved],
        1,
        "idempotency",
        "data.party",
        &["party id acme is already taken by seq 1 with different content"],
    );
    let no_time = ev(
        "party_registered",
        "platform",
        None,
        serde_json::from_str::<Value>(&sample_line(1)).unwrap()["data"].clone(),
    );
    fx.refuse(&[no_time], 1, "idempotency", "data.party", &["party id acme is already taken by seq 1"]);
    // Line 11 (product by acme) submitted by the host: a new submission, whose sku is taken.
    let by_host = sample_line(11).replace(r#""actor":"acme""#, r#""actor":"tp-hosting""#);
    fx.refuse(&[by_host], 1, "idempotency", "data.sku", &["sku id ACME-SERUM-30 is already taken by seq 11"]);
}

// ---- rule 1: form -------------------------------------------------------------------------

#[test]
fn effective_at_more_than_five_minutes_after_the_clock_is_refused() {
    let mut fx = Fixture::sample();
    let at = |lead_seconds: i64| Timestamp::now().saturating_add_micros(lead_seconds * 1_000_000).to_string();
    let line = |id: &str, at: String| {
        json!({"type": "party_registered", "actor": "platform", "effective_at": at,
               "data": {"party": id, "legal_name": "Future"}})
        .to_string()
    };
    fx.refuse(
        &[line("future-10m", at(600))],
        1,
        "form",
        "effective_at",
        &["is more than 5 minutes after the ledger clock"],
    );
    fx.refuse(
        &[party("present", "2013-06-01"), line("future-1d", at(86_400))],
        2,
        "form",
        "effective_at",
        &["more than 5 minutes"],
    );
    fx.accept(&[line("future-1m", at(60))]);
}

#[test]
fn malformed_submissions_are_refused_by_form() {
    let mut fx = Fixture::sample();
    let at = "2013-06-01";
    let sale_of = |quantity: i64, price: i64| {
        platform(
            "sale_recorded",
            at,
            json!({"order": "ORD-0", "store": "acme-flagship", "sku": "ACME-SERUM-30", "quantity": quantity,
                   "unit_price": {"value": price, "currency": "CNY"}}),
        )
    };
    let no_offset = json!({"type": "party_registered", "actor": "platform", "effective_at": "2013-06-01T00:00:00",
                           "data": {"party": "p-x", "legal_name": "P"}});
    let cases: Vec<(String, &str, &str)> = vec![
        (
            ev("party_renamed", "platform", Some(at), json!({"party": "acme"})),
            "type",
            "unknown event type \"party_renamed\"",
        ),
        (
            platform("party_registered", at, json!({"party": "p-x", "legal_name": "P", "nickname": "x"})),
            "data.nickname",
            "unknown field `nickname`",
        ),
        (platform("party_registered", at, json!({"party": "p-x"})), "data", "missing field `legal_name`"),
        (
            platform("party_registered", at, json!({"party": "-bad id", "legal_name": "P"})),
            "data.party",
            "invalid party id \"-bad id\"",
        ),
        (
            platform(
                "party_registered",
                at,
                json!({"party": "p-x", "legal_name": "P", "credit_code": "91310106MA1FY10008"}),
            ),
            "data.credit_code",
            "the check character",
        ),
        (sale_of(0, 19900), "data.quantity", "a quantity must be at least 1"),
        (sale_of(1, 0), "data.unit_price", "money must be positive, got 0 CNY"),
        (
            platform(
                "margin_deposited",
                at,
                json!({"supplier": "acme", "amount": {"value": -5, "currency": "CNY"}}),
            ),
            "data.amount",
            "money must be positive, got -5 CNY",
        ),
        (
            platform(
                "margin_deposited",
                at,
                json!({"supplier": "acme", "amount": {"value": 5, "currency": "yuan"}}),
            ),
            "data.amount.currency",
            "invalid currency \"yuan\"",
        ),
        (
            grant("acme", at, "g-empty", json!({"valid_until": t(at)})),
            "data.valid_until",
            "the window is empty",
        ),
        (
            grant("acme", at, "g-no-channel", json!({"channels": []})),
            "data.channels",
            "may not be an empty list",
        ),
        (
            grant("acme", at, "g-odd-channel", json!({"channels": ["wechat"]})),
            "data.channels[0]",
            "unknown variant `wechat`",
        ),
        (
            platform(
                "supplier_admitted",
                at,
                json!({"supplier": "grey-trader", "qualifications": [{"kind": "quality_report", "reference": "Q"}]}),
            ),
            "data.qualifications",
            "at least one qualification of kind business_license",
        ),
        (no_offset.to_string(), "effective_at", "invalid time \"2013-06-01T00:00:00\""),
    ];
    for (line, field, needle) in cases {
        let before = fx.export();
        let error = fx.import(std::slice::from_ref(&line)).expect_err(&line).to_string();
        let head = format!("line 1: form: {field}: ");
        assert!(error.starts_with(&head), "{line}\n=> `{error}` does not start with `{head}`");
        assert!(error.contains(needle), "{line}\n=> `{error}` does not contain `{needle}`");
        assert!(fx.export() == before);
    }
    fx.accept(&[sale_of(1, 19900)]);
}

// ---- all or nothing ---------------------------------------------------------------------

#[test]
fn a_refusal_on_line_11_appends_nothing_of_the_ten_valid_lines_before_it() {
    let mut fx = Fixture::sample();
    let mut lines: Vec<String> = vec![
        party("batch-seller", "2013-06-01"),
        platform(
            "store_opened",
            "2013-06-02",
            json!({"store": "batch-store", "operator": "batch-seller", "channel": "taobao", "name": "B", "region": "CN-31"}),
        ),
        sub_grant("agent-east", "2013-06-03", "g-batch", json!({"grantee": "batch-seller"})),
        agreement(
            "agent-east",
            "2013-06-04",
            "agr-batch",
            json!({"supplier": "agent-east", "distributor": "batch-seller"}),
        ),
        sale("2013-06-05", "ORD-B-1", "batch-store", "ACME-SERUM-30"),
        sale("2013-06-05", "ORD-B-2", "batch-store", "ACME-CREAM-50"),
        platform("sale_refunded", "2013-06-06", json!({"order": "ORD-B-1", "reason": "r"})),
        deposit("2013-06-07", "agent-east", 1),
        revoke("agent-east", "2013-06-08", "g-east-franchise"),
        terminate("batch-seller", "2013-06-09", "agr-batch"),
    ];
    assert_eq!(lines.len(), 10);
    // Line 11 refers to a store the batch never opened.
    lines.push(sale("2013-06-10", "ORD-B-3", "batch-store-2", "ACME-SERUM-30"));
    fx.refuse(&lines, 11, "references", "data.store", &["store batch-store-2 does not exist"]);
    // The ten lines alone are a valid file (checked after a reopen, which rebuilds the state
    // from the log: see the next test for the state of the ledger that refused them).
    fx.reopen();
    let first = fx.next_seq();
    let outcome = fx.import(&lines[..10]).unwrap();
    assert_eq!((outcome.appended, outcome.repeats), (10, 0));
    assert_eq!(outcome.range, Some((Seq(first), Seq(first + 9))));
}

/// The ten valid lines of the refused file above, and the refused eleventh.
fn ten_valid_then_refused() -> Vec<String> {
    vec![
        party("batch-seller", "2013-06-01"),
        platform(
            "store_opened",
            "2013-06-02",
            json!({"store": "batch-store", "operator": "batch-seller", "channel": "taobao", "name": "B"}),
        ),
        sub_grant("agent-east", "2013-06-03", "g-batch", json!({"grantee": "batch-seller"})),
        agreement(
            "agent-east",
            "2013-06-04",
            "agr-batch",
            json!({"supplier": "agent-east", "distributor": "batch-seller"}),
        ),
        sale("2013-06-05", "ORD-B-1", "batch-store", "ACME-SERUM-30"),
        sale("2013-06-05", "ORD-B-2", "batch-store", "ACME-CREAM-50"),
        platform("sale_refunded", "2013-06-06", json!({"order": "ORD-B-1", "reason": "r"})),
        deposit("2013-06-07", "agent-east", 1),
        revoke("agent-east", "2013-06-08", "g-east-franchise"),
        terminate("batch-seller", "2013-06-09", "agr-batch"),
        sale("2013-06-10", "ORD-B-3", "batch-store-2", "ACME-SERUM-30"),
    ]
}

#[test]
fn a_refused_import_leaves_no_trace_in_the_state_of_the_same_open_ledger() {
    let mut fx = Fixture::sample();
    let lines = ten_valid_then_refused();
    fx.refuse(&lines, 11, "references", "data.store", &["store batch-store-2 does not exist"]);
    // The store of the refused file was never recorded: a sale there is refused...
    fx.refuse(
        &[sale("2013-07-01", "ORD-PHANTOM", "batch-store", "ACME-SERUM-30")],
        1,
        "references",
        "data.store",
        &["store batch-store does not exist"],
    );
    // ...its grant was never issued, so it can be revoked by no one...
    fx.refuse(
        &[revoke("agent-east", "2013-07-01", "g-batch")],
        1,
        "references",
        "data.grant",
        &["grant g-batch does not exist"],
    );
    // ...g-east-franchise was never revoked...
    fx.accept(&[revoke("agent-east", "2013-07-01", "g-east-franchise")]);
    // ...and the valid lines are new, not repeats of records that are not there (all but the
    // revocation of g-east-franchise, which was just recorded above).
    let first = fx.next_seq();
    let again = [&lines[..8], &lines[9..10]].concat();
    let outcome = fx.import(&again).unwrap();
    assert_eq!((outcome.appended, outcome.repeats), (9, 0), "{outcome:?}");
    assert_eq!(outcome.range, Some((Seq(first), Seq(first + 8))));
}

#[test]
fn a_refused_line_is_numbered_as_in_the_file_counting_blank_lines() {
    let mut fx = Fixture::sample();
    let before = fx.export();
    let text = format!("{}\n\n{}\n", party("blank-1", "2013-06-01"), party("platform", "2013-06-01"));
    let error = fx.ledger().import(text.as_bytes(), &mut |_| {}).unwrap_err().to_string();
    assert!(error.starts_with("line 3: references: data.party: "), "{error}");
    assert!(fx.export() == before);
}

// ---- reopening ------------------------------------------------------------------------------

#[test]
fn a_reopened_ledger_rebuilds_its_state_from_the_log_and_judges_the_same() {
    let mut fx = Fixture::sample();
    let revoked = fx.accept(&[revoke("platform", "2013-10-01", "g-east")]);
    let cases: Vec<(String, &str, &str)> = vec![
        (revoke("agent-east", "2013-11-01", "g-east-franchise"), "grants", "data.grant"),
        (suspend("2014-01-10", "agent-east"), "suppliers", "data.supplier"),
        (deduct("2013-06-01", "agent-east", 1_000_000), "suppliers", "data.amount"),
        (sale("2013-03-31", "ORD-EARLY", "grey-taobao", "ACME-SERUM-30"), "references", "data.store"),
        (sale("2013-06-01", "TM-20130601-0001", "grey-taobao", "ACME-SERUM-30"), "idempotency", "data.order"),
        (
            sub_grant("agent-east", "2014-03-01", "g-low", json!({"valid_from": t("2014-03-01")})),
            "suppliers",
            "data.grantor",
        ),
        (grant("tp-hosting", "2014-01-16", "g-dismissed", json!({})), "authority", "actor"),
    ];
    let before: Vec<String> = cases
        .iter()
        .map(|(line, rule, field)| fx.refuse(std::slice::from_ref(line), 1, rule, field, &[]))
        .collect();
    assert!(before[0].contains(&format!("ancestor g-east (seq {revoked})")), "{}", before[0]);
    fx.reopen();
    for ((line, rule, field), earlier) in cases.iter().zip(&before) {
        let again = fx.refuse(std::slice::from_ref(line), 1, rule, field, &[]);
        assert_eq!(&again, earlier);
    }
    // Repeats are still repeats, of the sample and of what was added since.
    let export = fx.export();
    let outcome = fx.import(&[sample_line(25), revoke("platform", "2013-10-01", "g-east")]).unwrap();
    assert_eq!((outcome.appended, outcome.repeats), (0, 2));
    assert!(fx.export() == export);
    let submission = Submission::parse_json(&sample_line(16)).unwrap();
    assert_eq!(fx.ledger().stage(submission).unwrap(), Staged::Repeat(Seq(16)));
    fx.ledger().commit().unwrap();
    // And it goes on accepting.
    fx.accept(&[sale("2013-06-01", "ORD-AFTER-REOPEN", "acme-flagship", "ACME-SERUM-30")]);
    fx.reopen();
    assert_eq!(fx.next_seq(), export_lines(&fx.export()) as u64);
}

fn export_lines(export: &[u8]) -> usize {
    export.iter().filter(|b| **b == b'\n').count()
}

// ---- channel hosts over time --------------------------------------------------------------

#[test]
fn a_backdated_dismissal_ends_the_hosts_powers_from_its_effective_time() {
    let mut fx = Fixture::sample();
    // tp-hosting is dismissed from 2014-01-15; the owner records that it was in fact
    // dismissed on 2013-12-01. Either that is refused, or from 2013-12-01 the host may no
    // longer act.
    match fx.import(&[dismiss("2013-12-01", "tp-hosting")]) {
        Err(e) => assert!(e.to_string().starts_with("line 1: references: data.host: "), "{e}"),
        Ok(outcome) => {
            assert_eq!(outcome.appended, 1);
            fx.refuse(
                &[grant(
                    "tp-hosting",
                    "2013-12-15",
                    "g-after-early-dismissal",
                    json!({"valid_from": t("2013-12-15")}),
                )],
                1,
                "authority",
                "actor",
                &["tp-hosting may not issue grant g-after-early-dismissal"],
            );
        }
    }
}

#[test]
fn a_dismissed_host_is_not_dismissed_again_and_a_host_must_be_appointed_to_be_dismissed() {
    let mut fx = Fixture::sample();
    fx.refuse(
        &[dismiss("2014-01-20", "tp-hosting")],
        1,
        "references",
        "data.host",
        &["tp-hosting is not an appointed channel host of brand acme-beauty"],
    );
    fx.refuse(
        &[dismiss("2013-06-01", "grey-trader")],
        1,
        "references",
        "data.host",
        &["grey-trader is not an appointed channel host of brand acme-beauty"],
    );
    // Re-appointed after its dismissal, it acts again.
    fx.accept(&[appoint("2014-03-01", "tp-hosting", &["grants"], "2014-03-01", "2015-03-01")]);
    fx.accept(&[grant("tp-hosting", "2014-04-01", "g-reappointed", json!({"valid_from": t("2014-04-01")}))]);
}
