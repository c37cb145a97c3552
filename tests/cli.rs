//! End-to-end tests of the `chl` command line (spec/cli.md, spec/events.md): the real binary,
//! driven with `--data DIR` on scratch directories.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// ---- helpers specific to these tests ------------------------------------------------------

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch (proleptic Gregorian, UTC).
fn rfc3339(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn party(id: &str) -> String {
    format!(
        r#"{{"type":"party_registered","actor":"platform","data":{{"party":"{id}","legal_name":"Party {id}"}}}}"#
    )
}

fn seq_of(line: &Value) -> u64 {
    line["seq"].as_u64().expect("seq is a number")
}

/// Asserts that `run` is a failed verification naming `seq` first.
fn assert_names_seq(run: &Run, seq: u64, what: &str) {
    assert_eq!(run.code, 1, "{what}: verify should exit 1: {run:#?}");
    assert_eq!(
        first_named_seq(&run.stderr),
        Some(seq),
        "{what}: stderr should name seq {seq} first: {run:#?}"
    );
}

/// Records in a ledger, from `chl status --json`.
fn status_records(dir: &Path) -> (u64, Run) {
    let run = chl(dir, &["status", "--json"]).ok();
    let doc: Value = serde_json::from_str(run.stdout.trim()).expect("status --json is JSON");
    (doc["records"].as_u64().expect("records is a number"), run)
}

// ---- 1. init ------------------------------------------------------------------------------

#[test]
fn init_creates_a_ledger_with_a_private_key_and_record_0() {
    let scratch = tempdir();
    let dir = ledger_in(&scratch);
    let run = chl(&dir, &["init", "--origin", ORIGIN]).ok();

    assert!(run.stdout.contains(ORIGIN), "init names the origin: {run:#?}");
    let record0 = run.stdout.lines().find(|l| l.contains("record 0")).expect("init names record 0");
    let hash = record0.rsplit(' ').next().unwrap();
    assert!(is_hex(hash, 64), "record 0's hash is 64 hex digits: {record0:?}");
    let vkey_line =
        run.stdout.lines().find(|l| l.contains("verifier key")).expect("init names the verifier key");
    let vkey = vkey_line.rsplit(' ').next().unwrap();
    assert!(vkey.starts_with(&format!("{ORIGIN}+")), "verifier key is for the origin: {vkey_line:?}");

    // The private key exists and is readable by its owner only.
    let key = dir.join("keys/checkpoint.key");
    let mode = fs::metadata(&key).expect("keys/checkpoint.key exists").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "checkpoint.key has mode {:o}", mode & 0o777);

    // What init printed is what the ledger holds.
    let lines = parse_lines(&export(&dir));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["seq"], 0);
    assert_eq!(lines[0]["type"], "ledger_created");
    assert_eq!(lines[0]["data"]["origin"], ORIGIN);
    assert_eq!(lines[0]["hash"], hash);
    assert_eq!(lines[0]["prev"], "0".repeat(64));
    assert_eq!(chl(&dir, &["key"]).ok().stdout.trim(), vkey);
    assert!(chl(&dir, &["verify"]).ok().stdout.contains("1 records"));
}

#[test]
fn a_second_init_on_the_same_directory_is_refused_and_changes_nothing() {
    let (_scratch, dir) = sample_ledger();
    let segment = only_segment(&dir);
    let log_before = fs::read(&segment).unwrap();
    let key_before = fs::read(dir.join("keys/checkpoint.key")).unwrap();
    let export_before = export(&dir);

    for args in [&["init", "--origin", ORIGIN][..], &["init", "--origin", "another.example"], &["init"]] {
        let run = chl(&dir, args);
        assert_eq!(run.code, 1, "{args:?}: {run:#?}");
        assert!(run.stderr.contains("already holds a ledger"), "{args:?}: {run:#?}");
        assert_eq!(fs::read(&segment).unwrap(), log_before, "{args:?} changed the log");
        assert_eq!(
            fs::read(dir.join("keys/checkpoint.key")).unwrap(),
            key_before,
            "{args:?} replaced the key"
        );
        assert_eq!(export(&dir), export_before);
    }
}

// ---- 2. import, export, verify ------------------------------------------------------------

