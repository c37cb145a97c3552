//! Where the log's bytes live.
//!
//! The `Storage` trait is the narrow waist between the log's logic (the chain, batches,
//! verification) and the files: append frames, make them durable, cut the tail, read back.
//! It exists so that a fault-injecting store can sit under the same log in tests, and so
//! that a different engine can come later without touching the chain logic. Implementations
//! must keep one promise: after `sync` returns `Ok`, every frame appended before it survives
//! a crash of the process or the machine.

use crate::frame::{FRAME_OVERHEAD_BYTES, FrameParse, MAX_FRAME_BYTES, parse_frame, parse_frame_unchecked};
use chl_model::codec::decode_head;
use chl_model::{Digest, Seq};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What a store can do. Record numbers are seqs: the store holds records `0..record_count()`.
pub trait Storage: Send {
    /// How many records the store holds.
    fn record_count(&self) -> u64;

    /// Appends whole frames (`frames` is their concatenation, `frame_lens` their sizes) for
    /// records `record_count()..`. Not durable until `sync`.
    fn append(&mut self, frames: &[u8], frame_lens: &[u32]) -> Result<(), StoreError>;

    /// Makes everything appended so far durable (`fdatasync`, and the directory when files
    /// were created or removed).
    fn sync(&mut self) -> Result<(), StoreError>;

    /// Drops records `record_count..` and makes that durable.
    fn truncate(&mut self, record_count: u64) -> Result<(), StoreError>;

    /// Reads the whole frame of `seq` into `out` (cleared first) and checks its hash.
    fn read_frame(&self, seq: Seq, out: &mut Vec<u8>) -> Result<(), StoreError>;

    /// Visits the frames of `from..record_count()` in order, delimited by their own length
    /// fields (not by any index), without checking their hashes: `visit(seq, frame_bytes)`.
    /// A frame that cannot be delimited ends the scan with `StoreError::Damaged`.
    fn scan(&self, from: Seq, visit: &mut dyn FnMut(Seq, &[u8]) -> ControlFlow<()>)
    -> Result<(), StoreError>;

    /// Bytes on disk, all files included.
    fn size_bytes(&self) -> Result<u64, StoreError>;

    /// Damage found when the store was opened; a damaged store refuses appends.
    fn damage(&self) -> Option<&Damage>;

    /// Where the store's offset index, if it keeps one, says the frame of `seq` starts: the
    /// first seq of the file that holds it and the byte offset in that file. Verification
    /// compares it with where a scan finds the frame. `None`: no index, or `seq` is not held.
    fn index_entry(&self, _seq: Seq) -> Option<(Seq, u64)> {
        None
    }

    /// Rewrites the store's derived position data (a `SegmentStore`'s offset indexes) from a
    /// scan of every frame, delimited by their own length fields, and visits each frame as
    /// `scan` does; a visitor that breaks ends the rebuild early. Every appended frame must
    /// be durable (call it between commits). A damaged store refuses: its index is the
    /// evidence that the damaged frames were durable.
    fn rebuild_index(
        &mut self,
        visit: &mut dyn FnMut(Seq, &[u8]) -> ControlFlow<()>,
    ) -> Result<IndexRebuild, StoreError> {
        if let Some(damage) = self.damage() {
            return Err(StoreError::Damaged(damage.clone()));
        }
        self.scan(Seq::ZERO, visit)?;
        Ok(IndexRebuild::default())
    }
}

/// What `Storage::rebuild_index` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexRebuild {
    /// Index files checked against their segments.
    pub indexes: usize,
    /// Index files that did not match their segment (a wrong, missing or extra entry, or a
    /// missing file) and were rewritten.
    pub rewritten: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} {path}: {error}")]
    Io { op: &'static str, path: PathBuf, error: io::Error },
    #[error("{0}")]
    Damaged(Damage),
    #[error("seq {0} is not in the log (it holds {1} records)")]
    OutOfRange(Seq, u64),
}

/// Damage found before the tail: the records from `seq` on cannot be trusted, and the store
/// refuses to write until an operator has looked (`chl verify`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the log is damaged at seq {seq}: {what}")]
pub struct Damage {
    pub seq: Seq,
    pub what: String,
}

/// What opening the store found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// A torn tail that was cut off: the bytes of a frame that never finished writing.
    pub torn_tail: Option<TornTail>,
    /// Whole records after the last complete batch, dropped because their batch was never
    /// acknowledged.
    pub unfinished_batch: Option<UnfinishedBatch>,
    /// Damage before the tail; the store is read-only below it.
    pub damage: Option<Damage>,
    /// Segments whose offset index was missing or stale and was rebuilt from the segment.
    pub rebuilt_indexes: u32,
    /// Stored Merkle subtree hashes on the tree's right edge (or below it) that did not match
    /// what lies under them and were rewritten (`Log::open_dir` fills this in).
    pub repaired_tree_hashes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The seq the torn frame would have had.
    pub seq: Seq,
    pub bytes_cut: u64,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfinishedBatch {
    pub first_seq: Seq,
    pub records_dropped: u64,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// A segment is closed and a new one started when the next frame would take it past this.
    pub segment_max_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { segment_max_bytes: 64 * 1024 * 1024 }
    }
}

