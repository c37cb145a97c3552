//! Crash recovery of the segment store, as specifications: what is on disk after a crash,
//! and what opening the log must make of it.

use chl_log::{Log, StoreConfig, verify_log_dir, verify_store};
use chl_model::event::{LedgerCreated, OriginName, PartyRegistered, PublicKey};
use chl_model::{Event, PartyId, Record, Seq, Text};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

fn small_segments() -> StoreConfig {
    StoreConfig { segment_max_bytes: 8 * 1024 }
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

fn append_batch(log: &mut Log, n: u64, close: bool) {
    chl_log::sample::append_batch(log, n, close, event);
}

fn new_log(dir: &Path) -> Log {
    let (mut log, report) = Log::open_dir(dir, small_segments()).unwrap();
    assert_eq!(report, Default::default());
    append_batch(&mut log, 1, true);
    log.commit().unwrap();
    log
}

fn reopen(dir: &Path) -> (Log, chl_log::OpenReport) {
    Log::open_dir(dir, small_segments()).unwrap()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    out.sort();
    out
}

fn flip_byte(path: &Path, at: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at as usize] ^= 0x5a;
    fs::write(path, bytes).unwrap();
}

#[test]
fn records_survive_reopen_across_many_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut log = new_log(&dir);
    for n in [50, 1, 149] {
        append_batch(&mut log, n, true);
        log.commit().unwrap();
    }
    let head = log.head().unwrap();
    drop(log);
    assert!(segments(&dir).len() > 3, "small segments roll over");
    let (log, report) = reopen(&dir);
    assert_eq!(report, Default::default());
    assert_eq!(log.head(), Some(head));
    assert_eq!(log.record_count(), 201);
    for seq in 0..201 {
        let (record, _) = log.read(Seq(seq)).unwrap();
        assert_eq!(record.event, event(seq));
    }
    assert_eq!(verify_store(log.store(), &[], &mut |_| {}).unwrap().records, 201);
    assert_eq!(verify_log_dir(&dir, &[], &mut |_| {}).unwrap().head, Some((head.seq, head.hash)));
}

#[test]
fn a_torn_frame_at_the_tail_is_cut_reported_and_kept_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut log = new_log(&dir);
    append_batch(&mut log, 10, true);
    log.commit().unwrap();
    let head = log.head().unwrap();
    drop(log);
    let last = segments(&dir).pop().unwrap();
    let torn = [0xC3, 0x48, 0x4C, 0x52, 200, 0, 0, 0, 1, 2, 3];
    OpenOptions::new().append(true).open(&last).unwrap().write_all(&torn).unwrap();
    assert!(verify_log_dir(&dir, &[], &mut |_| {}).unwrap_err().what.contains("incomplete"));

    let (log, report) = reopen(&dir);
    let cut = report.torn_tail.expect("torn tail reported");
    assert_eq!(cut.seq, Seq(11));
    assert_eq!(cut.bytes_cut, torn.len() as u64);
    assert_eq!(log.head(), Some(head));
    assert_eq!(fs::read(dir.join("recovered/torn-at-seq-11.bin")).unwrap(), torn);
    assert!(verify_log_dir(&dir, &[], &mut |_| {}).is_ok());
}

#[test]
fn records_of_an_unfinished_batch_are_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut log = new_log(&dir);
    append_batch(&mut log, 5, true);
    log.commit().unwrap();
    let acknowledged = log.head().unwrap();
    // A crash in the middle of a long batch: its first records reached the disk.
    append_batch(&mut log, 300, false);
    log.commit().unwrap();
    drop(log);
    assert!(verify_log_dir(&dir, &[], &mut |_| {}).unwrap_err().what.contains("inside a batch"));

    let (log, report) = reopen(&dir);
    let dropped = report.unfinished_batch.expect("unfinished batch reported");
    assert_eq!((dropped.first_seq, dropped.records_dropped), (Seq(6), 300));
    assert_eq!(log.head(), Some(acknowledged));
    assert!(verify_log_dir(&dir, &[], &mut |_| {}).is_ok());
    assert!(dir.join("recovered/unfinished-batch-from-seq-6.bin").exists());
}

