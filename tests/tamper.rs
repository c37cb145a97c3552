//! Tamper matrix: the real `chl` binary against a ledger whose files were damaged on disk.
//!
//! Damage to the truth (segment files, the signed checkpoint) must be reported by `chl verify`,
//! naming the right seq. Damage to derived data (offset indexes, Merkle tree files, state
//! snapshots, the sled index) does not fail `chl verify`, which names what it finds wrong in the
//! log's own derived files (offset indexes, Merkle tree files) as warnings and reads no snapshot
//! or sled file; and after `chl rebuild` the ledger must work as if nothing had happened: the
//! same export, answers, proofs and checkpoints (docs/architecture.md, "Storage and recovery"
//! and "Invariants").
//!
//! Every case runs on a fresh copy of one base ledger. Random choices come from a seeded
//! generator: the seed is printed, and `CHL_TAMPER_SEED=N` replays a run.
//!
//! Segments are 64 MiB and no flag or environment variable makes them smaller, so the base
//! ledger's log is cut by hand into three segment files at frame boundaries (once inside a
//! batch, once between batches): exactly what a ledger written with small segments holds,
//! since the store starts a new segment between any two frames, inside a batch or not.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

// ---- the base ledger ----------------------------------------------------------------------

/// Where the base ledger's log is cut into segment files: seqs 0..=19 (the cut falls inside
/// the sample's batch of seq 1 to 40), 20..=40, and 41..=52, the active segment.
const SEGMENT_BASES: [u64; 3] = [0, 20, 41];
/// Batches imported after the sample, in records: seq 41 to 45, 46, 47 to 52.
const EXTRA_BATCHES: [usize; 3] = [5, 1, 6];
/// Records of the base ledger.
const RECORDS: u64 = 53;
/// An order of the sample whose verdict rests on several records (the state is needed).
const ORDER: &str = "TB-20130603-0004";

struct Base {
    scratch: tempfile::TempDir,
    dir: PathBuf,
    export: String,
    by_type: Value,
    verdict: String,
    key: String,
    /// `ends_batch` of every record, by seq.
    ends_batch: Vec<bool>,
}

impl Base {
    /// A fresh copy of the base ledger, named after the case.
    fn copy(&self, name: &str) -> PathBuf {
        let copy = self.scratch.path().join(name);
        copy_dir(&self.dir, &copy);
        copy
    }
}

fn party(id: &str) -> String {
    format!(
        r#"{{"type":"party_registered","actor":"platform","data":{{"party":"{id}","legal_name":"Party {id}"}}}}"#
    )
}

/// Imports `lines` as one batch.
fn import_lines(dir: &Path, name: &str, lines: &[String]) -> Run {
    let file = dir.parent().unwrap().join(format!("{name}.jsonl"));
    fs::write(&file, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    chl(dir, &["import", file.to_str().unwrap()])
}

/// The 32-byte header of a segment whose first record is `base`.
fn segment_header(base: u64) -> Vec<u8> {
    let mut header = b"CHLSEGv1".to_vec();
    header.extend_from_slice(&base.to_le_bytes());
    header.extend_from_slice(&[0; 16]);
    header
}

/// Rewrites the one segment file of `dir` as segments starting at `bases` (offset indexes are
/// removed; the next open rebuilds them).
fn split_log(dir: &Path, bases: &[u64]) {
    let path = only_segment(dir);
    let bytes = fs::read(&path).unwrap();
    let frames = frame_ranges(&bytes);
    fs::remove_file(&path).unwrap();
    fs::remove_file(path.with_extension("idx")).unwrap();
    for (i, &base) in bases.iter().enumerate() {
        let end = bases.get(i + 1).map_or(frames.len(), |&b| b as usize);
        let mut out = segment_header(base);
        out.extend_from_slice(&bytes[frames[base as usize].0..frames[end - 1].1]);
        fs::write(dir.join("log").join(format!("{base:020}.seg")), out).unwrap();
    }
}

/// The base seq a segment file is named after.
fn base_of(segment: &Path) -> u64 {
    segment.file_stem().unwrap().to_str().unwrap().parse().unwrap()
}

/// The sample ledger, three more batches, its log in three segments, then `chl rebuild` (so
/// that it has offset indexes for every segment, Merkle tree files, a state snapshot, the sled
/// index and a checkpoint of every record).
fn base_ledger() -> Base {
    let (scratch, dir) = sample_ledger();
    for (n, &size) in EXTRA_BATCHES.iter().enumerate() {
        let lines: Vec<String> = (0..size).map(|i| party(&format!("p-tamper-{n}-{i}"))).collect();
        import_lines(&dir, &format!("extra-{n}"), &lines).ok();
    }
    split_log(&dir, &SEGMENT_BASES);
    chl(&dir, &["rebuild"]).ok();
    let verify = chl(&dir, &["verify"]).ok();
    assert!(verify.stdout.contains(&format!("verified {RECORDS} records")), "{verify:#?}");
    let segments = segment_files(&dir);
    assert_eq!(segments.iter().map(|s| base_of(s)).collect::<Vec<_>>(), SEGMENT_BASES);
    for segment in &segments {
        assert!(segment.with_extension("idx").is_file(), "{} has an offset index", segment.display());
    }
    for level in 3..=5 {
        assert!(dir.join(format!("log/tree/level-{level:02}.hashes")).is_file(), "tree level {level}");
    }
    assert!(dir.join(format!("snapshots/state-{:020}.snap", RECORDS - 1)).is_file(), "a snapshot");
    let export = export(&dir);
    let lines = parse_lines(&export);
    assert_eq!(lines.len() as u64, RECORDS);
    let ends_batch = lines.iter().map(|l| l["ends_batch"].as_bool().unwrap()).collect();
    let status: Value = serde_json::from_str(chl(&dir, &["status", "--json"]).ok().stdout.trim()).unwrap();
    let verdict = chl(&dir, &["check", "--order", ORDER, "--json"]).ok().stdout;
    let key = chl(&dir, &["key"]).ok().stdout.trim().to_owned();
    Base { scratch, dir, export, by_type: status["by_type"].clone(), verdict, key, ends_batch }
}

// ---- seeds --------------------------------------------------------------------------------

/// The seed of this run: `CHL_TAMPER_SEED`, or one drawn from the clock.
fn run_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| match std::env::var("CHL_TAMPER_SEED") {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("CHL_TAMPER_SEED={text:?} is not a u64")),
        Err(_) => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            SplitMix(now.as_nanos() as u64 ^ u64::from(std::process::id())).next_u64()
        }
    })
}