/// Segment files start with this header: magic (8) | base seq u64 LE (8) | zero (16).
pub const SEGMENT_MAGIC: [u8; 8] = *b"CHLSEGv1";
pub const SEGMENT_HEADER_BYTES: u64 = 32;

/// The log as a directory of segment files, `<base seq, 20 digits>.seg`, each with a dense
/// offset index `<base>.idx` (u32 LE frame offsets, one per record). The segments are the
/// truth; an index is derived, written after its frames are durable and never fsynced. On
/// open, the active segment's index is rebuilt by a full scan; a closed segment's index is
/// trusted when its ends agree with the segment (first and last frame, file length) and its
/// entries increase by a possible frame size, else rebuilt. A wrong entry in between is
/// caught when it is read: `read_frame` checks the frame it points at and, when that is not
/// the record asked for, finds the record by scanning the segment's frames (the index is the
/// suspect, not the log) and reads the segment that way from then on. `chl verify` compares
/// every entry with the frames; `rebuild_index` rewrites the files.
pub struct SegmentStore {
    dir: PathBuf,
    config: StoreConfig,
    segments: Vec<Segment>,
    /// A file was created or removed since the last sync: the directory needs an fsync.
    dir_dirty: bool,
    damage: Option<Damage>,
}

struct Segment {
    base: u64,
    path: PathBuf,
    file: File,
    index_path: PathBuf,
    index: File,
    /// Length of the segment file in bytes, header included.
    bytes: u64,
    /// Offset of each record's frame: from the index file for a closed segment trusted on
    /// open, else from a scan of the segment and the appends since.
    offsets: Vec<u32>,
    /// The offsets found by scanning the segment's frames, after a read found the index wrong.
    rescanned: OnceLock<Vec<u32>>,
    /// How many entries of `offsets` the index file holds.
    index_written: usize,
    /// Frames were written since the last sync.
    dirty: bool,
}

impl Segment {
    fn count(&self) -> u64 {
        self.offsets.len() as u64
    }

    fn end_seq(&self) -> u64 {
        self.base + self.count()
    }

    /// The offsets reads go by: the rescanned ones once a read found the index wrong.
    fn read_offsets(&self) -> &[u32] {
        self.rescanned.get().map_or(&self.offsets, Vec::as_slice)
    }

    /// Byte range of the frame of record `i` of this segment.
    fn frame_range(&self, i: usize) -> (u64, u64) {
        let offsets = self.read_offsets();
        let start = u64::from(offsets[i]);
        let end = offsets.get(i + 1).map_or(self.bytes, |&o| u64::from(o));
        (start, end)
    }

    /// Reads `[start, end)` into `out` and says what is wrong with it as the frame of `seq`:
    /// `None` when it is one whole frame whose hash matches and whose record is `seq` (or
    /// whose record head does not decode, which is for the reader to report).
    fn frame_problem(
        &self,
        seq: Seq,
        start: u64,
        end: u64,
        out: &mut Vec<u8>,
    ) -> Result<Option<String>, StoreError> {
        out.clear();
        if start < SEGMENT_HEADER_BYTES
            || end <= start
            || end > self.bytes
            || end - start > MAX_FRAME_BYTES as u64
        {
            return Ok(Some(format!("no frame can lie at bytes {start}..{end} of the segment")));
        }
        out.resize((end - start) as usize, 0);
        self.file.read_exact_at(out, start).map_err(io_err("read", &self.path))?;
        Ok(match parse_frame(out) {
            FrameParse::Whole { frame_bytes, body, .. } if frame_bytes == out.len() => {
                match decode_head(body) {
                    Ok(head) if head.seq != seq => Some(format!("the frame holds seq {}", head.seq)),
                    _ => None,
                }
            }
            FrameParse::Whole { .. } => Some("the frame's length does not match the offset index".into()),
            FrameParse::Short => Some("the frame is incomplete".into()),
            FrameParse::Bad(why) => Some(why.into()),
        })
    }

    /// The offsets of the segment's frames found by their own length fields from its header,
    /// as far as they can be delimited (up to `count()` frames), and where the last one ends;
    /// with why the scan stopped early, if it did.
    fn scan_offsets(&self) -> Result<(Vec<u32>, u64, Option<Damage>), StoreError> {
        let mut offsets = Vec::with_capacity(self.offsets.len());
        let mut pos = SEGMENT_HEADER_BYTES;
        let segment = SegmentFile { path: &self.path, file: &self.file, bytes: self.bytes };
        let mut buf = Vec::new();
        let read =
            read_frames(&segment, pos, Seq(self.base), Some(self.count()), &mut buf, &mut |_, frame| {
                offsets.push(pos as u32);
                pos += frame.len() as u64;
                ControlFlow::Continue(())
            });
        let stop = match read {
            Ok(read) if read.records < self.count() => Some(Damage {
                seq: Seq(self.base + read.records),
                what: "the segment ends before the frames its index counts".into(),
            }),
            Ok(_) => None,
            Err(StoreError::Damaged(damage)) => Some(damage),
            Err(e) => return Err(e),
        };
        Ok((offsets, pos, stop))
    }
}

fn io_err<'p>(op: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> StoreError + 'p {
    move |error| StoreError::Io { op, path: path.to_owned(), error }
}

