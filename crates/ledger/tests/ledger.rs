//! The ledger directory as its users see it through the library: group commit, all-or-nothing
//! batches, export and restore, and the derived index.

use chl_ledger::{BatchError, Committer, CommitterConfig, Ledger, LedgerConfig};
use chl_model::event::{
    OriginName, PartyRegistered, Qualification, QualificationKind, SupplierAdmitted, SupplierReinstated,
    SupplierSuspended,
};
use chl_model::{Event, PartyId, Seq, Submission, Text};
use proptest::prelude::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn init(root: &std::path::Path) -> Ledger {
    Ledger::init(root, OriginName::parse("test.channel-ledger.example").unwrap(), LedgerConfig::default())
        .unwrap()
}

fn party(n: u64) -> Submission {
    Submission {
        actor: PartyId::platform(),
        effective_at: None,
        event: Event::PartyRegistered(PartyRegistered {
            party: PartyId::parse(&format!("party-{n}")).unwrap(),
            legal_name: Text::parse(&format!("Party {n} Co., Ltd.")).unwrap(),
            credit_code: None,
        }),
    }
}

fn export(ledger: &Ledger) -> Vec<u8> {
    let mut out = Vec::new();
    ledger.export(Seq::ZERO, None, &mut out).unwrap();
    out
}

