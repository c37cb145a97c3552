//! Damaged derived data of the log (a segment's offset index, the Merkle tree's level files):
//! named by verification, harmless to reads, proofs and the tree head, and rewritten by
//! `Log::rebuild_derived`.

use chl_log::merkle::{Sha256Hasher, verify_consistency, verify_inclusion};
use chl_log::sample::append_sample_batch;
use chl_log::{DerivedDamage, Log, LogError, StoreConfig, verify_log_dir, verify_store};
use chl_model::Seq;
use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

fn config() -> StoreConfig {
    StoreConfig { segment_max_bytes: 8 * 1024 }
}

/// A log of `records` sample records in batches of at most 50, closed.
fn log_of(dir: &Path, records: u64) -> Log {
    let (mut log, _) = Log::open_dir(dir, config()).unwrap();
    while log.record_count() < records {
        let n = (records - log.record_count()).min(50);
        append_sample_batch(&mut log, n);
        log.commit().unwrap();
    }
    log
}

fn flip(path: &Path, at: usize, mask: u8) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= mask;
    fs::write(path, bytes).unwrap();
}

fn index_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .collect();
    out.sort();
    out
}

fn level_file(dir: &Path, level: u32) -> PathBuf {
    dir.join("tree").join(format!("level-{level:02}.hashes"))
}

/// Every record's inclusion proof in the tree of `size`, and consistency proofs from a few
/// sizes, verify against heads recomputed from the records (`verify_store`).
fn proofs_verify(log: &Log, size: u64) {
    let wanted: Vec<u64> = vec![1, 7, 8, 100, size / 2, size];
    let summary = verify_store(log.store(), &wanted, &mut |_| {}).unwrap();
    let heads: std::collections::BTreeMap<u64, [u8; 32]> = summary.tree_heads_at.into_iter().collect();
    assert_eq!(log.tree_head(size).unwrap(), heads[&size]);
    for seq in 0..size {
        let proof = log.inclusion_proof(Seq(seq), size).unwrap();
        let leaf = log.leaf_hash(Seq(seq)).unwrap();
        verify_inclusion::<Sha256Hasher>(seq, size, &leaf, &proof, &heads[&size])
            .unwrap_or_else(|e| panic!("seq {seq} in {size}: {e}"));
    }
    for (&old, old_head) in &heads {
        assert_eq!(&log.tree_head(old).unwrap(), old_head, "head at {old}");
        let proof = log.consistency_proof(old, size).unwrap();
        verify_consistency::<Sha256Hasher>(old, size, old_head, &heads[&size], &proof)
            .unwrap_or_else(|e| panic!("{old} -> {size}: {e}"));
    }
}

#[test]
fn a_wrong_entry_in_a_closed_segments_index_is_named_read_around_and_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    drop(log_of(&dir, 301));
    let indexes = index_files(&dir);
    assert!(indexes.len() > 3, "small segments roll over");
    let closed = &indexes[1];
    let original = fs::read(closed).unwrap();
    let base: u64 = closed.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    // The low byte of a middle entry: the entries still increase, the ends still agree.
    let entry = original.len() / 4 / 2;
    flip(closed, entry * 4, 0x01);
    let wrong = Seq(base + entry as u64);
    let named =
        vec![DerivedDamage::OffsetIndex { segment: format!("{base:020}.seg"), seq: wrong, entries: 1 }];

    let summary = verify_log_dir(&dir, &[], &mut |_| {}).unwrap();
    assert_eq!(summary.records, 301);
    assert_eq!(summary.derived, named);
    assert!(named[0].to_string().contains("chl rebuild repairs it"), "{}", named[0]);

    let (mut log, report) = Log::open_dir(&dir, config()).unwrap();
    assert_eq!(report, Default::default(), "a closed segment is trusted at its ends");
    // Reads around the wrong entry find their records by scanning the segment.
    for seq in 0..301 {
        let (record, _) = log.read(Seq(seq)).unwrap_or_else(|e| panic!("seq {seq}: {e}"));
        assert_eq!(record.seq, Seq(seq));
    }
    for from in [wrong.0 - 1, wrong.0, wrong.0 + 1] {
        let mut seqs = Vec::new();
        log.scan(Seq(from), &mut |record, _| {
            seqs.push(record.seq.0);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seqs, (from..301).collect::<Vec<_>>(), "scan from {from}");
    }
    assert_eq!(verify_store(log.store(), &[], &mut |_| {}).unwrap().derived, named);
    proofs_verify(&log, 301);

    let rebuilt = log.rebuild_derived().unwrap();
    assert_eq!(rebuilt.records, 301);
    assert_eq!((rebuilt.indexes.indexes, rebuilt.indexes.rewritten), (indexes.len(), 1));
    assert_eq!(rebuilt.tree_hashes_rewritten, 0);
    assert_eq!(fs::read(closed).unwrap(), original);
    assert_eq!(verify_store(log.store(), &[], &mut |_| {}).unwrap().derived, vec![]);
    assert_eq!(verify_log_dir(&dir, &[], &mut |_| {}).unwrap().derived, vec![]);
    // And writes go on.
    append_sample_batch(&mut log, 20);
    log.commit().unwrap();
    drop(log);
    let (log, _) = Log::open_dir(&dir, config()).unwrap();
    assert_eq!(verify_log_dir(&dir, &[], &mut |_| {}).unwrap().derived, vec![]);
    proofs_verify(&log, 321);
}