fn segment_paths(dir: &Path, base: u64) -> (PathBuf, PathBuf) {
    (dir.join(format!("{base:020}.seg")), dir.join(format!("{base:020}.idx")))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err("fsync directory", dir))
}

impl SegmentStore {
    /// Creates an empty store in `dir` (created if missing, must hold no segments).
    pub fn create(dir: &Path, config: StoreConfig) -> Result<SegmentStore, StoreError> {
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let (store, _) = SegmentStore::open(dir, config)?;
        assert_eq!(store.record_count(), 0, "create on a non-empty store");
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        Ok(store)
    }

    /// Opens the store in `dir`, recovering from a crash: a torn frame at the end is cut, an
    /// unfinished batch is dropped, damage before the tail is reported and blocks writes.
    pub fn open(dir: &Path, config: StoreConfig) -> Result<(SegmentStore, OpenReport), StoreError> {
        let bases: Vec<u64> = list_segments(dir)?.into_iter().map(|(base, _)| base).collect();
        let mut store = SegmentStore {
            dir: dir.to_owned(),
            config,
            segments: Vec::new(),
            dir_dirty: false,
            damage: None,
        };
        let mut report = OpenReport::default();
        for base in bases {
            store.segments.push(store.open_segment(base)?);
        }
        store.recover(&mut report)?;
        report.damage = store.damage.clone();
        Ok((store, report))
    }

