//! The hash chain over a store: assigns nothing, checks everything.
//!
//! The caller builds each record with `next_seq()`, `head_hash()` and `clock()`; the log
//! asserts that the record continues the chain, encodes it, frames it and buffers it. Nothing
//! is acknowledged until `commit` has made it durable.

use crate::frame::{FRAME_HEADER_BYTES, FRAME_TRAILER_BYTES, FrameParse, parse_frame, write_frame};
use crate::merkle::{self, Hash, Sha256Hasher, SubtreeSource, TreeHasher};
use crate::storage::{Damage, IndexRebuild, OpenReport, SegmentStore, Storage, StoreConfig, StoreError};
use crate::tree::{MerkleTree, STORED_FROM_LEVEL};
use chl_model::codec::{self, CodecError, MAX_RECORD_BYTES, decode_record};
use chl_model::{Digest, Record, Seq, Timestamp};
use std::ops::ControlFlow;
use std::path::Path;

/// The last record of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: Seq,
    pub hash: Digest,
    pub recorded_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("seq {seq}: {source}")]
    Codec { seq: Seq, source: CodecError },
    #[error("the record would take {0} bytes; a record may take at most {MAX_RECORD_BYTES}")]
    RecordTooLarge(usize),
    #[error("the log stopped accepting writes after a failed {0}; reopen the ledger and run chl verify")]
    Poisoned(String),
    #[error("{0}")]
    Proof(String),
    #[error("records were appended but not committed; commit or roll them back first")]
    Uncommitted,
}

/// What `Log::rebuild_derived` found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildDerived {
    /// Records scanned (every frame's hash checked).
    pub records: u64,
    /// Offset index files checked, and those rewritten because they did not match.
    pub indexes: IndexRebuild,
    /// Stored Merkle subtree hashes recomputed from the records.
    pub tree_hashes: u64,
    /// Of those, how many the tree files did not hold right (wrong or missing) and were
    /// rewritten.
    pub tree_hashes_rewritten: u64,
}

/// A position in the log (see `Log::mark`).
#[derive(Debug, Clone)]
pub struct Mark {
    unhashed_bytes: usize,
    unhashed_records: usize,
    head: Option<Head>,
    pending_bytes: usize,
    pending_records: usize,
    store_records: u64,
}

impl Mark {
    /// Records in the log at the mark.
    pub fn record_count(&self) -> u64 {
        self.head.map_or(0, |h| h.seq.0 + 1)
    }
}

/// Flush buffered frames to the store once they pass this many bytes (bounded memory for a
/// long import; durability still waits for `commit`).
const PENDING_FLUSH_BYTES: usize = 4 * 1024 * 1024;

pub struct Log<S: Storage = SegmentStore> {
    store: S,
    /// The last record appended, durable or not.
    head: Option<Head>,
    /// The last record made durable.
    durable: Option<Head>,
    pending_frames: Vec<u8>,
    pending_lens: Vec<u32>,
    encoded: Vec<u8>,
    /// Set after a failed write or sync: the log's durable state is unknown until reopened.
    poisoned: Option<String>,
    /// The Merkle tree over every durable record.
    tree: MerkleTree,
    /// Canonical bytes of the records appended since the last commit, for the tree.
    unhashed: Vec<u8>,
    unhashed_lens: Vec<u32>,
    /// Off only to measure what the tree costs (`without_tree_for_measurement`).
    tree_kept: bool,
    /// Stored tree hashes found wrong and repaired when the log was opened.
    tree_repaired_on_open: u64,
}

/// Batches of at least this many records hash their leaves on a second thread.
const PARALLEL_LEAF_HASHING_MIN: usize = 64;

fn leaf_hashes(bodies: &[u8], lens: &[u32]) -> Vec<Hash> {
    let mut at = 0;
    lens.iter()
        .map(|&len| {
            let leaf = Sha256Hasher::leaf(&bodies[at..at + len as usize]);
            at += len as usize;
            leaf
        })
        .collect()
}

