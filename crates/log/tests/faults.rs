//! Storage faults, as specifications: a failed write, a failed fsync, a full disk. Each must
//! give a clear error, stop every later write until the log is reopened (a failed fsync is
//! never retried), and leave files that a plain reopen recovers with every acknowledged
//! record intact and a chain that verifies.
//!
//! The log runs over `FaultyStore`, which wraps a real `SegmentStore` on a temporary
//! directory: what reached the files is what a process restart would find.
//!
//! What the design guarantees after a fault, stated once: reopened, the log holds exactly the
//! records of the batches acknowledged (committed `Ok`) before the fault, possibly followed
//! by whole batches that reached the files but were never acknowledged (a failed fsync does
//! not undo the writes before it). Never part of a batch: recovery cuts a torn frame and then
//! drops every record after the last one that `ends_batch`.

use chl_log::fault::{FaultPlan, FaultyStore, Injected};
use chl_log::frame::{FRAME_MAGIC, FRAME_OVERHEAD_BYTES};
use chl_log::{Log, LogError, OpenReport, SegmentStore, StoreConfig, StoreError, verify_log_dir};
use chl_model::codec::encode_record;
use chl_model::event::{LedgerCreated, OriginName, PartyRegistered, PublicKey};
use chl_model::{Digest, Event, PartyId, Record, Seq, Text, Timestamp};
use proptest::prelude::*;
use std::fs;
use std::io::ErrorKind;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

type FaultyLog = Log<FaultyStore<SegmentStore>>;

const EIO: i32 = 5;
const SEGMENT_MAX_BYTES: u64 = 8 * 1024;
/// Enough records of `event` for the log to flush its buffer to the store before a commit
/// (it does at 4 MiB).
const RECORDS_PAST_THE_FLUSH: u64 = 40_000;

fn small_segments() -> StoreConfig {
    StoreConfig { segment_max_bytes: SEGMENT_MAX_BYTES }
}

fn event(seq: u64) -> Event {
    if seq == 0 {
        Event::LedgerCreated(LedgerCreated {
            origin: OriginName::parse("test.example/ledger").unwrap(),
            public_key: PublicKey([7; 32]),
        })
    } else {
        Event::PartyRegistered(PartyRegistered {
            party: PartyId::parse(&format!("party-{seq}")).unwrap(),
            legal_name: Text::parse(&format!("Party number {seq} Trading Co., Ltd.")).unwrap(),
            credit_code: None,
        })
    }
}

/// Appends `n` records as one batch (the last ends it when `close` is set), stopping at the
/// first error; returns each record with its hash.
fn append_batch(log: &mut FaultyLog, n: u64, close: bool) -> Result<Vec<(Record, Digest)>, LogError> {
    let effective_at = Timestamp::parse_rfc3339("2013-11-11T00:00:00Z").unwrap();
    let mut out = Vec::new();
    for i in 0..n {
        let seq = log.next_seq();
        let event = event(seq.0);
        let record = Record {
            seq,
            recorded_at: log.clock(),
            prev: log.head_hash(),
            ends_batch: close && i + 1 == n,
            actor: PartyId::platform(),
            effective_at,
            version: event.event_type().current_version(),
            event,
        };
        let hash = log.append(&record)?;
        out.push((record, hash));
    }
    Ok(out)
}

fn hashes(records: &[(Record, Digest)]) -> Vec<Digest> {
    records.iter().map(|(_, hash)| *hash).collect()
}

/// The bytes of a record's frame on disk.
fn frame_len(record: &Record) -> u64 {
    let mut bytes = Vec::new();
    encode_record(record, &mut bytes);
    (bytes.len() + FRAME_OVERHEAD_BYTES) as u64
}

/// A log over a faulty store in `dir` (created if missing), with the tree where
/// `Log::open_dir` keeps it.
fn open_faulty(dir: &Path, plan: &Arc<FaultPlan>) -> (FaultyLog, OpenReport) {
    let (store, report) = FaultyStore::open_dir(dir, small_segments(), plan.clone()).unwrap();
    (Log::open(store, &dir.join("tree")).unwrap(), report)
}