    fn open_segment(&self, base: u64) -> Result<Segment, StoreError> {
        let (path, index_path) = segment_paths(&self.dir, base);
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(io_err("open", &path))?;
        let index = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&index_path)
            .map_err(io_err("open", &index_path))?;
        let bytes = file.metadata().map_err(io_err("stat", &path))?.len();
        let raw = fs::read(&index_path).map_err(io_err("read", &index_path))?;
        let offsets: Vec<u32> =
            raw.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        let index_written = offsets.len();
        Ok(Segment {
            base,
            path,
            file,
            index_path,
            index,
            bytes,
            offsets,
            rescanned: OnceLock::new(),
            index_written,
            dirty: false,
        })
    }

    fn new_segment(&mut self, base: u64) -> Result<(), StoreError> {
        let (path, index_path) = segment_paths(&self.dir, base);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err("create", &path))?;
        let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
        header[..8].copy_from_slice(&SEGMENT_MAGIC);
        header[8..16].copy_from_slice(&base.to_le_bytes());
        file.write_all_at(&header, 0).map_err(io_err("write", &path))?;
        let index = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&index_path)
            .map_err(io_err("create", &index_path))?;
        self.segments.push(Segment {
            base,
            path,
            file,
            index_path,
            index,
            bytes: SEGMENT_HEADER_BYTES,
            offsets: Vec::new(),
            rescanned: OnceLock::new(),
            index_written: 0,
            dirty: true,
        });
        self.dir_dirty = true;
        Ok(())
    }

    // ---- recovery ------------------------------------------------------------------------

    fn recover(&mut self, report: &mut OpenReport) -> Result<(), StoreError> {
        let mut expected_seq = 0u64;
        let mut expected_prev = Digest::ZERO;
        let last = self.segments.len().saturating_sub(1);
        for k in 0..self.segments.len() {
            if k < last
                && let Some(prev) = self.sealed_segment_checks_out(k, expected_seq, expected_prev)
            {
                expected_seq = self.segments[k].end_seq();
                expected_prev = prev;
                continue;
            }
            // The active segment is re-read whole: it is where a crash can have left torn or
            // unfinished writes, and bounding segments bounds this cost.
            let old_offsets = std::mem::take(&mut self.segments[k].offsets);
            let scanned = self.scan_segment(k, expected_seq, expected_prev)?;
            if self.segments[k].offsets != old_offsets {
                report.rebuilt_indexes += 1;
            }
            self.segments[k].index_written = common_prefix(&self.segments[k].offsets, &old_offsets);
            match scanned {
                ScanEnd::Clean { end_seq, last_hash } => {
                    // The file ends cleanly, but where the index knows a durable frame began:
                    // records that were acknowledged have been cut off. Damage, never a crash's
                    // leftovers (a crash cannot remove synced bytes).
                    let kept = self.segments[k].offsets.len();
                    if old_offsets.get(kept).is_some_and(|&o| u64::from(o) == self.segments[k].bytes) {
                        self.damage = Some(Damage {
                            seq: Seq(end_seq),
                            what: "the log ends before records its offset index knows were durable: they were cut off"
                                .into(),
                        });
                        self.segments.truncate(k + 1);
                        return Ok(());
                    }
                    expected_seq = end_seq;
                    expected_prev = last_hash;
                }
                ScanEnd::Stopped { pos, seq, why } => {
                    // Index entries are written only after their frames were synced, and every
                    // sync leaves the log on a batch boundary: a bad frame the index knows was
                    // durable, so it is damage, never a torn write, and is not cut.
                    let kept = self.segments[k].offsets.len();
                    // A bad header stops the scan at 0, where the first frame would follow it.
                    let frame_at = pos.max(SEGMENT_HEADER_BYTES);
                    let was_durable = old_offsets.get(kept).is_some_and(|&o| u64::from(o) == frame_at);
                    if was_durable || self.closed_batch_after(k, pos)? {
                        self.damage = Some(Damage { seq: Seq(seq), what: why });
                        // Keep what came before the damage readable; ignore the rest.
                        self.segments.truncate(k + 1);
                        self.segments[k].bytes = pos.max(SEGMENT_HEADER_BYTES);
                        return Ok(());
                    }
                    let cut = self.segments[k].bytes - pos;
                    let later: u64 = self.segments[k + 1..].iter().map(|s| s.bytes).sum();
                    self.preserve_tail(k, pos, &format!("torn-at-seq-{seq}"))?;
                    report.torn_tail = Some(TornTail { seq: Seq(seq), bytes_cut: cut + later, why });
                    self.cut_after(k, pos)?;
                    break;
                }
            }
        }
        self.drop_unfinished_batch(report)?;
        self.rewrite_stale_indexes()?;
        self.sync()
    }

    /// A closed segment whose index agrees with it at both ends is trusted without a scan:
    /// its first record continues the chain and its last frame ends the file, and each entry
    /// is after the one before by a size a frame can have (free: the entries are in memory).
    /// Returns the hash of its last record. An entry in between can still be wrong: reads
    /// check the frame they find (`read_frame`).
    fn sealed_segment_checks_out(
        &self,
        k: usize,
        expected_seq: u64,
        expected_prev: Digest,
    ) -> Option<Digest> {
        let seg = &self.segments[k];
        let next_base = self.segments[k + 1].base;
        let n = seg.offsets.len();
        if seg.base != expected_seq || n == 0 || next_base != seg.base + n as u64 {
            return None;
        }
        let frame_sizes = FRAME_OVERHEAD_BYTES as u32 + 1..=MAX_FRAME_BYTES as u32;
        if u64::from(seg.offsets[0]) != SEGMENT_HEADER_BYTES
            || !seg
                .offsets
                .windows(2)
                .all(|w| w[1].checked_sub(w[0]).is_some_and(|d| frame_sizes.contains(&d)))
        {
            return None;
        }
        let first = self.frame_head_at(k, 0)?;
        let last = self.frame_head_at(k, n - 1)?;
        let (_, last_end) = seg.frame_range(n - 1);
        let ok = first.1.seq.0 == seg.base
            && first.1.prev == expected_prev
            && last.1.seq.0 == seg.base + n as u64 - 1
            && last.2 == last_end;
        ok.then_some(last.0)
    }

    /// Hash, head and end offset of frame `i` of segment `k`, if it is a whole, valid frame.
    fn frame_head_at(&self, k: usize, i: usize) -> Option<(Digest, chl_model::codec::RecordHead, u64)> {
        let seg = &self.segments[k];
        let start = u64::from(seg.offsets[i]);
        if start >= seg.bytes {
            return None;
        }
        let len = (seg.bytes - start).min(crate::frame::MAX_FRAME_BYTES as u64) as usize;
        let mut buf = vec![0u8; len];
        seg.file.read_exact_at(&mut buf, start).ok()?;
        match parse_frame(&buf) {
            FrameParse::Whole { body, hash, frame_bytes } => {
                Some((hash, decode_head(body).ok()?, start + frame_bytes as u64))
            }
            _ => None,
        }
    }

    /// Scans segment `k` from its first frame, checking
    /// each frame's hash, seq and chain link, and rebuilds its offset index.
    fn scan_segment(&mut self, k: usize, expected_seq: u64, mut prev: Digest) -> Result<ScanEnd, StoreError> {
        let pos = SEGMENT_HEADER_BYTES;
        let seg = &mut self.segments[k];
        seg.offsets.clear();
        seg.rescanned.take();
        seg.index_written = 0;
        let mut seq = seg.base;
        let header_problem = if seg.bytes < SEGMENT_HEADER_BYTES {
            Some("the segment file is shorter than its header")
        } else {
            let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
            seg.file.read_exact_at(&mut header, 0).map_err(io_err("read", &seg.path))?;
            if header[..8] != SEGMENT_MAGIC
                || header[8..16] != seg.base.to_le_bytes()
                || header[16..] != [0; 16]
            {
                Some("the segment header is not valid")
            } else if seg.base != expected_seq {
                Some("the segment does not start where the previous one ended")
            } else {
                None
            }
        };
        if let Some(why) = header_problem {
            return Ok(ScanEnd::Stopped { pos: 0, seq: expected_seq, why: why.into() });
        }
        let mut tail = vec![0u8; (seg.bytes - pos) as usize];
        seg.file.read_exact_at(&mut tail, pos).map_err(io_err("read", &seg.path))?;
        let mut at = 0usize;
        loop {
            if at == tail.len() {
                return Ok(ScanEnd::Clean { end_seq: seq, last_hash: prev });
            }
            let why: String = match parse_frame(&tail[at..]) {
                FrameParse::Whole { body, hash, frame_bytes } => match decode_head(body) {
                    Ok(head) if head.seq.0 == seq && head.prev == prev => {
                        seg.offsets.push((pos + at as u64) as u32);
                        at += frame_bytes;
                        seq += 1;
                        prev = hash;
                        continue;
                    }
                    Ok(head) if head.seq.0 != seq => format!("the frame holds seq {}", head.seq),
                    Ok(_) => "its prev does not match the hash of the record before it".into(),
                    Err(e) => e.to_string(),
                },
                FrameParse::Short => "the last frame is incomplete".into(),
                FrameParse::Bad(why) => why.into(),
            };
            return Ok(ScanEnd::Stopped { pos: pos + at as u64, seq, why });
        }
    }

    /// Whether any whole frame that ends a batch lies after `pos` in segment `k` or in a later
    /// segment. If one does, a batch after the bad spot may have been acknowledged, so the bad
    /// spot is damage, not a torn tail.
    fn closed_batch_after(&self, k: usize, pos: u64) -> Result<bool, StoreError> {
        for (j, seg) in self.segments.iter().enumerate().skip(k) {
            let from = if j == k { pos + 1 } else { 0 };
            if from >= seg.bytes {
                continue;
            }
            let mut bytes = vec![0u8; (seg.bytes - from) as usize];
            seg.file.read_exact_at(&mut bytes, from).map_err(io_err("read", &seg.path))?;
            let mut at = 0;
            while let Some(found) = find_magic(&bytes[at..]) {
                at += found;
                if let FrameParse::Whole { body, .. } = parse_frame(&bytes[at..])
                    && decode_head(body).is_ok_and(|h| h.ends_batch)
                {
                    return Ok(true);
                }
                at += 1;
            }
        }
        Ok(false)
    }

    /// Copies the bytes from `pos` in segment `k` to the end of the log into
    /// `recovered/<label>.bin` before recovery cuts them: they were never acknowledged, but an
    /// operator investigating a crash may want them, and nothing is thrown away unseen.
    fn preserve_tail(&self, k: usize, pos: u64, label: &str) -> Result<(), StoreError> {
        let dir = self.dir.join("recovered");
        fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        let path = dir.join(format!("{label}.bin"));
        let mut out = Vec::new();
        for (j, seg) in self.segments.iter().enumerate().skip(k) {
            let from = if j == k { pos } else { 0 };
            let mut bytes = vec![0u8; seg.bytes.saturating_sub(from) as usize];
            seg.file.read_exact_at(&mut bytes, from).map_err(io_err("read", &seg.path))?;
            out.extend_from_slice(&bytes);
        }
        let file = File::create(&path).map_err(io_err("create", &path))?;
        file.write_all_at(&out, 0).and_then(|()| file.sync_all()).map_err(io_err("write", &path))?;
        sync_dir(&dir)
    }

    /// Cuts segment `k` at byte `pos` and removes every later segment.
    fn cut_after(&mut self, k: usize, pos: u64) -> Result<(), StoreError> {
        for seg in self.segments.drain(k + 1..) {
            fs::remove_file(&seg.path).map_err(io_err("remove", &seg.path))?;
            fs::remove_file(&seg.index_path).map_err(io_err("remove", &seg.index_path))?;
            self.dir_dirty = true;
        }
        let seg = &mut self.segments[k];
        if pos < SEGMENT_HEADER_BYTES {
            // Not even a header survived: the segment was being created.
            let seg = self.segments.pop().unwrap();
            fs::remove_file(&seg.path).map_err(io_err("remove", &seg.path))?;
            fs::remove_file(&seg.index_path).map_err(io_err("remove", &seg.index_path))?;
            self.dir_dirty = true;
            return Ok(());
        }
        seg.file.set_len(pos).map_err(io_err("truncate", &seg.path))?;
        seg.bytes = pos;
        seg.dirty = true;
        Ok(())
    }

    /// Drops the records after the last one that ends a batch.
    fn drop_unfinished_batch(&mut self, report: &mut OpenReport) -> Result<(), StoreError> {
        let count = self.record_count();
        let mut keep = count;
        let mut frame = Vec::new();
        while keep > 0 {
            self.read_frame(Seq(keep - 1), &mut frame)?;
            let body =
                &frame[crate::frame::FRAME_HEADER_BYTES..frame.len() - crate::frame::FRAME_TRAILER_BYTES];
            let head = decode_head(body)
                .map_err(|e| StoreError::Damaged(Damage { seq: Seq(keep - 1), what: e.to_string() }))?;
            if head.ends_batch {
                break;
            }
            keep -= 1;
        }
        if keep < count {
            let (k, i) = self.segment_of(keep).expect("keep < count");
            let pos = u64::from(self.segments[k].offsets[i]);
            self.preserve_tail(k, pos, &format!("unfinished-batch-from-seq-{keep}"))?;
            report.unfinished_batch =
                Some(UnfinishedBatch { first_seq: Seq(keep), records_dropped: count - keep });
            self.truncate_unsynced(keep)?;
        }
        Ok(())
    }

    /// Rewrites index files from the in-memory offsets where recovery rebuilt them.
    fn rewrite_stale_indexes(&mut self) -> Result<(), StoreError> {
        for seg in &mut self.segments {
            seg.index.set_len(seg.index_written as u64 * 4).map_err(io_err("truncate", &seg.index_path))?;
        }
        Ok(())
    }

    fn segment_of(&self, seq: u64) -> Option<(usize, usize)> {
        if seq >= self.record_count() {
            return None;
        }
        let k = self.segments.partition_point(|s| s.base <= seq) - 1;
        Some((k, (seq - self.segments[k].base) as usize))
    }

    fn truncate_unsynced(&mut self, record_count: u64) -> Result<(), StoreError> {
        while let Some(seg) = self.segments.last() {
            if seg.base < record_count {
                break;
            }
            let seg = self.segments.pop().unwrap();
            fs::remove_file(&seg.path).map_err(io_err("remove", &seg.path))?;
            fs::remove_file(&seg.index_path).map_err(io_err("remove", &seg.index_path))?;
            self.dir_dirty = true;
        }
        let Some(seg) = self.segments.last_mut() else {
            return Ok(());
        };
        let keep = (record_count - seg.base) as usize;
        if keep < seg.offsets.len() {
            seg.rescanned.take();
            let cut = u64::from(seg.offsets[keep]);
            seg.offsets.truncate(keep);
            seg.index_written = seg.index_written.min(keep);
            seg.file.set_len(cut).map_err(io_err("truncate", &seg.path))?;
            seg.index.set_len(seg.index_written as u64 * 4).map_err(io_err("truncate", &seg.index_path))?;
            seg.bytes = cut;
            seg.dirty = true;
        }
        Ok(())
    }
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

