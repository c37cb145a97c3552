//! Proof bundles under attack: any part changed fails `verify_bundle` with the check that
//! caught it named, and arbitrary input never panics it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chl_ledger::bundle::{BundleError, VerifierKey, verify_bundle};
use chl_ledger::{Ledger, LedgerConfig};
use chl_model::event::OriginName;
use chl_model::{OrderId, Seq};
use proptest::prelude::*;
use serde_json::Value;

const SAMPLE: &str = include_str!("../../../replay/samples/acme-channel.jsonl");

fn sample_bundle() -> (String, VerifierKey, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger =
        Ledger::init(tmp.path(), OriginName::parse("bundles.example").unwrap(), LedgerConfig::default())
            .unwrap();
    ledger.import(SAMPLE.as_bytes(), &mut |_| {}).unwrap();
    let bundle = ledger.prove_order(&OrderId::parse("TB-20130602-0003").unwrap()).unwrap();
    let key = VerifierKey::parse(&ledger.verifier_key()).unwrap();
    (serde_json::to_string(&bundle).unwrap(), key, tmp)
}

fn edited(text: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut doc: Value = serde_json::from_str(text).unwrap();
    edit(&mut doc);
    doc.to_string()
}

fn flip_base64(value: &mut Value) {
    let mut bytes = BASE64.decode(value.as_str().unwrap()).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    *value = Value::from(BASE64.encode(bytes));
}

#[test]
fn an_untouched_bundle_verifies_and_each_changed_part_is_named() {
    let (text, key, _tmp) = sample_bundle();
    let report = verify_bundle(&text, &key).unwrap();
    assert_eq!(report.verdict.as_deref(), Some("authentic"));
    assert_eq!(report.records.len(), 9);

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "checkpoint root",
            edited(&text, |b| {
                let note = b["checkpoint"].as_str().unwrap().to_owned();
                let lines: Vec<&str> = note.split('\n').collect();
                let mut root = BASE64.decode(lines[2]).unwrap();
                root[0] ^= 1;
                let changed = note.replacen(lines[2], &BASE64.encode(root), 1);
                b["checkpoint"] = Value::from(changed);
            }),
            "checkpoint: the signature by bundles.example does not verify",
        ),
        (
            "checkpoint signature",
            edited(&text, |b| {
                let note = b["checkpoint"].as_str().unwrap().to_owned();
                let (head, sig) = note.rsplit_once(' ').unwrap();
                let mut raw = BASE64.decode(sig.trim_end()).unwrap();
                raw[10] ^= 1;
                b["checkpoint"] = Value::from(format!("{head} {}\n", BASE64.encode(raw)));
            }),
            "checkpoint: the signature by bundles.example does not verify",
        ),
        ("record bytes", edited(&text, |b| flip_base64(&mut b["records"][3]["bytes"])), "record 3 (seq 16)"),
        (
            "record form",
            edited(&text, |b| b["records"][2]["record"]["actor"] = Value::from("someone-else")),
            "record 2 (seq 11): the record form is not what the bytes decode to",
        ),
        (
            "record hash",
            edited(&text, |b| {
                let hash =
                    b["records"][1]["record"]["hash"].as_str().unwrap().replace('a', "b").replace('0', "1");
                b["records"][1]["record"]["hash"] = Value::from(hash);
            }),
            "record 1 (seq 10): the record's hash is not the BLAKE3 record hash of its bytes",
        ),
        (
            "inclusion hash",
            edited(&text, |b| flip_base64(&mut b["records"][4]["inclusion"][1])),
            "record 4 (seq 18): inclusion proof: the proof does not lead to the expected root",
        ),
        (
            "inclusion truncated",
            edited(&text, |b| {
                b["records"][0]["inclusion"].as_array_mut().unwrap().pop();
            }),
            "record 0 (seq 7): inclusion proof",
        ),
        (
            "inclusion reordered",
            edited(&text, |b| b["records"][0]["inclusion"].as_array_mut().unwrap().swap(0, 1)),
            "record 0 (seq 7): inclusion proof",
        ),
        (
            "seq",
            edited(&text, |b| b["records"][5]["seq"] = Value::from(22)),
            "record 5 (seq 22): the bytes hold seq 21",
        ),
        (
            "verdict",
            edited(&text, |b| b["verdict"]["verdict"] = Value::from("unauthorized")),
            "verdict: it is not the verdict the ledger signed",
        ),
        (
            "verdict evidence",
            edited(&text, |b| {
                b["verdict"]["evidence"].as_array_mut().unwrap().push(Value::from(40));
            }),
            "verdict: it is not the verdict the ledger signed",
        ),
        (
            "verdict horizon",
            edited(&text, |b| b["verdict"]["known_at_seq"] = Value::from(30)),
            "verdict: it was drawn at another knowledge horizon than the checkpoint's (seq 40)",
        ),
        (
            "verdict unsigned",
            edited(&text, |b| {
                b.as_object_mut().unwrap().remove("verdict_note");
            }),
            "verdict: it is not signed",
        ),
        ("extra field", edited(&text, |b| b["extra"] = Value::from(1)), "not valid JSON of the bundle form"),
    ];
    for (what, bundle, expected) in cases {
        let error = verify_bundle(&bundle, &key).expect_err(what).to_string();
        assert!(error.contains(expected), "{what}: {error}");
    }

    let other = Ledger::init(
        &tempfile::tempdir().unwrap().path().join("x"),
        OriginName::parse("bundles.example").unwrap(),
        LedgerConfig::default(),
    )
    .unwrap();
    let other_key = VerifierKey::parse(&other.verifier_key()).unwrap();
    assert!(matches!(verify_bundle(&text, &other_key), Err(BundleError::Checkpoint(_))), "another key");
}

#[test]
fn a_single_record_is_proven_against_an_older_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger =
        Ledger::init(tmp.path(), OriginName::parse("older.example").unwrap(), LedgerConfig::default())
            .unwrap();
    let lines: Vec<&str> = SAMPLE.lines().collect();
    ledger.import(lines[..10].join("\n").as_bytes(), &mut |_| {}).unwrap();
    ledger.import(lines[10..].join("\n").as_bytes(), &mut |_| {}).unwrap();
    let key = VerifierKey::parse(&ledger.verifier_key()).unwrap();
    let bundle = serde_json::to_string(&ledger.prove_seq(Seq(4), Some(11)).unwrap()).unwrap();
    assert_eq!(verify_bundle(&bundle, &key).unwrap().checkpoint.size, 11);
    assert!(ledger.prove_seq(Seq(20), Some(11)).is_err(), "seq 20 is not in a tree of 11");
    assert!(ledger.prove_seq(Seq(4), Some(12)).is_err(), "no checkpoint was signed at 12");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary changes never make the verifier panic: it answers with an error or, for a
    /// change that means nothing (whitespace), with the same report.
    #[test]
    fn arbitrary_changes_never_panic(at in any::<prop::sample::Index>(), with in any::<u8>(), cut in any::<bool>()) {
        let (text, key, _tmp) = BUNDLE.with(|b| b.clone());
        let mut bytes = text.into_bytes();
        let i = at.index(bytes.len());
        if cut { bytes.truncate(i) } else { bytes[i] = with }
        let changed = String::from_utf8_lossy(&bytes).into_owned();
        let _ = verify_bundle(&changed, &key);
    }
}

thread_local! {
    static BUNDLE: (String, VerifierKey, std::sync::Arc<tempfile::TempDir>) = {
        let (text, key, tmp) = sample_bundle();
        (text, key, std::sync::Arc::new(tmp))
    };
}