/// A new faulty log holding `batches` acknowledged batches (the founding record first);
/// returns it with the hashes acknowledged.
fn new_log(dir: &Path, plan: &Arc<FaultPlan>, batches: &[u64]) -> (FaultyLog, Vec<Digest>) {
    let (mut log, report) = open_faulty(dir, plan);
    assert_eq!(report, OpenReport::default());
    let mut acknowledged = Vec::new();
    for &n in [1].iter().chain(batches) {
        acknowledged.extend(hashes(&append_batch(&mut log, n, true).unwrap()));
        log.commit().unwrap();
    }
    (log, acknowledged)
}

/// Reopens `dir` as a process restart would: a plain segment store, with recovery.
fn reopen(dir: &Path) -> (Log, OpenReport) {
    Log::open_dir(dir, small_segments()).unwrap()
}

/// Every record's hash, in order.
fn all_hashes<S: chl_log::Storage>(log: &Log<S>) -> Vec<Digest> {
    let mut out = Vec::new();
    log.scan(Seq::ZERO, &mut |_, hash| {
        out.push(hash);
        ControlFlow::Continue(())
    })
    .unwrap();
    out
}

fn assert_verifies(dir: &Path) {
    if let Err(e) = verify_log_dir(dir, &[], &mut |_| {}) {
        panic!("verification failed: {e}");
    }
}

/// The reopened log takes a new batch: the fault left nothing that blocks writes.
fn assert_writable_after_reopen(dir: &Path) {
    let (mut log, _) = reopen(dir);
    assert_eq!(log.write_block(), None);
    chl_log::sample::append_batch(&mut log, 3, true, event);
    log.commit().unwrap();
    drop(log);
    assert_verifies(dir);
}

/// `err` is an injected I/O error of operation `op` on a segment file of `dir`.
fn assert_io_error(err: &LogError, op: &str, dir: &Path) -> i32 {
    let LogError::Store(StoreError::Io { op: failed, path, error }) = err else {
        panic!("expected an I/O error of {op}, got {err:?}");
    };
    assert_eq!(*failed, op, "{err}");
    assert!(path.starts_with(dir) && path.extension().is_some_and(|x| x == "seg"), "{err}");
    let message = err.to_string();
    assert!(message.starts_with(op) && message.contains(&path.display().to_string()), "{message}");
    error.raw_os_error().expect("an OS error")
}

/// `err` says the log refuses writes after a failed `op`.
fn assert_poisoned(err: Result<impl std::fmt::Debug, LogError>, op: &str) {
    match err {
        Err(LogError::Poisoned(why)) => assert_eq!(why, op),
        other => panic!("expected a refusal after a failed {op}, got {other:?}"),
    }
}

/// After a fault: appends and commits are refused with the reason, and none reaches the store.
fn assert_refuses_writes(log: &mut FaultyLog, plan: &FaultPlan, op: &str) {
    let writes = plan.writes();
    let block = log.write_block().expect("the log refuses writes");
    assert!(block.contains(&format!("stopped accepting writes after a failed {op}")), "{block}");
    assert!(block.contains("reopen"), "{block}");
    assert_poisoned(append_batch(log, 1, true), op);
    assert_poisoned(log.commit(), op);
    assert_poisoned(log.commit(), op);
    assert_eq!(plan.writes(), writes, "nothing was written, synced or cut after the fault");
}

#[test]
fn a_failed_write_is_reported_with_its_path_and_no_write_follows_until_reopened() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let plan = FaultPlan::new();
    let (mut log, acknowledged) = new_log(&dir, &plan, &[10, 60]);
    let durable = log.durable_head();
    let files_before = fs::read_dir(&dir).unwrap().count();

    append_batch(&mut log, 5, true).unwrap();
    plan.fail_append(1);
    let syncs = plan.syncs();
    let err = log.commit().unwrap_err();
    assert_eq!(assert_io_error(&err, "write", &dir), EIO);
    assert!(err.to_string().contains("Input/output error"), "{err}");
    assert_eq!(plan.syncs(), syncs, "a batch whose write failed is not synced");
    assert_eq!(log.durable_head(), durable, "nothing more is durable");
    assert_refuses_writes(&mut log, &plan, "write");
    drop(log);
    assert_eq!(fs::read_dir(&dir).unwrap().count(), files_before);

    let (log, report) = reopen(&dir);
    assert_eq!(report, OpenReport::default(), "nothing reached the files: nothing to recover");
    assert_eq!(all_hashes(&log), acknowledged);
    assert_eq!(log.durable_head(), durable);
    drop(log);
    assert_verifies(&dir);
    assert_writable_after_reopen(&dir);
}