/// The log's records as leaves, with the tree's stored subtrees: taken as they are, or
/// (`checked`) each only once it agrees with what lies under it.
struct LogTreeSource<'a, S: Storage> {
    log: &'a Log<S>,
    checked: bool,
    /// Leaf hashes read so far (the first few): a head and a proof at one size read the same
    /// few leaves.
    leaves: std::cell::RefCell<Vec<(u64, Hash)>>,
    /// A record that could not be read while making a proof.
    failure: std::cell::RefCell<Option<LogError>>,
}

impl<S: Storage> SubtreeSource for LogTreeSource<'_, S> {
    fn leaf_hash(&self, index: u64) -> Hash {
        if let Some(&(_, hash)) = self.leaves.borrow().iter().find(|(i, _)| *i == index) {
            return hash;
        }
        match self.log.leaf_hash(Seq(index)) {
            Ok(hash) => {
                let mut leaves = self.leaves.borrow_mut();
                if leaves.len() < 64 {
                    leaves.push((index, hash));
                }
                hash
            }
            Err(e) => {
                self.failure.borrow_mut().get_or_insert(e);
                [0; 32]
            }
        }
    }

    fn stored_subtree(&self, start: u64, level: u32) -> Option<Hash> {
        let stored = self.log.tree.stored(start, level)?;
        if !self.checked {
            return Some(stored);
        }
        match self.log.checked_subtree(start, level, &mut Vec::new()) {
            Ok(hash) => Some(hash),
            Err(e) => {
                self.failure.borrow_mut().get_or_insert(e.into_error());
                Some([0; 32])
            }
        }
    }
}

/// Stored tree hashes found wrong that a single check or proof recomputes from below before
/// giving up (and asking for a rebuild).
const MAX_WRONG_WORKED_AROUND: usize = 64;

/// Why `Log::checked_subtree` has no answer.
enum Unchecked {
    /// A record could not be read.
    Failed(LogError),
    /// Too many stored hashes are wrong to work around.
    TooDamaged,
}

impl From<LogError> for Unchecked {
    fn from(e: LogError) -> Self {
        Unchecked::Failed(e)
    }
}

impl Unchecked {
    fn into_error(self) -> LogError {
        match self {
            Unchecked::Failed(e) => e,
            Unchecked::TooDamaged => LogError::Proof(TREE_DAMAGED.into()),
        }
    }
}

const TREE_DAMAGED: &str =
    "the stored Merkle tree (derived data) does not match the log; chl rebuild repairs it";

impl Log<SegmentStore> {
    /// Opens (recovering) or creates the segment store in `dir`.
    pub fn open_dir(dir: &Path, config: StoreConfig) -> Result<(Log, OpenReport), LogError> {
        let (store, mut report) = if dir.exists() {
            SegmentStore::open(dir, config)?
        } else {
            (SegmentStore::create(dir, config)?, OpenReport::default())
        };
        let log = Log::open(store, &dir.join("tree"))?;
        report.repaired_tree_hashes = log.tree_repaired_on_open;
        Ok((log, report))
    }
}

impl<S: Storage> Log<S> {
    /// Opens the log over `store`, with its Merkle tree's files in `tree_dir` (loaded when they
    /// match the records, rebuilt from the records otherwise).
    pub fn open(store: S, tree_dir: &Path) -> Result<Log<S>, LogError> {
        let mut log = Log {
            store,
            head: None,
            durable: None,
            pending_frames: Vec::new(),
            pending_lens: Vec::new(),
            encoded: Vec::new(),
            poisoned: None,
            tree: MerkleTree::empty(tree_dir),
            unhashed: Vec::new(),
            unhashed_lens: Vec::new(),
            tree_kept: true,
            tree_repaired_on_open: 0,
        };
        if let Some(last) = log.store.record_count().checked_sub(1) {
            let (record, hash) = log.read(Seq(last))?;
            log.head = Some(Head { seq: record.seq, hash, recorded_at: record.recorded_at });
        }
        log.durable = log.head;
        log.tree = log.load_tree(tree_dir)?;
        log.check_tree_edge()?;
        Ok(log)
    }

