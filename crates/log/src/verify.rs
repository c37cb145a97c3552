//! Verification of a whole chain: every record decodes, every hash and link holds, seqs run
//! without gaps, the clock never goes back, record 0 founds the ledger, and the log ends on a
//! whole batch. The same checks serve a live log and an exported file.
//!
//! Of a log, the derived data is checked too, against what the scan finds: each record's
//! offset index entry, and (on disk) every stored Merkle subtree hash. A difference there is
//! not a failure (the log, the truth, is intact, and the derived data can be rebuilt from it):
//! it is returned in `ChainSummary::derived` for the caller to report.

use crate::log::split_frame;
use crate::merkle::{Hash, Sha256Hasher, TreeHasher};
use crate::storage::{
    SEGMENT_HEADER_BYTES, SegmentFile, Storage, StoreError, check_segment_header, list_segments, read_frames,
};
use crate::tree::MerkleTree;
use chl_model::codec::{decode_record, encode_record, record_hash};
use chl_model::event::{OriginName, PublicKey};
use chl_model::{Digest, EventType, ImportedRecord, MAX_EFFECTIVE_LEAD_MICROS, Record, Seq, Timestamp};
use std::fs::File;
use std::io::BufRead;
use std::ops::ControlFlow;
use std::path::Path;

/// The first thing found wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seq {seq}: {what}")]
pub struct ChainError {
    pub seq: Seq,
    pub what: String,
}

/// What a verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    pub records: u64,
    pub head: Option<(Seq, Digest)>,
    /// Bytes of canonical record bytes covered.
    pub record_bytes: u64,
    /// The Merkle tree head of all the records, recomputed from them.
    pub tree_head: Hash,
    /// The tree heads at the sizes asked for (`ChainCheck::new`), in order.
    pub tree_heads_at: Vec<(u64, Hash)>,
    /// Record 0's origin and public key.
    pub founding: Option<(OriginName, PublicKey)>,
    /// Derived data found not to match the records (the log itself verified).
    pub derived: Vec<DerivedDamage>,
}

/// Derived data that does not match the log: harmless to the truth, and repaired by
/// rebuilding it from the log (`Log::rebuild_derived`, `chl rebuild`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DerivedDamage {
    /// The offset index of `segment` (a file name) holds a wrong position for `seq`, the first
    /// of `entries` wrong entries.
    OffsetIndex { segment: String, seq: Seq, entries: u64 },
    /// The stored hash of the subtree of `2^level` leaves number `index` (in
    /// `tree/level-NN.hashes`) is wrong, the first of `hashes` wrong ones of that level.
    TreeHash { level: u32, index: u64, hashes: u64 },
    /// A derived file could not be read.
    Unreadable { path: String, error: String },
}

impl std::fmt::Display for DerivedDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let more = |n: u64, what: &str| match n {
            0 | 1 => String::new(),
            n => format!(" ({n} wrong {what} in all)"),
        };
        match self {
            DerivedDamage::OffsetIndex { segment, seq, entries } => write!(
                f,
                "derived data: the offset index of segment {segment} is wrong at seq {seq}{}; chl rebuild repairs it",
                more(*entries, "entries")
            ),
            DerivedDamage::TreeHash { level, index, hashes } => write!(
                f,
                "derived data: the stored Merkle subtree at level {level} index {index} is wrong{}; chl rebuild repairs it",
                more(*hashes, "hashes at this level")
            ),
            DerivedDamage::Unreadable { path, error } => {
                write!(f, "derived data: cannot read {path}: {error}; chl rebuild rewrites it")
            }
        }
    }
}

/// Compares the offset index entries of the records a scan visits with where the scan found
/// them (frames lie back to back from the segment's header).
#[derive(Default)]
struct IndexCheck {
    /// The segment being read: its first seq and file name.
    segment: Option<(Seq, String)>,
    /// Where its next frame starts.
    pos: u64,
    /// Its first wrong entry, and how many are wrong.
    wrong: Option<(Seq, u64)>,
    /// What the segments read before it hold wrong.
    found: Vec<DerivedDamage>,
}

impl IndexCheck {
    /// A new segment of file name `name` starts at `base`.
    fn start(&mut self, base: Seq, name: String) {
        self.end();
        self.segment = Some((base, name));
        self.pos = SEGMENT_HEADER_BYTES;
    }

    /// The frame of `seq`, of `len` bytes, is next; its index entry says `entry`.
    fn frame(&mut self, seq: Seq, len: usize, entry: Option<u64>) {
        if entry.is_some_and(|e| e != self.pos) {
            let wrong = self.wrong.get_or_insert((seq, 0));
            wrong.1 += 1;
        }
        self.pos += len as u64;
    }

    fn end(&mut self) {
        if let (Some((_, segment)), Some((seq, entries))) = (self.segment.take(), self.wrong.take()) {
            self.found.push(DerivedDamage::OffsetIndex { segment, seq, entries });
        }
    }

