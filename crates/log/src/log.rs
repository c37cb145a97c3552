//! The hash chain over a store: assigns nothing, checks everything.
//!
//! The caller builds each record with `next_seq()`, `head_hash()` and `clock()`; the log
//! asserts that the record continues the chain, encodes it, frames it and buffers it. Nothing
//! is acknowledged until `commit` has made it durable.

use crate::frame::{FRAME_HEADER_BYTES, FRAME_TRAILER_BYTES, write_frame};
use crate::storage::{Damage, OpenReport, SegmentStore, Storage, StoreConfig, StoreError};
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
}

/// A position in the log (see `Log::mark`).
#[derive(Debug, Clone, Copy)]
pub struct Mark {
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
}

impl Log<SegmentStore> {
    /// Opens (recovering) or creates the segment store in `dir`.
    pub fn open_dir(dir: &Path, config: StoreConfig) -> Result<(Log, OpenReport), LogError> {
        let (store, report) = if dir.exists() {
            SegmentStore::open(dir, config)?
        } else {
            (SegmentStore::create(dir, config)?, OpenReport::default())
        };
        Ok((Log::open(store)?, report))
    }
}

impl<S: Storage> Log<S> {
    pub fn open(store: S) -> Result<Log<S>, LogError> {
        let mut log = Log {
            store,
            head: None,
            durable: None,
            pending_frames: Vec::new(),
            pending_lens: Vec::new(),
            encoded: Vec::new(),
            poisoned: None,
        };
        if let Some(last) = log.store.record_count().checked_sub(1) {
            let (record, hash) = log.read(Seq(last))?;
            log.head = Some(Head { seq: record.seq, hash, recorded_at: record.recorded_at });
        }
        log.durable = log.head;
        Ok(log)
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
        self.pending_lens.push((self.pending_frames.len() - before) as u32);
        self.head = Some(Head { seq: record.seq, hash, recorded_at: record.recorded_at });
        if self.pending_frames.len() >= PENDING_FLUSH_BYTES {
            self.flush()?;
        }
        Ok(hash)
    }

    /// Size of the canonical bytes `record` would have (for limits checked before appending).
    pub fn encoded_len(record: &Record) -> usize {
        let mut buf = Vec::new();
        codec::encode_record(record, &mut buf);
        buf.len()
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
        self.flush()?;
        if let Err(e) = self.store.sync() {
            self.poisoned = Some("fdatasync".into());
            return Err(e.into());
        }
        self.durable = self.head;
        Ok(self.durable)
    }

    /// Where the log stands now, to come back to with `rollback_to`.
    pub fn mark(&self) -> Mark {
        Mark {
            head: self.head,
            pending_bytes: self.pending_frames.len(),
            pending_records: self.pending_lens.len(),
            store_records: self.store.record_count(),
        }
    }

    /// Drops every record appended since `mark`, from memory and, if they reached it, from
    /// the store: a refused batch leaves the log exactly as it was.
    pub fn rollback_to(&mut self, mark: Mark) -> Result<(), LogError> {
        if self.store.record_count() == mark.store_records {
            self.pending_frames.truncate(mark.pending_bytes);
            self.pending_lens.truncate(mark.pending_records);
        } else {
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
