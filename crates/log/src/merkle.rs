//! The RFC 6962 / RFC 9162 Merkle tree over the log: tree heads, inclusion proofs and
//! consistency proofs, and their verification.
//!
//! The algorithms are written against two small abstractions so that storage can change
//! without touching them: `TreeHasher` (the hash function with its leaf and node prefixes;
//! SHA-256 is what transparency-log tools expect) and `SubtreeSource` (the hash of any range
//! of leaves; a store answers the aligned complete subtrees from what it keeps, and
//! `subtree_hash` composes the rest). Every proof visits O(log n) subtrees.

use sha2::{Digest as _, Sha256};

/// A node or leaf hash.
pub type Hash = [u8; 32];

/// The hash function of a tree, with RFC 6962's domain separation.
pub trait TreeHasher {
    /// The hash of the empty tree.
    fn empty() -> Hash;
    /// `H(0x00 || data)`.
    fn leaf(data: &[u8]) -> Hash;
    /// `H(0x01 || left || right)`.
    fn node(left: &Hash, right: &Hash) -> Hash;
}

/// SHA-256 with RFC 6962 prefixes.
pub struct Sha256Hasher;

impl TreeHasher for Sha256Hasher {
    fn empty() -> Hash {
        Sha256::digest([]).into()
    }

    fn leaf(data: &[u8]) -> Hash {
        let mut h = Sha256::new();
        h.update([0x00]);
        h.update(data);
        h.finalize().into()
    }

    fn node(left: &Hash, right: &Hash) -> Hash {
        let mut h = Sha256::new();
        h.update([0x01]);
        h.update(left);
        h.update(right);
        h.finalize().into()
    }
}

/// Where the hashes of ranges of leaves come from.
pub trait SubtreeSource {
    /// The hash of leaf `index`.
    fn leaf_hash(&self, index: u64) -> Hash;

    /// The hash of the complete subtree of `2^level` leaves starting at `start` (aligned:
    /// `start` is a multiple of `2^level`), if the source keeps it; `None` to have it
    /// composed from its two halves.
    fn stored_subtree(&self, _start: u64, _level: u32) -> Option<Hash> {
        None
    }
}

/// The largest power of two smaller than `n` (n > 1).
fn split_point(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH of the leaves `[start, end)` (RFC 9162 §2.1.1).
pub fn subtree_hash<H: TreeHasher>(source: &impl SubtreeSource, start: u64, end: u64) -> Hash {
    let n = end - start;
    match n {
        0 => H::empty(),
        1 => source.leaf_hash(start),
        _ => {
            if n.is_power_of_two()
                && let Some(hash) = source.stored_subtree(start, n.trailing_zeros())
            {
                return hash;
            }
            let k = split_point(n);
            H::node(&subtree_hash::<H>(source, start, start + k), &subtree_hash::<H>(source, start + k, end))
        }
    }
}

/// The tree head of the first `size` leaves.
pub fn root<H: TreeHasher>(source: &impl SubtreeSource, size: u64) -> Hash {
    subtree_hash::<H>(source, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1),
/// or `None` if the leaf is not in that tree.
pub fn inclusion_proof<H: TreeHasher>(
    source: &impl SubtreeSource,
    index: u64,
    size: u64,
) -> Option<Vec<Hash>> {
    if index >= size {
        return None;
    }
    let mut proof = Vec::new();
    path::<H>(source, index, 0, size, &mut proof);
    Some(proof)
}

fn path<H: TreeHasher>(source: &impl SubtreeSource, index: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if index < start + k {
        path::<H>(source, index, start, start + k, out);
        out.push(subtree_hash::<H>(source, start + k, end));
    } else {
        path::<H>(source, index, start + k, end, out);
        out.push(subtree_hash::<H>(source, start, start + k));
    }
}

/// The consistency proof between the trees of `old` and `new` leaves (RFC 9162 §2.1.4.1),
/// or `None` unless `0 < old <= new`.
pub fn consistency_proof<H: TreeHasher>(
    source: &impl SubtreeSource,
    old: u64,
    new: u64,
) -> Option<Vec<Hash>> {
    if old == 0 || old > new {
        return None;
    }
    let mut proof = Vec::new();
    subproof::<H>(source, old, 0, new, true, &mut proof);
    Some(proof)
}

fn subproof<H: TreeHasher>(
    source: &impl SubtreeSource,
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(subtree_hash::<H>(source, start, end));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof::<H>(source, m, start, start + k, complete, out);
        out.push(subtree_hash::<H>(source, start + k, end));
    } else {
        subproof::<H>(source, m - k, start + k, end, false, out);
        out.push(subtree_hash::<H>(source, start, start + k));
    }
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf {index} is not in a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("a hash in the proof or the leaf hash is not 32 bytes")]
    BadHashLength,
    #[error("the proof has the wrong number of hashes for these sizes")]
    WrongLength,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
    #[error("a consistency proof needs 0 < old size <= new size, not {old} and {new}")]
    BadSizes { old: u64, new: u64 },
}

