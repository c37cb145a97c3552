//! Replays every scenario of `replay/scenarios/` against the real `chl` binary (replay/README.md
//! describes the format): each folder's `history.jsonl` goes into a fresh ledger, each line of
//! its `questions.jsonl` is asked with `--json`, and the answer must equal the expected JSON
//! document. Every failure of every scenario is collected before the test fails, and the
//! expected documents together must cover every verdict, reason and warning of
//! spec/events.md ("Authenticity check of a sale").
//!
//! A scenario holding a file `KNOWN_BUG` (the explanation) tells of a product bug: its answer
//! mismatches are reported, not failed on. If it answers as expected, the test fails so that
//! the `KNOWN_BUG` file is removed.
//!
//! A question may instead expect a text file (`expect_text`, e.g. a Markdown case report of
//! `chl replay --order`): then it is asked as written, without `--json`, and its stdout must be
//! that file byte for byte (`CHL_BLESS_REPLAY=1` rewrites the files from the answers). A
//! scenario holding `recorded_at.jsonl` runs on a ledger with a historical clock: the history is
//! imported and judged as usual, then its records are given the recording times the file names
//! (the others recorded as they took effect) and the ledger is restored from them, with a fixed
//! signer key, so that recording times, hashes and checkpoints are the same on every run.

use chl_model::{Digest, Event, ExportedRecord, ImportedRecord, Timestamp};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The origin of every scenario ledger.
const ORIGIN: &str = "replay.channel-ledger.example";

/// Everything the authenticity check can answer (spec/events.md).
const VERDICTS: &[&str] = &["authentic", "unverified_source", "unauthorized", "unknown_order"];
const REASONS: &[&str] = &[
    "brand_owner_inactive",
    "store_closed",
    "no_grant",
    "grant_not_yet_valid",
    "grant_expired",
    "grant_revoked",
    "out_of_scope_sku",
    "out_of_scope_channel",
    "out_of_scope_region",
    "chain_broken",
];
const WARNINGS: &[&str] =
    &["price_below_floor", "grant_recorded_after_sale", "revoked_later", "refunded", "disputed"];

/// Files every scenario folder must hold.
const REQUIRED_FILES: &[&str] = &["story.md", "history.jsonl", "questions.jsonl"];

/// The signer key of every ledger restored with a historical clock (`recorded_at.jsonl`): fixed,
/// so that record 0, every hash after it and every checkpoint are the same on every run. A test
/// key, known to all; it signs nothing but these scratch ledgers.
const REPLAY_SIGNER_KEY: &str =
    "PRIVATE+KEY+replay.channel-ledger.example+7b985955+AfxwFkR+UGzPJ0dH65QqH1zk538ahkRAZAmOmYo6w8Tm";

/// Set to 1 to rewrite the files of `expect_text` questions from chl's answers.
fn bless() -> bool {
    std::env::var("CHL_BLESS_REPLAY").is_ok_and(|v| v == "1")
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("replay/scenarios")
}

/// One run of `chl`, with no `CHL_DATA` inherited.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn chl(data: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_chl"))
        .env_remove("CHL_DATA")
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("chl runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn describe(run: &Run) -> String {
    format!("exit {}\n--- stdout\n{}--- stderr\n{}", run.code, run.stdout, run.stderr)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("a JSON value prints")
}

/// The top-level keys whose values differ between two documents (with what each side has).
fn differing_keys(expected: &Value, actual: &Value) -> Vec<String> {
    let (Some(e), Some(a)) = (expected.as_object(), actual.as_object()) else {
        return vec!["the whole document".into()];
    };
    let keys: BTreeSet<&String> = e.keys().chain(a.keys()).collect();
    keys.into_iter()
        .filter(|k| e.get(*k) != a.get(*k))
        .map(|k| {
            let show = |v: Option<&Value>| v.map_or("(absent)".to_owned(), Value::to_string);
            format!("{k} (expected {}, got {})", show(e.get(k)), show(a.get(k)))
        })
        .collect()
}

/// The non-blank lines of a JSONL file, with their 1-based line numbers.
fn jsonl_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l)).collect()
}

/// One line of `questions.jsonl`.
enum Expect {
    Document(Value),
    Error {
        stderr: String,
        exit: i32,
    },
    /// The name of a file in the scenario folder that stdout must equal.
    Text(String),
}

