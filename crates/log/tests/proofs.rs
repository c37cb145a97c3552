//! Proofs from a real log: inclusion and consistency proofs for any sizes verify against the
//! tree heads, whether the tree was kept while appending, loaded from its files, or rebuilt.

use chl_log::merkle::{Sha256Hasher, verify_consistency, verify_inclusion};
use chl_log::sample::append_sample_batch;
use chl_log::{Log, StoreConfig};
use chl_model::Seq;

fn check_every_proof(log: &Log, sizes: &[u64]) {
    for &size in sizes {
        let head = log.tree_head(size).unwrap();
        for seq in [0, size / 3, size / 2, size - 1] {
            let proof = log.inclusion_proof(Seq(seq), size).unwrap();
            let leaf = log.leaf_hash(Seq(seq)).unwrap();
            verify_inclusion::<Sha256Hasher>(seq, size, &leaf, &proof, &head)
                .unwrap_or_else(|e| panic!("seq {seq} in {size}: {e}"));
        }
        for &old in sizes.iter().filter(|&&old| old <= size) {
            let proof = log.consistency_proof(old, size).unwrap();
            let old_head = log.tree_head(old).unwrap();
            verify_consistency::<Sha256Hasher>(old, size, &old_head, &head, &proof)
                .unwrap_or_else(|e| panic!("{old} -> {size}: {e}"));
        }
    }
}

#[test]
fn proofs_verify_whether_the_tree_was_kept_loaded_or_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let config = StoreConfig { segment_max_bytes: 64 * 1024 };
    let (mut log, _) = Log::open_dir(&dir, config.clone()).unwrap();
    for n in [1, 7, 300, 1, 1000, 37] {
        append_sample_batch(&mut log, n);
        log.commit().unwrap();
    }
    let total = log.record_count();
    assert_eq!(total, 1346);
    let sizes = [1, 2, 7, 8, 9, 64, 300, 309, 1024, 1309, 1310, total];
    check_every_proof(&log, &sizes);
    let head = log.tree_head(total).unwrap();
    drop(log);

    let (log, _) = Log::open_dir(&dir, config.clone()).unwrap();
    assert_eq!(log.tree_head(total).unwrap(), head, "loaded from its files");
    check_every_proof(&log, &sizes);
    drop(log);

    std::fs::remove_dir_all(dir.join("tree")).unwrap();
    let (log, _) = Log::open_dir(&dir, config).unwrap();
    assert_eq!(log.tree_head(total).unwrap(), head, "rebuilt from the records");
    check_every_proof(&log, &sizes);
    assert!(log.inclusion_proof(Seq(total), total).is_err());
    assert!(log.tree_head(total + 1).is_err(), "only durable records are in the tree");
}