    /// Checks the loaded tree's right edge, the subtrees whose hashes make the tree head and
    /// every head after it (new leaves only ever join them): each stored edge hash must be
    /// the hash of its two stored halves, or of its 8 leaves at the lowest stored level. That
    /// costs a hash per level and at most 8 record reads, and catches any damaged hash that
    /// the head depends on (a hash and both its halves wrong together is not damage, but a
    /// replaced tree; `chl verify` compares every stored hash). A wrong hash is recomputed
    /// from below (`checked_subtree`) and rewritten, so that no checkpoint is signed over it.
    /// When too much is wrong for that to stay cheap, the whole tree is rebuilt from the
    /// records, as when its files are missing.
    fn check_tree_edge(&mut self) -> Result<(), LogError> {
        let dir = self.tree.dir().to_owned();
        let tree_err = |error| {
            LogError::Store(StoreError::Io { op: "repair the Merkle tree", path: dir.clone(), error })
        };
        let mut wrong = Vec::new();
        for (level, start) in self.tree.edge_subtrees() {
            if level < STORED_FROM_LEVEL {
                continue;
            }
            match self.checked_subtree(start, level, &mut wrong) {
                Ok(_) => {}
                Err(Unchecked::TooDamaged) => {
                    let mut tree = self.tree_from_records(&dir)?;
                    let (_, rewritten) = tree.rewrite_files().map_err(tree_err)?;
                    self.tree = tree;
                    self.tree_repaired_on_open = rewritten;
                    return Ok(());
                }
                Err(Unchecked::Failed(e)) => return Err(e),
            }
        }
        for &(start, level, hash) in &wrong {
            self.tree.repair(start, level, hash).map_err(tree_err)?;
        }
        self.tree_repaired_on_open = wrong.len() as u64;
        Ok(())
    }

    /// The hash of the aligned complete subtree of `2^level` leaves at `start`, from the
    /// stored hash when that agrees with what lies under it (its two stored halves, or its
    /// leaves at the lowest stored level), else recomputed from below, recursively. Stored
    /// hashes found wrong are added to `wrong` as (start, level, right hash).
    /// Gives up (`TooDamaged`) once `wrong` holds `MAX_WRONG_WORKED_AROUND` hashes: a tree that
    /// damaged costs less to rebuild with one scan than to recompute piece by piece.
    fn checked_subtree(
        &self,
        start: u64,
        level: u32,
        wrong: &mut Vec<(u64, u32, Hash)>,
    ) -> Result<Hash, Unchecked> {
        let stored = self.tree.stored(start, level);
        if wrong.len() >= MAX_WRONG_WORKED_AROUND {
            return Err(Unchecked::TooDamaged);
        }
        if level <= STORED_FROM_LEVEL {
            let mut nodes: Vec<Hash> =
                (start..start + (1 << level)).map(|i| self.leaf_hash(Seq(i))).collect::<Result<_, _>>()?;
            while nodes.len() > 1 {
                nodes = nodes.chunks(2).map(|p| Sha256Hasher::node(&p[0], &p[1])).collect();
            }
            let hash = nodes[0];
            if stored.is_some_and(|s| s != hash) {
                wrong.push((start, level, hash));
            }
            return Ok(hash);
        }
        let half = 1u64 << (level - 1);
        let halves = (self.tree.stored(start, level - 1), self.tree.stored(start + half, level - 1));
        if let (Some(stored), (Some(left), Some(right))) = (stored, halves)
            && Sha256Hasher::node(&left, &right) == stored
        {
            return Ok(stored);
        }
        let left = self.checked_subtree(start, level - 1, wrong)?;
        let right = self.checked_subtree(start + half, level - 1, wrong)?;
        let hash = Sha256Hasher::node(&left, &right);
        if stored.is_some_and(|s| s != hash) {
            wrong.push((start, level, hash));
        }
        Ok(hash)
    }

    fn load_tree(&self, dir: &Path) -> Result<MerkleTree, LogError> {
        let size = self.store.record_count();
        let tree_err = |e: std::io::Error| {
            LogError::Store(StoreError::Io { op: "read the Merkle tree", path: dir.to_owned(), error: e })
        };
        if let Some(levels) = MerkleTree::load(dir, size).map_err(tree_err)? {
            let from = size & !((1u64 << STORED_FROM_LEVEL) - 1);
            let tail = (from..size).map(|i| self.leaf_hash(Seq(i))).collect::<Result<Vec<_>, _>>()?;
            return Ok(MerkleTree::from_parts(dir, size, levels, &tail));
        }
        // Missing or behind: rebuild it from the records (derived data).
        let mut tree = self.tree_from_records(dir)?;
        crate::tree::remove_files(dir).map_err(tree_err)?;
        tree.persist().map_err(tree_err)?;
        Ok(tree)
    }