struct Question {
    line: usize,
    args: Vec<String>,
    note: Option<String>,
    expect: Expect,
}

fn parse_question(line: usize, text: &str) -> Result<Question, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("line {line}: not JSON: {e}"))?;
    let object = value.as_object().ok_or_else(|| format!("line {line}: not a JSON object"))?;
    for key in object.keys() {
        if !["args", "expect", "expect_error", "expect_text", "exit", "note"].contains(&key.as_str()) {
            return Err(format!("line {line}: unknown key {key:?}"));
        }
    }
    let args: Vec<String> = object
        .get("args")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect())
        .ok_or_else(|| format!("line {line}: \"args\" must be a non-empty list of strings"))?;
    if args.iter().any(|a| a == "--json" || a == "--data") {
        return Err(format!("line {line}: \"args\" must not hold --json or --data (the runner adds them)"));
    }
    let note = match object.get("note") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(format!("line {line}: \"note\" must be a string")),
    };
    if let Some(file) = object.get("expect_text") {
        let file = file
            .as_str()
            .filter(|f| !f.is_empty() && !f.contains('/') && !f.starts_with('.'))
            .ok_or_else(|| format!("line {line}: \"expect_text\" must name a file in the scenario folder"))?;
        if object.contains_key("expect") || object.contains_key("expect_error") || object.contains_key("exit")
        {
            return Err(format!(
                "line {line}: \"expect_text\" goes without \"expect\", \"expect_error\" and \"exit\""
            ));
        }
        return Ok(Question { line, args, note, expect: Expect::Text(file.to_owned()) });
    }
    let expect = match (object.get("expect"), object.get("expect_error")) {
        (Some(doc), None) => {
            if object.contains_key("exit") {
                return Err(format!("line {line}: \"exit\" goes with \"expect_error\" only"));
            }
            if !doc.is_object() {
                return Err(format!("line {line}: \"expect\" must be a JSON object"));
            }
            Expect::Document(doc.clone())
        }
        (None, Some(Value::String(stderr))) if !stderr.is_empty() => {
            let exit = match object.get("exit") {
                None => 1,
                Some(v) => v
                    .as_i64()
                    .filter(|c| *c != 0)
                    .ok_or_else(|| format!("line {line}: \"exit\" must be a non-zero integer"))?
                    as i32,
            };
            Expect::Error { stderr: stderr.clone(), exit }
        }
        _ => {
            return Err(format!(
                "line {line}: give exactly one of \"expect\" (an object), \"expect_error\" (a non-empty string) or \"expect_text\" (a file name)"
            ));
        }
    };
    Ok(Question { line, args, note, expect })
}

/// What the expected documents of the scenarios name, for the coverage check.
#[derive(Default)]
struct Coverage {
    verdicts: BTreeSet<String>,
    reasons: BTreeSet<String>,
    warnings: BTreeSet<String>,
}

impl Coverage {
    /// Notes what `doc` names; returns the names that are not in the spec's lists.
    fn note(&mut self, doc: &Value) -> Vec<String> {
        let mut unknown = Vec::new();
        if let Some(verdict) = doc.get("verdict").and_then(Value::as_str) {
            if !VERDICTS.contains(&verdict) {
                unknown.push(format!("verdict {verdict:?}"));
            }
            self.verdicts.insert(verdict.to_owned());
        }
        for (key, known, set) in
            [("reasons", REASONS, &mut self.reasons), ("warnings", WARNINGS, &mut self.warnings)]
        {
            for item in doc.get(key).and_then(Value::as_array).into_iter().flatten() {
                let name = item.as_str().unwrap_or_default();
                if !known.contains(&name) {
                    unknown.push(format!("{key} entry {item}"));
                }
                set.insert(name.to_owned());
            }
        }
        unknown
    }

    fn missing(&self) -> Vec<String> {
        let mut missing = Vec::new();
        for (kind, all, seen) in [
            ("verdict", VERDICTS, &self.verdicts),
            ("reason", REASONS, &self.reasons),
            ("warning", WARNINGS, &self.warnings),
        ] {
            missing.extend(all.iter().filter(|n| !seen.contains(**n)).map(|n| format!("{kind} {n}")));
        }
        missing
    }
}