#[test]
fn a_write_that_fails_while_a_long_batch_is_buffered_stops_the_batch_and_every_write_after() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let plan = FaultPlan::new();
    let (mut log, acknowledged) = new_log(&dir, &plan, &[20]);
    let head = log.head();
    let mark = log.mark();
    plan.fail_append(1);
    // The log writes its buffer to the store every 4 MiB: that write fails inside `append`.
    let err = append_batch(&mut log, RECORDS_PAST_THE_FLUSH, true).unwrap_err();
    assert_eq!(assert_io_error(&err, "write", &dir), EIO);
    assert_eq!(plan.injected(), [Injected::AppendFailed { call: plan.appends() }]);
    assert_refuses_writes(&mut log, &plan, "write");
    // Nothing reached the store, so the batch can still be taken back in memory, without a
    // write; the log keeps refusing writes.
    let writes = plan.writes();
    log.rollback_to(mark).unwrap();
    assert_eq!(log.head(), head);
    assert_eq!(plan.writes(), writes);
    assert_refuses_writes(&mut log, &plan, "write");
    drop(log);

    let (log, report) = reopen(&dir);
    assert_eq!(report, OpenReport::default());
    assert_eq!(all_hashes(&log), acknowledged);
    drop(log);
    assert_verifies(&dir);
    assert_writable_after_reopen(&dir);
}

#[test]
fn a_failed_fsync_is_never_retried_and_no_write_follows_until_reopened() {
    // Small batches grow the Merkle tree after the sync, large ones during it: both paths.
    for (batch, lose_writes) in [(4, false), (100, false), (4, true), (100, true)] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("log");
        let plan = FaultPlan::new();
        plan.lose_writes_on_failed_sync(lose_writes);
        let (mut log, acknowledged) = new_log(&dir, &plan, &[10, 30]);
        let durable = log.durable_head();
        let mark = log.mark();
        let unacknowledged = hashes(&append_batch(&mut log, batch, true).unwrap());

        plan.fail_sync(1);
        let syncs = plan.syncs();
        let err = log.commit().unwrap_err();
        assert_eq!(assert_io_error(&err, "fdatasync", &dir), EIO);
        assert_eq!(plan.syncs(), syncs + 1, "the sync was attempted once");
        assert_eq!(plan.injected(), [Injected::SyncFailed { call: syncs + 1, writes_lost: lose_writes }]);
        assert_eq!(log.durable_head(), durable, "nothing more is durable");
        assert!(log.tree_head(acknowledged.len() as u64 + 1).is_err(), "no proof past the durable head");
        // The next commit must not call fsync again: on Linux a second fsync can succeed
        // after the kernel dropped the pages the first one failed to write.
        assert_refuses_writes(&mut log, &plan, "fdatasync");
        // Nor may a rollback cut the store (a cut syncs): it stays as the fault left it. What
        // is only in memory can still be taken back; a batch in the store cannot.
        let rolled_back = log.rollback_to(mark);
        if lose_writes {
            rolled_back.expect("the fault took the batch out of the store: only memory to take back");
        } else {
            assert_poisoned(rolled_back, "fdatasync");
        }
        assert_eq!(plan.syncs(), syncs + 1, "the failed fsync was never retried");
        assert_eq!(plan.truncates(), 0);
        drop(log);

        let (log, report) = reopen(&dir);
        let found = all_hashes(&log);
        assert_eq!((report.torn_tail, report.unfinished_batch, report.damage), (None, None, None));
        assert_eq!(found[..acknowledged.len()], acknowledged, "batch of {batch}, lost {lose_writes}");
        // The batch's writes went to the files before the fsync failed: they are still there
        // unless the fault dropped them, and then they are gone entirely.
        let expected_rest: &[Digest] = if lose_writes { &[] } else { &unacknowledged };
        assert_eq!(found[acknowledged.len()..], *expected_rest, "batch of {batch}, lost {lose_writes}");
        drop(log);
        assert_verifies(&dir);
        assert_writable_after_reopen(&dir);
    }
}