    fn finish(mut self) -> Vec<DerivedDamage> {
        self.end();
        self.found
    }
}

/// Checks records one after another, in seq order, and recomputes the Merkle tree over them.
pub struct ChainCheck {
    next_seq: u64,
    prev: Digest,
    last_recorded_at: Option<Timestamp>,
    last_ends_batch: bool,
    record_bytes: u64,
    tree: MerkleTree,
    /// Sizes at which to keep the tree head (the checkpoints to check), ascending.
    tree_heads_wanted: Vec<u64>,
    tree_heads_at: Vec<(u64, Hash)>,
    founding: Option<(OriginName, PublicKey)>,
}

impl ChainCheck {
    /// A check that also keeps the tree heads at `tree_heads_wanted` sizes.
    pub fn new(tree_heads_wanted: &[u64]) -> ChainCheck {
        let mut wanted = tree_heads_wanted.to_vec();
        wanted.sort_unstable();
        ChainCheck {
            next_seq: 0,
            prev: Digest::ZERO,
            last_recorded_at: None,
            last_ends_batch: false,
            record_bytes: 0,
            tree: MerkleTree::empty(Path::new("")),
            tree_heads_wanted: wanted,
            tree_heads_at: Vec::new(),
            founding: None,
        }
    }

    /// Checks `record`, whose canonical bytes hash to `hash`, take `bytes` bytes and make the
    /// Merkle leaf `leaf`.
    pub fn check(
        &mut self,
        record: &Record,
        hash: Digest,
        bytes: usize,
        leaf: Hash,
    ) -> Result<(), ChainError> {
        let seq = Seq(self.next_seq);
        let fail = |what: String| Err(ChainError { seq, what });
        if record.seq != seq {
            return fail(format!("expected seq {seq}, the record says {}", record.seq));
        }
        if record.prev != self.prev {
            return fail(format!(
                "prev {} is not the hash of the record before ({})",
                record.prev, self.prev
            ));
        }
        if let Some(last) = self.last_recorded_at
            && record.recorded_at < last
        {
            return fail(format!(
                "recorded_at {} is before the previous record's {last}",
                record.recorded_at
            ));
        }
        let is_founding = record.event.event_type() == EventType::LedgerCreated;
        if seq.0 == 0 && !is_founding {
            return fail(format!("record 0 must be ledger_created, not {}", record.event.event_type()));
        }
        if seq.0 != 0 && is_founding {
            return fail("ledger_created may only be record 0".into());
        }
        if record.effective_at > record.recorded_at.saturating_add_micros(MAX_EFFECTIVE_LEAD_MICROS) {
            return fail(format!(
                "effective_at {} is more than 5 minutes after recorded_at {}",
                record.effective_at, record.recorded_at
            ));
        }
        self.next_seq += 1;
        self.prev = hash;
        self.last_recorded_at = Some(record.recorded_at);
        self.last_ends_batch = record.ends_batch;
        self.record_bytes += bytes as u64;
        if let chl_model::Event::LedgerCreated(created) = &record.event {
            self.founding = Some((created.origin.clone(), created.public_key));
        }
        self.tree.push_leaf(leaf);
        if self.tree_heads_wanted.binary_search(&self.tree.size()).is_ok() {
            self.tree_heads_at.push((self.tree.size(), self.tree.root()));
        }
        Ok(())
    }

    pub fn finish(self) -> Result<ChainSummary, ChainError> {
        let tree_head = self.tree.root();
        if self.next_seq > 0 && !self.last_ends_batch {
            return Err(ChainError {
                seq: Seq(self.next_seq - 1),
                what: "the log ends inside a batch: the records after the last complete batch were never acknowledged (a crash's leftovers, which the next chl command that opens the ledger cuts and keeps in log/recovered/)".into(),
            });
        }
        Ok(ChainSummary {
            records: self.next_seq,
            head: self.next_seq.checked_sub(1).map(|s| (Seq(s), self.prev)),
            record_bytes: self.record_bytes,
            tree_head,
            tree_heads_at: self.tree_heads_at,
            founding: self.founding,
            derived: Vec::new(),
        })
    }

    /// Compares the Merkle tree recomputed so far with the stored levels in `dir`
    /// (`tree/level-NN.hashes` of a log directory).
    fn stored_tree_damage(&self, dir: &Path) -> Vec<DerivedDamage> {
        match self.tree.compare_files(dir) {
            Ok(found) => found
                .into_iter()
                .map(|(level, index, hashes)| DerivedDamage::TreeHash { level, index, hashes })
                .collect(),
            Err(e) => {
                vec![DerivedDamage::Unreadable { path: dir.display().to_string(), error: e.to_string() }]
            }
        }
    }
}