/// What one scenario gave.
#[derive(Default)]
struct Outcome {
    /// Problems of form (missing files, bad lines, a history that does not import): always fatal.
    broken: Vec<String>,
    /// Questions answered otherwise than expected (fatal unless the scenario has `KNOWN_BUG`).
    mismatches: Vec<String>,
    /// The expected documents, for coverage.
    expected: Vec<Value>,
    questions: usize,
}

/// Whether `history` is an export of committed records (its first line has `seq` and `hash`),
/// restored into an empty directory instead of imported after `chl init`.
fn is_export(history: &str) -> bool {
    jsonl_lines(history)
        .first()
        .and_then(|(_, l)| serde_json::from_str::<Value>(l).ok())
        .is_some_and(|v| v.get("seq").is_some() && v.get("hash").is_some())
}

fn record_count(data: &Path) -> Result<u64, String> {
    let run = chl(data, &["status", "--json"]);
    if run.code != 0 {
        return Err(format!("chl status failed:\n{}", describe(&run)));
    }
    serde_json::from_str::<Value>(run.stdout.trim())
        .ok()
        .and_then(|v| v["records"].as_u64())
        .ok_or_else(|| format!("chl status --json gave no record count:\n{}", describe(&run)))
}

/// Where two texts first differ, with a few lines of each around it.
fn text_difference(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let first = (0..e.len().max(a.len())).find(|&i| e.get(i) != a.get(i)).unwrap_or(0);
    let from = first.saturating_sub(2);
    let show = |lines: &[&str]| {
        (from..(first + 3).min(lines.len()))
            .map(|i| format!("  {:>4} | {}", i + 1, lines[i]))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "  first difference at line {} ({} lines expected, {} given)\n--- expected\n{}\n--- actual\n{}",
        first + 1,
        e.len(),
        a.len(),
        show(&e),
        show(&a)
    )
}

/// The recording times `recorded_at.jsonl` gives, by history line: `{"line": N, "recorded_at":
/// "<RFC 3339>", "note"?: "..."}` per line.
fn parse_clock(text: &str, history_lines: u64) -> Result<BTreeMap<u64, Timestamp>, String> {
    let mut given = BTreeMap::new();
    for (number, line) in jsonl_lines(text) {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("line {number}: not JSON: {e}"))?;
        let object = value.as_object().ok_or_else(|| format!("line {number}: not a JSON object"))?;
        if let Some(key) = object.keys().find(|k| !["line", "recorded_at", "note"].contains(&k.as_str())) {
            return Err(format!("line {number}: unknown key {key:?}"));
        }
        let history_line = object
            .get("line")
            .and_then(Value::as_u64)
            .filter(|n| (1..=history_lines).contains(n))
            .ok_or_else(|| {
                format!("line {number}: \"line\" must be a line of history.jsonl (1 to {history_lines})")
            })?;
        let at = object
            .get("recorded_at")
            .and_then(Value::as_str)
            .and_then(|t| Timestamp::parse_rfc3339(t).ok())
            .ok_or_else(|| format!("line {number}: \"recorded_at\" must be an RFC 3339 time"))?;
        if given.insert(history_line, at).is_some() {
            return Err(format!("line {number}: history line {history_line} is given twice"));
        }
    }
    Ok(given)
}