#[test]
fn concurrent_writers_share_fsyncs_and_every_acknowledged_record_is_there() {
    let tmp = tempfile::tempdir().unwrap();
    let committer = Arc::new(Committer::start(init(tmp.path()), CommitterConfig::default()));
    let writers: Vec<_> = (0..8u64)
        .map(|w| {
            let committer = Arc::clone(&committer);
            std::thread::spawn(move || {
                (0..100u64)
                    .map(|i| committer.append(vec![party(w * 1000 + i)]).unwrap().appended().next().unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acknowledged: Vec<_> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let stats = committer.stats();
    assert_eq!(stats.batches.load(Ordering::Relaxed), 800);
    let groups = stats.groups.load(Ordering::Relaxed);
    let ledger = Arc::into_inner(committer).unwrap().shutdown().expect("no reader shares the ledger");
    acknowledged.sort();
    assert_eq!(acknowledged.iter().map(|(s, _)| s.0).collect::<Vec<_>>(), (1..=800).collect::<Vec<_>>());
    for (seq, hash) in &acknowledged {
        assert_eq!(ledger.read(*seq).unwrap().1, *hash);
    }
    assert!(groups < 800, "{groups} fsyncs for 800 concurrent single-record batches");
    assert_eq!(ledger.verify(&mut |_| {}).unwrap().records, 801);
}

#[test]
fn queued_batches_are_committed_as_one_group() {
    let tmp = tempfile::tempdir().unwrap();
    let committer = Committer::start(init(tmp.path()), CommitterConfig::default());
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..1000u64 {
        let tx = tx.clone();
        committer.submit(vec![party(i)], move |result| tx.send(result).unwrap());
    }
    let results: Vec<_> = (0..1000).map(|_| rx.recv().unwrap().unwrap()).collect();
    assert_eq!(results.len(), 1000);
    let groups = committer.stats().groups.load(Ordering::Relaxed);
    assert!(groups < 100, "{groups} groups for 1000 queued batches");
}

#[test]
fn a_refused_batch_leaves_no_trace_and_does_not_disturb_its_group() {
    let tmp = tempfile::tempdir().unwrap();
    let committer = Committer::start(init(tmp.path()), CommitterConfig::default());
    let too_late = Submission {
        effective_at: Some(chl_model::Timestamp::now().saturating_add_micros(3_600_000_000)),
        ..party(2)
    };
    let (tx, rx) = std::sync::mpsc::channel();
    for (i, batch) in [vec![party(1)], vec![party(20), party(21), too_late, party(23)], vec![party(3)]]
        .into_iter()
        .enumerate()
    {
        let tx = tx.clone();
        committer.submit(batch, move |result| tx.send((i, result)).unwrap());
    }
    let mut results: Vec<_> = (0..3).map(|_| rx.recv().unwrap()).collect();
    results.sort_by_key(|(i, _)| *i);
    assert_eq!(results[0].1.as_ref().unwrap().appended().next().unwrap().0, Seq(1));
    match &results[1].1 {
        Err(BatchError::Refused { index: 2, refusal }) => {
            assert_eq!(refusal.field.as_deref(), Some("effective_at"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        results[2].1.as_ref().unwrap().appended().next().unwrap().0,
        Seq(2),
        "the refused batch took no seq"
    );
    let ledger = committer.shutdown().expect("no reader shares the ledger");
    assert_eq!(ledger.record_count(), 3);
    assert!(ledger.verify(&mut |_| {}).is_ok());
}

#[test]
fn a_deleted_index_is_rebuilt_from_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = init(tmp.path());
    let lines: String = (0..50)
        .map(|n| {
            let mut line = Vec::new();
            party(n).write_json(&mut line).unwrap();
            String::from_utf8(line).unwrap() + "\n"
        })
        .collect();
    ledger.import(lines.as_bytes(), &mut |_| {}).unwrap();
    let counts = ledger.counts().unwrap();
    assert_eq!(counts.get("party_registered"), Some(&50));
    drop(ledger);
    std::fs::remove_dir_all(tmp.path().join("index")).unwrap();
    let ledger = Ledger::open(tmp.path(), LedgerConfig::default()).unwrap();
    assert_eq!(ledger.counts().unwrap(), counts);
}

/// Batches of a valid history: parties registered, some admitted as suppliers, some of those
/// suspended and reinstated.
fn arbitrary_history() -> impl Strategy<Value = Vec<Vec<Submission>>> {
    (1u64..40, prop::collection::vec(1usize..8, 1..10), any::<u64>()).prop_map(|(parties, cuts, salt)| {
        let mut history: Vec<Submission> = (0..parties).map(party).collect();
        for n in (0..parties).filter(|n| (n ^ salt) % 3 == 0) {
            let supplier = PartyId::parse(&format!("party-{n}")).unwrap();
            history.push(platform(Event::SupplierAdmitted(SupplierAdmitted {
                supplier: supplier.clone(),
                qualifications: vec![Qualification {
                    kind: QualificationKind::BusinessLicense,
                    reference: Text::parse(&format!("BL-{n}")).unwrap(),
                    document_hash: None,
                    valid_until: None,
                }],
            })));
            if (n ^ salt) % 2 == 0 {
                history.push(platform(Event::SupplierSuspended(SupplierSuspended {
                    supplier: supplier.clone(),
                    reason: Text::parse("review").unwrap(),
                })));
                history.push(platform(Event::SupplierReinstated(SupplierReinstated { supplier })));
            }
        }
        let mut batches = Vec::new();
        let mut rest = history.as_slice();
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (batch, after) = rest.split_at((*cut).min(rest.len()));
            batches.push(batch.to_vec());
            rest = after;
        }
        batches
    })
}

fn platform(event: Event) -> Submission {
    Submission { actor: PartyId::platform(), effective_at: None, event }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Restoring an export in a fresh directory reproduces every record and hash.
    #[test]
    fn restore_of_an_export_reproduces_identical_hashes(
        batches in arbitrary_history()
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let mut ledger = init(&tmp.path().join("a"));
        for batch in batches {
            let lines: Vec<u8> = batch.iter().flat_map(|s| {
                let mut line = Vec::new();
                s.write_json(&mut line).unwrap();
                line.push(b'\n');
                line
            }).collect();
            ledger.import(lines.as_slice(), &mut |_| {}).unwrap();
        }
        let original = export(&ledger);
        let (restored, outcome) =
            Ledger::restore(&tmp.path().join("b"), original.as_slice(), LedgerConfig::default(), &mut |_| {}).unwrap();
        prop_assert_eq!(outcome.head, ledger.head());
        prop_assert_eq!(export(&restored), original.clone());
        let verified = restored.verify(&mut |_| {});
        prop_assert!(verified.is_ok());
        // And the same export appended to the restored ledger is refused: it does not continue it.
        drop(restored);
        let mut again = Ledger::open(&tmp.path().join("b"), LedgerConfig::default()).unwrap();
        let refused = again.import(original.as_slice(), &mut |_| {});
        prop_assert!(refused.is_err());
        prop_assert_eq!(export(&again), original);
    }
}

/// The sample history's lines, as submissions.
fn sample_lines() -> Vec<Submission> {
    include_str!("../../../replay/samples/acme-channel.jsonl")
        .lines()
        .map(|line| Submission::parse_json(line).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Batches refused part-way are undone exactly: the state the writer holds afterwards is
    /// the state rebuilt from the log alone.
    #[test]
    fn undo_after_refusals_leaves_the_state_a_rebuild_gives(
        cuts in prop::collection::vec(1usize..6, 1..20),
        poison in prop::collection::vec(any::<bool>(), 20),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let committer = Committer::start(init(tmp.path()), CommitterConfig::default());
        let lines = sample_lines();
        let mut rest = lines.as_slice();
        for (i, cut) in cuts.iter().cycle().enumerate() {
            if rest.is_empty() {
                break;
            }
            let (batch, after) = rest.split_at((*cut).min(rest.len()));
            let mut batch = batch.to_vec();
            if poison[i % poison.len()] {
                // A submission that breaks a rule at the end: the whole batch is refused and
                // taken back; it is then submitted again without it.
                batch.push(platform(Event::SupplierReinstated(SupplierReinstated {
                    supplier: PartyId::parse("nobody").unwrap(),
                })));
                let refused = committer.append(batch.clone());
                prop_assert!(matches!(refused, Err(BatchError::Refused { .. })), "{refused:?}");
                batch.pop();
            }
            committer.append(batch).unwrap();
            rest = after;
        }
        let mut ledger = committer.shutdown().expect("no reader shares the ledger");
        let live = ledger.state().unwrap().digest();
        let count = ledger.record_count();
        drop(ledger);
        let mut reopened = Ledger::open(tmp.path(), LedgerConfig::default()).unwrap();
        prop_assert_eq!(reopened.record_count(), count);
        prop_assert_eq!(reopened.state().unwrap().digest(), live);
    }
}
