//! The log's Merkle tree, kept so that any proof costs O(log n).
//!
//! Leaf i is `SHA-256(0x00 || canonical bytes of record i)`. The tree keeps:
//! - the compact range of the right edge (one complete subtree hash per set bit of the size),
//!   enough to compute the head of the whole tree after every append;
//! - the hashes of every complete, aligned subtree of `2^STORED_FROM_LEVEL` leaves and more, one
//!   list per level, in memory and in fixed-width files `tree/level-NN.hashes` (derived data:
//!   written after the records are durable, never fsynced, rebuilt from the log when they do
//!   not match it).
//!
//! Subtrees below that level are recomputed from the records themselves (at most
//! `2^STORED_FROM_LEVEL - 1` leaves per proof), which keeps the files at 8 bytes per record.

use crate::merkle::{Hash, Sha256Hasher, TreeHasher};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Levels below this are not stored: `2^3 = 8` leaves are recomputed instead.
pub const STORED_FROM_LEVEL: u32 = 3;
/// Levels of a tree of up to 2^64 leaves.
const MAX_LEVEL: usize = 64;

pub struct MerkleTree {
    dir: PathBuf,
    size: u64,
    /// The right edge: (level, hash) of complete subtrees, largest first.
    edge: Vec<(u32, Hash)>,
    /// `levels[l]`: hashes of the aligned complete subtrees of `2^(l + STORED_FROM_LEVEL)`
    /// leaves, in order.
    levels: Vec<Vec<Hash>>,
    /// How many hashes of each level the files hold.
    written: Vec<usize>,
    /// The level files, kept open once written to (a commit adds a few hashes to each; opening
    /// them every time cost more than writing), each cut to the tree when first opened.
    files: Vec<Option<File>>,
}