/// Restores into `clocked` the ledger of `data` with a historical clock: history line N (seq N)
/// recorded at the time `clock` gives for it, else when it took effect, but never before the
/// record before it (`recorded_at` never decreases); record 0 recorded with seq 1 and naming the
/// fixed replay key, which is put in place so the restored ledger signs its checkpoints. Every
/// hash is recomputed.
fn with_historical_clock(
    data: &Path,
    clocked: &Path,
    clock: &str,
    history_lines: u64,
) -> Result<PathBuf, String> {
    let given = parse_clock(clock, history_lines)?;
    let key =
        chl_ledger::keys::CheckpointKey::parse_signer_string(REPLAY_SIGNER_KEY).expect("the replay key");
    let export = chl(data, &["export"]);
    if export.code != 0 {
        return Err(format!("chl export failed:\n{}", describe(&export)));
    }
    let mut records = Vec::new();
    for line in export.stdout.lines() {
        let imported =
            ImportedRecord::parse_json(line).map_err(|e| format!("an exported line does not read: {e:?}"))?;
        records.push(imported.record);
    }
    let mut recorded: Vec<Timestamp> = vec![Timestamp::MIN; records.len()];
    for seq in 1..records.len() {
        let floor = if seq == 1 { Timestamp::MIN } else { recorded[seq - 1] };
        let effective = records[seq].effective_at;
        recorded[seq] = match given.get(&(seq as u64)) {
            Some(&at) if at < floor => {
                return Err(format!(
                    "history line {seq} recorded at {at}, before line {} ({floor}): recorded_at never decreases",
                    seq - 1
                ));
            }
            Some(&at) if at.saturating_add_micros(chl_model::MAX_EFFECTIVE_LEAD_MICROS) < effective => {
                return Err(format!(
                    "history line {seq} recorded at {at}, more than 5 minutes before it takes effect ({effective})"
                ));
            }
            Some(&at) => at,
            None => effective.max(floor),
        };
    }
    recorded[0] = recorded.get(1).copied().unwrap_or(records[0].recorded_at);
    let mut out = Vec::new();
    let mut prev = Digest::ZERO;
    for (seq, record) in records.iter_mut().enumerate() {
        record.recorded_at = recorded[seq];
        if let Event::LedgerCreated(created) = &mut record.event {
            record.effective_at = recorded[seq];
            created.public_key = key.public_key();
        }
        record.prev = prev;
        let mut bytes = Vec::new();
        chl_model::codec::encode_record(record, &mut bytes);
        let hash = chl_model::codec::record_hash(&bytes);
        ExportedRecord { record, hash }.write_json(&mut out).expect("an export line is written");
        out.push(b'\n');
        prev = hash;
    }
    let file = clocked.with_extension("jsonl");
    fs::write(&file, out).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let restore = chl(clocked, &["import", file.to_str().expect("a UTF-8 path")]);
    if restore.code != 0 {
        return Err(format!("the re-clocked export does not restore:\n{}", describe(&restore)));
    }
    let keys = clocked.join("keys");
    fs::create_dir_all(&keys).map_err(|e| format!("cannot create {}: {e}", keys.display()))?;
    let key_file = keys.join("checkpoint.key");
    fs::write(&key_file, format!("{REPLAY_SIGNER_KEY}\n"))
        .map_err(|e| format!("cannot write the key: {e}"))?;
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&keys, fs::Permissions::from_mode(0o700)).expect("permissions");
        fs::set_permissions(&key_file, fs::Permissions::from_mode(0o600)).expect("permissions");
    }
    match record_count(clocked) {
        Ok(n) if n == history_lines + 1 => Ok(clocked.to_owned()),
        Ok(n) => Err(format!("the restored ledger holds {n} records, not {}", history_lines + 1)),
        Err(e) => Err(e),
    }
}