#[test]
fn damage_before_the_tail_blocks_writes_and_names_the_seq() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut log = new_log(&dir);
    append_batch(&mut log, 20, true);
    log.commit().unwrap();
    append_batch(&mut log, 1, true);
    log.commit().unwrap();
    drop(log);
    // Damage one of the records of the last segment, with a whole batch after it.
    let last = segments(&dir).pop().unwrap();
    let base: u64 = last.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    flip_byte(&last, 32 + 40);
    let err = verify_log_dir(&dir, &[], &mut |_| {}).unwrap_err();
    assert_eq!(err.seq, Seq(base));

    let (mut log, report) = reopen(&dir);
    assert_eq!(report.damage.as_ref().map(|d| d.seq), Some(Seq(base)));
    assert!(log.write_block().unwrap().contains(&format!("seq {base}")));
    let before = log.record_count();
    assert_eq!(before, base, "records before the damage stay readable");
    let next = log.next_seq();
    let record = Record {
        seq: next,
        recorded_at: log.clock(),
        prev: log.head_hash(),
        ends_batch: true,
        actor: PartyId::platform(),
        effective_at: log.clock(),
        version: 1,
        event: event(99),
    };
    log.append(&record).unwrap();
    assert!(log.commit().is_err(), "a damaged store refuses to write");
}

#[test]
fn a_lost_or_garbled_offset_index_is_rebuilt_from_the_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut log = new_log(&dir);
    append_batch(&mut log, 120, true);
    log.commit().unwrap();
    let head = log.head().unwrap();
    drop(log);
    let indexes: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .collect();
    fs::remove_file(&indexes[0]).unwrap();
    fs::write(&indexes[1], [0xFFu8; 64]).unwrap();
    let last_index = indexes.iter().max().unwrap();
    fs::write(last_index, [0u8; 12]).unwrap();

    let (log, report) = reopen(&dir);
    assert!(report.rebuilt_indexes >= 2, "{report:?}");
    assert_eq!(log.head(), Some(head));
    for seq in 0..121 {
        assert_eq!(log.read(Seq(seq)).unwrap().0.seq, Seq(seq));
    }
    drop(log);
    let (_, report) = reopen(&dir);
    assert_eq!(report, Default::default(), "the rebuilt indexes were written back");
}

#[test]
fn rolling_back_to_a_mark_leaves_the_files_as_they_were() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut log = new_log(&dir);
    append_batch(&mut log, 30, true);
    log.commit().unwrap();
    let snapshot = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        segments(dir).into_iter().map(|p| (p.clone(), fs::read(&p).unwrap())).collect()
    };
    let before = snapshot(&dir);
    let head = log.head();
    let mark = log.mark();
    // Enough to be flushed into new segment files before the rollback.
    append_batch(&mut log, 40_000, true);
    log.rollback_to(mark).unwrap();
    assert_eq!(log.head(), head);
    assert_eq!(snapshot(&dir), before);
    drop(log);
    let (log, report) = reopen(&dir);
    assert_eq!(report, Default::default());
    assert_eq!(log.head(), head);
}

#[test]
fn a_crash_at_any_byte_of_the_last_batch_leaves_the_acknowledged_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().join("template");
    let mut log = new_log(&template);
    append_batch(&mut log, 7, true);
    log.commit().unwrap();
    let acknowledged = log.head().unwrap();
    let last_before = segments(&template).pop().unwrap();
    let len_before = fs::metadata(&last_before).unwrap().len();
    // A crash before the batch's fdatasync returned also finds the offset index as it was: its
    // entries are written only after the sync.
    let index_path = last_before.with_extension("idx");
    let index_before = fs::read(&index_path).unwrap();
    append_batch(&mut log, 5, true);
    log.commit().unwrap();
    drop(log);
    let len_after = fs::metadata(&last_before).unwrap().len();
    assert!(len_after > len_before, "the last batch sits in the same segment");
    for cut in (len_before + 1..len_after).step_by(7) {
        let dir = tmp.path().join(format!("cut-{cut}"));
        fs::create_dir(&dir).unwrap();
        for entry in fs::read_dir(&template).unwrap().flatten() {
            if entry.path().is_file() {
                fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
            }
        }
        let seg = dir.join(last_before.file_name().unwrap());
        OpenOptions::new().write(true).open(&seg).unwrap().set_len(cut).unwrap();
        fs::write(dir.join(index_path.file_name().unwrap()), &index_before).unwrap();
        let (log, _) = reopen(&dir);
        assert_eq!(log.head(), Some(acknowledged), "cut at byte {cut}");
        assert!(verify_log_dir(&dir, &[], &mut |_| {}).is_ok(), "cut at byte {cut}");
    }
}

#[test]
fn a_durable_frame_that_fails_its_hash_is_damage_and_is_not_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut log = new_log(&dir);
    append_batch(&mut log, 3, true);
    log.commit().unwrap();
    drop(log);
    let last = segments(&dir).pop().unwrap();
    let len = fs::metadata(&last).unwrap().len();
    flip_byte(&last, len - 40);
    let before = fs::read(&last).unwrap();
    let (log, report) = reopen(&dir);
    assert_eq!(report.torn_tail, None);
    assert_eq!(report.damage.map(|d| d.seq), Some(Seq(3)));
    assert_eq!(log.record_count(), 3);
    assert_eq!(fs::read(&last).unwrap(), before, "nothing was cut");
}