/// A generator for one test, from the run's seed and the test's name; prints the seed.
fn rng_for(test: &str) -> SplitMix {
    let seed = run_seed();
    eprintln!("{test}: CHL_TAMPER_SEED={seed} (set it to replay this run)");
    let salt =
        test.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3));
    SplitMix(seed ^ salt)
}

/// A mask that changes a byte: 1 to 255.
fn mask(rng: &mut SplitMix) -> u8 {
    1 + rng.below(255) as u8
}

fn flip(path: &Path, offset: usize, mask: u8) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset] ^= mask;
    fs::write(path, bytes).unwrap();
}

// ---- checks -------------------------------------------------------------------------------

/// `Ok` if `run` is a failed verification naming `seq` first.
fn names_seq(run: &Run, seq: u64) -> Result<(), String> {
    if run.code == 1 && first_named_seq(&run.stderr) == Some(seq) {
        Ok(())
    } else {
        Err(format!("expected a failure naming seq {seq}: exit {}, stderr {:?}", run.code, run.stderr.trim()))
    }
}

/// `Ok` if `chl verify` passes over `records` records.
fn verifies(dir: &Path, records: u64) -> Result<(), String> {
    let run = chl(dir, &["verify"]);
    if run.code == 0 && run.stdout.contains(&format!("verified {records} records")) {
        Ok(())
    } else {
        Err(format!(
            "verify should pass over {records} records: exit {}, stdout {:?}, stderr {:?}",
            run.code,
            run.stdout.trim(),
            run.stderr.trim()
        ))
    }
}

/// `Ok` if the ledger in `dir` behaves like the base ledger: verify passes; export, counts and
/// a verdict are the same; records `probes` have inclusion proofs that verify against the
/// latest checkpoint; and after one more record is appended, the checkpoint signed over it
/// matches the log.
fn healthy(dir: &Path, base: &Base, probes: &[u64]) -> Result<(), String> {
    verifies(dir, RECORDS)?;
    let run = chl(dir, &["export"]);
    if run.code != 0 || run.stdout != base.export {
        return Err(format!(
            "export differs from the base ledger's: exit {}, stderr {:?}",
            run.code, run.stderr
        ));
    }
    let run = chl(dir, &["status", "--json"]);
    let status: Option<Value> = serde_json::from_str(run.stdout.trim()).ok();
    if run.code != 0 || status.as_ref().map(|s| &s["by_type"]) != Some(&base.by_type) {
        return Err(format!("status differs: exit {}, {:?}, stderr {:?}", run.code, run.stdout, run.stderr));
    }
    let run = chl(dir, &["check", "--order", ORDER, "--json"]);
    if run.code != 0 || run.stdout != base.verdict {
        return Err(format!("the verdict on {ORDER} differs: {run:?}"));
    }
    for &seq in probes {
        let bundle = chl(dir, &["prove", "--seq", &seq.to_string()]);
        if bundle.code != 0 {
            return Err(format!(
                "prove --seq {seq}: exit {}, stderr {:?}",
                bundle.code,
                bundle.stderr.trim()
            ));
        }
        let checked = chl_stdin(dir, &["verify-bundle", "--key", &base.key, "-"], bundle.stdout.as_bytes());
        if checked.code != 0 {
            return Err(format!("the proof of seq {seq} does not verify: {:?}", checked.stderr.trim()));
        }
    }
    let run = import_lines(dir, "one-more", &[party("p-after-damage")]);
    if run.code != 0 {
        return Err(format!("appending after the damage failed: {:?}", run.stderr.trim()));
    }
    verifies(dir, RECORDS + 1).map_err(|e| format!("after one more record: {e}"))
}

