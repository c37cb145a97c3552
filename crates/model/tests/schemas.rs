//! The JSON Schemas in schemas/: the checked-in files are what the model generates, and a real
//! JSON Schema validator agrees with the ledger's parser on good and bad submissions.

use chl_model::schema::{all_versions, file_name, submission_schema};
use std::path::PathBuf;

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

/// A schema as its file holds it: pretty-printed, with a trailing newline.
fn rendered(schema: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap();
    text.push('\n');
    text
}

#[test]
fn checked_in_schemas_are_the_generated_ones() {
    let bless = std::env::var("CHL_BLESS_SCHEMAS").is_ok_and(|v| v == "1");
    let dir = schemas_dir();
    let mut stale = Vec::new();
    for (event_type, version) in all_versions() {
        let name = file_name(event_type, version);
        let generated = rendered(&submission_schema(event_type, version).unwrap());
        let path = dir.join(&name);
        let on_disk = std::fs::read_to_string(&path).ok();
        if on_disk.as_deref() == Some(generated.as_str()) {
            continue;
        }
        if bless {
            std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            eprintln!("wrote {}", path.display());
        } else {
            stale.push(if on_disk.is_some() { format!("{name} differs") } else { format!("{name} is missing") });
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/ does not match the schemas generated from the Rust types:\n  {}\n\
         If the change to the types is intended, regenerate them with\n  \
         CHL_BLESS_SCHEMAS=1 cargo test -p chl-model --test schemas\n\
         and review the diff (a changed data schema may need a new type version, see versions.rs).",
        stale.join("\n  ")
    );
}

// ---- the schemas and the parser agree ------------------------------------------------------------

use chl_model::event::FieldError;
use chl_model::{Event, EventType, ImportedRecord, Rule, Submission};
use jsonschema::Validator;
use serde_json::{Value, json};

/// The checked-in schema of each type and version, compiled twice: with `format` asserted
/// (date-time checked by the validator) and as the annotation 2020-12 makes it by default.
/// The schemas' own patterns carry the form, so both must give the same verdicts.
struct Schemas(Vec<(EventType, u16, Validator, Validator)>);

impl Schemas {
    fn load() -> Schemas {
        let dir = schemas_dir();
        Schemas(
            all_versions()
                .into_iter()
                .map(|(event_type, version)| {
                    let path = dir.join(file_name(event_type, version));
                    let text = std::fs::read_to_string(&path)
                        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                    let schema: Value = serde_json::from_str(&text).unwrap();
                    let build = |formats: bool| {
                        jsonschema::draft202012::options()
                            .should_validate_formats(formats)
                            .build(&schema)
                            .unwrap_or_else(|e| panic!("{} does not compile: {e}", path.display()))
                    };
                    (event_type, version, build(true), build(false))
                })
                .collect(),
        )
    }

    /// Whether `submission` is valid under the schema of its type and `version` (the current
    /// one when `None`); one of an unknown type is valid under none of the schemas.
    fn verdict(&self, submission: &Value, version: Option<u16>) -> bool {
        let event_type = submission.get("type").and_then(Value::as_str).and_then(EventType::from_name);
        let mut verdicts = self
            .0
            .iter()
            .filter(|(t, v, _, _)| match event_type {
                Some(event_type) => *t == event_type && *v == version.unwrap_or(t.current_version()),
                None => true,
            })
            .flat_map(|(_, _, with_formats, without)| [with_formats.is_valid(submission), without.is_valid(submission)])
            .peekable();
        assert!(verdicts.peek().is_some(), "no schema for {submission} in version {version:?}");
        let verdicts: Vec<bool> = verdicts.collect();
        let any = verdicts.iter().any(|&v| v);
        if event_type.is_some() {
            assert!(
                verdicts.iter().all(|&v| v == any),
                "format assertion changed the verdict on {submission}: the pattern and date-time disagree"
            );
        }
        any
    }
}

/// The parser's verdict: `Submission::parse_json` for submissions in the current version. Two
/// cases need more than that:
/// - `ledger_created` submissions are always refused (rule 3: only `chl init` writes them); its
///   schema describes the record, so the verdict is the form's (the refusal must be rule 3, not
///   rule 1) and that of the data.
/// - data in an old version is read only from records; the sample is put in a record and read
///   with `ImportedRecord::parse_json`, with the form checks of `Event::check_form`.
fn parser_verdict(submission: &Value, raw: Option<&str>, version: Option<u16>) -> Result<(), String> {
    let text = raw.map_or_else(|| submission.to_string(), str::to_owned);
    let event_type = submission.get("type").and_then(Value::as_str).and_then(EventType::from_name);
    if let Some(version) = version.filter(|&v| Some(v) != event_type.map(EventType::current_version)) {
        return old_version_verdict(submission, version);
    }
    match Submission::parse_json(&text) {
        Ok(_) => Ok(()),
        Err(refusal) if event_type == Some(EventType::LedgerCreated) && refusal.rule == Rule::Authority => {
            let data = submission["data"].to_string();
            Event::from_json_data(EventType::LedgerCreated, &data)
                .and_then(|event| event.check_form())
                .map_err(|FieldError { field, message }| format!("{field}: {message}"))
        }
        Err(refusal) => Err(refusal.to_string()),
    }
}

fn old_version_verdict(submission: &Value, version: u16) -> Result<(), String> {
    let form = submission.as_object().ok_or("not an object")?;
    if let Some(unknown) = form.keys().find(|k| !["type", "actor", "effective_at", "data"].contains(&k.as_str())) {
        return Err(format!("unknown field `{unknown}`"));
    }
    let recorded_at = json!("2026-11-25T07:00:00Z");
    let mut record = json!({
        "seq": 1, "recorded_at": recorded_at, "version": version, "prev": "0".repeat(64),
        "hash": "0".repeat(64), "ends_batch": true,
    });
    for (key, value) in form {
        record[key] = value.clone();
    }
    if record.get("effective_at").is_none_or(Value::is_null) {
        record["effective_at"] = recorded_at;
    }
    let read = ImportedRecord::parse_json(&record.to_string()).map_err(|e| format!("{}: {}", e.field, e.message))?;
    assert_eq!(read.record.version, version);
    read.record.event.check_form().map_err(|e| format!("{}: {}", e.field, e.message))
}

#[derive(Debug)]
struct Sample {
    line: usize,
    expect: String,
    note: String,
    version: Option<u16>,
    /// For `parser-only` samples: the limit of JSON Schema it shows, as schemas/README.md names it.
    limit: Option<String>,
    submission: Value,
    raw: Option<String>,
}

fn samples() -> Vec<Sample> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schema_samples.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let entry: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
            let string = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
            let raw = string("raw");
            let submission = match &raw {
                // A raw line may hold what a JSON value cannot (a key given twice); the
                // validator sees what a JSON parser keeps of it.
                Some(raw) => serde_json::from_str(raw).unwrap(),
                None => entry.get("submission").cloned().expect("a sample has a submission or a raw line"),
            };
            Sample {
                line: i + 1,
                expect: string("expect").expect("expect"),
                note: string("note").expect("note"),
                version: entry.get("version").and_then(Value::as_u64).map(|v| u16::try_from(v).unwrap()),
                limit: string("limit"),
                submission,
                raw,
            }
        })
        .collect()
}