fn run_scenario(dir: &Path) -> Outcome {
    let mut outcome = Outcome::default();
    for file in REQUIRED_FILES {
        if !dir.join(file).is_file() {
            outcome.broken.push(format!("missing {file}"));
        }
    }
    if !outcome.broken.is_empty() {
        return outcome;
    }
    if fs::read_to_string(dir.join("story.md")).map_or(true, |s| s.trim().is_empty()) {
        outcome.broken.push("story.md is empty".into());
    }
    let history = fs::read_to_string(dir.join("history.jsonl")).expect("history.jsonl reads");
    let questions_text = fs::read_to_string(dir.join("questions.jsonl")).expect("questions.jsonl reads");
    let mut questions = Vec::new();
    for (line, text) in jsonl_lines(&questions_text) {
        match parse_question(line, text) {
            Ok(q) => questions.push(q),
            Err(e) => outcome.broken.push(format!("questions.jsonl {e}")),
        }
    }
    if questions.is_empty() && outcome.broken.is_empty() {
        outcome.broken.push("questions.jsonl holds no questions".into());
    }
    let history_lines = jsonl_lines(&history).len() as u64;
    if history_lines == 0 {
        outcome.broken.push("history.jsonl is empty".into());
    }
    if let Some(blank) = history.lines().position(|l| l.trim().is_empty()) {
        outcome.broken.push(format!(
            "history.jsonl line {} is blank: chl counts blank lines, so line numbers would stop being seqs",
            blank + 1
        ));
    }
    outcome.questions = questions.len();
    for q in &questions {
        if let Expect::Document(doc) = &q.expect {
            outcome.expected.push(doc.clone());
        }
    }
    if !outcome.broken.is_empty() {
        return outcome;
    }

    let scratch = tempfile::tempdir().expect("a scratch directory");
    let data = scratch.path().join("ledger");
    let history_path = dir.join("history.jsonl");
    let history_arg = history_path.to_str().expect("a UTF-8 path");
    // After `chl init`, line N of the history becomes seq N; a restored export keeps its seqs.
    let expected_records = if is_export(&history) {
        history_lines
    } else {
        let init = chl(&data, &["init", "--origin", ORIGIN]);
        if init.code != 0 {
            outcome.broken.push(format!("chl init failed:\n{}", describe(&init)));
            return outcome;
        }
        history_lines + 1
    };
    let import = chl(&data, &["import", history_arg]);
    if import.code != 0 {
        outcome.broken.push(format!("history.jsonl does not import:\n{}", describe(&import)));
        return outcome;
    }
    match record_count(&data) {
        Ok(n) if n == expected_records => {}
        Ok(n) => outcome.broken.push(format!(
            "the ledger holds {n} records after the import, not {expected_records}: some line was a repeat, \
             so line numbers are not seqs:\n{}",
            import.stdout
        )),
        Err(e) => outcome.broken.push(e),
    }
    if !outcome.broken.is_empty() {
        return outcome;
    }
    // Optional: a historical clock. The ledger just built judged the history; the questions go
    // to one restored from its records with the recording times of `recorded_at.jsonl`.
    let clock_path = dir.join("recorded_at.jsonl");
    let data = if clock_path.is_file() {
        let text = fs::read_to_string(&clock_path).expect("recorded_at.jsonl reads");
        match with_historical_clock(&data, &scratch.path().join("clocked"), &text, history_lines) {
            Ok(clocked) => clocked,
            Err(e) => {
                outcome.broken.push(format!("recorded_at.jsonl: {e}"));
                return outcome;
            }
        }
    } else {
        data
    };

    for q in &questions {
        let mut args: Vec<&str> = q.args.iter().map(String::as_str).collect();
        if !matches!(q.expect, Expect::Text(_)) {
            args.push("--json");
        }
        let run = chl(&data, &args);
        let mut header = format!("question at questions.jsonl line {}: chl {}", q.line, args.join(" "));
        if let Some(note) = &q.note {
            write!(header, "\n  ({note})").unwrap();
        }
        match &q.expect {
            Expect::Document(expected) => {
                let actual =
                    if run.code == 0 { serde_json::from_str::<Value>(run.stdout.trim()).ok() } else { None };
                match actual {
                    Some(actual) if actual == *expected => {}
                    Some(actual) => outcome.mismatches.push(format!(
                        "{header}\n  differs in: {}\n--- expected\n{}\n--- actual\n{}",
                        differing_keys(expected, &actual).join(", "),
                        pretty(expected),
                        pretty(&actual)
                    )),
                    None => outcome.mismatches.push(format!(
                        "{header}\n--- expected\n{}\n--- actual: no JSON document\n{}",
                        pretty(expected),
                        describe(&run)
                    )),
                }
            }
            Expect::Text(file) => {
                let path = dir.join(file);
                let expected = fs::read_to_string(&path).unwrap_or_default();
                if run.code != 0 {
                    outcome
                        .mismatches
                        .push(format!("{header}\n--- expected {file}; actual:\n{}", describe(&run)));
                } else if run.stdout != expected {
                    if bless() {
                        fs::write(&path, &run.stdout).expect("an expected text file is written");
                        eprintln!("replay: blessed {}", path.display());
                    } else {
                        outcome.mismatches.push(format!(
                            "{header}\n  stdout differs from {file} (CHL_BLESS_REPLAY=1 rewrites it):\n{}",
                            text_difference(&expected, &run.stdout)
                        ));
                    }
                }
            }
            Expect::Error { stderr, exit } => {
                if run.code != *exit || !run.stderr.contains(stderr.as_str()) {
                    outcome.mismatches.push(format!(
                        "{header}\n--- expected: exit {exit}, stderr containing {stderr:?}\n--- actual\n{}",
                        describe(&run)
                    ));
                }
            }
        }
    }

    // Optional: submissions the story says the ledger refuses. Each is imported alone; it must
    // be refused with the message given, and nothing appended.
    let refusals_path = dir.join("refusals.jsonl");
    if refusals_path.is_file() {
        let text = fs::read_to_string(&refusals_path).expect("refusals.jsonl reads");
        for (line, entry) in jsonl_lines(&text) {
            let parsed = serde_json::from_str::<Value>(entry).ok();
            let submission = parsed.as_ref().and_then(|v| v.get("submission")).filter(|s| s.is_object());
            let expected = parsed.as_ref().and_then(|v| v.get("expect_error")).and_then(Value::as_str);
            let unknown_key = parsed.as_ref().and_then(Value::as_object).and_then(|o| {
                o.keys().find(|k| !["submission", "expect_error", "note"].contains(&k.as_str())).cloned()
            });
            let (Some(submission), Some(expected), None) = (submission, expected, unknown_key) else {
                outcome.broken.push(format!(
                    "refusals.jsonl line {line}: expected {{\"submission\": {{...}}, \"expect_error\": \"...\", \"note\"?: \"...\"}}"
                ));
                continue;
            };
            let file = scratch.path().join(format!("refusal-{line}.jsonl"));
            fs::write(&file, format!("{submission}\n")).expect("a scratch file");
            let run = chl(&data, &["import", file.to_str().expect("a UTF-8 path")]);
            let after = record_count(&data);
            if run.code != 1
                || !run.stderr.contains(expected)
                || after.as_ref().ok() != Some(&expected_records)
            {
                outcome.mismatches.push(format!(
                    "refusal at refusals.jsonl line {line}: chl import <{submission}>\n--- expected: exit 1, \
                     stderr containing {expected:?}, nothing appended\n--- actual (records after: {after:?})\n{}",
                    describe(&run)
                ));
            }
        }
    }
    outcome
}

