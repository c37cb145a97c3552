//! A fault-injecting store: a test instrument, not used by the ledger.
//!
//! `FaultyStore` wraps a real store (normally a `SegmentStore` on a temporary directory, so
//! that whatever reached the files is real and a plain reopen recovers from it) and fails the
//! calls a `FaultPlan` names:
//!
//! - the Nth `append` with EIO, before any byte reaches the inner store;
//! - the Nth `sync` with EIO, the bytes appended since the last good sync left in the files
//!   as the page cache would leave them, or (`lose_writes_on_failed_sync`) dropped, as a
//!   crash after the kernel threw the dirty pages away would;
//! - the Nth `truncate` with EIO, nothing cut;
//! - "disk full" (ENOSPC) once a budget of frame bytes is spent: the append that passes it
//!   writes the whole frames that fit, then, as a short write does, the first bytes of the
//!   next frame up to the budget (over a `SegmentStore`, straight into its segment files,
//!   where recovery finds them as a torn tail), and fails; every later append fails too.
//!
//! Each fault fires once (a disk stays full). The plan is shared (`Arc<FaultPlan>`) so a
//! test keeps a handle on it while the log owns the store: it scripts faults as it goes and
//! counts the calls the log made (`appends`, `syncs`, `truncates`), so that it can assert,
//! say, that the log never synced again after a failed sync. After a fault the wrapped store
//! is only good for reading: the inner store was not told about torn bytes or lost writes.
//! Drop it and reopen the directory, which is what a process restart does.

use crate::storage::{
    Damage, IndexRebuild, OpenReport, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC, SegmentStore, Storage,
    StoreConfig, StoreError, list_segments,
};
use chl_model::Seq;
use std::fs::{self, OpenOptions};
use std::io;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Linux's errno values for the two errors injected (the crate is unix-only).
const EIO: i32 = 5;
const ENOSPC: i32 = 28;

/// The faults to inject and the calls seen so far. Share it with `Arc`; every method takes
/// `&self`.
#[derive(Debug, Default)]
pub struct FaultPlan {
    appends: AtomicU64,
    syncs: AtomicU64,
    truncates: AtomicU64,
    faults: Mutex<Faults>,
}

#[derive(Debug, Default)]
struct Faults {
    /// Call numbers (1-based, counted since the store was wrapped) that fail.
    append_fails_at: Option<u64>,
    sync_fails_at: Option<u64>,
    truncate_fails_at: Option<u64>,
    /// Frame bytes the disk still takes, if it is to fill up.
    disk_left: Option<u64>,
    lose_writes_on_failed_sync: bool,
    injected: Vec<Injected>,
}

/// A fault that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injected {
    /// Append call `call` failed with EIO; nothing was written.
    AppendFailed { call: u64 },
    /// Sync call `call` failed with EIO; `writes_lost`: the records appended since the last
    /// good sync were dropped from the files.
    SyncFailed { call: u64, writes_lost: bool },
    /// Truncate call `call` failed with EIO; nothing was cut.
    TruncateFailed { call: u64 },
    /// Append call `call` ran out of space (ENOSPC) after writing `whole_frames` frames and
    /// `torn_bytes` bytes of the next one (none unless the store is a `SegmentStore` opened
    /// with `FaultyStore::open_dir`).
    DiskFull { call: u64, whole_frames: usize, torn_bytes: usize },
}

impl FaultPlan {
    /// A plan with no faults.
    pub fn new() -> Arc<FaultPlan> {
        Arc::new(FaultPlan::default())
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        // A test that panicked while holding the lock leaves the plan as it was: keep using it.
        self.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The `nth` append from now (1: the next one) fails with EIO, writing nothing.
    pub fn fail_append(&self, nth: u64) {
        assert!(nth >= 1, "the next call is the 1st");
        self.faults().append_fails_at = Some(self.appends() + nth);
    }

    /// The `nth` sync from now (1: the next one) fails with EIO.
    pub fn fail_sync(&self, nth: u64) {
        assert!(nth >= 1, "the next call is the 1st");
        self.faults().sync_fails_at = Some(self.syncs() + nth);
    }

    /// The `nth` truncate from now (1: the next one) fails with EIO, cutting nothing.
    pub fn fail_truncate(&self, nth: u64) {
        assert!(nth >= 1, "the next call is the 1st");
        self.faults().truncate_fails_at = Some(self.truncates() + nth);
    }

    /// Whether a failed sync also drops, from the files, every record appended since the last
    /// good sync (default: they stay, as they would in the page cache of a machine that did
    /// not crash).
    pub fn lose_writes_on_failed_sync(&self, lose: bool) {
        self.faults().lose_writes_on_failed_sync = lose;
    }

    /// From now on the disk takes `bytes` more frame bytes (segment headers not counted);
    /// the append that would pass them writes what fits, torn bytes included, and fails with
    /// ENOSPC, as does every append after it.
    pub fn disk_full_after(&self, bytes: u64) {
        self.faults().disk_left = Some(bytes);
    }

    /// Append calls seen, failed ones included.
    pub fn appends(&self) -> u64 {
        self.appends.load(Ordering::SeqCst)
    }

    /// Sync calls seen, failed ones included.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::SeqCst)
    }