/// The seq `chl verify` must name for a byte changed at `offset` of a segment file starting at
/// `base`: the record whose frame holds it, or the segment's first record for its header.
fn seq_at(base: u64, segment: &[u8], offset: usize) -> u64 {
    if offset < SEGMENT_HEADER_BYTES {
        return base;
    }
    let frame = frame_ranges(segment).iter().position(|&(s, e)| s <= offset && offset < e).unwrap();
    base + frame as u64
}

fn report(failures: &[String], cases: usize, what: &str) {
    assert!(
        failures.is_empty(),
        "{} of {cases} {what} were not handled as expected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- (a) single-byte flips ----------------------------------------------------------------

const SEGMENT_FLIPS: usize = 200;

#[test]
fn a_flipped_byte_anywhere_in_any_segment_fails_verify_naming_the_seq_of_its_frame() {
    let mut rng = rng_for("segment flips");
    let base = base_ledger();
    let segments: Vec<(PathBuf, Vec<u8>)> =
        segment_files(&base.dir).into_iter().map(|p| (p.clone(), fs::read(&p).unwrap())).collect();
    let total: usize = segments.iter().map(|(_, b)| b.len()).sum();

    // Every part of every segment at least once: header, then the magic, length, body and
    // hash of a random frame; then offsets drawn over all the bytes of the log.
    let mut cases: Vec<(usize, usize)> = Vec::new();
    for (k, (_, bytes)) in segments.iter().enumerate() {
        let frames = frame_ranges(bytes);
        let (start, end) = frames[rng.below(frames.len() as u64) as usize];
        let body = start + FRAME_HEADER_BYTES..end - FRAME_TRAILER_BYTES;
        cases.push((k, rng.below(SEGMENT_HEADER_BYTES as u64) as usize));
        cases.push((k, start + rng.below(4) as usize));
        cases.push((k, start + 4 + rng.below(4) as usize));
        cases.push((k, body.start + rng.below(body.len() as u64) as usize));
        cases.push((k, end - FRAME_TRAILER_BYTES + rng.below(FRAME_TRAILER_BYTES as u64) as usize));
    }
    while cases.len() < SEGMENT_FLIPS + 5 * segments.len() {
        let mut at = rng.below(total as u64) as usize;
        let mut k = 0;
        while at >= segments[k].1.len() {
            at -= segments[k].1.len();
            k += 1;
        }
        cases.push((k, at));
    }

    let mut failures = Vec::new();
    for (n, &(k, offset)) in cases.iter().enumerate() {
        let (path, bytes) = &segments[k];
        let seq = seq_at(base_of(path), bytes, offset);
        let mask = mask(&mut rng);
        let copy = base.copy(&format!("segment-flip-{n}"));
        flip(&copy.join("log").join(path.file_name().unwrap()), offset, mask);
        if let Err(e) = names_seq(&chl(&copy, &["verify"]), seq) {
            failures
                .push(format!("{} byte {offset} ^ {mask:#04x}: {e}", path.file_name().unwrap().display()));
        }
        fs::remove_dir_all(&copy).unwrap();
    }
    report(&failures, cases.len(), "segment flips");
}

/// Flips in `files` (paths relative to the ledger, and the span of each to flip in): first
/// `fixed` ones (file index, offset, mask), then `count` at random. For each, verify must pass
/// (derived data is not the truth), and after `chl rebuild` the ledger must be `healthy`, with
/// `probes(file, offset)` as the seqs whose proofs to check.
fn derived_flips(
    base: &Base,
    rng: &mut SplitMix,
    what: &str,
    files: &[(PathBuf, usize)],
    fixed: &[(usize, usize, u8)],
    count: usize,
    probes: &dyn Fn(&Path, usize) -> Vec<u64>,
) {
    let mut cases = fixed.to_vec();
    while cases.len() < fixed.len() + count {
        let k = rng.below(files.len() as u64) as usize;
        cases.push((k, rng.below(files[k].1 as u64) as usize, mask(rng)));
    }
    let mut failures = Vec::new();
    for (n, &(k, offset, mask)) in cases.iter().enumerate() {
        let file = &files[k].0;
        let copy = base.copy(&format!("{what}-flip-{n}"));
        flip(&copy.join(file), offset, mask);
        let outcome = verifies(&copy, RECORDS)
            .map_err(|e| format!("before rebuild: {e}"))
            .and_then(|()| {
                let run = chl(&copy, &["rebuild"]);
                if run.code == 0 {
                    Ok(())
                } else {
                    Err(format!("chl rebuild failed: {:?}", run.stderr.trim()))
                }
            })
            .and_then(|()| {
                healthy(&copy, base, &probes(file, offset)).map_err(|e| format!("after rebuild: {e}"))
            });
        if let Err(e) = outcome {
            failures.push(format!("{} byte {offset} ^ {mask:#04x}: {e}", file.display()));
        }
        fs::remove_dir_all(&copy).unwrap();
    }
    report(&failures, cases.len(), &format!("{what} flips"));
}

/// Paths (relative to the ledger) and sizes of the files under `sub`.
fn files_under(root: &Path, sub: &str) -> Vec<(PathBuf, usize)> {
    let mut out = Vec::new();
    let mut stack = vec![root.join(sub)];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let len = fs::metadata(&path).unwrap().len() as usize;
                if len > 0 {
                    out.push((path.strip_prefix(root).unwrap().to_owned(), len));
                }
            }
        }
    }
    out.sort();
    out
}

