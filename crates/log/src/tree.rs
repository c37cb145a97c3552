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
//!
//! Stored hashes are loaded with only a length check; the log checks the ones it relies on
//! against what lies under them (`Log::open` the right edge, proofs their answers), `chl
//! verify` compares every one with the tree it recomputes (`compare_files`), and a rebuild
//! rewrites them (`rewrite_files`).

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

    /// Where the tree's files go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The complete subtrees of the right edge as (level, first leaf), largest first: the
    /// tree head is made of their hashes alone.
    pub fn edge_subtrees(&self) -> Vec<(u32, u64)> {
        let mut start = 0;
        self.edge
            .iter()
            .map(|&(level, _)| {
                let at = start;
                start += 1 << level;
                (level, at)
            })
            .collect()
    }

    /// Replaces the stored hash of the subtree of `2^level` leaves at `start` (found wrong),
    /// in memory, on the right edge if it is there, and in its file if the file holds it.
    pub fn repair(&mut self, start: u64, level: u32, hash: Hash) -> io::Result<()> {
        let l = (level - STORED_FROM_LEVEL) as usize;
        let index = (start >> level) as usize;
        self.levels[l][index] = hash;
        for (at, (edge_level, edge_hash)) in self.edge_subtrees().into_iter().zip(self.edge.iter_mut()) {
            if at == (level, start) {
                *edge_hash = hash;
                debug_assert_eq!(*edge_level, level);
            }
        }
        if index < self.written[l] {
            let file = OpenOptions::new().write(true).open(level_path(&self.dir, l as u32))?;
            file.write_all_at(&hash, index as u64 * 32)?;
        }
        Ok(())
    }

    /// Makes the files hold exactly the stored levels (derived data: no fsync), writing only
    /// what differs. Returns how many stored hashes there are and how many of them the files
    /// did not hold right (wrong or missing).
    pub fn rewrite_files(&mut self) -> io::Result<(u64, u64)> {
        fs::create_dir_all(&self.dir)?;
        let (mut total, mut wrong) = (0u64, 0u64);
        let mut old = Vec::new();
        for (l, hashes) in self.levels.iter().enumerate() {
            let path = level_path(&self.dir, l as u32);
            let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
            let len = file.metadata()?.len();
            for (c, chunk) in hashes.chunks(COMPARE_CHUNK).enumerate() {
                let at = (c * COMPARE_CHUNK * 32) as u64;
                let have = read_upto(&file, at, chunk.len() * 32, len, &mut old)?;
                let bad = chunk
                    .iter()
                    .enumerate()
                    .filter(|&(i, h)| have.get(i * 32..i * 32 + 32) != Some(h.as_slice()))
                    .count();
                if bad > 0 {
                    let bytes: Vec<u8> = chunk.iter().flatten().copied().collect();
                    file.write_all_at(&bytes, at)?;
                }
                total += chunk.len() as u64;
                wrong += bad as u64;
            }
            if len != hashes.len() as u64 * 32 {
                file.set_len(hashes.len() as u64 * 32)?;
            }
        }
        // Levels above the tree's top, left by a longer log that recovery cut.
        for l in self.levels.len() as u32.. {
            match fs::remove_file(level_path(&self.dir, l)) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                other => other?,
            }
        }
        self.written = self.levels.iter().map(Vec::len).collect();
        self.files = Vec::new();
        Ok((total, wrong))
    }

    /// Compares the stored levels (recomputed from the records) with the files in `dir`:
    /// for each level whose file holds a hash that differs, (level, index of the first such
    /// hash, how many differ). Hashes a file lacks are not counted (the next open rebuilds a
    /// tree whose files are short), nor hashes past the tree (the next write cuts them).
    pub fn compare_files(&self, dir: &Path) -> io::Result<Vec<(u32, u64, u64)>> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for (l, hashes) in self.levels.iter().enumerate() {
            let path = level_path(dir, l as u32);
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let len = file.metadata()?.len();
            let mut first = None;
            let mut count = 0u64;
            for (c, chunk) in hashes.chunks(COMPARE_CHUNK).enumerate() {
                let at = (c * COMPARE_CHUNK * 32) as u64;
                let have = read_upto(&file, at, chunk.len() * 32, len, &mut buf)?;
                for (i, h) in chunk.iter().enumerate() {
                    if have.get(i * 32..i * 32 + 32).is_some_and(|stored| stored != h.as_slice()) {
                        first.get_or_insert((c * COMPARE_CHUNK + i) as u64);
                        count += 1;
                    }
                }
            }
            if let Some(first) = first {
                out.push((l as u32 + STORED_FROM_LEVEL, first, count));
            }
        }
        Ok(out)
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

/// Hashes compared per read of a level file.
const COMPARE_CHUNK: usize = 32 * 1024;

/// Reads up to `want` bytes of `file` (of `len` bytes) at `at` into `buf`: fewer at its end.
fn read_upto<'b>(file: &File, at: u64, want: usize, len: u64, buf: &'b mut Vec<u8>) -> io::Result<&'b [u8]> {
    let n = (len.saturating_sub(at) as usize).min(want);
    buf.resize(n, 0);
    file.read_exact_at(buf, at)?;
    Ok(buf)
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