    /// Truncate calls seen, failed ones included. A truncate syncs too (`Storage::truncate`).
    pub fn truncates(&self) -> u64 {
        self.truncates.load(Ordering::SeqCst)
    }

    /// Every call that could change the files: appends, syncs and truncates.
    pub fn writes(&self) -> u64 {
        self.appends() + self.syncs() + self.truncates()
    }

    /// The faults that fired, in order.
    pub fn injected(&self) -> Vec<Injected> {
        self.faults().injected.clone()
    }
}

/// Where the inner store keeps its bytes.
enum Place {
    /// Some store; named in errors. Short writes are whole frames only.
    Named(PathBuf),
    /// A `SegmentStore`'s directory: errors name the active segment file, torn bytes go to it.
    Segments { dir: PathBuf, config: StoreConfig },
}

/// A store that fails when its `FaultPlan` says so and otherwise passes every call to the
/// store it wraps. See the module documentation.
pub struct FaultyStore<S: Storage> {
    inner: S,
    plan: Arc<FaultPlan>,
    place: Place,
    /// Records in the inner store after its last successful sync (or truncate, which syncs).
    synced: u64,
}

impl<S: Storage> FaultyStore<S> {
    /// Wraps `inner`, whose bytes live at `path` (named in the errors injected). Faults are
    /// those of `plan`; a short write leaves whole frames only.
    pub fn new(inner: S, path: &Path, plan: Arc<FaultPlan>) -> FaultyStore<S> {
        let synced = inner.record_count();
        FaultyStore { inner, plan, place: Place::Named(path.to_owned()), synced }
    }

    pub fn plan(&self) -> &Arc<FaultPlan> {
        &self.plan
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The path named in an injected error.
    fn path(&self) -> PathBuf {
        match &self.place {
            Place::Named(path) => path.clone(),
            Place::Segments { dir, .. } => match list_segments(dir) {
                Ok(segments) => segments.last().map_or_else(|| dir.clone(), |(_, path)| path.clone()),
                Err(_) => dir.clone(),
            },
        }
    }

    fn injected(&self, op: &'static str, errno: i32, fault: Injected) -> StoreError {
        self.plan.faults().injected.push(fault);
        StoreError::Io { op, path: self.path(), error: io::Error::from_raw_os_error(errno) }
    }

    /// Writes the first bytes of a frame of `frame_len` bytes where the inner store would
    /// have put that frame, without telling it: the bytes of a short write. Returns how many
    /// it wrote: none when it does not know the inner store's files.
    fn write_torn(&self, torn: &[u8], frame_len: u32) -> Result<usize, StoreError> {
        let Place::Segments { dir, config } = &self.place else {
            return Ok(0);
        };
        let max = config.segment_max_bytes.min(u64::from(u32::MAX));
        let last = list_segments(dir)?.pop();
        let append_at = match &last {
            Some((_, path)) => {
                let len = fs::metadata(path).map_err(io_error("stat", path))?.len();
                // As `SegmentStore::append` decides: a segment that holds a frame is closed
                // when the next one would take it past the limit.
                (len <= SEGMENT_HEADER_BYTES || len + u64::from(frame_len) <= max).then_some((path, len))
            }
            None => None,
        };
        if let Some((path, len)) = append_at {
            let file = OpenOptions::new().write(true).open(path).map_err(io_error("open", path))?;
            file.write_all_at(torn, len).map_err(io_error("write", path))?;
            return Ok(torn.len());
        }
        // The frame would have started a new segment: it was created, then the write tore.
        let base = self.inner.record_count();
        let path = dir.join(format!("{base:020}.seg"));
        let mut bytes = vec![0u8; SEGMENT_HEADER_BYTES as usize];
        bytes[..8].copy_from_slice(&SEGMENT_MAGIC);
        bytes[8..16].copy_from_slice(&base.to_le_bytes());
        bytes.extend_from_slice(torn);
        let file =
            OpenOptions::new().write(true).create_new(true).open(&path).map_err(io_error("create", &path))?;
        file.write_all_at(&bytes, 0).map_err(io_error("write", &path))?;
        Ok(torn.len())
    }
}

fn io_error<'p>(op: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> StoreError + 'p {
    move |error| StoreError::Io { op, path: path.to_owned(), error }
}

impl FaultyStore<SegmentStore> {
    /// Opens (recovering) or creates the segment store in `dir`, as `Log::open_dir` does, and
    /// wraps it: torn bytes of a short write go into its segment files.
    pub fn open_dir(
        dir: &Path,
        config: StoreConfig,
        plan: Arc<FaultPlan>,
    ) -> Result<(FaultyStore<SegmentStore>, OpenReport), StoreError> {
        let (inner, report) = if dir.exists() {
            SegmentStore::open(dir, config.clone())?
        } else {
            (SegmentStore::create(dir, config.clone())?, OpenReport::default())
        };
        let synced = inner.record_count();
        let place = Place::Segments { dir: dir.to_owned(), config };
        Ok((FaultyStore { inner, plan, place, synced }, report))
    }
}

impl<S: Storage> Storage for FaultyStore<S> {
    fn record_count(&self) -> u64 {
        self.inner.record_count()
    }