/// How often progress is reported, in records.
pub const PROGRESS_EVERY: u64 = 65_536;

/// Decodes one frame after checking its stored hash against its bytes.
fn open_frame(seq: Seq, frame: &[u8]) -> Result<(Record, Digest, usize, Hash), ChainError> {
    let (body, stored) = split_frame(frame);
    if record_hash(body) != stored {
        return Err(ChainError { seq, what: "the record's bytes do not match its stored hash".into() });
    }
    let record = decode_record(body).map_err(|e| ChainError { seq, what: e.to_string() })?;
    Ok((record, stored, body.len(), Sha256Hasher::leaf(body)))
}

/// Checks frames in batches: hashing and decoding, nearly all the cost, run on every core;
/// the chain, which is sequential and cheap, on the caller's thread in seq order, so the
/// first failure reported is the one with the lowest seq.
struct BatchedCheck<'a> {
    check: ChainCheck,
    frames: Vec<u8>,
    /// seq and byte range in `frames` of each frame held.
    held: Vec<(Seq, usize, usize)>,
    progress: &'a mut dyn FnMut(u64),
    threads: usize,
}

const CHECK_BATCH_RECORDS: usize = 8192;

impl<'a> BatchedCheck<'a> {
    fn new(tree_heads_wanted: &[u64], progress: &'a mut dyn FnMut(u64)) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        BatchedCheck {
            check: ChainCheck::new(tree_heads_wanted),
            frames: Vec::with_capacity(CHECK_BATCH_RECORDS * 256),
            held: Vec::with_capacity(CHECK_BATCH_RECORDS),
            progress,
            threads,
        }
    }

    fn next_seq(&self) -> u64 {
        self.check.next_seq + self.held.len() as u64
    }

    fn push(&mut self, seq: Seq, frame: &[u8]) -> Result<(), ChainError> {
        let start = self.frames.len();
        self.frames.extend_from_slice(frame);
        self.held.push((seq, start, self.frames.len()));
        if self.held.len() == CHECK_BATCH_RECORDS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ChainError> {
        let frames = &self.frames;
        let open_all =
            |held: &[(Seq, usize, usize)]| -> Vec<Result<(Record, Digest, usize, Hash), ChainError>> {
                held.iter().map(|&(seq, start, end)| open_frame(seq, &frames[start..end])).collect()
            };
        let per_thread = self.held.len().div_ceil(self.threads).max(1);
        let opened: Vec<_> = if self.threads == 1 || self.held.len() < 256 {
            open_all(&self.held)
        } else {
            std::thread::scope(|scope| {
                let workers: Vec<_> =
                    self.held.chunks(per_thread).map(|part| scope.spawn(move || open_all(part))).collect();
                workers.into_iter().flat_map(|w| w.join().expect("a verify worker panicked")).collect()
            })
        };
        for outcome in opened {
            let (record, hash, len, leaf) = outcome?;
            self.check.check(&record, hash, len, leaf)?;
        }
        let done = self.check.next_seq;
        if done / PROGRESS_EVERY != (done - self.held.len() as u64) / PROGRESS_EVERY {
            (self.progress)(done);
        }
        self.frames.clear();
        self.held.clear();
        Ok(())
    }

    /// A visitor for `Storage::scan` and `read_frames` that keeps the first failure.
    fn visitor<'b>(
        &'b mut self,
        failure: &'b mut Option<ChainError>,
    ) -> impl FnMut(Seq, &[u8]) -> ControlFlow<()> + 'b {
        move |seq, frame| match self.push(seq, frame) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                *failure = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

fn store_failure(e: StoreError, next_seq: u64) -> ChainError {
    match e {
        StoreError::Damaged(d) => ChainError { seq: d.seq, what: d.what },
        other => ChainError { seq: Seq(next_seq), what: other.to_string() },
    }
}

/// Re-reads a whole open store: every frame's stored hash is recomputed from its bytes, every
/// record decoded and chained, and the Merkle tree recomputed (with its heads at
/// `tree_heads_wanted` sizes). `progress(records_done)` is called now and then. The store's
/// offset index (`Storage::index_entry`) is compared with where the frames lie.
pub fn verify_store(
    store: &dyn Storage,
    tree_heads_wanted: &[u64],
    progress: &mut dyn FnMut(u64),
) -> Result<ChainSummary, ChainError> {
    let mut batched = BatchedCheck::new(tree_heads_wanted, progress);
    let mut failure = None;
    let mut index = IndexCheck::default();
    let scanned = {
        let mut visit = batched.visitor(&mut failure);
        store.scan(Seq::ZERO, &mut |seq, frame| {
            if let Some((base, offset)) = store.index_entry(seq) {
                if index.segment.as_ref().is_none_or(|(b, _)| *b != base) {
                    index.start(base, format!("{:020}.seg", base.0));
                }
                index.frame(seq, frame.len(), Some(offset));
            }
            visit(seq, frame)
        })
    };
    if let Some(e) = failure {
        return Err(e);
    }
    batched.flush()?;
    scanned.map_err(|e| store_failure(e, batched.check.next_seq))?;
    let mut summary = batched.check.finish()?;
    summary.derived = index.finish();
    if summary.records != store.record_count() {
        return Err(ChainError {
            seq: Seq(summary.records),
            what: format!(
                "the store holds {} records but only {} could be read",
                store.record_count(),
                summary.records
            ),
        });
    }
    Ok(summary)
}

