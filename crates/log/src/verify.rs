//! Verification of a whole chain: every record decodes, every hash and link holds, seqs run
//! without gaps, the clock never goes back, record 0 founds the ledger, and the log ends on a
//! whole batch. The same checks serve a live log and an exported file.

use crate::log::split_frame;
use crate::storage::{
    SEGMENT_HEADER_BYTES, SegmentFile, StoreError, Storage, check_segment_header, list_segments, read_frames,
};
use std::fs::File;
use std::path::Path;
use chl_model::codec::{decode_record, encode_record, record_hash};
use chl_model::{Digest, EventType, ImportedRecord, MAX_EFFECTIVE_LEAD_MICROS, Record, Seq, Timestamp};
use std::io::BufRead;
use std::ops::ControlFlow;

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
}

/// Checks records one after another, in seq order.
#[derive(Debug, Default)]
pub struct ChainCheck {
    next_seq: u64,
    prev: Digest,
    last_recorded_at: Option<Timestamp>,
    last_ends_batch: bool,
    record_bytes: u64,
}

impl ChainCheck {
    pub fn new() -> ChainCheck {
        ChainCheck::default()
    }

    /// Checks `record`, whose canonical bytes hash to `hash` and take `bytes` bytes.
    pub fn check(&mut self, record: &Record, hash: Digest, bytes: usize) -> Result<(), ChainError> {
        let seq = Seq(self.next_seq);
        let fail = |what: String| Err(ChainError { seq, what });
        if record.seq != seq {
            return fail(format!("expected seq {seq}, the record says {}", record.seq));
        }
        if record.prev != self.prev {
            return fail(format!("prev {} is not the hash of the record before ({})", record.prev, self.prev));
        }
        if let Some(last) = self.last_recorded_at
            && record.recorded_at < last
        {
            return fail(format!("recorded_at {} is before the previous record's {last}", record.recorded_at));
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
        Ok(())
    }

    pub fn finish(self) -> Result<ChainSummary, ChainError> {
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
        })
    }
}

/// How often progress is reported, in records.
pub const PROGRESS_EVERY: u64 = 65_536;

/// Checks one frame: its stored hash against its bytes, its record's decoding, its place in
/// the chain.
fn check_frame(check: &mut ChainCheck, seq: Seq, frame: &[u8]) -> Result<(), ChainError> {
    let (body, stored) = split_frame(frame);
    if record_hash(body) != stored {
        return Err(ChainError { seq, what: "the record's bytes do not match its stored hash".into() });
    }
    let record = decode_record(body).map_err(|e| ChainError { seq, what: e.to_string() })?;
    check.check(&record, stored, body.len())
}

/// Visits frames with `check_frame`, keeping the first failure.
fn frame_checker<'a>(
    check: &'a mut ChainCheck,
    failure: &'a mut Option<ChainError>,
    progress: &'a mut dyn FnMut(u64),
) -> impl FnMut(Seq, &[u8]) -> ControlFlow<()> + 'a {
    move |seq, frame| {
        if let Err(e) = check_frame(check, seq, frame) {
            *failure = Some(e);
            return ControlFlow::Break(());
        }
        if (seq.0 + 1) % PROGRESS_EVERY == 0 {
            progress(seq.0 + 1);
        }
        ControlFlow::Continue(())
    }
}

fn store_failure(e: StoreError, next_seq: u64) -> ChainError {
    match e {
        StoreError::Damaged(d) => ChainError { seq: d.seq, what: d.what },
        other => ChainError { seq: Seq(next_seq), what: other.to_string() },
    }
}

/// Re-reads a whole open store: every frame's stored hash is recomputed from its bytes, every
/// record decoded and chained. `progress(records_done)` is called now and then.
pub fn verify_store(store: &dyn Storage, progress: &mut dyn FnMut(u64)) -> Result<ChainSummary, ChainError> {
    let mut check = ChainCheck::new();
    let mut failure = None;
    let scanned = store.scan(Seq::ZERO, &mut frame_checker(&mut check, &mut failure, progress));
    if let Some(e) = failure {
        return Err(e);
    }
    scanned.map_err(|e| store_failure(e, check.next_seq))?;
    let summary = check.finish()?;
    if summary.records != store.record_count() {
        return Err(ChainError {
            seq: Seq(summary.records),
            what: format!("the store holds {} records but only {} could be read", store.record_count(), summary.records),
        });
    }
    Ok(summary)
}

/// Verifies the segment files of a log directory as they are on disk, without opening the
/// store: nothing is recovered, cut or rewritten, so a damaged or torn tail is reported, not
/// repaired. This is what `chl verify` runs.
pub fn verify_log_dir(dir: &Path, progress: &mut dyn FnMut(u64)) -> Result<ChainSummary, ChainError> {
    let mut check = ChainCheck::new();
    let mut buf = Vec::new();
    let segments = list_segments(dir).map_err(|e| store_failure(e, 0))?;
    for (base, path) in segments {
        let at = |what: String| ChainError { seq: Seq(check.next_seq), what };
        if base != check.next_seq {
            return Err(at(format!("segment {} starts at seq {base}", path.display())));
        }
        let file = File::open(&path).map_err(|e| at(format!("cannot open {}: {e}", path.display())))?;
        let bytes = file.metadata().map_err(|e| at(format!("cannot stat {}: {e}", path.display())))?.len();
        check_segment_header(&file, &path, base).map_err(at)?;
        let segment = SegmentFile { path: &path, file: &file, bytes };
        let mut failure = None;
        let next = check.next_seq;
        let read = read_frames(
            &segment,
            SEGMENT_HEADER_BYTES,
            Seq(base),
            None,
            &mut buf,
            &mut frame_checker(&mut check, &mut failure, progress),
        );
        if let Some(e) = failure {
            return Err(e);
        }
        read.map_err(|e| store_failure(e, next))?;
    }
    check.finish()
}

/// Verifies an exported file (`chl export` output) with no ledger at hand: each line's
/// canonical bytes are rebuilt from its fields and hashed, and the result must be the hash
/// the line states and the `prev` of the next line.
pub fn verify_export(input: impl BufRead, progress: &mut dyn FnMut(u64)) -> Result<ChainSummary, ChainError> {
    let mut check = ChainCheck::new();
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
        check.check(&imported.record, hash, bytes.len())?;
        if (seq.0 + 1) % PROGRESS_EVERY == 0 {
            progress(seq.0 + 1);
        }
    }
    check.finish()
}