#[test]
fn a_full_disk_mid_batch_leaves_a_torn_tail_that_recovery_cuts_and_keeps_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let plan = FaultPlan::new();
    let (mut log, acknowledged) = new_log(&dir, &plan, &[3]);
    let first = acknowledged.len() as u64;
    let batch = append_batch(&mut log, 6, true).unwrap();
    // Room for two frames and 17 bytes of the third: its header and a piece of its body.
    let budget = frame_len(&batch[0].0) + frame_len(&batch[1].0) + 17;
    assert!(budget < SEGMENT_MAX_BYTES / 2, "the batch stays in the active segment");
    plan.disk_full_after(budget);
    let syncs = plan.syncs();

    let err = log.commit().unwrap_err();
    let LogError::Store(StoreError::Io { error, .. }) = &err else { panic!("{err:?}") };
    assert_eq!(error.kind(), ErrorKind::StorageFull);
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert_io_error(&err, "write", &dir);
    assert_eq!(
        plan.injected(),
        [Injected::DiskFull { call: plan.appends(), whole_frames: 2, torn_bytes: 17 }]
    );
    assert_eq!(plan.syncs(), syncs, "a batch that did not fit is not synced");
    assert_refuses_writes(&mut log, &plan, "write");
    drop(log);
    // Read as it is, the log ends in a torn frame: verification says so and changes nothing.
    let found = verify_log_dir(&dir, &[], &mut |_| {}).unwrap_err();
    assert_eq!(found.seq, Seq(first + 2));
    assert!(found.what.contains("incomplete"), "{found}");

    let (log, report) = reopen(&dir);
    let torn = report.torn_tail.expect("the torn frame is reported");
    assert_eq!((torn.seq, torn.bytes_cut), (Seq(first + 2), 17));
    let unfinished = report.unfinished_batch.expect("the two whole frames of the batch are dropped");
    assert_eq!((unfinished.first_seq, unfinished.records_dropped), (Seq(first), 2));
    assert_eq!(all_hashes(&log), acknowledged);
    drop(log);
    let kept = fs::read(dir.join(format!("recovered/torn-at-seq-{}.bin", first + 2))).unwrap();
    assert_eq!(kept.len(), 17);
    assert_eq!(kept[..4], FRAME_MAGIC, "the torn bytes are the start of the frame");
    assert!(dir.join(format!("recovered/unfinished-batch-from-seq-{first}.bin")).exists());
    assert_verifies(&dir);
    assert_writable_after_reopen(&dir);
}

#[test]
fn a_full_disk_as_a_new_segment_starts_leaves_a_segment_that_recovery_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let plan = FaultPlan::new();
    let (mut log, acknowledged) = new_log(&dir, &plan, &[5]);
    let first = acknowledged.len() as u64;
    let segments_before = segment_files(&dir);
    let active = fs::metadata(segments_before.last().unwrap()).unwrap().len();
    let batch = append_batch(&mut log, 80, true).unwrap();
    // The first frame that does not fit in the active segment starts a new one; the disk
    // fills up 5 bytes into it.
    let lens: Vec<u64> = batch.iter().map(|(record, _)| frame_len(record)).collect();
    let (mut fit, mut end) = (0, active);
    while end + lens[fit] <= SEGMENT_MAX_BYTES {
        end += lens[fit];
        fit += 1;
    }
    assert!(fit > 0 && fit < lens.len(), "the batch crosses into a new segment");
    plan.disk_full_after(end - active + 5);

    let err = log.commit().unwrap_err();
    assert_io_error(&err, "write", &dir);
    assert_eq!(
        plan.injected(),
        [Injected::DiskFull { call: plan.appends(), whole_frames: fit, torn_bytes: 5 }]
    );
    assert_refuses_writes(&mut log, &plan, "write");
    drop(log);
    let new_segment = dir.join(format!("{:020}.seg", first + fit as u64));
    assert_eq!(fs::metadata(&new_segment).unwrap().len(), 32 + 5, "a header and 5 torn bytes");
    assert!(verify_log_dir(&dir, &[], &mut |_| {}).is_err());

    let (log, report) = reopen(&dir);
    assert_eq!(report.torn_tail.map(|t| (t.seq, t.bytes_cut)), Some((Seq(first + fit as u64), 5)));
    assert_eq!(
        report.unfinished_batch.map(|u| (u.first_seq, u.records_dropped)),
        Some((Seq(first), fit as u64))
    );
    assert_eq!(all_hashes(&log), acknowledged);
    drop(log);
    assert_eq!(segment_files(&dir), segments_before, "the new segment is gone");
    assert_verifies(&dir);
    assert_writable_after_reopen(&dir);
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    out.sort();
    out
}