enum ScanEnd {
    Clean { end_seq: u64, last_hash: Digest },
    Stopped { pos: u64, seq: u64, why: String },
}

fn find_magic(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == crate::frame::FRAME_MAGIC)
}

impl Storage for SegmentStore {
    fn record_count(&self) -> u64 {
        self.segments.last().map_or(0, Segment::end_seq)
    }

    fn append(&mut self, frames: &[u8], frame_lens: &[u32]) -> Result<(), StoreError> {
        if let Some(damage) = &self.damage {
            return Err(StoreError::Damaged(damage.clone()));
        }
        // Offsets in the index are u32, so no segment may pass 4 GiB whatever the config says.
        let max = self.config.segment_max_bytes.min(u64::from(u32::MAX));
        let mut at = 0usize;
        let mut lens = frame_lens.iter().peekable();
        while lens.peek().is_some() {
            let count = self.record_count();
            let needs_new = match self.segments.last() {
                None => true,
                Some(seg) => {
                    let next = u64::from(**lens.peek().unwrap());
                    seg.count() > 0 && seg.bytes + next > max
                }
            };
            if needs_new {
                self.new_segment(count)?;
            }
            let seg = self.segments.last_mut().unwrap();
            // Reads go by `offsets` again (the active segment's come from a scan on open).
            seg.rescanned.take();
            // Take as many frames as fit (at least one) and write them in one call.
            let run_start = at;
            let offsets_before = seg.offsets.len();
            let mut end = seg.bytes;
            while let Some(&&len) = lens.peek() {
                if end != seg.bytes && end + u64::from(len) > max {
                    break;
                }
                assert!(end + u64::from(len) <= u64::from(u32::MAX), "segment offset overflows u32");
                seg.offsets.push(end as u32);
                end += u64::from(len);
                at += len as usize;
                lens.next();
            }
            if let Err(error) = seg.file.write_all_at(&frames[run_start..at], seg.bytes) {
                // The run is not in the store: forget its offsets, or `record_count` and
                // `read_frame` would count and read frames that were never written. Bytes of a
                // short write past `bytes` are overwritten by the next append or cut on open.
                seg.offsets.truncate(offsets_before);
                return Err(StoreError::Io { op: "write", path: seg.path.clone(), error });
            }
            seg.bytes = end;
            seg.dirty = true;
        }
        assert_eq!(at, frames.len(), "frame lengths do not add up to the frames");
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        for seg in self.segments.iter_mut().filter(|s| s.dirty) {
            seg.file.sync_data().map_err(io_err("fdatasync", &seg.path))?;
            seg.dirty = false;
        }
        if self.dir_dirty {
            sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        // Index entries only after their frames are durable, so an index never points past
        // the durable log except after a truncation, which recovery handles.
        for seg in &mut self.segments {
            if seg.index_written < seg.offsets.len() {
                let bytes: Vec<u8> =
                    seg.offsets[seg.index_written..].iter().flat_map(|o| o.to_le_bytes()).collect();
                seg.index
                    .write_all_at(&bytes, seg.index_written as u64 * 4)
                    .map_err(io_err("write", &seg.index_path))?;
                seg.index_written = seg.offsets.len();
            }
        }
        Ok(())
    }

    fn truncate(&mut self, record_count: u64) -> Result<(), StoreError> {
        assert!(record_count <= self.record_count());
        self.truncate_unsynced(record_count)?;
        self.sync()
    }

    fn read_frame(&self, seq: Seq, out: &mut Vec<u8>) -> Result<(), StoreError> {
        self.locate_frame(seq, out).map(|_| ())
    }

    fn scan(
        &self,
        from: Seq,
        visit: &mut dyn FnMut(Seq, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let Some((first_k, first_i)) = self.segment_of(from.0) else {
            return Ok(());
        };
        let mut buf = Vec::new();
        // The first frame's offset comes from the index, so it is read and checked first (a
        // wrong entry would start the scan inside another frame).
        let first_pos = match first_i {
            0 => SEGMENT_HEADER_BYTES,
            _ => self.locate_frame(from, &mut buf)?,
        };
        for (k, seg) in self.segments.iter().enumerate().skip(first_k) {
            let (seq, pos) = if k == first_k {
                (seg.base + first_i as u64, first_pos)
            } else {
                (seg.base, SEGMENT_HEADER_BYTES)
            };
            let file = SegmentFile { path: &seg.path, file: &seg.file, bytes: seg.bytes };
            let limit = seg.end_seq() - seq;
            if read_frames(&file, pos, Seq(seq), Some(limit), &mut buf, visit)?.stopped {
                return Ok(());
            }
        }
        Ok(())
    }

    fn damage(&self) -> Option<&Damage> {
        self.damage.as_ref()
    }

    fn size_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.segments.iter().map(|s| s.bytes + s.offsets.len() as u64 * 4).sum())
    }

