//! Verifying a proof bundle of 8 records against one Ed25519 signature check, in one run.

use chl_ledger::bundle::{VerifierKey, verify_bundle};
use chl_ledger::{Ledger, LedgerConfig};
use chl_model::event::OriginName;
use chl_model::{OrderId, Seq};
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey, Verifier};

const SAMPLE: &str = include_str!("../../../replay/samples/acme-channel.jsonl");

fn bundle(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger =
        Ledger::init(tmp.path(), OriginName::parse("bench.example").unwrap(), LedgerConfig::default())
            .unwrap();
    ledger.import(SAMPLE.as_bytes(), &mut |_| {}).unwrap();
    let key = VerifierKey::parse(&ledger.verifier_key()).unwrap();
    // An order whose verdict rests on 8 or more records, and a bundle of exactly 8 single records.
    let verdict_bundle =
        serde_json::to_string(&ledger.prove_order(&OrderId::parse("TM-20130601-0001").unwrap()).unwrap())
            .unwrap();
    let mut eight = ledger.prove_seq(Seq(1), None).unwrap();
    for seq in 2..9 {
        eight.records.extend(ledger.prove_seq(Seq(seq), None).unwrap().records);
    }
    let eight = serde_json::to_string(&eight).unwrap();
    assert_eq!(verify_bundle(&eight, &key).unwrap().records.len(), 8);
    verify_bundle(&verdict_bundle, &key).unwrap();

    let signing = SigningKey::from_bytes(&[7; 32]);
    let message = b"a checkpoint body of about this length\n41\nbase64base64base64base64base64base64base6=\n";
    let signature = signing.sign(message);
    let verifying = signing.verifying_key();

    let mut group = c.benchmark_group("bundle");
    group.bench_function("one_ed25519_signature_check", |b| {
        b.iter(|| verifying.verify(message, &signature).unwrap())
    });
    group.bench_function("verify_bundle_of_8_records", |b| b.iter(|| verify_bundle(&eight, &key).unwrap()));
    group.bench_function("verify_bundle_of_an_order_verdict", |b| {
        b.iter(|| verify_bundle(&verdict_bundle, &key).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bundle);
criterion_main!(benches);