    /// The tree recomputed from every record, in one scan; its files are left as they are.
    fn tree_from_records(&self, dir: &Path) -> Result<MerkleTree, LogError> {
        let mut tree = MerkleTree::empty(dir);
        let mut failure = None;
        self.store.scan(Seq::ZERO, &mut |seq, frame| {
            let (body, _) = split_frame(frame);
            tree.push_leaf(Sha256Hasher::leaf(body));
            if tree.size() != seq.0 + 1 {
                failure = Some(seq);
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })?;
        assert!(failure.is_none(), "the scan visits records in seq order");
        Ok(tree)
    }

    /// The canonical bytes of record `seq`, checked against its stored hash.
    pub fn record_bytes(&self, seq: Seq) -> Result<Vec<u8>, LogError> {
        let mut frame = Vec::new();
        self.store.read_frame(seq, &mut frame)?;
        Ok(split_frame(&frame).0.to_vec())
    }

    /// The Merkle leaf hash of record `seq`: SHA-256(0x00 || its canonical bytes).
    pub fn leaf_hash(&self, seq: Seq) -> Result<Hash, LogError> {
        let mut frame = Vec::new();
        self.store.read_frame(seq, &mut frame)?;
        Ok(Sha256Hasher::leaf(split_frame(&frame).0))
    }

    /// The Merkle tree head of the log's first `size` records (all durable).
    pub fn tree_head(&self, size: u64) -> Result<Hash, LogError> {
        self.check_tree_size(size)?;
        self.trusted_head(size)
    }

    /// The inclusion proof of record `seq` in the tree of `size` records.
    pub fn inclusion_proof(&self, seq: Seq, size: u64) -> Result<Vec<Hash>, LogError> {
        self.check_tree_size(size)?;
        if seq.0 >= size {
            return Err(LogError::Proof(format!("seq {seq} is not in a tree of {size} records")));
        }
        let head = self.trusted_head(size)?;
        let leaf = self.leaf_hash(seq)?;
        self.proven(
            |source| merkle::inclusion_proof::<Sha256Hasher>(source, seq.0, size).expect("seq < size"),
            |proof| merkle::verify_inclusion::<Sha256Hasher>(seq.0, size, &leaf, proof, &head).is_ok(),
        )
    }

    /// The consistency proof between the trees of `old` and `new` records.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
        self.check_tree_size(new)?;
        if old == 0 || old > new {
            return Err(LogError::Proof(format!(
                "no consistency proof from {old} to {new} records: need 0 < old <= new"
            )));
        }
        // The old head is made from the same subtrees as the proof: a proof that verifies against
        // the checked new head vouches for both.
        let new_head = self.trusted_head(new)?;
        let (_, proof) = self.proven(
            |source| {
                let old_head = merkle::root::<Sha256Hasher>(source, old);
                (
                    old_head,
                    merkle::consistency_proof::<Sha256Hasher>(source, old, new).expect("0 < old <= new"),
                )
            },
            |(old_head, proof)| {
                merkle::verify_consistency::<Sha256Hasher>(old, new, old_head, &new_head, proof).is_ok()
            },
        )?;
        Ok(proof)
    }

    /// The tree head of the first `size` records, checked: at the tree's size it is the head
    /// of the right edge (checked on open); below, the head made from stored subtrees must
    /// be consistent with that one (a consistency proof from the same subtrees verifies).
    fn trusted_head(&self, size: u64) -> Result<Hash, LogError> {
        let full = self.tree.size();
        if size == full {
            return Ok(self.tree.root());
        }
        if size == 0 || size > full {
            // Empty; or a tree not kept (`without_tree_for_measurement`): nothing to check against.
            return Ok(merkle::root::<Sha256Hasher>(&self.tree_source(false), size));
        }
        let full_head = self.tree.root();
        let (head, _) = self.proven(
            |source| {
                let head = merkle::root::<Sha256Hasher>(source, size);
                (
                    head,
                    merkle::consistency_proof::<Sha256Hasher>(source, size, full).expect("0 < size < full"),
                )
            },
            |(head, proof)| {
                merkle::verify_consistency::<Sha256Hasher>(size, full, head, &full_head, proof).is_ok()
            },
        )?;
        Ok(head)
    }