impl MerkleTree {
    /// An empty tree whose files go in `dir`.
    pub fn empty(dir: &Path) -> MerkleTree {
        MerkleTree {
            dir: dir.to_owned(),
            size: 0,
            edge: Vec::new(),
            levels: Vec::new(),
            written: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Loads the stored levels of a tree of `size` leaves from `dir`, if they are all there;
    /// `None` when they must be rebuilt from the records.
    pub fn load(dir: &Path, size: u64) -> io::Result<Option<Vec<Vec<Hash>>>> {
        let mut levels = Vec::new();
        for l in 0..MAX_LEVEL as u32 {
            let want = size >> (l + STORED_FROM_LEVEL);
            if want == 0 {
                break;
            }
            let path = level_path(dir, l);
            let Ok(bytes) = fs::read(&path) else { return Ok(None) };
            if (bytes.len() as u64) < want * 32 {
                return Ok(None);
            }
            let hashes: Vec<Hash> =
                bytes[..want as usize * 32].chunks_exact(32).map(|c| c.try_into().unwrap()).collect();
            levels.push(hashes);
        }
        Ok(Some(levels))
    }

    /// A tree of `size` leaves from its stored levels and the leaf hashes of the records
    /// after the last stored subtree of the lowest stored level (fewer than `2^STORED_FROM_LEVEL`).
    pub fn from_parts(dir: &Path, size: u64, levels: Vec<Vec<Hash>>, tail_leaves: &[Hash]) -> MerkleTree {
        let written = levels.iter().map(Vec::len).collect();
        let mut tree =
            MerkleTree { dir: dir.to_owned(), size: 0, edge: Vec::new(), levels, written, files: Vec::new() };
        // Rebuild the edge from the stored levels: the complete subtrees of the size's high bits.
        let stored_part = size & !((1u64 << STORED_FROM_LEVEL) - 1);
        let mut start = 0u64;
        for bit in (STORED_FROM_LEVEL..64).rev() {
            if stored_part & (1 << bit) != 0 {
                let l = (bit - STORED_FROM_LEVEL) as usize;
                let index = (start >> bit) as usize;
                tree.edge.push((bit, tree.levels[l][index]));
                start += 1 << bit;
            }
        }
        tree.size = stored_part;
        assert_eq!(tail_leaves.len() as u64, size - stored_part, "tail leaves of the partial subtree");
        for leaf in tail_leaves {
            tree.push_leaf(*leaf);
        }
        tree
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends leaf `size` (its hash).
    pub fn push_leaf(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(level, left)) = self.edge.last() {
            if level != node.0 {
                break;
            }
            self.edge.pop();
            node = (level + 1, Sha256Hasher::node(&left, &node.1));
            if node.0 >= STORED_FROM_LEVEL {
                let l = (node.0 - STORED_FROM_LEVEL) as usize;
                if self.levels.len() <= l {
                    self.levels.resize_with(l + 1, Vec::new);
                    self.written.resize(l + 1, 0);
                }
                self.levels[l].push(node.1);
            }
        }
        self.edge.push(node);
        self.size += 1;
    }

    /// The head of the tree of all its leaves.
    pub fn root(&self) -> Hash {
        let mut nodes = self.edge.iter().rev();
        let Some(&(_, mut acc)) = nodes.next() else { return Sha256Hasher::empty() };
        for (_, left) in nodes {
            acc = Sha256Hasher::node(left, &acc);
        }
        acc
    }

    /// The stored hash of the aligned complete subtree of `2^level` leaves at `start`.
    pub fn stored(&self, start: u64, level: u32) -> Option<Hash> {
        if level < STORED_FROM_LEVEL || start + (1 << level) > self.size {
            return None;
        }
        let l = (level - STORED_FROM_LEVEL) as usize;
        self.levels.get(l)?.get((start >> level) as usize).copied()
    }

    /// Writes the stored levels' new hashes to their files (derived data: no fsync) and
    /// cuts files that run past the tree.
    pub fn persist(&mut self) -> io::Result<()> {
        for (l, hashes) in self.levels.iter().enumerate() {
            if self.written[l] == hashes.len() {
                continue;
            }
            if self.files.len() <= l {
                self.files.resize_with(l + 1, || None);
            }
            let file = match &mut self.files[l] {
                Some(file) => file,
                slot => {
                    fs::create_dir_all(&self.dir)?;
                    let file = OpenOptions::new()
                        .create(true)
                        .write(true)
                        .truncate(false)
                        .open(level_path(&self.dir, l as u32))?;
                    // Hashes past what this tree holds belong to records recovery cut.
                    file.set_len(self.written[l] as u64 * 32)?;
                    slot.insert(file)
                }
            };
            let mut bytes = Vec::with_capacity((hashes.len() - self.written[l]) * 32);
            for h in &hashes[self.written[l]..] {
                bytes.extend_from_slice(h);
            }
            if let Err(e) = file.write_all_at(&bytes, self.written[l] as u64 * 32) {
                // Reopen (and cut) next time rather than trust the handle's file.
                self.files[l] = None;
                return Err(e);
            }
            self.written[l] = hashes.len();
        }
        Ok(())
    }
}

fn level_path(dir: &Path, level: u32) -> PathBuf {
    dir.join(format!("level-{:02}.hashes", level + STORED_FROM_LEVEL))
}

/// Removes a tree's files (before a rebuild).
pub fn remove_files(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MemoryLeaves, root};

    fn leaf(i: u64) -> Hash {
        Sha256Hasher::leaf(&i.to_le_bytes())
    }

    #[test]
    fn the_head_after_every_append_is_the_rfc_head() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = MerkleTree::empty(dir.path());
        let mut leaves = Vec::new();
        assert_eq!(tree.root(), Sha256Hasher::empty());
        for i in 0..200 {
            tree.push_leaf(leaf(i));
            leaves.push(leaf(i));
            let memory = MemoryLeaves(leaves.clone());
            assert_eq!(tree.root(), root::<Sha256Hasher>(&memory, i + 1), "size {}", i + 1);
        }
        let memory = MemoryLeaves(leaves.clone());
        for level in STORED_FROM_LEVEL..8 {
            for start in (0..200u64).step_by(1 << level).filter(|s| s + (1 << level) <= 200) {
                let want = crate::merkle::subtree_hash::<Sha256Hasher>(&memory, start, start + (1 << level));
                assert_eq!(tree.stored(start, level), Some(want));
            }
        }
    }

    #[test]
    fn a_persisted_tree_reloads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = MerkleTree::empty(dir.path());
        for i in 0..77 {
            tree.push_leaf(leaf(i));
        }
        tree.persist().unwrap();
        let head = tree.root();
        let levels = MerkleTree::load(dir.path(), 77).unwrap().expect("files hold the levels");
        let tail: Vec<Hash> = (72..77).map(leaf).collect();
        let reloaded = MerkleTree::from_parts(dir.path(), 77, levels, &tail);
        assert_eq!(reloaded.root(), head);
        assert!(MerkleTree::load(dir.path(), 300).unwrap().is_none(), "files behind the log are rebuilt");
    }
}