#[test]
fn importing_the_sample_appends_40_records_and_export_prints_41_chained_lines() {
    let scratch = tempdir();
    let dir = ledger_in(&scratch);
    init(&dir);
    let sample = sample_lines();
    assert_eq!(sample.len(), 40);

    let run = chl(&dir, &["import", sample_path().to_str().unwrap()]).ok();
    assert!(run.stdout.contains("appended 40 records"), "{run:#?}");
    assert!(run.stdout.contains("seq 1 to 40"), "{run:#?}");

    let text = export(&dir);
    let lines = parse_lines(&text);
    assert_eq!(lines.len(), 41, "export prints 41 lines");
    assert!(text.ends_with('\n'));
    assert_eq!(lines[0]["type"], "ledger_created");
    let mut prev = "0".repeat(64);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(seq_of(line), i as u64, "lines are in seq order");
        assert_eq!(line["prev"], prev.as_str(), "seq {i} links to the line before");
        prev = line["hash"].as_str().unwrap().to_owned();
        assert!(is_hex(&prev, 64));
        if i > 0 {
            let submitted: Value = serde_json::from_str(&sample[i - 1]).unwrap();
            assert_eq!(line["type"], submitted["type"], "seq {i} is sample line {i}");
            assert_eq!(line["actor"], submitted["actor"], "seq {i} is sample line {i}");
        }
    }
    // The import named the new head.
    let head = lines[40]["hash"].as_str().unwrap();
    assert!(run.stdout.contains(&format!("head seq 40, hash {head}")), "{run:#?}");
    // One import is one batch.
    assert!(lines[1..40].iter().all(|l| l["ends_batch"] == false));
    assert_eq!(lines[40]["ends_batch"], true);

    let verify = chl(&dir, &["verify"]).ok();
    assert!(verify.stdout.contains("verified 41 records"), "{verify:#?}");
    assert!(verify.stdout.contains(head), "the summary names the head hash: {verify:#?}");

    // A range of the export.
    let part = chl(&dir, &["export", "--from", "5", "--to", "7"]).ok().stdout;
    let expected: String = text.lines().skip(5).take(3).map(|l| format!("{l}\n")).collect();
    assert_eq!(part, expected);
}

// ---- 3. restore round trip ----------------------------------------------------------------

#[test]
fn an_export_restored_into_an_empty_directory_exports_byte_identically() {
    let (scratch, a) = sample_ledger();
    let export_a = export(&a);
    let file = scratch.path().join("a.jsonl");
    fs::write(&file, &export_a).unwrap();

    let b = scratch.path().join("restored");
    let run = chl(&b, &["import", file.to_str().unwrap()]).ok();
    assert!(run.stdout.contains("restored"), "{run:#?}");
    assert!(run.stdout.contains("appended 41 records"), "{run:#?}");

    assert_eq!(export(&b), export_a, "the restored ledger exports the same bytes");
    assert!(chl(&b, &["verify"]).ok().stdout.contains("verified 41 records"));
    assert_eq!(chl(&b, &["key"]).ok().stdout, chl(&a, &["key"]).ok().stdout);

    // The same export cannot be appended to a ledger that already holds it.
    let again = chl(&a, &["import", file.to_str().unwrap()]);
    assert_eq!(again.code, 1, "{again:#?}");
    assert!(again.stderr.contains("line 1:"), "{again:#?}");
    assert_eq!(export(&a), export_a);
}