    fn index_entry(&self, seq: Seq) -> Option<(Seq, u64)> {
        let (k, i) = self.segment_of(seq.0)?;
        let seg = &self.segments[k];
        Some((Seq(seg.base), u64::from(seg.offsets[i])))
    }

    fn rebuild_index(
        &mut self,
        visit: &mut dyn FnMut(Seq, &[u8]) -> ControlFlow<()>,
    ) -> Result<IndexRebuild, StoreError> {
        if let Some(damage) = &self.damage {
            return Err(StoreError::Damaged(damage.clone()));
        }
        let mut report = IndexRebuild::default();
        let mut buf = Vec::new();
        for seg in &mut self.segments {
            assert!(
                !seg.dirty && seg.index_written == seg.offsets.len(),
                "rebuild_index between commits only"
            );
            let mut offsets = Vec::with_capacity(seg.offsets.len());
            let mut pos = SEGMENT_HEADER_BYTES;
            let mut stopped = false;
            let segment = SegmentFile { path: &seg.path, file: &seg.file, bytes: seg.bytes };
            let read =
                read_frames(&segment, pos, Seq(seg.base), Some(seg.count()), &mut buf, &mut |seq, frame| {
                    offsets.push(pos as u32);
                    pos += frame.len() as u64;
                    let flow = visit(seq, frame);
                    stopped = flow.is_break();
                    flow
                })?;
            if stopped {
                return Ok(report);
            }
            if read.records != seg.count() || pos != seg.bytes {
                return Err(StoreError::Damaged(Damage {
                    seq: Seq(seg.base + read.records),
                    what: format!("{} does not end where its last frame does", seg.path.display()),
                }));
            }
            let bytes: Vec<u8> = offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
            let on_disk = match fs::read(&seg.index_path) {
                Ok(on_disk) => Some(on_disk),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(StoreError::Io { op: "read", path: seg.index_path.clone(), error: e }),
            };
            report.indexes += 1;
            if on_disk.as_deref() != Some(bytes.as_slice()) {
                // The handle may name a file that was removed: write through a fresh one.
                let index = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&seg.index_path)
                    .map_err(io_err("open", &seg.index_path))?;
                index.write_all_at(&bytes, 0).map_err(io_err("write", &seg.index_path))?;
                index.set_len(bytes.len() as u64).map_err(io_err("truncate", &seg.index_path))?;
                seg.index = index;
                report.rewritten += 1;
            }
            seg.offsets = offsets;
            seg.index_written = seg.offsets.len();
            seg.rescanned.take();
        }
        Ok(report)
    }
}

