//! The JSON Schemas of the answers the API returns (`Verdict`, `ChannelView`, `ChannelDiff`)
//! describe exactly what serde_json writes for them.
//!
//! The state is built from the sample history (replay/samples/acme-channel.jsonl: its line N is
//! the record with seq N), judged by the rules and applied record by record as the ledger does,
//! plus a few records on top so that one verdict has reasons, warnings, a chain and an
//! agreement at once. Real answers are then serialized and validated:
//!
//! - against `schema_for!` (schemars' default settings, the deserialize contract), and
//! - against the schema of the serialize contract (`SchemaSettings::for_serialize`, the one
//!   that describes a response), "closed": every object that lists properties must list all
//!   of them as required (no field is ever skipped) and gets `additionalProperties: false`, so
//!   a field the serialization writes but the schema does not know fails.
//!
//! Deliberately wrong values must fail, so the test can fail.

use chl_model::event::{LedgerCreated, OriginName, PublicKey};
use chl_model::{Digest, Event, PartyId, Record, Seq, StoreId, Submission, Timestamp};
use chl_state::channel::{Amounts, SalesTotals};
use chl_state::{
    ChannelDiff, ChannelView, Decision, Fingerprint, Sale, SalesWindow, State, Submitted, Verdict,
    VerdictKind, View,
};
use jsonschema::Validator;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

const SAMPLE: &str = include_str!("../../../replay/samples/acme-channel.jsonl");

/// On top of the sample: the brand owner is suspended, a sale at the franchise store below the
/// price floor, the franchise grant revoked with effect after it, and a sale in a second
/// currency at the flagship store.
const EXTRA: &[&str] = &[
    r#"{"type":"supplier_suspended","actor":"platform","effective_at":"2013-12-01T00:00:00+08:00","data":{"supplier":"acme","reason":"annual review"}}"#,
    r#"{"type":"sale_recorded","actor":"platform","effective_at":"2013-12-15T10:00:00+08:00","data":{"order":"TM-20131215-0006","store":"jingan-franchise","sku":"ACME-SERUM-30","quantity":2,"unit_price":{"value":15900,"currency":"CNY"}}}"#,
    r#"{"type":"grant_revoked","actor":"agent-east","effective_at":"2014-02-10T00:00:00+08:00","data":{"grant":"g-east-franchise","reason":"franchise not renewed"}}"#,
    r#"{"type":"sale_recorded","actor":"platform","effective_at":"2013-06-20T10:00:00+08:00","data":{"order":"TM-20130620-0007","store":"acme-flagship","sku":"ACME-CREAM-50","quantity":3,"unit_price":{"value":4500,"currency":"USD"}}}"#,
];

