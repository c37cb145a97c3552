//! Signed checkpoints: one after every commit, over the durable log, verifiable with the
//! ledger's key alone; records proven against them; a changed checkpoint caught by verify.

use chl_ledger::checkpoint::{Checkpoint, verify_note};
use chl_ledger::{Ledger, LedgerConfig};
use chl_log::merkle::{Sha256Hasher, verify_consistency, verify_inclusion};
use chl_model::Seq;
use chl_model::event::OriginName;

const SAMPLE: &str = include_str!("../../../replay/samples/acme-channel.jsonl");

fn checkpoint_of(note: &str) -> Checkpoint {
    let (body, _) = note.split_once("\n\n").unwrap();
    Checkpoint::parse_body(&format!("{body}\n")).unwrap()
}

#[test]
fn every_commit_is_checkpointed_and_records_prove_against_it() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = OriginName::parse("checkpoints.example").unwrap();
    let mut ledger = Ledger::init(tmp.path(), origin.clone(), LedgerConfig::default()).unwrap();
    let first = ledger.latest_checkpoint().expect("record 0 is checkpointed");
    assert_eq!(checkpoint_of(&first).size, 1);
    let lines: Vec<&str> = SAMPLE.lines().collect();
    ledger.import(lines[..20].join("\n").as_bytes(), &mut |_| {}).unwrap();
    let middle = ledger.latest_checkpoint().unwrap();
    ledger.import(lines[20..].join("\n").as_bytes(), &mut |_| {}).unwrap();
    let last = ledger.latest_checkpoint().unwrap();

    let key = *ledger.public_key();
    for note in [&first, &middle, &last] {
        verify_note(note, &origin, &key).unwrap();
    }
    let (old, new) = (checkpoint_of(&middle), checkpoint_of(&last));
    assert_eq!((old.size, new.size), (21, 41));
    assert_eq!(new.root, ledger.log().tree_head(41).unwrap());
    for seq in [0u64, 7, 20, 40] {
        let proof = ledger.log().inclusion_proof(Seq(seq), new.size).unwrap();
        let leaf = ledger.log().leaf_hash(Seq(seq)).unwrap();
        verify_inclusion::<Sha256Hasher>(seq, new.size, &leaf, &proof, &new.root).unwrap();
    }
    let proof = ledger.log().consistency_proof(old.size, new.size).unwrap();
    verify_consistency::<Sha256Hasher>(old.size, new.size, &old.root, &new.root, &proof).unwrap();
    drop(ledger);

    let verified = Ledger::verify_at(tmp.path(), &mut |_| {}).unwrap().unwrap();
    assert_eq!(verified.checkpoint, Some(new));

    // A checkpoint changed on disk is caught.
    let latest = tmp.path().join("checkpoints/latest");
    let changed = last.replacen("\n41\n", "\n40\n", 1);
    std::fs::write(&latest, changed).unwrap();
    let error = Ledger::verify_at(tmp.path(), &mut |_| {}).unwrap().unwrap_err();
    assert!(error.what.contains("does not verify with the ledger's key"), "{error}");
}

#[test]
fn a_restored_ledger_has_no_key_and_no_new_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::init(
        &tmp.path().join("a"),
        OriginName::parse("restore.example").unwrap(),
        LedgerConfig::default(),
    )
    .unwrap();
    ledger.import(SAMPLE.as_bytes(), &mut |_| {}).unwrap();
    let mut export = Vec::new();
    ledger.export(Seq::ZERO, None, &mut export).unwrap();
    let (restored, _) =
        Ledger::restore(&tmp.path().join("b"), export.as_slice(), LedgerConfig::default(), &mut |_| {})
            .unwrap();
    assert_eq!(restored.latest_checkpoint(), None);
    assert_eq!(restored.log().tree_head(41).unwrap(), ledger.log().tree_head(41).unwrap());
    drop(restored);
    let verified = Ledger::verify_at(&tmp.path().join("b"), &mut |_| {}).unwrap().unwrap();
    assert_eq!(verified.checkpoint, None);
}