/// The offset index of segment `base`, relative to the ledger.
fn index_file(base: u64) -> PathBuf {
    PathBuf::from(format!("log/{base:020}.idx"))
}

/// The seqs whose reads go through entry `offset / 4` of the index of segment `base`.
fn index_probes(base: u64, offset: usize) -> Vec<u64> {
    let seq = base + offset as u64 / 4;
    let mut out = vec![seq];
    if seq > base {
        out.insert(0, seq - 1);
    }
    out
}

#[test]
fn flips_in_the_offset_index_of_the_active_segment_are_repaired_on_open() {
    let mut rng = rng_for("active index flips");
    let base = base_ledger();
    let active = *SEGMENT_BASES.last().unwrap();
    let file = index_file(active);
    let len = fs::metadata(base.dir.join(&file)).unwrap().len() as usize;
    assert_eq!(len as u64, (RECORDS - active) * 4);
    derived_flips(&base, &mut rng, "active-index", &[(file, len)], &[], 20, &|_, offset| {
        index_probes(active, offset)
    });
}

#[test]
fn flips_in_the_offset_index_of_a_closed_segment_are_harmless_after_rebuild() {
    let mut rng = rng_for("closed index flips");
    let base = base_ledger();
    let closed = &SEGMENT_BASES[..SEGMENT_BASES.len() - 1];
    let files: Vec<(PathBuf, usize)> = closed
        .iter()
        .map(|&b| (index_file(b), fs::metadata(base.dir.join(index_file(b))).unwrap().len() as usize))
        .collect();
    // The low byte of an entry in the middle of each: the offsets stay in order, so the
    // segment passes the checks of its ends; then random flips.
    let fixed: Vec<(usize, usize, u8)> =
        files.iter().enumerate().map(|(k, (_, len))| (k, len / 8 * 4, 0x01)).collect();
    derived_flips(&base, &mut rng, "closed-index", &files, &fixed, 20, &|file, offset| {
        let name = file.file_stem().unwrap().to_str().unwrap();
        index_probes(name.parse().unwrap(), offset)
    });
}

/// The seqs whose inclusion proofs use the stored subtree holding `offset` of a tree level
/// file: one under the subtree and one under its sibling.
fn tree_probes(file: &Path, offset: usize) -> Vec<u64> {
    let name = file.file_name().unwrap().to_str().unwrap();
    let level: u32 = name.strip_prefix("level-").unwrap()[..2].parse().unwrap();
    let index = (offset / 32) as u64;
    let under = index << level;
    let sibling = ((index ^ 1) << level).min(RECORDS - 1);
    vec![under, sibling]
}

#[test]
fn flips_in_the_merkle_tree_files_are_harmless_after_rebuild() {
    let mut rng = rng_for("tree flips");
    let base = base_ledger();
    let files = files_under(&base.dir, "log/tree");
    assert_eq!(files.len(), 3, "{files:?}");
    derived_flips(&base, &mut rng, "tree", &files, &[], 20, &tree_probes);
}