#[test]
fn damaged_tree_hashes_are_repaired_on_the_right_edge_worked_around_in_proofs_and_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = tmp.path().join("pristine");
    // 300 = 256 + 32 + 8 + 4: the right edge holds stored subtrees at levels 8, 5 and 3.
    let log = log_of(&pristine, 300);
    let head = log.tree_head(300).unwrap();
    drop(log);
    // (level, index, hashes wrong on disk that the open repairs)
    let cases = [
        (8, 0, 1),  // the top of the edge: checked against its two stored halves
        (7, 1, 1),  // a half of it: the check fails, and the descent finds the half
        (5, 8, 1),  // on the edge, level 5
        (3, 36, 1), // on the edge at the lowest stored level: checked against its 8 leaves
        (4, 17, 1), // a half of the level-5 edge subtree
        (3, 5, 0),  // far from the edge: the head does not depend on it
        (6, 2, 0),
    ];
    for (n, &(level, index, repaired)) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("case-{n}"));
        copy_dir(&pristine, &dir);
        let file = level_file(&dir, level);
        let original = fs::read(&file).unwrap();
        flip(&file, index * 32 + 31, 0x01);
        let what = format!("level {level} index {index}");

        let summary = verify_log_dir(&dir, &[], &mut |_| {}).unwrap();
        assert_eq!(
            summary.derived,
            vec![DerivedDamage::TreeHash { level, index: index as u64, hashes: 1 }],
            "{what}"
        );

        let (mut log, report) = Log::open_dir(&dir, config()).unwrap();
        assert_eq!(report.repaired_tree_hashes, repaired, "{what}");
        assert_eq!(log.tree_head(300).unwrap(), head, "{what}");
        assert_eq!(fs::read(&file).unwrap() == original, repaired == 1, "{what}: rewritten on open");
        proofs_verify(&log, 300);

        // The head after more records, signed into the next checkpoint, is the log's.
        append_sample_batch(&mut log, 13);
        log.commit().unwrap();
        let recomputed = verify_store(log.store(), &[], &mut |_| {}).unwrap().tree_head;
        assert_eq!(log.tree_head(313).unwrap(), recomputed, "{what}");

        let rebuilt = log.rebuild_derived().unwrap();
        assert_eq!(rebuilt.tree_hashes_rewritten, 1 - repaired, "{what}");
        assert_eq!(rebuilt.indexes.rewritten, 0, "{what}");
        assert_eq!(verify_log_dir(&dir, &[], &mut |_| {}).unwrap().derived, vec![], "{what}");
        drop(log);
        let (log, report) = Log::open_dir(&dir, config()).unwrap();
        assert_eq!(report, Default::default(), "{what}");
        proofs_verify(&log, 313);
    }
}

#[test]
fn rebuilding_derived_data_rewrites_missing_and_wrong_files_and_waits_for_a_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut log = log_of(&dir, 200);
    let untouched = log.rebuild_derived().unwrap();
    assert_eq!(untouched.indexes.rewritten, 0);
    assert_eq!(untouched.tree_hashes_rewritten, 0);
    assert_eq!(untouched.tree_hashes, 200 / 8 + 200 / 16 + 200 / 32 + 200 / 64 + 200 / 128);

    // Garbage everywhere in the tree (of the right lengths): too much to work around, so the
    // open rebuilds the tree from the records.
    let garbage = |dir: &Path| {
        for level in 3..=7 {
            let file = level_file(dir, level);
            let len = fs::metadata(&file).unwrap().len() as usize;
            fs::write(&file, vec![0xa5; len]).unwrap();
        }
    };
    drop(log);
    garbage(&dir);
    let (mut log, report) = Log::open_dir(&dir, config()).unwrap();
    assert_eq!(report.repaired_tree_hashes, untouched.tree_hashes);
    assert_eq!(verify_log_dir(&dir, &[], &mut |_| {}).unwrap().derived, vec![]);
    proofs_verify(&log, 200);

    // Garbage again, one index gone, another cut short, under an open log.
    garbage(&dir);
    let indexes = index_files(&dir);
    fs::remove_file(&indexes[0]).unwrap();
    let cut = fs::read(&indexes[1]).unwrap();
    fs::write(&indexes[1], &cut[..cut.len() - 4]).unwrap();
    let rebuilt = log.rebuild_derived().unwrap();
    assert_eq!(rebuilt.indexes.rewritten, 2);
    assert_eq!(rebuilt.tree_hashes_rewritten, untouched.tree_hashes);
    assert_eq!(fs::read(&indexes[1]).unwrap(), cut);
    assert_eq!(verify_log_dir(&dir, &[], &mut |_| {}).unwrap().derived, vec![]);
    proofs_verify(&log, 200);

    append_sample_batch(&mut log, 3);
    assert!(matches!(log.rebuild_derived(), Err(LogError::Uncommitted)));
    log.commit().unwrap();
    assert_eq!(log.rebuild_derived().unwrap().records, 203);
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}
