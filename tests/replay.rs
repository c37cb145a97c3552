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

use serde_json::Value;
use std::collections::BTreeSet;
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
    Error { stderr: String, exit: i32 },
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
        if !["args", "expect", "expect_error", "exit", "note"].contains(&key.as_str()) {
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
                "line {line}: give exactly one of \"expect\" (an object) or \"expect_error\" (a non-empty string)"
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

    for q in &questions {
        let mut args: Vec<&str> = q.args.iter().map(String::as_str).collect();
        args.push("--json");
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