/// Flips in the log's own derived files are named by `chl verify`, which still passes; the
/// ledger is `healthy` before any rebuild (a read whose index entry is wrong finds its record by
/// scanning the segment; a damaged hash on the tree's right edge is repaired on open, so the
/// next checkpoint matches the log; proofs are checked against the tree head and made again
/// from checked subtrees when they do not verify); and `chl rebuild` leaves nothing to name.
#[test]
fn flips_in_offset_indexes_and_tree_files_are_named_by_verify_and_harmless_before_rebuild() {
    let mut rng = rng_for("derived flips before rebuild");
    let base = base_ledger();
    let index_words = "derived data: the offset index of segment";
    let tree_words = "derived data: the stored Merkle subtree at level";
    let mut files: Vec<(PathBuf, usize, &str)> = SEGMENT_BASES
        .iter()
        .map(|&b| {
            (index_file(b), fs::metadata(base.dir.join(index_file(b))).unwrap().len() as usize, index_words)
        })
        .collect();
    files.extend(files_under(&base.dir, "log/tree").into_iter().map(|(p, len)| (p, len, tree_words)));
    // Every file's last entry (for the tree: the right edge, and the level-3 subtree under it),
    // the middle of each, then random bytes.
    let mut cases: Vec<(usize, usize, u8)> = Vec::new();
    for (k, (path, len, _)) in files.iter().enumerate() {
        let entry = if path.starts_with("log/tree") { 32 } else { 4 };
        cases.push((k, len - entry, 0x80));
        // The low byte: a closed segment's index still passes the checks of its ends.
        cases.push((k, len / 2 / entry * entry, 0x01));
    }
    for _ in 0..10 {
        let k = rng.below(files.len() as u64) as usize;
        cases.push((k, rng.below(files[k].1 as u64) as usize, mask(&mut rng)));
    }
    let mut failures = Vec::new();
    for (n, &(k, offset, mask)) in cases.iter().enumerate() {
        let (file, _, words) = &files[k];
        let copy = base.copy(&format!("derived-named-{n}"));
        flip(&copy.join(file), offset, mask);
        let run = chl(&copy, &["verify"]);
        let probes = if file.starts_with("log/tree") {
            tree_probes(file, offset)
        } else {
            index_probes(file.file_stem().unwrap().to_str().unwrap().parse().unwrap(), offset)
        };
        let outcome = verifies(&copy, RECORDS)
            .and_then(|()| {
                if run.stderr.contains(words) && run.stderr.contains("chl rebuild repairs it") {
                    Ok(())
                } else {
                    Err(format!("verify should say {words:?}: {:?}", run.stderr.trim()))
                }
            })
            .and_then(|()| healthy(&copy, &base, &probes).map_err(|e| format!("before rebuild: {e}")))
            .and_then(|()| match chl(&copy, &["rebuild"]) {
                run if run.code == 0 => Ok(()),
                run => Err(format!("chl rebuild failed: {:?}", run.stderr.trim())),
            })
            .and_then(|()| match chl(&copy, &["verify"]) {
                run if run.code == 0 && !run.stderr.contains("derived data") => Ok(()),
                run => {
                    Err(format!("verify after rebuild: exit {}, stderr {:?}", run.code, run.stderr.trim()))
                }
            });
        if let Err(e) = outcome {
            failures.push(format!("{} byte {offset} ^ {mask:#04x}: {e}", file.display()));
        }
        fs::remove_dir_all(&copy).unwrap();
    }
    report(&failures, cases.len(), "derived flips before rebuild");
}

#[test]
fn flips_in_a_state_snapshot_are_ignored_and_rebuild_replaces_it() {
    let mut rng = rng_for("snapshot flips");
    let base = base_ledger();
    let files = files_under(&base.dir, "snapshots");
    assert_eq!(files.len(), 1, "{files:?}");
    // Before the rebuild too, the state comes from the log, not from the damaged snapshot.
    for n in 0..5 {
        let (file, len) = &files[0];
        let copy = base.copy(&format!("snapshot-read-{n}"));
        let offset = rng.below(*len as u64) as usize;
        flip(&copy.join(file), offset, mask(&mut rng));
        let run = chl(&copy, &["check", "--order", ORDER, "--json"]).ok();
        assert_eq!(run.stdout, base.verdict, "snapshot byte {offset}");
        fs::remove_dir_all(&copy).unwrap();
    }
    derived_flips(&base, &mut rng, "snapshot", &files, &[], 20, &|_, _| vec![RECORDS - 1]);
}

/// The sled files and how much of each to flip in: sled's `db` file is mostly unused zeros
/// past the data it holds.
fn sled_files(root: &Path) -> Vec<(PathBuf, usize)> {
    let files = files_under(root, "index");
    files
        .into_iter()
        .map(|(path, len)| {
            let bytes = fs::read(root.join(&path)).unwrap();
            let used = bytes.iter().rposition(|&b| b != 0).map_or(len, |i| i + 1);
            (path, used)
        })
        .collect()
}

#[test]
fn flips_in_the_sled_index_are_harmless_after_rebuild() {
    let mut rng = rng_for("sled flips");
    let base = base_ledger();
    let files = sled_files(&base.dir);
    assert!(files.iter().any(|(p, _)| p.ends_with("db")), "{files:?}");
    derived_flips(&base, &mut rng, "sled", &files, &[], 20, &|_, _| vec![RECORDS - 1]);
}

// ---- (b) truncation -----------------------------------------------------------------------

/// What `chl verify` must say of a log cut at `cut` bytes of its last segment (seq `active`
/// on): `(seq, words)` it must name and contain.
fn expected_after_cut(base: &Base, active: u64, segment: &[u8], cut: usize) -> (u64, &'static str) {
    let frames = frame_ranges(segment);
    if cut < SEGMENT_HEADER_BYTES {
        return (active, "header");
    }
    match frames.iter().position(|&(s, e)| s < cut && cut < e) {
        Some(j) => (active + j as u64, "incomplete"),
        None => {
            // At a frame boundary: `kept` whole records remain.
            let kept = active + frames.iter().filter(|&&(_, e)| e <= cut).count() as u64;
            if base.ends_batch[kept as usize - 1] {
                (RECORDS - 1, "checkpoint covers")
            } else {
                (kept - 1, "inside a batch")
            }
        }
    }
}