#[test]
fn restoring_a_tampered_or_truncated_export_is_refused_and_creates_no_ledger() {
    let (scratch, a) = sample_ledger();
    let export_a = export(&a);

    // Cut inside the import's batch: seq 0 to 20.
    let cut: String = export_a.lines().take(21).map(|l| format!("{l}\n")).collect();
    let cut_file = scratch.path().join("cut.jsonl");
    fs::write(&cut_file, &cut).unwrap();
    let c = scratch.path().join("from-cut");
    let run = chl(&c, &["import", cut_file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("ends_batch"), "{run:#?}");
    assert_eq!(chl(&c, &["status"]).code, 1, "no ledger was left behind in {}", c.display());

    // A changed record (line 11, seq 10).
    let mut lines: Vec<Value> = parse_lines(&export_a);
    lines[10]["actor"] = Value::from("mallory");
    let tampered: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let tampered_file = scratch.path().join("tampered.jsonl");
    fs::write(&tampered_file, tampered).unwrap();
    let d = scratch.path().join("from-tampered");
    let run = chl(&d, &["import", tampered_file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("line 11:") && run.stderr.contains("hash"), "{run:#?}");
    assert_eq!(chl(&d, &["status"]).code, 1, "no ledger was left behind in {}", d.display());
}

// ---- 4. verify --file ---------------------------------------------------------------------

/// Changes one character of a hex string.
fn flip_hex(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let last = chars.last_mut().unwrap();
    *last = if *last == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

/// Moves a `...ffffffZ` time by a few microseconds (changes its last fraction digit).
fn nudge_time(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    assert_eq!(chars[n - 1], 'Z', "time {text}");
    let d = chars[n - 2].to_digit(10).expect("time ends in a digit then Z");
    chars[n - 2] = char::from_digit((d + 5) % 10, 10).unwrap();
    chars.into_iter().collect()
}

/// Changes the first field of `data`: a string gets a character more, a number one more, an
/// object its first field changed.
fn tweak_first(value: &mut Value) {
    match value {
        Value::String(s) => s.push('x'),
        Value::Number(n) => *value = Value::from(n.as_i64().unwrap() + 1),
        Value::Bool(b) => *b = !*b,
        Value::Object(map) => {
            let key = map.keys().next().expect("a non-empty object").clone();
            tweak_first(map.get_mut(&key).unwrap());
        }
        Value::Array(items) => tweak_first(&mut items[0]),
        Value::Null => panic!("null in an export"),
    }
}

/// Another event type, one with the same data fields where there is one.
fn other_type(name: &str) -> &'static str {
    match name {
        "supplier_suspended" => "supplier_expelled",
        "margin_deposited" => "margin_refunded",
        "margin_refunded" => "margin_deposited",
        "party_registered" => "supplier_reinstated",
        _ => "party_registered",
    }
}

const TAMPERED_FIELDS: [&str; 9] =
    ["recorded_at", "actor", "effective_at", "data", "prev", "hash", "type", "ends_batch", "version"];

fn tamper(line: &mut Value, field: &str) {
    match field {
        "recorded_at" | "effective_at" => {
            let t = nudge_time(line[field].as_str().unwrap());
            line[field] = Value::from(t);
        }
        "actor" => {
            let a = format!("{}x", line["actor"].as_str().unwrap());
            line["actor"] = Value::from(a);
        }
        "data" => tweak_first(&mut line["data"]),
        "prev" | "hash" => {
            let h = flip_hex(line[field].as_str().unwrap());
            line[field] = Value::from(h);
        }
        "type" => {
            let t = other_type(line["type"].as_str().unwrap());
            line["type"] = Value::from(t);
        }
        "ends_batch" => {
            let b = line["ends_batch"].as_bool().unwrap();
            line["ends_batch"] = Value::from(!b);
        }
        "version" => {
            let v = line["version"].as_u64().unwrap();
            line["version"] = Value::from(v + 1);
        }
        other => panic!("no tamper for {other}"),
    }
}

#[test]
fn verify_file_accepts_an_untouched_export_and_names_the_seq_of_every_edited_field() {
    let (_scratch, dir) = sample_ledger();
    let text = export(&dir);
    let raw: Vec<&str> = text.lines().collect();
    let parsed = parse_lines(&text);

    let run = verify_file_bytes(text.as_bytes()).ok();
    assert!(run.stdout.contains("verified 41 records"), "{run:#?}");

    // Control: re-serializing every line through serde_json changes nothing that matters.
    let reserialized: String = parsed.iter().map(|l| format!("{l}\n")).collect();
    verify_file_bytes(reserialized.as_bytes()).ok();

    for (i, original) in parsed.iter().enumerate() {
        for field in TAMPERED_FIELDS {
            let mut line = original.clone();
            tamper(&mut line, field);
            assert_ne!(&line, original);
            let edited = line.to_string();
            let file: String = raw
                .iter()
                .enumerate()
                .map(|(j, l)| if j == i { format!("{edited}\n") } else { format!("{l}\n") })
                .collect();
            let run = verify_file_bytes(file.as_bytes());
            assert_names_seq(&run, i as u64, &format!("seq {i}, field {field}"));
        }
    }
}

#[test]
fn verify_file_names_the_seq_where_a_line_was_deleted_swapped_or_repeated() {
    let (_scratch, dir) = sample_ledger();
    let text = export(&dir);
    let lines: Vec<&str> = text.lines().collect();
    let join = |ls: &[&str]| ls.iter().map(|l| format!("{l}\n")).collect::<String>();

    for k in [0usize, 1, 20, 39] {
        let mut ls = lines.clone();
        ls.remove(k);
        assert_names_seq(
            &verify_file_bytes(join(&ls).as_bytes()),
            k as u64,
            &format!("line of seq {k} deleted"),
        );
    }
    // Without its last line the file ends inside the import's batch, at seq 39.
    let ls = &lines[..40];
    assert_names_seq(&verify_file_bytes(join(ls).as_bytes()), 39, "last line deleted");

    for k in [0usize, 1, 19, 39] {
        let mut ls = lines.clone();
        ls.swap(k, k + 1);
        assert_names_seq(
            &verify_file_bytes(join(&ls).as_bytes()),
            k as u64,
            &format!("seq {k} and {} swapped", k + 1),
        );
    }
    for k in [0usize, 12, 40] {
        let mut ls = lines.clone();
        ls.insert(k, lines[k]);
        assert_names_seq(
            &verify_file_bytes(join(&ls).as_bytes()),
            k as u64 + 1,
            &format!("seq {k} repeated"),
        );
    }
}

// ---- 5. refusals --------------------------------------------------------------------------

#[test]
fn a_refused_import_names_the_line_and_field_and_appends_nothing() {
    let (scratch, dir) = sample_ledger();
    let before = export(&dir);
    let future = rfc3339(now_secs() + 10 * 60);
    let grant_window = |from: &str, until: &str| {
        format!(
            r#"{{"type":"grant_issued","actor":"acme","data":{{"grant":"g-new","brand":"acme-beauty","grantor":"acme","grantee":"agent-east","scope":{{}},"channels":["taobao"],"exclusive":false,"sublicensable":false,"valid_from":"{from}","valid_until":"{until}"}}}}"#
        )
    };
    // (bad line, its line number K, what stderr must also name)
    let cases: Vec<(String, usize, Option<&str>)> = vec![
        (r#"{"type":"party_registered","actor":"platform","data":{"party":"p-trunc""#.into(), 2, None),
        (r#"{"type":"party_renamed","actor":"platform","data":{"party":"p-r","legal_name":"R"}}"#.into(), 3, Some("type")),
        (
            r#"{"type":"party_registered","actor":"platform","data":{"party":"p-n","legal_name":"N","nickname":"n"}}"#.into(),
            4,
            Some("data.nickname"),
        ),
        (r#"{"type":"party_registered","actor":"platform","data":{"party":"-p","legal_name":"P"}}"#.into(), 2, Some("data.party")),
        (
            r#"{"type":"party_registered","actor":"platform","data":{"party":"p has space","legal_name":"P"}}"#.into(),
            5,
            Some("data.party"),
        ),
        (
            r#"{"type":"party_registered","actor":"platform","data":{"party":"p-cc","legal_name":"C","credit_code":"91310106MA1FY10008"}}"#.into(),
            3,
            Some("data.credit_code"),
        ),
        (grant_window("2015-03-01T00:00:00+08:00", "2015-02-01T00:00:00+08:00"), 2, Some("data.valid_until")),
        (grant_window("2015-03-01T00:00:00+08:00", "2015-03-01T00:00:00+08:00"), 4, Some("data.valid_until")),
        (
            r#"{"type":"channel_host_appointed","actor":"acme","data":{"brand":"acme-beauty","host":"tp-hosting","powers":["grants"],"valid_from":"2014-02-01T00:00:00Z","valid_until":"2014-01-31T00:00:00Z"}}"#.into(),
            3,
            Some("data.valid_until"),
        ),
        (
            format!(r#"{{"type":"party_registered","actor":"platform","effective_at":"{future}","data":{{"party":"p-f","legal_name":"F"}}}}"#),
            2,
            Some("effective_at"),
        ),
        (
            r#"{"type":"ledger_created","actor":"platform","data":{"origin":"evil.example","public_key":"ukxaG1qSL2EguzjUleORsQmb4UFiIKkHMeRFC77AJwc="}}"#.into(),
            4,
            Some("type"),
        ),
        (r#"{"type":"party_registered","actor":"bad actor","data":{"party":"p-a","legal_name":"A"}}"#.into(), 2, Some("actor")),
        (r#"{"type":"party_registered","actor":"platform","data":{"party":"p-m"}}"#.into(), 3, Some("legal_name")),
        (
            r#"{"type":"margin_deposited","actor":"platform","data":{"supplier":"acme","amount":{"value":0,"currency":"CNY"}}}"#.into(),
            2,
            Some("data.amount"),
        ),
        (
            r#"{"type":"grant_issued","actor":"acme","data":{"grant":"g-c","brand":"acme-beauty","grantor":"acme","grantee":"agent-east","scope":{},"channels":[],"exclusive":false,"sublicensable":false,"valid_from":"2015-03-01T00:00:00Z","valid_until":"2016-03-01T00:00:00Z"}}"#.into(),
            3,
            Some("data.channels"),
        ),
    ];

    let mut accepted = Vec::new();
    for (n, (bad, k, field)) in cases.iter().enumerate() {
        let mut lines: Vec<String> = (1..*k).map(|j| party(&format!("p-{n}-{j}"))).collect();
        lines.push(bad.clone());
        lines.extend((*k + 1..*k + 3).map(|j| party(&format!("p-{n}-{j}"))));
        accepted.extend(lines.iter().filter(|l| *l != bad).cloned());
        let file = scratch.path().join(format!("refused-{n}.jsonl"));
        fs::write(&file, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();

        let run = chl(&dir, &["import", file.to_str().unwrap()]);
        assert_eq!(run.code, 1, "case {n} ({bad}): {run:#?}");
        assert!(run.stderr.contains(&format!("line {k}:")), "case {n}: stderr names line {k}: {run:#?}");
        if let Some(field) = field {
            assert!(run.stderr.contains(field), "case {n}: stderr names {field}: {run:#?}");
        }
        assert_eq!(run.stderr.lines().count(), 1, "case {n}: one sentence: {run:#?}");
        assert_eq!(export(&dir), before, "case {n}: nothing was appended");
    }

    // A blank line counts as a line; a line that is not UTF-8 is refused as such.
    let mut bytes = format!("{}\n\n", party("p-blank-1")).into_bytes();
    bytes.extend_from_slice(b"{\"type\":\"party_registered\",\"actor\":\"platform\",\"data\":{\"party\":\"p-u\",\"legal_name\":\"U\xff\"}}\n");
    bytes.extend_from_slice(format!("{}\n", party("p-blank-2")).as_bytes());
    let file = scratch.path().join("not-utf8.jsonl");
    fs::write(&file, bytes).unwrap();
    let run = chl(&dir, &["import", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("line 3:") && run.stderr.contains("UTF-8"), "{run:#?}");
    assert_eq!(export(&dir), before);

    // The same lines without the bad ones are accepted: each refusal was the bad line's.
    let file = scratch.path().join("accepted.jsonl");
    fs::write(&file, accepted.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let run = chl(&dir, &["import", file.to_str().unwrap()]).ok();
    assert!(run.stdout.contains(&format!("appended {} records", accepted.len())), "{run:#?}");
}

#[test]
fn effective_at_up_to_5_minutes_ahead_is_accepted_and_further_ahead_is_refused() {
    let (scratch, dir) = sample_ledger();
    let near = rfc3339(now_secs() + 60);
    let line = format!(
        r#"{{"type":"party_registered","actor":"platform","effective_at":"{near}","data":{{"party":"p-near","legal_name":"Near"}}}}"#
    );
    let file = scratch.path().join("near.jsonl");
    fs::write(&file, format!("{line}\n")).unwrap();
    chl(&dir, &["import", file.to_str().unwrap()]).ok();

    let before = export(&dir);
    let far = rfc3339(now_secs() + 6 * 60);
    let line = format!(
        r#"{{"type":"party_registered","actor":"platform","effective_at":"{far}","data":{{"party":"p-far","legal_name":"Far"}}}}"#
    );
    fs::write(&file, format!("{line}\n")).unwrap();
    let run = chl(&dir, &["import", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("line 1:") && run.stderr.contains("effective_at"), "{run:#?}");
    assert_eq!(export(&dir), before);
}

#[test]
fn bad_usage_exits_2_and_a_refused_operation_exits_1() {
    let (scratch, dir) = sample_ledger();
    let before = export(&dir);
    for args in [
        &["frobnicate"][..],
        &["verify", "--frob"],
        &["import"],
        &["export", "--from", "not-a-number"],
        &["status", "--json", "extra"],
        &["init", "--origin"],
    ] {
        let run = chl(&dir, args);
        assert_eq!(run.code, 2, "{args:?}: {run:#?}");
        assert!(!run.stderr.is_empty(), "{args:?} says what is wrong");
    }
    assert_eq!(chl_bare(&[]).code, 2, "no command at all is bad usage");

    let missing = scratch.path().join("no-such-file.jsonl");
    let run = chl(&dir, &["import", missing.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("no-such-file.jsonl"), "{run:#?}");

    let nowhere = scratch.path().join("no-ledger-here");
    for args in [&["export"][..], &["verify"], &["key"], &["status"]] {
        let run = chl(&nowhere, args);
        assert_eq!(run.code, 1, "{args:?}: {run:#?}");
        assert!(run.stderr.contains("holds no ledger"), "{args:?}: {run:#?}");
    }
    assert_eq!(export(&dir), before);
}

#[test]
fn importing_submissions_into_a_directory_without_a_ledger_says_to_run_init() {
    let scratch = tempdir();
    let dir = ledger_in(&scratch);
    let run = chl(&dir, &["import", sample_path().to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(chl(&dir, &["status"]).code, 1, "no ledger was created");
    assert!(run.stderr.contains("holds no ledger") && run.stderr.contains("chl init"), "{run:#?}");
}

// ---- 6. tamper: flipped bytes in the segment file -----------------------------------------

/// Positions to flip across a segment file, each with the seq whose frame holds it (the
/// segment header counts as the segment's first record, seq 0). Deterministic.
fn flip_positions(segment: &[u8]) -> Vec<(usize, u64)> {
    let frames = frame_ranges(segment);
    let last = frames.len() - 1;
    // Header: magic, base seq, and one of the reserved bytes (written as zero; chl verify
    // reads the segment file as it lies on disk, header included).
    let mut out: Vec<(usize, u64)> = [0, 3, 7, 8, 12, 20].iter().map(|&p| (p, 0)).collect();
    for seq in [0, 1, 17, last - 1, last] {
        let (start, end) = frames[seq];
        let body_start = start + FRAME_HEADER_BYTES;
        let body_end = end - FRAME_TRAILER_BYTES;
        for p in [
            start,                       // magic
            start + 3,                   // magic
            start + 4,                   // length, low byte
            start + 7,                   // length, high byte
            body_start,                  // format byte
            body_start + 1,              // prev
            (body_start + body_end) / 2, // middle of the body
            body_end - 1,                // last body byte
            body_end,                    // hash trailer, first byte
            end - 1,                     // hash trailer, last byte
        ] {
            out.push((p, seq as u64));
        }
    }
    let mut rng = SplitMix(0xC41_1ED6E5);
    while out.len() < 60 {
        let p = SEGMENT_HEADER_BYTES + rng.below((segment.len() - SEGMENT_HEADER_BYTES) as u64) as usize;
        let seq = frames.iter().position(|&(s, e)| s <= p && p < e).unwrap();
        out.push((p, seq as u64));
    }
    out
}

const FLIP_MASKS: [u8; 4] = [0x01, 0x80, 0xFF, 0x24];

#[test]
fn a_flipped_byte_anywhere_in_the_log_fails_verify_naming_the_seq_of_its_frame() {
    let (scratch, dir) = sample_ledger();
    let segment_path = only_segment(&dir);
    let segment = fs::read(&segment_path).unwrap();
    let name = segment_path.file_name().unwrap().to_owned();
    let positions = flip_positions(&segment);
    assert_eq!(positions.len(), 60);
    assert!(positions.iter().any(|&(_, seq)| seq == 40), "the last frame is covered");

    let mut failures = Vec::new();
    for (n, &(pos, seq)) in positions.iter().enumerate() {
        let copy = scratch.path().join(format!("flip-{n}"));
        copy_dir(&dir, &copy);
        let mut bytes = segment.clone();
        let mask = FLIP_MASKS[n % FLIP_MASKS.len()];
        bytes[pos] ^= mask;
        fs::write(copy.join("log").join(&name), &bytes).unwrap();

        let run = chl(&copy, &["verify"]);
        if run.code != 1 || first_named_seq(&run.stderr) != Some(seq) {
            failures.push(format!(
                "byte {pos} ^ {mask:#04x} (frame of seq {seq}): exit {}, stdout {:?}, stderr {:?}",
                run.code,
                run.stdout.trim(),
                run.stderr.trim()
            ));
        }
        fs::remove_dir_all(&copy).unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} of 60 flips were not reported as expected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn opening_a_ledger_whose_last_frame_is_flipped_never_shortens_it_silently() {
    let (_scratch, dir) = sample_ledger();
    let segment_path = only_segment(&dir);
    let mut bytes = fs::read(&segment_path).unwrap();
    let (start, end) = *frame_ranges(&bytes).last().unwrap();
    bytes[(start + end) / 2] ^= 0x01;
    fs::write(&segment_path, &bytes).unwrap();

    // chl verify, run first, reports the damage (spec/cli.md: exit 1 naming the first bad seq).
    assert_names_seq(&chl(&dir, &["verify"]), 40, "flip in the last frame");

    // Another command opens the ledger. The offset index shows the frame was durable (so
    // acknowledged): it is damage, not a torn write. Nothing is cut; the ledger opens
    // read-only below the damage and says so.
    let (records, run) = status_records(&dir);
    assert_eq!(records, 40, "records before the damage stay readable: {run:#?}");
    assert!(run.stderr.contains("damaged at seq 40"), "the operator is told: {run:#?}");
    assert_eq!(fs::read(&segment_path).unwrap(), bytes, "nothing was cut");
    let import = chl(&dir, &["import", "-"]);
    assert_eq!(import.code, 1, "writes are refused: {import:#?}");
}

/// A copy of the sample ledger with one byte flipped in the middle of the body of `seq`'s
/// frame; returns the copy and its segment bytes after the flip.
fn damaged_copy(dir: &Path, scratch: &Path, seq: usize) -> (std::path::PathBuf, Vec<u8>) {
    let copy = scratch.join(format!("damaged-at-{seq}"));
    copy_dir(dir, &copy);
    let path = only_segment(&copy);
    let mut bytes = fs::read(&path).unwrap();
    let (start, end) = frame_ranges(&bytes)[seq];
    bytes[(start + FRAME_HEADER_BYTES + end - FRAME_TRAILER_BYTES) / 2] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    (copy, bytes)
}

#[test]
fn commands_on_a_ledger_damaged_before_its_tail_name_the_damaged_seq_and_change_nothing() {
    let (scratch, dir) = sample_ledger();
    let file = scratch.path().join("one.jsonl");
    fs::write(&file, format!("{}\n", party("p-on-damaged"))).unwrap();
    for seq in [2usize, 20] {
        let (copy, damaged) = damaged_copy(&dir, scratch.path(), seq);
        for args in [&["status"][..], &["export"], &["key"], &["import", file.to_str().unwrap()]] {
            let run = chl(&copy, args);
            if run.code != 0 {
                assert_eq!(run.code, 1, "{args:?}: {run:#?}");
                assert_eq!(
                    first_named_seq(&run.stderr),
                    Some(seq as u64),
                    "{args:?} names the damaged seq: {run:#?}"
                );
            }
            if args[0] == "import" {
                assert_eq!(run.code, 1, "a damaged ledger refuses writes: {run:#?}");
            }
            assert_eq!(fs::read(only_segment(&copy)).unwrap(), damaged, "{args:?} changed the damaged log");
        }
        assert_names_seq(&chl(&copy, &["verify"]), seq as u64, "verify of the damaged ledger");
    }
}

#[test]
fn a_ledger_damaged_before_its_tail_opens_read_only_and_warns() {
    let (scratch, dir) = sample_ledger();
    let (copy, _) = damaged_copy(&dir, scratch.path(), 2);
    let run = chl(&copy, &["status"]);
    assert_eq!(run.code, 0, "status opens a damaged ledger read-only: {run:#?}");
    assert!(run.stderr.contains("damaged") && first_named_seq(&run.stderr) == Some(2), "{run:#?}");
}

// ---- 7. torn tail -------------------------------------------------------------------------

/// The frames that appending `lines` as one import would write after the ledger's last frame.
fn frames_of_next_batch(dir: &Path, scratch: &Path, lines: &[String]) -> Vec<Vec<u8>> {
    let copy = scratch.join("next-batch");
    copy_dir(dir, &copy);
    let file = scratch.join("next-batch.jsonl");
    fs::write(&file, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    chl(&copy, &["import", file.to_str().unwrap()]).ok();
    let before = frame_ranges(&fs::read(only_segment(dir)).unwrap()).len();
    let bytes = fs::read(only_segment(&copy)).unwrap();
    let frames = frame_ranges(&bytes);
    fs::remove_dir_all(&copy).unwrap();
    frames[before..].iter().map(|&(s, e)| bytes[s..e].to_vec()).collect()
}

#[test]
fn a_torn_tail_is_cut_by_the_next_command_which_says_so_and_the_records_verify() {
    let (scratch, dir) = sample_ledger();
    let original = export(&dir);
    let next: Vec<String> = (0..3).map(|i| party(&format!("p-torn-{i}"))).collect();
    let frames = frames_of_next_batch(&dir, scratch.path(), &next);
    assert_eq!(frames.len(), 3);
    let f41 = &frames[0];

    let mut tails: Vec<(&str, Vec<u8>)> = vec![
        ("text garbage", b"this is not a frame, just bytes that a crash left behind\n".to_vec()),
        ("zeros", vec![0u8; 4096]),
        ("magic only", FRAME_MAGIC.to_vec()),
        ("magic and length", f41[..8].to_vec()),
        ("half a frame", f41[..f41.len() / 2].to_vec()),
        ("all but the last byte of a frame", f41[..f41.len() - 1].to_vec()),
    ];
    let mut unfinished = frames[0].clone();
    unfinished.extend_from_slice(&frames[1]);
    tails.push(("two whole frames of an unfinished batch", unfinished.clone()));
    unfinished.extend_from_slice(&frames[2][..frames[2].len() - 7]);
    tails.push(("two whole frames and a torn third", unfinished));

    let segment_name = only_segment(&dir).file_name().unwrap().to_owned();
    let segment = fs::read(only_segment(&dir)).unwrap();
    for (n, (what, tail)) in tails.iter().enumerate() {
        let copy = scratch.path().join(format!("torn-{n}"));
        copy_dir(&dir, &copy);
        let mut bytes = segment.clone();
        bytes.extend_from_slice(tail);
        fs::write(copy.join("log").join(&segment_name), &bytes).unwrap();

        // Run before recovery, verify may report the unfinished tail, but never damage among
        // the acknowledged records.
        let early = chl(&copy, &["verify"]);
        if early.code != 0 {
            assert_eq!(early.code, 1, "{what}: {early:#?}");
            assert!(first_named_seq(&early.stderr).is_some_and(|s| s >= 41), "{what}: {early:#?}");
        } else {
            assert!(early.stdout.contains("verified 41 records"), "{what}: {early:#?}");
        }

        let run = chl(&copy, &["export"]);
        assert_eq!(run.code, 0, "{what}: the next command succeeds: {run:#?}");
        assert!(run.stderr.contains("recovered"), "{what}: stderr says it recovered: {run:#?}");
        assert_eq!(run.stdout, original, "{what}: the original records, unchanged");
        assert_eq!(
            fs::read(copy.join("log").join(&segment_name)).unwrap(),
            segment,
            "{what}: the tail was cut"
        );
        assert!(chl(&copy, &["verify"]).ok().stdout.contains("verified 41 records"), "{what}");

        // And the ledger takes writes again, continuing from seq 40.
        let file = scratch.path().join(format!("after-torn-{n}.jsonl"));
        fs::write(&file, format!("{}\n", party("p-after"))).unwrap();
        let run = chl(&copy, &["import", file.to_str().unwrap()]).ok();
        assert!(run.stdout.contains("seq 41 to 41"), "{what}: {run:#?}");
        fs::remove_dir_all(&copy).unwrap();
    }
}

// ---- 8. SIGKILL during an import ----------------------------------------------------------

const BIG_IMPORT: u64 = 200_000;

#[test]
fn an_import_killed_with_sigkill_leaves_all_or_none_of_its_records() {
    let (scratch, base) = sample_ledger();
    let base_export = export(&base);
    let big = scratch.path().join("big.jsonl");
    let mut text = String::with_capacity(110 * BIG_IMPORT as usize);
    for i in 0..BIG_IMPORT {
        text.push_str(&format!(
            r#"{{"type":"party_registered","actor":"platform","data":{{"party":"p{i}","legal_name":"Party number {i}"}}}}"#
        ));
        text.push('\n');
    }
    fs::write(&big, text).unwrap();

    let mut outcomes = Vec::new();
    for (n, delay_ms) in [20u64, 80, 200, 450].into_iter().enumerate() {
        let dir = scratch.path().join(format!("killed-{n}"));
        copy_dir(&base, &dir);
        let mut child = chl_command()
            .arg("--data")
            .arg(&dir)
            .arg("import")
            .arg(&big)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chl import");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL; fails only if it has already exited
        let status = child.wait().unwrap();
        let seg_bytes: u64 = segment_files(&dir).iter().map(|p| fs::metadata(p).unwrap().len()).sum();

        // Before anything recovers the log, verify may report the unacknowledged tail, but
        // never damage among the acknowledged records.
        let early = chl(&dir, &["verify"]);
        if early.code != 0 {
            assert_eq!(early.code, 1, "after {delay_ms} ms: {early:#?}");
            assert!(
                first_named_seq(&early.stderr).is_some_and(|s| s >= 41),
                "after {delay_ms} ms: {early:#?}"
            );
        }

        let (records, status_run) = status_records(&dir);
        assert!(
            records == 41 || records == 41 + BIG_IMPORT,
            "after a kill at {delay_ms} ms the ledger holds {records} records: {status_run:#?}"
        );
        let verify = chl(&dir, &["verify"]);
        assert_eq!(verify.code, 0, "after {delay_ms} ms: {verify:#?}");
        assert!(verify.stdout.contains(&format!("verified {records} records")), "{verify:#?}");
        if records == 41 {
            assert_eq!(export(&dir), base_export, "after {delay_ms} ms: the ledger is as before the import");
        }
        outcomes.push(format!(
            "{delay_ms} ms: exit {status}, {seg_bytes} segment bytes, {records} records{}",
            if status_run.stderr.is_empty() {
                String::new()
            } else {
                format!(" ({})", status_run.stderr.trim())
            }
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
    eprintln!("SIGKILL outcomes:\n  {}", outcomes.join("\n  "));
}

// ---- 9. key and status --------------------------------------------------------------------

#[test]
fn key_prints_a_signed_note_verifier_key_and_status_json_counts_41_records() {
    let (_scratch, dir) = sample_ledger();
    let run = chl(&dir, &["key"]).ok();
    let vkey = run.stdout.trim();
    assert_eq!(run.stdout.lines().count(), 1, "{run:#?}");
    let parts: Vec<&str> = vkey.split('+').collect();
    // The base64 may itself hold '+': name, key id, then the rest.
    assert!(parts.len() >= 3, "{vkey}");
    let (name, keyid) = (parts[0], parts[1]);
    let b64 = parts[2..].join("+");
    assert_eq!(name, ORIGIN);
    assert!(is_hex(keyid, 8), "key id is 8 hex digits: {vkey}");
    let decoded = base64_decode(&b64).unwrap_or_else(|| panic!("not base64: {b64}"));
    assert_eq!(decoded.len(), 33, "0x01 and a 32-byte Ed25519 key: {vkey}");
    assert_eq!(decoded[0], 0x01);
    // The key is the one record 0 commits to.
    let lines = parse_lines(&export(&dir));
    let public_key = base64_decode(lines[0]["data"]["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(decoded[1..], public_key[..]);

    let (records, run) = status_records(&dir);
    assert_eq!(records, 41);
    let doc: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(doc["head"]["seq"], 40);
    assert_eq!(doc["head"]["hash"], lines[40]["hash"]);
    assert_eq!(doc["origin"], ORIGIN);
    assert_eq!(doc["verifier_key"], vkey);
    assert_eq!(doc["by_type"]["ledger_created"], 1);
    assert_eq!(doc["by_type"]["party_registered"], 6);
    let total: u64 = doc["by_type"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total, 41);
}