impl SegmentStore {
    /// Reads the frame of `seq` into `out`, checks it, and returns its offset in its segment.
    /// The offset comes from the index; when the bytes there are not that record's frame, the
    /// index may be wrong (it is derived) while the log is not, so the segment's frames are
    /// found by their own length fields and, if that finds the record whole, the segment is
    /// read that way from then on. Only what the scan finds wrong is reported as damage.
    fn locate_frame(&self, seq: Seq, out: &mut Vec<u8>) -> Result<u64, StoreError> {
        let (k, i) = self.segment_of(seq.0).ok_or(StoreError::OutOfRange(seq, self.record_count()))?;
        let seg = &self.segments[k];
        let (start, end) = seg.frame_range(i);
        let Some(why) = seg.frame_problem(seq, start, end, out)? else {
            return Ok(start);
        };
        let damaged = |seq, what| Err(StoreError::Damaged(Damage { seq, what }));
        if seg.rescanned.get().is_some() {
            // Already read by a scan of the frames: the log itself is wrong here.
            return damaged(seq, why);
        }
        let (offsets, scan_end, stop) = seg.scan_offsets()?;
        let Some(&start) = offsets.get(i) else {
            let stop = stop.expect("a scan that found fewer frames says why");
            return damaged(stop.seq, stop.what);
        };
        let end = offsets.get(i + 1).map_or(scan_end, |&o| u64::from(o));
        let problem = seg.frame_problem(seq, u64::from(start), end, out)?;
        if stop.is_none() && scan_end == seg.bytes {
            let _ = seg.rescanned.set(offsets);
        }
        match problem {
            None => Ok(u64::from(start)),
            Some(found) => damaged(seq, found),
        }
    }
}