#[test]
fn the_schemas_and_the_parser_agree_on_the_samples() {
    let schemas = Schemas::load();
    let samples = samples();
    let mut disagreements = Vec::new();
    for sample in &samples {
        let by_schema = schemas.verdict(&sample.submission, sample.version);
        let by_parser = parser_verdict(&sample.submission, sample.raw.as_deref(), sample.version);
        eprintln!("DBG {} {} | {:?}", sample.line, sample.note, by_parser);
        let expected = match sample.expect.as_str() {
            "valid" => (true, true),
            "invalid" => (false, false),
            "parser-only" => (true, false),
            other => panic!("line {}: expect is valid, invalid or parser-only, not {other:?}", sample.line),
        };
        if (by_schema, by_parser.is_ok()) != expected {
            disagreements.push(format!(
                "line {} ({}, expected {}): schema says {}, parser says {}",
                sample.line,
                sample.note,
                sample.expect,
                if by_schema { "valid" } else { "invalid" },
                by_parser.map_or_else(|e| format!("refused: {e}"), |()| "accepted".into()),
            ));
        }
    }
    assert!(disagreements.is_empty(), "{} of {} samples:\n{}", disagreements.len(), samples.len(), disagreements.join("\n"));
}

#[test]
fn the_samples_cover_every_schema_and_name_what_the_schemas_cannot_check() {
    let samples = samples();
    for (event_type, version) in all_versions() {
        let of_it = |expect: &str| {
            samples.iter().any(|s| {
                s.expect == expect
                    && s.submission.get("type").and_then(Value::as_str) == Some(event_type.name())
                    && s.version.unwrap_or(event_type.current_version()) == version
            })
        };
        assert!(of_it("valid"), "no good sample of {event_type} v{version}");
        assert!(of_it("invalid"), "no bad sample of {event_type} v{version}");
    }
    let readme = std::fs::read_to_string(schemas_dir().join("README.md")).unwrap();
    for sample in samples.iter().filter(|s| s.expect == "parser-only") {
        let limit = sample.limit.as_deref().unwrap_or_else(|| {
            panic!("line {}: a parser-only sample names the limit it shows (\"limit\")", sample.line)
        });
        assert!(readme.contains(limit), "line {}: schemas/README.md does not mention {limit:?}", sample.line);
    }
}