#[test]
fn every_scenario_answers_as_the_spec_says() {
    let root = scenarios_dir();
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no scenarios in {}", root.display());

    // Scenarios are independent (a ledger each): run them side by side, report in order.
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = dirs.iter().map(|dir| scope.spawn(move || run_scenario(dir))).collect();
        handles.into_iter().map(|h| h.join().expect("a scenario thread")).collect()
    });

    let mut failures = Vec::new();
    let mut known = Vec::new();
    let mut coverage = Coverage::default();
    let mut questions = 0;
    for (dir, outcome) in dirs.iter().zip(outcomes) {
        let name = dir.file_name().expect("a name").to_string_lossy().into_owned();
        questions += outcome.questions;
        for doc in &outcome.expected {
            for unknown in coverage.note(doc) {
                failures.push(format!(
                    "[{name}] an expected document names {unknown}, which spec/events.md does not"
                ));
            }
        }
        failures.extend(outcome.broken.iter().map(|b| format!("[{name}] {b}")));
        let known_bug = fs::read_to_string(dir.join("KNOWN_BUG")).ok();
        match known_bug {
            Some(why) if outcome.mismatches.is_empty() && outcome.broken.is_empty() => {
                failures.push(format!(
                    "[{name}] is marked KNOWN_BUG but now answers as expected: remove its KNOWN_BUG file\n{}",
                    why.trim()
                ))
            }
            Some(why) => {
                let mut text = format!("[{name}] KNOWN_BUG: {}\n", why.trim());
                for m in &outcome.mismatches {
                    writeln!(text, "{m}").unwrap();
                }
                known.push(text);
            }
            None => failures.extend(outcome.mismatches.iter().map(|m| format!("[{name}] {m}"))),
        }
    }
    let missing = coverage.missing();
    if !missing.is_empty() {
        failures.push(format!(
            "the scenarios' expected documents do not cover: {} (spec/events.md, \"Authenticity check of a sale\")",
            missing.join(", ")
        ));
    }

    eprintln!("replay: {} scenarios, {questions} questions", dirs.len());
    for text in &known {
        eprintln!("\n(known bug, not failing)\n{text}");
    }
    if !failures.is_empty() {
        let mut report = format!("{} replay failure(s):\n", failures.len());
        for f in &failures {
            writeln!(report, "\n{f}").unwrap();
        }
        panic!("{report}");
    }
}