fn t(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// The state after the sample and `EXTRA`, each submission judged by the rules first; with the
/// records, by seq.
fn state() -> (State, Vec<Record>) {
    let mut state = State::new();
    let clock = t("2014-06-01T00:00:00Z");
    let founding = Record {
        seq: Seq::ZERO,
        recorded_at: clock,
        prev: Digest::ZERO,
        ends_batch: true,
        actor: PartyId::platform(),
        effective_at: clock,
        version: chl_model::EventType::LedgerCreated.current_version(),
        event: Event::LedgerCreated(LedgerCreated {
            origin: OriginName::parse("answers.channel-ledger.example").unwrap(),
            public_key: PublicKey([7; 32]),
        }),
    };
    state.apply(&founding, Fingerprint::of_record(&founding));
    let mut records = vec![founding];
    for line in SAMPLE.lines().chain(EXTRA.iter().copied()) {
        let submission = Submission::parse_json(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let effective_at = submission.effective_at.expect("every line has its effective_at");
        let fingerprint = Fingerprint::of(&submission.actor, effective_at, &submission.event);
        let submitted = Submitted { actor: &submission.actor, effective_at, event: &submission.event };
        match chl_state::check(&state, submitted, fingerprint) {
            Ok(Decision::Append(_)) => {}
            other => panic!("{line}: {other:?}"),
        }
        let record = Record {
            seq: Seq(records.len() as u64),
            recorded_at: clock,
            prev: Digest::ZERO,
            ends_batch: true,
            actor: submission.actor,
            effective_at,
            version: submission.event.event_type().current_version(),
            event: submission.event,
        };
        state.apply(&record, fingerprint);
        records.push(record);
    }
    (state, records)
}

fn last_seq(records: &[Record]) -> Seq {
    records.last().unwrap().seq
}

/// The sale a record states, as the ledger reads it for a verdict.
fn sale_of(record: &Record) -> Option<Sale> {
    let Event::SaleRecorded(sale) = &record.event else { return None };
    Some(Sale {
        order: sale.order.clone(),
        seq: record.seq,
        at: record.effective_at,
        store: sale.store.clone(),
        sku: sale.sku.clone(),
        unit_price: Some(sale.unit_price.clone()),
        region: sale.region.clone(),
    })
}

// ---- schemas ---------------------------------------------------------------------------------

/// The schema of the deserialize contract: `schemars::schema_for!`.
fn default_schema<T: JsonSchema>() -> Value {
    schemars::SchemaGenerator::default().into_root_schema_for::<T>().to_value()
}

/// The schema of the serialize contract, the one that describes a response.
fn response_schema<T: JsonSchema>() -> Value {
    SchemaSettings::draft2020_12().for_serialize().into_generator().into_root_schema_for::<T>().to_value()
}

/// `schema` with every object schema that lists properties closed to others; asserts that each
/// of them requires all its properties (no field of these answers is ever skipped). Objects
/// that already say what else they allow (maps) are left as they are.
fn closed(mut schema: Value) -> Value {
    fn walk(value: &mut Value, path: &str) {
        match value {
            Value::Object(object) => {
                if let Some(Value::Object(properties)) = object.get("properties")
                    && !object.contains_key("additionalProperties")
                {
                    let mut listed: Vec<&str> = properties.keys().map(String::as_str).collect();
                    let mut required: Vec<&str> = object
                        .get("required")
                        .and_then(Value::as_array)
                        .map(|r| r.iter().map(|v| v.as_str().unwrap()).collect())
                        .unwrap_or_default();
                    listed.sort_unstable();
                    required.sort_unstable();
                    assert_eq!(required, listed, "{path}: every field is always serialized, so required");
                    object.insert("additionalProperties".into(), Value::Bool(false));
                }
                for (key, child) in object.iter_mut() {
                    walk(child, &format!("{path}/{key}"));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter_mut().enumerate() {
                    walk(child, &format!("{path}/{i}"));
                }
            }
            _ => {}
        }
    }
    walk(&mut schema, "#");
    schema
}

fn validator(schema: &Value) -> Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("{e}\n{schema:#}"))
}

/// The validators a serialized `T` is held to: the default schema, the response schema and the
/// closed response schema.
struct Validators {
    name: &'static str,
    all: Vec<(&'static str, Validator)>,
}

impl Validators {
    fn of<T: JsonSchema>(name: &'static str) -> Validators {
        let response = response_schema::<T>();
        Validators {
            name,
            all: vec![
                ("schema_for!", validator(&default_schema::<T>())),
                ("response", validator(&response)),
                ("closed response", validator(&closed(response))),
            ],
        }
    }

    fn assert_valid(&self, value: &Value) {
        for (which, validator) in &self.all {
            let errors: Vec<String> =
                validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
            assert!(errors.is_empty(), "{} ({which}) refuses {value:#}:\n{}", self.name, errors.join("\n"));
        }
    }

    /// `value` fails the response schemas; `by_default` says whether it fails `schema_for!`
    /// too (an absent field that serialization always writes as null passes it).
    fn assert_invalid(&self, value: &Value, by_default: bool) {
        for (which, validator) in &self.all {
            if *which == "schema_for!" && !by_default {
                continue;
            }
            assert!(!validator.is_valid(value), "{} ({which}) accepts the wrong {value:#}", self.name);
        }
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

// ---- verdicts --------------------------------------------------------------------------------

#[test]
fn verdicts_match_their_schema() {
    let (state, records) = state();
    let known = last_seq(&records);
    let schemas = Validators::of::<Verdict>("Verdict");

    let mut verdicts = Vec::new();
    for sale in records.iter().filter_map(sale_of) {
        verdicts.push(state.verdict_of_sale(&sale, known));
        // Before the sale was recorded, the order is unknown.
        verdicts.push(state.verdict_of_sale(&sale, Seq(sale.seq.0 - 1)));
    }
    // li-taobao between its grant and its agreement: no source.
    for (store, at) in [
        ("li-taobao", "2013-03-28T12:00:00Z"),
        ("li-taobao", "2013-06-15T00:00:00Z"),
        ("grey-taobao", "2013-06-15T00:00:00Z"),
    ] {
        let store = StoreId::parse(store).unwrap();
        let sku = chl_model::Sku::parse("ACME-SERUM-30").unwrap();
        verdicts.push(state.verdict_at(&store, &sku, t(at), known).unwrap());
    }
    for kind in [
        VerdictKind::Authentic,
        VerdictKind::UnverifiedSource,
        VerdictKind::Unauthorized,
        VerdictKind::UnknownOrder,
    ] {
        assert!(verdicts.iter().any(|v| v.verdict == kind), "no {kind:?} among the verdicts");
    }

    // The franchise sale of EXTRA: a chain holds and an agreement covers it, but the owner is
    // suspended (a reason), the price is below the floor and the grant was revoked later.
    let full = verdicts
        .iter()
        .find(|v| {
            !v.reasons.is_empty()
                && !v.warnings.is_empty()
                && !v.grant_chain.is_empty()
                && v.agreement.is_some()
        })
        .expect("a verdict with reasons, warnings, a chain and an agreement");
    let json = to_json(full);
    assert_eq!(json["verdict"], "unauthorized", "{json:#}");
    assert_eq!(json["reasons"], json!(["brand_owner_inactive"]), "{json:#}");
    assert_eq!(json["warnings"], json!(["price_below_floor", "revoked_later"]), "{json:#}");
    assert_eq!(json["agreement"]["agreement"], "agr-east-jingan", "{json:#}");
    assert!(json["grant_chain"][0]["seq"].is_u64(), "{json:#}");

    for verdict in &verdicts {
        schemas.assert_valid(&to_json(verdict));
    }
    // `agreement` is written as null when there is none, never left out.
    let unknown = to_json(&Verdict::unknown_order());
    assert_eq!(unknown["agreement"], Value::Null);
    schemas.assert_valid(&unknown);

    // Wrong values fail.
    let wrong = |edit: &dyn Fn(&mut Value)| {
        let mut value = json.clone();
        edit(&mut value);
        value
    };
    schemas.assert_invalid(&wrong(&|v| v["verdict"] = json!("maybe")), true);
    schemas.assert_invalid(&wrong(&|v| v["verdict"] = json!("Authentic")), true);
    schemas.assert_invalid(&wrong(&|v| v["reasons"] = json!(["no_reason"])), true);
    schemas.assert_invalid(&wrong(&|v| v["reasons"] = json!(["store_closed", "store_closed"])), true);
    schemas.assert_invalid(&wrong(&|v| v["warnings"] = json!(["price_above_floor"])), true);
    schemas.assert_invalid(&wrong(&|v| v["evidence"] = json!([-1])), true);
    schemas.assert_invalid(&wrong(&|v| v["evidence"] = json!(["7"])), true);
    schemas.assert_invalid(&wrong(&|v| v["grant_chain"][0]["grant"] = json!("no spaces in ids")), true);
    schemas.assert_invalid(&wrong(&|v| v["agreement"] = json!("agr-east-jingan")), true);
    schemas.assert_invalid(&wrong(&|v| drop(v.as_object_mut().unwrap().remove("evidence"))), true);
    schemas.assert_invalid(&wrong(&|v| drop(v.as_object_mut().unwrap().remove("agreement"))), false);
    // Only the closed schema knows every field there is.
    let extra = wrong(&|v| v["confidence"] = json!(0.9));
    assert!(!schemas.all[2].1.is_valid(&extra), "the closed schema accepts an unknown field");
}

// ---- channel views and diffs -----------------------------------------------------------------

#[test]
fn channel_views_and_diffs_match_their_schemas() {
    let (state, records) = state();
    let known = last_seq(&records);
    let views = Validators::of::<ChannelView<'static>>("ChannelView");
    let diffs = Validators::of::<ChannelDiff>("ChannelDiff");
    let brand = chl_model::BrandId::parse("acme-beauty").unwrap();
    let view_at = |at: &str, known: Seq| {
        let at = t(at);
        state.channel_view(&brand, View { at, known }, SalesWindow { from: Timestamp::MIN, until: at })
    };

    let times = [
        "2013-01-16T00:00:00Z",
        "2013-03-20T00:00:00Z",
        "2013-06-25T00:00:00Z",
        "2013-12-20T00:00:00Z",
        "2014-02-20T00:00:00Z",
        "2014-06-01T00:00:00Z",
    ];
    let mut all = Vec::new();
    for at in times {
        all.push(view_at(at, known).unwrap());
        all.push(view_at(at, Seq(26)).unwrap());
    }
    for view in &all {
        views.assert_valid(&to_json(view));
    }

    // One view with everything in it: a host, grants, agreements, stores in three tiers, and
    // sales in two currencies.
    let rich = view_at("2013-06-25T00:00:00Z", known).unwrap();
    let json = to_json(&rich);
    assert!(!rich.hosts.is_empty() && !rich.grants.is_empty() && !rich.agreements.is_empty(), "{json:#}");
    assert_eq!(rich.stores.len(), 3, "{json:#}");
    assert_eq!(json["owner"]["status"], "active", "{json:#}");
    assert_eq!(json["stores"]["tmall_flagship"][0]["sales"]["amount"], json!({"CNY": 29900, "USD": 13500}));
    assert!(json["grants"].as_array().unwrap().iter().any(|g| g["parent"].is_null()), "{json:#}");
    assert!(json["grants"].as_array().unwrap().iter().any(|g| g["revoked_seq"].is_null()), "{json:#}");
    let statuses: Vec<Value> = all
        .iter()
        .map(to_json)
        .flat_map(|v| {
            ["hosts", "grants", "agreements"]
                .into_iter()
                .flat_map(|list| {
                    v[list].as_array().unwrap().iter().map(|x| x["status"].clone()).collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for status in ["active", "not_yet_valid", "expired", "revoked", "dismissed", "terminated"] {
        assert!(statuses.contains(&json!(status)), "no status {status} in the views");
    }
    for owner in ["active", "suspended"] {
        assert!(all.iter().any(|v| v.owner.status == owner), "no owner status {owner} in the views");
    }

    // Diffs: stores joined, left, and lost and gained authorization.
    let mut diff_values = Vec::new();
    for pair in all.iter().step_by(2).collect::<Vec<_>>().windows(2) {
        diff_values.push(pair[1].diff_since(pair[0]));
        diff_values.push(pair[0].diff_since(pair[1]));
    }
    diff_values.push(ChannelDiff::default());
    for (name, pick) in [
        ("joined", (|d: &ChannelDiff| !d.joined.is_empty()) as fn(&ChannelDiff) -> bool),
        ("left", |d| !d.left.is_empty()),
        ("lost_authorization", |d| !d.lost_authorization.is_empty()),
        ("gained_authorization", |d| !d.gained_authorization.is_empty()),
    ] {
        assert!(diff_values.iter().any(pick), "no diff with {name}");
    }
    for diff in &diff_values {
        diffs.assert_valid(&to_json(diff));
    }
    let empty = to_json(&ChannelDiff::default());
    assert_eq!(empty["from"], Value::Null, "{empty:#}");

    // Wrong views fail.
    let wrong = |edit: &dyn Fn(&mut Value)| {
        let mut value = json.clone();
        edit(&mut value);
        value
    };
    views.assert_invalid(&wrong(&|v| v["owner"]["status"] = json!("maybe")), true);
    views.assert_invalid(&wrong(&|v| v["grants"][0]["status"] = json!("pending")), true);
    views.assert_invalid(&wrong(&|v| v["stores"]["ebay"] = json!([])), true);
    views.assert_invalid(&wrong(&|v| v["stores"]["taobao"][0]["sales"]["amount"] = json!({"cny": 1})), true);
    views
        .assert_invalid(&wrong(&|v| v["stores"]["taobao"][0]["sales"]["amount"] = json!({"CNY": "1"})), true);
    views
        .assert_invalid(&wrong(&|v| v["stores"]["taobao"][0]["sales"]["amount"] = json!({"CNY": 1.5})), true);
    views.assert_invalid(&wrong(&|v| v["hosts"][0]["powers"] = json!(["everything"])), true);
    views.assert_invalid(&wrong(&|v| v["hosts"][0]["powers"] = json!([])), true);
    views.assert_invalid(&wrong(&|v| v["grants"][0]["channels"] = json!(["taobao", "taobao"])), true);
    views.assert_invalid(&wrong(&|v| v["grants"][0]["regions"] = json!([])), true);
    views.assert_invalid(&wrong(&|v| v["as_of"] = json!("2013-06-25")), true);
    views.assert_invalid(&wrong(&|v| v["known_at_seq"] = json!(-3)), true);
    views.assert_invalid(&wrong(&|v| drop(v.as_object_mut().unwrap().remove("sales_window"))), true);
    views.assert_invalid(&wrong(&|v| drop(v["grants"][0].as_object_mut().unwrap().remove("parent"))), false);
    let extra = wrong(&|v| v["stores"]["taobao"][0]["rating"] = json!(5));
    assert!(!views.all[2].1.is_valid(&extra), "the closed schema accepts an unknown field");

    let diff = to_json(diff_values.iter().find(|d| !d.joined.is_empty()).unwrap());
    diffs.assert_invalid(&json!({"from": null, "to": null, "joined": ["a b"], "left": [], "lost_authorization": [], "gained_authorization": []}), true);
    let mut missing = diff.clone();
    missing.as_object_mut().unwrap().remove("to");
    diffs.assert_invalid(&missing, false);
}

/// `Amounts` has its own Serialize; its schema is written by hand to match.
#[test]
fn amounts_serialize_as_their_schema_says() {
    let schemas = Validators::of::<SalesTotals>("SalesTotals");
    let totals =
        |amounts: Vec<([u8; 3], i64)>| SalesTotals { orders: 2, quantity: 3, amount: Amounts(amounts) };
    for amounts in [vec![], vec![(*b"CNY", 12345)], vec![(*b"CNY", 1), (*b"USD", i64::MAX)]] {
        let json = to_json(&totals(amounts.clone()));
        assert_eq!(json["amount"].as_object().unwrap().len(), amounts.len(), "{json}");
        schemas.assert_valid(&json);
    }
    schemas.assert_invalid(&json!({"orders": 1, "quantity": 1, "amount": {"???": 1}}), true);
    schemas.assert_invalid(&json!({"orders": 1, "quantity": 1, "amount": [["CNY", 1]]}), true);
    schemas.assert_invalid(&json!({"orders": -1, "quantity": 1, "amount": {}}), true);
}