    fn append(&mut self, frames: &[u8], frame_lens: &[u32]) -> Result<(), StoreError> {
        let call = self.plan.appends.fetch_add(1, Ordering::SeqCst) + 1;
        let mut faults = self.plan.faults();
        if faults.append_fails_at == Some(call) {
            faults.append_fails_at = None;
            drop(faults);
            return Err(self.injected("write", EIO, Injected::AppendFailed { call }));
        }
        let Some(left) = faults.disk_left else {
            drop(faults);
            return self.inner.append(frames, frame_lens);
        };
        if frames.len() as u64 <= left {
            faults.disk_left = Some(left - frames.len() as u64);
            drop(faults);
            return self.inner.append(frames, frame_lens);
        }
        faults.disk_left = Some(0);
        drop(faults);
        let (mut whole_frames, mut bytes) = (0usize, 0usize);
        for &len in frame_lens {
            if (bytes + len as usize) as u64 > left {
                break;
            }
            bytes += len as usize;
            whole_frames += 1;
        }
        if whole_frames > 0 {
            self.inner.append(&frames[..bytes], &frame_lens[..whole_frames])?;
        }
        let room = (left - bytes as u64) as usize;
        let torn_bytes = match room {
            0 => 0,
            _ => self.write_torn(&frames[bytes..bytes + room], frame_lens[whole_frames])?,
        };
        Err(self.injected("write", ENOSPC, Injected::DiskFull { call, whole_frames, torn_bytes }))
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        let call = self.plan.syncs.fetch_add(1, Ordering::SeqCst) + 1;
        let mut faults = self.plan.faults();
        if faults.sync_fails_at == Some(call) {
            faults.sync_fails_at = None;
            let writes_lost = faults.lose_writes_on_failed_sync;
            drop(faults);
            if writes_lost {
                // What a crash would leave: the inner store's own truncate cuts and syncs.
                self.inner.truncate(self.synced)?;
            }
            return Err(self.injected("fdatasync", EIO, Injected::SyncFailed { call, writes_lost }));
        }
        drop(faults);
        self.inner.sync()?;
        self.synced = self.inner.record_count();
        Ok(())
    }

    fn truncate(&mut self, record_count: u64) -> Result<(), StoreError> {
        let call = self.plan.truncates.fetch_add(1, Ordering::SeqCst) + 1;
        let mut faults = self.plan.faults();
        if faults.truncate_fails_at == Some(call) {
            faults.truncate_fails_at = None;
            drop(faults);
            return Err(self.injected("truncate", EIO, Injected::TruncateFailed { call }));
        }
        drop(faults);
        self.inner.truncate(record_count)?;
        self.synced = self.inner.record_count();
        Ok(())
    }

    fn read_frame(&self, seq: Seq, out: &mut Vec<u8>) -> Result<(), StoreError> {
        self.inner.read_frame(seq, out)
    }

    fn scan(
        &self,
        from: Seq,
        visit: &mut dyn FnMut(Seq, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.inner.scan(from, visit)
    }

    fn size_bytes(&self) -> Result<u64, StoreError> {
        self.inner.size_bytes()
    }

    fn damage(&self) -> Option<&Damage> {
        self.inner.damage()
    }

    fn index_entry(&self, seq: Seq) -> Option<(Seq, u64)> {
        self.inner.index_entry(seq)
    }

    fn rebuild_index(
        &mut self,
        visit: &mut dyn FnMut(Seq, &[u8]) -> ControlFlow<()>,
    ) -> Result<IndexRebuild, StoreError> {
        self.inner.rebuild_index(visit)
    }
}