#[test]
fn a_batch_rolled_back_before_a_fault_leaves_no_trace_after_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let plan = FaultPlan::new();
    let (mut log, acknowledged) = new_log(&dir, &plan, &[30]);
    let head = log.head();
    // A refused batch long enough to reach the store before it is refused (the ledger never
    // closes a refused batch), then rolled back: the store is cut back to the mark.
    let mark = log.mark();
    append_batch(&mut log, RECORDS_PAST_THE_FLUSH, false).unwrap();
    assert!(log.record_count() > acknowledged.len() as u64, "the refused batch reached the store");
    log.rollback_to(mark).unwrap();
    assert_eq!(plan.truncates(), 1);
    assert_eq!((log.head(), log.record_count()), (head, acknowledged.len() as u64));
    // The next batch fails its fsync.
    let unacknowledged = hashes(&append_batch(&mut log, 7, true).unwrap());
    plan.fail_sync(1);
    assert_io_error(&log.commit().unwrap_err(), "fdatasync", &dir);
    assert_refuses_writes(&mut log, &plan, "fdatasync");
    drop(log);

    let (log, report) = reopen(&dir);
    assert_eq!((report.torn_tail, report.unfinished_batch, report.damage), (None, None, None));
    let found = all_hashes(&log);
    assert_eq!(found[..acknowledged.len()], acknowledged);
    assert_eq!(
        found[acknowledged.len()..],
        unacknowledged,
        "the unsynced batch, whole; nothing of the refused one"
    );
    drop(log);
    assert_verifies(&dir);
}

#[test]
fn a_failed_cut_while_rolling_back_stops_writes_and_recovery_drops_the_refused_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let plan = FaultPlan::new();
    let (mut log, acknowledged) = new_log(&dir, &plan, &[30]);
    let mark = log.mark();
    append_batch(&mut log, RECORDS_PAST_THE_FLUSH, false).unwrap();
    plan.fail_truncate(1);
    let err = log.rollback_to(mark.clone()).unwrap_err();
    assert_eq!(assert_io_error(&err, "truncate", &dir), EIO);
    assert_refuses_writes(&mut log, &plan, "truncate");
    assert_poisoned(log.rollback_to(mark), "truncate");
    drop(log);

    let (log, report) = reopen(&dir);
    let unfinished = report.unfinished_batch.expect("the refused records are an unfinished batch");
    assert_eq!(unfinished.first_seq, Seq(acknowledged.len() as u64));
    assert_eq!(all_hashes(&log), acknowledged);
    drop(log);
    assert_verifies(&dir);
    assert_writable_after_reopen(&dir);
}

#[test]
fn any_store_can_be_wrapped_and_a_short_write_then_leaves_whole_frames_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let plan = FaultPlan::new();
    let (log, acknowledged) = new_log(&dir, &plan, &[4]);
    drop(log);
    let inner = SegmentStore::open(&dir, small_segments()).unwrap().0;
    let store = FaultyStore::new(inner, &dir, plan.clone());
    let mut log = Log::open(store, &dir.join("tree")).unwrap();
    let batch = append_batch(&mut log, 3, true).unwrap();
    plan.disk_full_after(frame_len(&batch[0].0) + 10);
    let err = log.commit().unwrap_err();
    let LogError::Store(StoreError::Io { op: "write", path, error }) = &err else { panic!("{err:?}") };
    assert_eq!((path, error.kind()), (&dir, ErrorKind::StorageFull), "the path given is named");
    assert_eq!(
        plan.injected(),
        [Injected::DiskFull { call: plan.appends(), whole_frames: 1, torn_bytes: 0 }]
    );
    assert_refuses_writes(&mut log, &plan, "write");
    drop(log);

    let (log, report) = reopen(&dir);
    assert_eq!(report.torn_tail, None);
    assert_eq!(report.unfinished_batch.map(|u| u.records_dropped), Some(1));
    assert_eq!(all_hashes(&log), acknowledged);
    drop(log);
    assert_verifies(&dir);
}