fn as_hash(bytes: &[u8]) -> Result<Hash, ProofError> {
    bytes.try_into().map_err(|_| ProofError::BadHashLength)
}

/// Checks that `leaf_hash` is leaf `index` of the tree of `size` leaves whose head is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion<H: TreeHasher>(
    index: u64,
    size: u64,
    leaf_hash: &[u8],
    proof: &[impl AsRef<[u8]>],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut r = as_hash(leaf_hash)?;
    let (mut f_n, mut s_n) = (index, size - 1);
    for p in proof {
        let p = as_hash(p.as_ref())?;
        if s_n == 0 {
            return Err(ProofError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = H::node(&p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = H::node(&r, &p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength);
    }
    if r.as_slice() != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `new` leaves with head `new_root` extends the tree of `old`
/// leaves with head `old_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency<H: TreeHasher>(
    old: u64,
    new: u64,
    old_root: &[u8],
    new_root: &[u8],
    proof: &[impl AsRef<[u8]>],
) -> Result<(), ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::BadSizes { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut hashes = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        hashes.push(as_hash(old_root)?);
    }
    for p in proof {
        hashes.push(as_hash(p.as_ref())?);
    }
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (hashes[0], hashes[0]);
    for c in &hashes[1..] {
        if s_n == 0 {
            return Err(ProofError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = H::node(c, &f_r);
            s_r = H::node(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = H::node(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength);
    }
    if f_r.as_slice() != old_root || s_r.as_slice() != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Leaf hashes held in memory: a source for tests and small trees.
pub struct MemoryLeaves(pub Vec<Hash>);

impl SubtreeSource for MemoryLeaves {
    fn leaf_hash(&self, index: u64) -> Hash {
        self.0[index as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: u64) -> MemoryLeaves {
        MemoryLeaves((0..n).map(|i| Sha256Hasher::leaf(&i.to_le_bytes())).collect())
    }

    proptest! {
        #[test]
        fn generated_inclusion_proofs_verify_and_tampered_ones_do_not(size in 1u64..300, seed in any::<u64>()) {
            let tree = leaves(size);
            let head = root::<Sha256Hasher>(&tree, size);
            let index = seed % size;
            let proof = inclusion_proof::<Sha256Hasher>(&tree, index, size).unwrap();
            prop_assert!(proof.len() <= 64 - (size.leading_zeros() as usize) + 1);
            prop_assert_eq!(verify_inclusion::<Sha256Hasher>(index, size, &tree.0[index as usize], &proof, &head), Ok(()));
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let at = (seed as usize / 7) % bad.len();
                bad[at][0] ^= 1;
                prop_assert!(verify_inclusion::<Sha256Hasher>(index, size, &tree.0[index as usize], &bad, &head).is_err());
                prop_assert!(verify_inclusion::<Sha256Hasher>(index, size, &tree.0[index as usize], &proof[1..], &head).is_err());
            }
        }

        #[test]
        fn generated_consistency_proofs_verify(new in 1u64..300, seed in any::<u64>()) {
            let tree = leaves(new);
            let old = 1 + seed % new;
            let proof = consistency_proof::<Sha256Hasher>(&tree, old, new).unwrap();
            let (old_root, new_root) = (root::<Sha256Hasher>(&tree, old), root::<Sha256Hasher>(&tree, new));
            prop_assert_eq!(verify_consistency::<Sha256Hasher>(old, new, &old_root, &new_root, &proof), Ok(()));
            if old < new {
                let mut bad = proof.clone();
                let at = (seed as usize / 7) % bad.len();
                bad[at][31] ^= 0x80;
                prop_assert!(verify_consistency::<Sha256Hasher>(old, new, &old_root, &new_root, &bad).is_err());
            }
        }
    }
}