/// Verifies the segment files of a log directory as they are on disk, without opening the
/// store: nothing is recovered, cut or rewritten, so a damaged or torn tail is reported, not
/// repaired. This is what `chl verify` runs.
pub fn verify_log_dir(
    dir: &Path,
    tree_heads_wanted: &[u64],
    progress: &mut dyn FnMut(u64),
) -> Result<ChainSummary, ChainError> {
    let mut batched = BatchedCheck::new(tree_heads_wanted, progress);
    let mut buf = Vec::new();
    let mut index = IndexCheck::default();
    let segments = list_segments(dir).map_err(|e| store_failure(e, 0))?;
    for (base, path) in segments {
        let next = batched.next_seq();
        let at = |what: String| ChainError { seq: Seq(next), what };
        if base != next {
            // Settle the records before the gap first: a failure among them comes first.
            batched.flush()?;
            return Err(at(format!("segment {} starts at seq {base}", path.display())));
        }
        let file = File::open(&path).map_err(|e| at(format!("cannot open {}: {e}", path.display())))?;
        let bytes = file.metadata().map_err(|e| at(format!("cannot stat {}: {e}", path.display())))?.len();
        if let Err(why) = check_segment_header(&file, &path, base) {
            batched.flush()?;
            return Err(at(why));
        }
        let segment = SegmentFile { path: &path, file: &file, bytes };
        // The offset index as it lies beside the segment: missing or short is no damage (the
        // next open rebuilds it), a wrong entry is.
        let entries = read_index(&path.with_extension("idx"), &mut index.found);
        index.start(
            Seq(base),
            path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        );
        let mut failure = None;
        let read = {
            let mut visit = batched.visitor(&mut failure);
            read_frames(&segment, SEGMENT_HEADER_BYTES, Seq(base), None, &mut buf, &mut |seq, frame| {
                let entry = entries.get((seq.0 - base) as usize).map(|&e| u64::from(e));
                index.frame(seq, frame.len(), entry);
                visit(seq, frame)
            })
        };
        if let Some(e) = failure {
            return Err(e);
        }
        if let Err(e) = read {
            batched.flush()?;
            return Err(store_failure(e, batched.next_seq()));
        }
    }
    batched.flush()?;
    let mut derived = index.finish();
    derived.extend(batched.check.stored_tree_damage(&dir.join("tree")));
    let mut summary = batched.check.finish()?;
    summary.derived = derived;
    Ok(summary)
}

/// The entries of an offset index file (none if it is missing; a trailing partial entry is
/// ignored, as on open).
fn read_index(path: &Path, found: &mut Vec<DerivedDamage>) -> Vec<u32> {
    match std::fs::read(path) {
        Ok(raw) => raw.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            found.push(DerivedDamage::Unreadable { path: path.display().to_string(), error: e.to_string() });
            Vec::new()
        }
    }
}

/// Verifies an exported file (`chl export` output) with no ledger at hand: each line's
/// canonical bytes are rebuilt from its fields and hashed, and the result must be the hash
/// the line states and the `prev` of the next line.
pub fn verify_export(input: impl BufRead, progress: &mut dyn FnMut(u64)) -> Result<ChainSummary, ChainError> {
    let mut check = ChainCheck::new(&[]);
    let mut bytes = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let seq = Seq(check.next_seq);
        let line = line.map_err(|e| ChainError { seq, what: format!("line {}: {e}", n + 1) })?;
        let imported = ImportedRecord::parse_json(&line)
            .map_err(|e| ChainError { seq, what: format!("line {}: {}: {}", n + 1, e.field, e.message) })?;
        bytes.clear();
        encode_record(&imported.record, &mut bytes);
        let hash = record_hash(&bytes);
        if hash != imported.claimed_hash {
            return Err(ChainError {
                seq: imported.record.seq,
                what: format!(
                    "line {}: the record's content hashes to {hash}, not to the hash it states ({})",
                    n + 1,
                    imported.claimed_hash
                ),
            });
        }
        check.check(&imported.record, hash, bytes.len(), Sha256Hasher::leaf(&bytes))?;
        if (seq.0 + 1).is_multiple_of(PROGRESS_EVERY) {
            progress(seq.0 + 1);
        }
    }
    check.finish()
}