/// One segment file, for reading.
pub struct SegmentFile<'a> {
    pub path: &'a Path,
    pub file: &'a File,
    /// Bytes to read up to.
    pub bytes: u64,
}

/// How a run of `read_frames` ended.
pub struct FramesRead {
    /// Records visited.
    pub records: u64,
    /// The visitor asked to stop.
    pub stopped: bool,
}

/// Reads the frames of a segment file from `pos` in large chunks, delimiting them by their
/// own length fields, and visits each as `(seq, frame bytes)` (hashes unchecked). Stops after
/// `limit` records, or at the end of the file, which must fall on a frame boundary.
pub fn read_frames(
    segment: &SegmentFile<'_>,
    pos: u64,
    first_seq: Seq,
    limit: Option<u64>,
    buf: &mut Vec<u8>,
    visit: &mut dyn FnMut(Seq, &[u8]) -> ControlFlow<()>,
) -> Result<FramesRead, StoreError> {
    const CHUNK: usize = 8 * 1024 * 1024;
    buf.clear();
    let mut file_pos = pos;
    let mut at = 0usize;
    let mut seq = first_seq.0;
    let end_seq = limit.map_or(u64::MAX, |n| first_seq.0 + n);
    let damaged = |seq, what: &str| StoreError::Damaged(Damage { seq: Seq(seq), what: what.into() });
    while seq < end_seq {
        if at == buf.len() && file_pos == segment.bytes {
            break;
        }
        match parse_frame_unchecked(&buf[at..]) {
            FrameParse::Whole { frame_bytes, .. } => {
                if visit(Seq(seq), &buf[at..at + frame_bytes]).is_break() {
                    return Ok(FramesRead { records: seq + 1 - first_seq.0, stopped: true });
                }
                at += frame_bytes;
                seq += 1;
            }
            FrameParse::Short if file_pos < segment.bytes => {
                buf.drain(..at);
                at = 0;
                let want = (CHUNK as u64).min(segment.bytes - file_pos) as usize;
                let old = buf.len();
                buf.resize(old + want, 0);
                segment
                    .file
                    .read_exact_at(&mut buf[old..], file_pos)
                    .map_err(io_err("read", segment.path))?;
                file_pos += want as u64;
            }
            FrameParse::Short => {
                return Err(damaged(seq, "the last frame is incomplete (a torn write)"));
            }
            FrameParse::Bad(why) => return Err(damaged(seq, why)),
        }
    }
    Ok(FramesRead { records: seq - first_seq.0, stopped: false })
}

/// The segment files of a log directory, by base seq, without opening the store (and so
/// without recovery): for read-only verification.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("read directory", dir))? {
        let entry = entry.map_err(io_err("read directory", dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".seg")
            && stem.len() == 20
            && let Ok(base) = stem.parse::<u64>()
        {
            out.push((base, entry.path()));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Checks a segment file's header: magic and base seq.
pub fn check_segment_header(file: &File, path: &Path, base: u64) -> Result<(), String> {
    let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
    file.read_exact_at(&mut header, 0)
        .map_err(|e| format!("cannot read the header of {}: {e}", path.display()))?;
    if header[..8] != SEGMENT_MAGIC {
        return Err(format!("{} does not start with the segment magic", path.display()));
    }
    if header[8..16] != base.to_le_bytes() {
        return Err(format!("{} names another base seq in its header", path.display()));
    }
    if header[16..] != [0; 16] {
        return Err(format!("{} has non-zero reserved bytes in its header", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::write_frame;

    fn frames(bodies: &[&[u8]]) -> (Vec<u8>, Vec<u32>) {
        let mut out = Vec::new();
        let lens = bodies
            .iter()
            .map(|body| {
                let before = out.len();
                write_frame(body, &mut out);
                (out.len() - before) as u32
            })
            .collect();
        (out, lens)
    }

    #[test]
    fn a_failed_write_leaves_the_store_counting_only_the_frames_it_holds() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = SegmentStore::create(&tmp.path().join("log"), StoreConfig::default()).unwrap();
        let (two, two_lens) = frames(&[b"zero", b"one"]);
        store.append(&two, &two_lens).unwrap();
        store.sync().unwrap();
        // A handle that cannot write: the next write fails as a failing disk's would.
        let seg = store.segments.last_mut().unwrap();
        let writable = std::mem::replace(&mut seg.file, File::open(&seg.path).unwrap());
        let (three, lens) = frames(&[b"two", b"three", b"four"]);
        let err = store.append(&three, &lens).unwrap_err();
        assert!(matches!(err, StoreError::Io { op: "write", .. }), "{err}");
        assert_eq!(store.record_count(), 2);
        assert!(matches!(store.read_frame(Seq(2), &mut Vec::new()), Err(StoreError::OutOfRange(..))));
        let mut frame = Vec::new();
        store.read_frame(Seq(1), &mut frame).unwrap();
        assert_eq!(frame, two[two_lens[0] as usize..]);
        // Writable again, the next frame takes seq 2.
        store.segments.last_mut().unwrap().file = writable;
        let (one, lens) = frames(&[b"two again"]);
        store.append(&one, &lens).unwrap();
        assert_eq!(store.record_count(), 3);
        store.read_frame(Seq(2), &mut frame).unwrap();
        assert_eq!(frame, one);
    }
}