/// One step of a schedule.
#[derive(Debug, Clone)]
enum Step {
    /// Append these batches (their sizes) and commit them as one group.
    Commit(Vec<u64>),
    /// Append a batch of this many records, then roll it back (a refused batch).
    Refuse(u64),
    /// Arm a fault for the calls that follow.
    Arm(Fault),
}

#[derive(Debug, Clone)]
enum Fault {
    /// The nth append from now fails.
    Append(u64),
    /// The nth sync from now fails; the writes since the last good sync are lost or kept.
    Sync(u64, bool),
    /// The disk fills up after this many more bytes.
    DiskFull(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop::collection::vec(1u64..6, 1..4).prop_map(Step::Commit),
        1 => (1u64..6).prop_map(Step::Refuse),
        2 => prop_oneof![
            (1u64..3).prop_map(Fault::Append),
            ((1u64..3), any::<bool>()).prop_map(|(n, lose)| Fault::Sync(n, lose)),
            (0u64..4000).prop_map(Fault::DiskFull),
        ]
        .prop_map(Step::Arm),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Over random schedules of group commits, refused batches and faults: from the first
    /// failed call on, every write is refused and none reaches the store; reopened, the log
    /// is exactly the acknowledged records, then perhaps some whole batches of the group
    /// whose commit failed, and it verifies.
    #[test]
    fn after_any_fault_the_reopened_log_is_the_acknowledged_batches_then_whole_batches_at_most(
        steps in prop::collection::vec(step(), 1..12)
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("log");
        let plan = FaultPlan::new();
        let (mut log, mut acknowledged) = new_log(&dir, &plan, &[]);
        // The batches of the group whose commit failed, in order.
        let mut unacknowledged: Vec<Vec<Digest>> = Vec::new();
        let mut failed: Option<&'static str> = None;
        for step in steps {
            if let Some(op) = failed {
                let writes = plan.writes();
                assert_poisoned(append_batch(&mut log, 1, true), op);
                assert_poisoned(log.commit(), op);
                prop_assert_eq!(plan.writes(), writes);
                continue;
            }
            match step {
                Step::Arm(Fault::Append(n)) => plan.fail_append(n),
                Step::Arm(Fault::Sync(n, lose)) => {
                    plan.lose_writes_on_failed_sync(lose);
                    plan.fail_sync(n);
                }
                Step::Arm(Fault::DiskFull(bytes)) => plan.disk_full_after(bytes),
                Step::Refuse(n) => {
                    let (head, count) = (log.head(), log.record_count());
                    let mark = log.mark();
                    append_batch(&mut log, n, false).unwrap();
                    log.rollback_to(mark).unwrap();
                    prop_assert_eq!((log.head(), log.record_count()), (head, count));
                }
                Step::Commit(batches) => {
                    let group: Vec<Vec<Digest>> =
                        batches.iter().map(|&n| hashes(&append_batch(&mut log, n, true).unwrap())).collect();
                    match log.commit() {
                        Ok(head) => {
                            acknowledged.extend(group.into_iter().flatten());
                            prop_assert_eq!(head.map(|h| h.hash), acknowledged.last().copied());
                        }
                        Err(err) => {
                            let LogError::Store(StoreError::Io { op, path, .. }) = &err else {
                                panic!("{err:?}")
                            };
                            prop_assert!(path.starts_with(&dir), "{}", err);
                            failed = Some(if *op == "fdatasync" { "fdatasync" } else { "write" });
                            prop_assert_eq!(plan.injected().len(), 1, "{}", err);
                            unacknowledged = group;
                        }
                    }
                }
            }
        }
        if failed.is_some() {
            prop_assert!(log.write_block().is_some());
        } else {
            prop_assert!(log.write_block().is_none());
        }
        drop(log);

        let (log, _) = reopen(&dir);
        let found = all_hashes(&log);
        drop(log);
        prop_assert!(found.len() >= acknowledged.len(), "{} records, {} acknowledged", found.len(), acknowledged.len());
        prop_assert_eq!(&found[..acknowledged.len()], &acknowledged[..], "every acknowledged record, first");
        let mut rest = &found[acknowledged.len()..];
        for batch in &unacknowledged {
            if rest.is_empty() {
                break;
            }
            prop_assert!(rest.starts_with(batch), "only whole batches of the failed group follow");
            rest = &rest[batch.len()..];
        }
        prop_assert!(rest.is_empty(), "nothing else follows: {} more records", rest.len());
        assert_verifies(&dir);
    }
}