    /// What `make` computes from the tree, as stored, if `check` accepts it; else computed
    /// again with every stored subtree it uses checked against what lies under it (a stored
    /// hash is derived data, and may be damaged). An answer still refused means the stored
    /// tree is damaged beyond what those checks see.
    fn proven<T>(
        &self,
        make: impl Fn(&LogTreeSource<'_, S>) -> T,
        check: impl Fn(&T) -> bool,
    ) -> Result<T, LogError> {
        for checked in [false, true] {
            let source = self.tree_source(checked);
            let answer = make(&source);
            if let Some(e) = source.failure.take() {
                return Err(e);
            }
            if check(&answer) {
                return Ok(answer);
            }
        }
        Err(LogError::Proof(TREE_DAMAGED.into()))
    }

    fn check_tree_size(&self, size: u64) -> Result<(), LogError> {
        let durable = self.durable.map_or(0, |h| h.seq.0 + 1);
        if size > durable {
            return Err(LogError::Proof(format!("the log holds {durable} durable records, not {size}")));
        }
        Ok(())
    }

    fn tree_source(&self, checked: bool) -> LogTreeSource<'_, S> {
        LogTreeSource { log: self, checked, leaves: Default::default(), failure: Default::default() }
    }

    /// Rebuilds the derived data of the log from its records: the store's offset indexes
    /// (`Storage::rebuild_index`) and the Merkle tree, whose files are then made to hold
    /// exactly the recomputed hashes. One scan; every frame's hash is checked. Refused while
    /// records are appended but not committed, after a failed write, and on a damaged log.
    pub fn rebuild_derived(&mut self) -> Result<RebuildDerived, LogError> {
        if let Some(why) = &self.poisoned {
            return Err(LogError::Poisoned(why.clone()));
        }
        if self.head != self.durable || !self.pending_lens.is_empty() || !self.unhashed_lens.is_empty() {
            return Err(LogError::Uncommitted);
        }
        let dir = self.tree.dir().to_owned();
        let mut tree = MerkleTree::empty(&dir);
        let mut failure = None;
        let indexes = self.store.rebuild_index(&mut |seq, frame| match parse_frame(frame) {
            FrameParse::Whole { body, .. } => {
                tree.push_leaf(Sha256Hasher::leaf(body));
                ControlFlow::Continue(())
            }
            FrameParse::Short => {
                failure = Some(Damage { seq, what: "the frame is incomplete".into() });
                ControlFlow::Break(())
            }
            FrameParse::Bad(why) => {
                failure = Some(Damage { seq, what: why.into() });
                ControlFlow::Break(())
            }
        })?;
        if let Some(damage) = failure {
            return Err(StoreError::Damaged(damage).into());
        }
        let records = self.store.record_count();
        assert_eq!(tree.size(), records, "the rebuild visits every record");
        let (tree_hashes, tree_hashes_rewritten) = tree.rewrite_files().map_err(|error| {
            LogError::Store(StoreError::Io { op: "write the Merkle tree", path: dir.clone(), error })
        })?;
        self.tree = tree;
        Ok(RebuildDerived { records, indexes, tree_hashes, tree_hashes_rewritten })
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The last record appended (perhaps not yet durable).
    pub fn head(&self) -> Option<Head> {
        self.head
    }

    /// The last durable record.
    pub fn durable_head(&self) -> Option<Head> {
        self.durable
    }

    pub fn next_seq(&self) -> Seq {
        self.head.map_or(Seq::ZERO, |h| h.seq.next())
    }

    /// What the next record's `prev` must be.
    pub fn head_hash(&self) -> Digest {
        self.head.map_or(Digest::ZERO, |h| h.hash)
    }

    /// The ledger clock: the system clock, but never before the last record's `recorded_at`.
    pub fn clock(&self) -> Timestamp {
        let now = Timestamp::now();
        self.head.map_or(now, |h| now.max(h.recorded_at))
    }

    /// Why the log refuses writes, if it does.
    pub fn write_block(&self) -> Option<String> {
        if let Some(why) = &self.poisoned {
            return Some(LogError::Poisoned(why.clone()).to_string());
        }
        self.store.damage().map(|d| format!("{d}; run chl verify"))
    }

    /// Encodes `record` and buffers its frame. It must continue the chain.
    pub fn append(&mut self, record: &Record) -> Result<Digest, LogError> {
        if let Some(why) = &self.poisoned {
            return Err(LogError::Poisoned(why.clone()));
        }
        assert_eq!(record.seq, self.next_seq(), "record out of sequence");
        assert_eq!(record.prev, self.head_hash(), "record does not link to the head");
        assert!(self.head.is_none_or(|h| record.recorded_at >= h.recorded_at), "ledger clock went back");
        self.encoded.clear();
        codec::encode_record(record, &mut self.encoded);
        if self.encoded.len() > MAX_RECORD_BYTES {
            return Err(LogError::RecordTooLarge(self.encoded.len()));
        }
        let before = self.pending_frames.len();
        let hash = write_frame(&self.encoded, &mut self.pending_frames);
        // The tree takes the record at commit, where its hashing overlaps the fdatasync.
        self.unhashed.extend_from_slice(&self.encoded);
        self.unhashed_lens.push(self.encoded.len() as u32);
        self.pending_lens.push((self.pending_frames.len() - before) as u32);
        self.head = Some(Head { seq: record.seq, hash, recorded_at: record.recorded_at });
        if self.pending_frames.len() >= PENDING_FLUSH_BYTES {
            self.flush()?;
        }
        Ok(hash)
    }

    fn flush(&mut self) -> Result<(), LogError> {
        if self.pending_lens.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.store.append(&self.pending_frames, &self.pending_lens) {
            self.poisoned = Some("write".into());
            return Err(e.into());
        }
        self.pending_frames.clear();
        self.pending_lens.clear();
        Ok(())
    }

    /// Makes every appended record durable and returns the new durable head. After a failed
    /// sync the log refuses further writes: the kernel may have dropped the dirty pages, so
    /// retrying the sync could report success for data that is gone.
    pub fn commit(&mut self) -> Result<Option<Head>, LogError> {
        // After a failed write or sync, a second commit would write the same frames again (a
        // short write left some of them in the store already) or sync again and report
        // success for what the failed sync lost.
        if let Some(why) = &self.poisoned {
            return Err(LogError::Poisoned(why.clone()));
        }
        self.flush()?;
        if !self.tree_kept {
            self.unhashed.clear();
            self.unhashed_lens.clear();
            self.store.sync().inspect_err(|_| self.poisoned = Some("fdatasync".into()))?;
            self.durable = self.head;
            return Ok(self.durable);
        }
        // Grow the Merkle tree (leaf hashes, then the interior nodes they complete) on another
        // core while this one waits for the disk; a small batch does it here after the sync
        // (a thread would cost more than it saves). If the sync fails the tree holds leaves
        // of records that are not durable: harmless, as the log then refuses every write
        // until reopened, and proofs name sizes up to the durable head only.
        let bodies = std::mem::take(&mut self.unhashed);
        let lens = std::mem::take(&mut self.unhashed_lens);
        let (store, tree) = (&mut self.store, &mut self.tree);
        let grow = |tree: &mut MerkleTree| {
            for leaf in leaf_hashes(&bodies, &lens) {
                tree.push_leaf(leaf);
            }
        };
        let synced = if lens.len() >= PARALLEL_LEAF_HASHING_MIN {
            std::thread::scope(|scope| {
                let growing = scope.spawn(|| grow(tree));
                let synced = store.sync();
                growing.join().expect("growing the Merkle tree panicked");
                synced
            })
        } else {
            let synced = store.sync();
            if synced.is_ok() {
                grow(tree);
            }
            synced
        };
        if let Err(e) = synced {
            self.poisoned = Some("fdatasync".into());
            return Err(e.into());
        }
        self.durable = self.head;
        debug_assert_eq!(self.tree.size(), self.durable.map_or(0, |h| h.seq.0 + 1));
        // The tree's files are derived: a failure to write them now is repaired on the next
        // open, which rebuilds what does not match the records.
        let _ = self.tree.persist();
        Ok(self.durable)
    }

    /// Stops maintaining the Merkle tree, so that a benchmark can measure durable appends
    /// with and without it in one run. Nothing else may use a log so changed: it proves
    /// nothing, and its tree files are stale (the next open rebuilds them).
    pub fn without_tree_for_measurement(&mut self) {
        self.tree_kept = false;
    }

    /// Where the log stands now, to come back to with `rollback_to`.
    pub fn mark(&self) -> Mark {
        Mark {
            unhashed_bytes: self.unhashed.len(),
            unhashed_records: self.unhashed_lens.len(),
            head: self.head,
            pending_bytes: self.pending_frames.len(),
            pending_records: self.pending_lens.len(),
            store_records: self.store.record_count(),
        }
    }

    /// Drops every record appended since `mark`, from memory and, if they reached it, from
    /// the store: a refused batch leaves the log exactly as it was. Once the log refuses
    /// writes, only what is still in memory can be taken back.
    pub fn rollback_to(&mut self, mark: Mark) -> Result<(), LogError> {
        if self.store.record_count() == mark.store_records {
            self.pending_frames.truncate(mark.pending_bytes);
            self.pending_lens.truncate(mark.pending_records);
        } else {
            // After a failed write or sync the store is left as it is (cutting syncs it) for
            // recovery to deal with when the log is reopened.
            if let Some(why) = &self.poisoned {
                return Err(LogError::Poisoned(why.clone()));
            }
            // A flush moved everything pending, the mark's records included, to the store.
            self.pending_frames.clear();
            self.pending_lens.clear();
            let keep = mark.head.map_or(0, |h| h.seq.0 + 1);
            if let Err(e) = self.store.truncate(keep) {
                self.poisoned = Some("truncate".into());
                return Err(e.into());
            }
            self.durable = self.durable.filter(|d| d.seq.0 < keep);
        }
        self.head = mark.head;
        self.unhashed.truncate(mark.unhashed_bytes);
        self.unhashed_lens.truncate(mark.unhashed_records);
        Ok(())
    }

    /// Reads and decodes one durable record, with its hash.
    pub fn read(&self, seq: Seq) -> Result<(Record, Digest), LogError> {
        let mut frame = Vec::new();
        self.store.read_frame(seq, &mut frame)?;
        let (body, hash) = split_frame(&frame);
        let record = decode_record(body).map_err(|source| LogError::Codec { seq, source })?;
        if record.seq != seq {
            return Err(StoreError::Damaged(Damage {
                seq,
                what: format!("the frame holds seq {}", record.seq),
            })
            .into());
        }
        Ok((record, hash))
    }

    /// Visits durable records `from..` in seq order with their hashes, decoded. Hashes are
    /// the stored ones; `verify` recomputes them.
    pub fn scan(
        &self,
        from: Seq,
        visit: &mut dyn FnMut(Record, Digest) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        let mut failure = None;
        self.store.scan(from, &mut |seq, frame| {
            let (body, hash) = split_frame(frame);
            match decode_record(body) {
                Ok(record) => visit(record, hash),
                Err(source) => {
                    failure = Some(LogError::Codec { seq, source });
                    ControlFlow::Break(())
                }
            }
        })?;
        failure.map_or(Ok(()), Err)
    }

    pub fn record_count(&self) -> u64 {
        self.store.record_count()
    }
}

/// The body and stored hash of a whole frame.
pub fn split_frame(frame: &[u8]) -> (&[u8], Digest) {
    let body = &frame[FRAME_HEADER_BYTES..frame.len() - FRAME_TRAILER_BYTES];
    let hash = Digest(frame[frame.len() - FRAME_TRAILER_BYTES..].try_into().unwrap());
    (body, hash)
}