/// Cut offsets of the last segment: its header, every kind of frame boundary, and random ones.
fn cut_offsets(rng: &mut SplitMix, segment: &[u8], base: &Base, active: u64) -> Vec<usize> {
    let frames = frame_ranges(segment);
    let boundary_inside_batch =
        (0..frames.len()).find(|&j| j > 0 && !base.ends_batch[(active as usize) + j - 1]).unwrap();
    let boundary_between_batches =
        (0..frames.len()).find(|&j| j > 0 && base.ends_batch[(active as usize) + j - 1]).unwrap();
    let mut cuts = vec![
        0,
        SEGMENT_HEADER_BYTES,
        frames[boundary_inside_batch].0,
        frames[boundary_between_batches].0,
        segment.len() - 1,
    ];
    while cuts.len() < 24 {
        cuts.push(rng.below(segment.len() as u64) as usize);
    }
    cuts
}

#[test]
fn truncating_the_last_segment_fails_verify_before_and_after_the_next_open() {
    let mut rng = rng_for("truncations");
    let base = base_ledger();
    let last = segment_files(&base.dir).pop().unwrap();
    let active = base_of(&last);
    let segment = fs::read(&last).unwrap();
    let name = last.file_name().unwrap().to_owned();
    let cuts = cut_offsets(&mut rng, &segment, &base, active);

    let mut failures = Vec::new();
    for (n, &cut) in cuts.iter().enumerate() {
        // Every record was acknowledged, and the signed checkpoint covers all 53: whatever the
        // cut removes is lost acknowledged data, which verify must report.
        let (seq, words) = expected_after_cut(&base, active, &segment, cut);
        let copy = base.copy(&format!("cut-{n}"));
        fs::write(copy.join("log").join(&name), &segment[..cut]).unwrap();
        let mut problems = Vec::new();
        let early = chl(&copy, &["verify"]);
        if let Err(e) = names_seq(&early, seq) {
            problems.push(format!("verify before any open: {e}"));
        } else if !early.stderr.contains(words) {
            problems.push(format!("verify before any open should say {words:?}: {:?}", early.stderr.trim()));
        }
        // The next command opens (and recovers) the ledger; whatever it does, the log still
        // lacks records the signed checkpoint covers, and verify still says so.
        let open = chl(&copy, &["status", "--json"]);
        if open.code != 0 {
            problems.push(format!("status after the cut: {open:?}"));
        }
        // Either the open left the damage in place (verify names the same seq), or it dropped
        // records and the checkpoint covers more than the log holds.
        let after = chl(&copy, &["verify"]);
        let same = names_seq(&after, seq).is_ok();
        let short = names_seq(&after, RECORDS - 1).is_ok() && after.stderr.contains("checkpoint covers");
        if !(same || short) {
            problems.push(format!("verify after the open should still fail: {after:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!("cut at {cut} of {} bytes: {}", segment.len(), problems.join("; ")));
        }
        fs::remove_dir_all(&copy).unwrap();
    }
    report(&failures, cuts.len(), "truncations");
}

#[test]
fn a_ledger_cut_below_its_acknowledged_records_refuses_writes_over_them() {
    let mut rng = rng_for("truncations then writes");
    let base = base_ledger();
    let last = segment_files(&base.dir).pop().unwrap();
    let active = base_of(&last);
    let segment = fs::read(&last).unwrap();
    let name = last.file_name().unwrap().to_owned();
    let cuts = cut_offsets(&mut rng, &segment, &base, active);

    let mut failures = Vec::new();
    for (n, &cut) in cuts.iter().enumerate() {
        let copy = base.copy(&format!("cut-then-write-{n}"));
        let path = copy.join("log").join(&name);
        fs::write(&path, &segment[..cut]).unwrap();
        let open = chl(&copy, &["status"]);
        let mut problems = Vec::new();
        // docs/architecture.md: a frame the index knows was durable, so acknowledged; its loss
        // is damage: nothing is cut and the ledger refuses writes, naming the seq.
        if fs::read(&path).ok().as_deref() != Some(&segment[..cut]) {
            problems.push(format!("the open cut the log further: {:?}", open.stderr.trim()));
        }
        if !open.stderr.contains("damaged") {
            problems.push(format!("the open does not report damage: {:?}", open.stderr.trim()));
        }
        // One record, then enough to take the log past the size of the signed checkpoint.
        for size in [1, RECORDS] {
            let lines: Vec<String> = (0..size).map(|i| party(&format!("p-over-{n}-{size}-{i}"))).collect();
            let import = import_lines(&copy, &format!("over-{n}-{size}"), &lines);
            if import.code != 1 {
                problems.push(format!(
                    "an import of {size} records over the lost ones: exit {}, stdout {:?}, stderr {:?}",
                    import.code,
                    import.stdout.trim(),
                    import.stderr.trim().lines().next().unwrap_or("")
                ));
            }
        }
        let after = chl(&copy, &["verify"]);
        if after.code != 1 {
            problems
                .push(format!("verify passes after writes over the lost records: {:?}", after.stdout.trim()));
        }
        if !problems.is_empty() {
            failures.push(format!("cut at {cut}: {}", problems.join("; ")));
        }
        fs::remove_dir_all(&copy).unwrap();
    }
    report(&failures, cuts.len(), "truncations followed by writes");
}

// ---- (c) two records swapped --------------------------------------------------------------

#[test]
fn two_swapped_records_fail_verify_naming_the_first_of_them() {
    let mut rng = rng_for("swaps");
    let base = base_ledger();
    let segments: Vec<(PathBuf, Vec<u8>)> =
        segment_files(&base.dir).into_iter().map(|p| (p.clone(), fs::read(&p).unwrap())).collect();
    // Every frame of the log, with its segment.
    let mut frames: Vec<(usize, Vec<u8>)> = Vec::new();
    for (k, (_, bytes)) in segments.iter().enumerate() {
        frames.extend(frame_ranges(bytes).into_iter().map(|(s, e)| (k, bytes[s..e].to_vec())));
    }
    assert_eq!(frames.len() as u64, RECORDS);
    // Neighbours, neighbours across a segment boundary, far apart, the first and the last.
    let mut pairs = vec![(0, 1), (19, 20), (40, 41), (3, 30), (0, 52), (45, 46)];
    while pairs.len() < 16 {
        let a = rng.below(RECORDS) as usize;
        let b = rng.below(RECORDS) as usize;
        if a != b {
            pairs.push((a.min(b), a.max(b)));
        }
    }
    let mut failures = Vec::new();
    for (n, &(a, b)) in pairs.iter().enumerate() {
        let mut swapped: Vec<(usize, Vec<u8>)> = frames.clone();
        let (fa, fb) = (frames[a].1.clone(), frames[b].1.clone());
        swapped[a].1 = fb;
        swapped[b].1 = fa;
        let copy = base.copy(&format!("swap-{n}"));
        for (k, (path, _)) in segments.iter().enumerate() {
            let mut out = segment_header(base_of(path));
            for (_, frame) in swapped.iter().filter(|(s, _)| *s == k) {
                out.extend_from_slice(frame);
            }
            fs::write(copy.join("log").join(path.file_name().unwrap()), out).unwrap();
        }
        let lens = (frames[a].1.len(), frames[b].1.len());
        if let Err(e) = names_seq(&chl(&copy, &["verify"]), a as u64) {
            failures
                .push(format!("seq {a} and {b} (frames of {} and {} bytes) swapped: {e}", lens.0, lens.1));
        }
        fs::remove_dir_all(&copy).unwrap();
    }
    report(&failures, pairs.len(), "swaps");
}

// ---- (d) derived data deleted -------------------------------------------------------------

/// Removes files and directories (relative to `root`).
fn remove_paths(root: &Path, paths: &[&str]) {
    for p in paths {
        let path = root.join(p);
        if path.is_dir() {
            fs::remove_dir_all(&path).unwrap();
        } else {
            fs::remove_file(&path).unwrap();
        }
    }
}

#[test]
fn deleted_derived_data_is_rebuilt_and_the_ledger_works_as_before() {
    let base = base_ledger();
    let idx: Vec<String> = SEGMENT_BASES.iter().map(|&b| index_file(b).display().to_string()).collect();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("the sled index", vec!["index"]),
        ("the Merkle tree files", vec!["log/tree"]),
        ("the snapshots", vec!["snapshots"]),
        ("every offset index", idx.iter().map(String::as_str).collect()),
        (
            "all derived data",
            [&["index", "log/tree", "snapshots"][..], &idx.iter().map(String::as_str).collect::<Vec<_>>()]
                .concat(),
        ),
    ];
    let mut failures = Vec::new();
    for (n, (what, paths)) in cases.iter().enumerate() {
        let copy = base.copy(&format!("deleted-{n}"));
        remove_paths(&copy, paths);
        // verify reads none of it; status opens the ledger, which recreates what it needs.
        let outcome = verifies(&copy, RECORDS)
            .and_then(|()| {
                let run = chl(&copy, &["status", "--json"]);
                let doc: Option<Value> = serde_json::from_str(run.stdout.trim()).ok();
                match doc {
                    Some(doc) if run.code == 0 && doc["by_type"] == base.by_type => Ok(()),
                    _ => Err(format!("status: {run:?}")),
                }
            })
            .and_then(|()| {
                if copy.join("index").is_dir() {
                    Ok(())
                } else {
                    Err("the open did not recreate DIR/index".into())
                }
            })
            .and_then(|()| {
                healthy(&copy, &base, &[0, 20, 41, RECORDS - 1]).map_err(|e| format!("before rebuild: {e}"))
            });
        if let Err(e) = outcome {
            failures.push(format!("{what} deleted: {e}"));
        }
        fs::remove_dir_all(&copy).unwrap();
        // And the same with chl rebuild first.
        let copy = base.copy(&format!("deleted-rebuilt-{n}"));
        remove_paths(&copy, paths);
        let run = chl(&copy, &["rebuild"]);
        let outcome = if run.code == 0 {
            healthy(&copy, &base, &[0, 20, 41, RECORDS - 1])
        } else {
            Err(format!("rebuild: {run:?}"))
        };
        if let Err(e) = outcome {
            failures.push(format!("{what} deleted, then chl rebuild: {e}"));
        }
        fs::remove_dir_all(&copy).unwrap();
    }
    report(&failures, cases.len() * 2, "deletions");
}

// ---- (e) the checkpoint edited ------------------------------------------------------------

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut acc = [0u8; 3];
        acc[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from_be_bytes([0, acc[0], acc[1], acc[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `text` with one byte of the base64 `field` (a whole line, or the last word of one) changed
/// at decoded byte `at`.
fn edit_base64(text: &str, field: &str, at: usize, mask: u8) -> String {
    let mut bytes = base64_decode(field).unwrap_or_else(|| panic!("not base64: {field}"));
    bytes[at] ^= mask;
    let edited = base64_encode(&bytes);
    assert_eq!(base64_decode(&edited).unwrap(), bytes);
    text.replacen(field, &edited, 1)
}

#[test]
fn an_edited_checkpoint_fails_verify_naming_the_checkpoint() {
    let mut rng = rng_for("checkpoint edits");
    let base = base_ledger();
    let note = fs::read_to_string(base.dir.join("checkpoints/latest")).unwrap();
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(lines[1], RECORDS.to_string(), "{note}");
    let root = lines[2];
    let signature = lines[4].rsplit(' ').next().unwrap();
    assert!(base64_decode(root).is_some_and(|r| r.len() == 32), "{note}");
    let signature_len = base64_decode(signature).unwrap().len();
    assert_eq!(signature_len, 4 + 64, "key hash and Ed25519 signature: {note}");

    // (what, edited note, tree size it claims)
    let mut cases: Vec<(String, String, u64)> = Vec::new();
    for _ in 0..6 {
        let at = rng.below(32) as usize;
        cases.push((format!("root byte {at}"), edit_base64(&note, root, at, mask(&mut rng)), RECORDS));
    }
    for _ in 0..6 {
        let at = 4 + rng.below(64) as usize;
        cases.push((
            format!("signature byte {at}"),
            edit_base64(&note, signature, at, mask(&mut rng)),
            RECORDS,
        ));
    }
    let at = rng.below(4) as usize;
    cases.push((format!("key hash byte {at}"), edit_base64(&note, signature, at, mask(&mut rng)), RECORDS));
    for size in [RECORDS - 1, RECORDS + 1, 1] {
        let edited = note.replacen(&format!("\n{RECORDS}\n"), &format!("\n{size}\n"), 1);
        cases.push((format!("size {RECORDS} -> {size}"), edited, size));
    }
    let origin = lines[0];
    let other = format!("{}x", origin);
    cases.push(("origin".into(), note.replacen(origin, &other, 1), RECORDS));

    let mut failures = Vec::new();
    for (n, (what, edited, size)) in cases.iter().enumerate() {
        assert_ne!(edited, &note, "{what}");
        let copy = base.copy(&format!("checkpoint-{n}"));
        fs::write(copy.join("checkpoints/latest"), edited).unwrap();
        let run = chl(&copy, &["verify"]);
        let outcome = names_seq(&run, size - 1).and_then(|()| {
            if run.stderr.contains("latest checkpoint") {
                Ok(())
            } else {
                Err(format!("stderr should name the latest checkpoint: {:?}", run.stderr.trim()))
            }
        });
        if let Err(e) = outcome {
            failures.push(format!("{what}: {e}"));
        }
        fs::remove_dir_all(&copy).unwrap();
    }
    report(&failures, cases.len(), "checkpoint edits");
}

#[test]
fn a_flipped_byte_anywhere_in_the_checkpoint_fails_verify_naming_the_checkpoint() {
    let mut rng = rng_for("checkpoint flips");
    let base = base_ledger();
    let path = Path::new("checkpoints/latest");
    let len = fs::metadata(base.dir.join(path)).unwrap().len();
    let mut failures = Vec::new();
    let cases = 30;
    for n in 0..cases {
        let offset = rng.below(len) as usize;
        let mask = mask(&mut rng);
        let copy = base.copy(&format!("checkpoint-flip-{n}"));
        flip(&copy.join(path), offset, mask);
        let run = chl(&copy, &["verify"]);
        if run.code != 1 || !run.stderr.contains("checkpoint") {
            failures.push(format!(
                "byte {offset} ^ {mask:#04x}: exit {}, stdout {:?}, stderr {:?}",
                run.code,
                run.stdout.trim(),
                run.stderr.trim()
            ));
        }
        fs::remove_dir_all(&copy).unwrap();
    }
    report(&failures, cases, "checkpoint flips");
}
