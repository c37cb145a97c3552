//! The JSON Schemas in schemas/: the checked-in files are what the model generates, and a real
//! JSON Schema validator agrees with the ledger's parser on good and bad submissions.
//!
//! To regenerate the files after a change to the types: `CHL_BLESS_SCHEMAS=1 cargo test -p
//! chl-model --test schemas`, then review the diff (schemas/README.md).

use chl_model::event::FieldError;
use chl_model::schema::{all_versions, file_name, submission_schema};
use chl_model::{Event, EventType, ImportedRecord, Rule, Submission};
use jsonschema::Validator;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn schemas_dir() -> PathBuf {
    let model = Path::new(env!("CARGO_MANIFEST_DIR"));
    model.parent().and_then(Path::parent).expect("crates/model lies in the workspace").join("schemas")
}

/// `CHL_BLESS_SCHEMAS=1`: write the generated schemas to schemas/ instead of comparing.
fn blessing() -> bool {
    std::env::var("CHL_BLESS_SCHEMAS").is_ok_and(|v| v == "1")
}

/// A schema as its file holds it: pretty-printed, with a trailing newline.
fn rendered(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap();
    text.push('\n');
    text
}

/// The checked-in schema of a type and version. While blessing, the generated one, which
/// another test thread may be writing to the file at this moment.
fn checked_in_schema(event_type: EventType, version: u16) -> Value {
    if blessing() {
        return submission_schema(event_type, version).unwrap();
    }
    let path = schemas_dir().join(file_name(event_type, version));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn checked_in_schemas_are_the_generated_ones() {
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
        if blessing() {
            std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            eprintln!("wrote {}", path.display());
        } else if on_disk.is_some() {
            stale.push(format!("{name} differs"));
        } else {
            stale.push(format!("{name} is missing"));
        }
    }
    let expected: Vec<String> = all_versions().into_iter().map(|(t, v)| file_name(t, v)).collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && !expected.contains(&name) {
            stale.push(format!(
                "{name} is the schema of no type and version of this build: remove it by hand"
            ));
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

/// The checked-in schema of each type and version, compiled twice: with `format` asserted
/// (date-time checked by the validator) and as the annotation 2020-12 makes it by default.
/// The schemas' own patterns carry the form, so both must give the same verdicts.
struct Schemas(Vec<(EventType, u16, Validator, Validator)>);

impl Schemas {
    fn load() -> Schemas {
        Schemas(
            all_versions()
                .into_iter()
                .map(|(event_type, version)| {
                    let schema = checked_in_schema(event_type, version);
                    let build = |formats: bool| {
                        jsonschema::draft202012::options()
                            .should_validate_formats(formats)
                            .build(&schema)
                            .unwrap_or_else(|e| {
                                panic!("{} does not compile: {e}", file_name(event_type, version))
                            })
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
            .flat_map(|(_, _, with_formats, without)| {
                [with_formats.is_valid(submission), without.is_valid(submission)]
            })
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
    if let Some(unknown) =
        form.keys().find(|k| !["type", "actor", "effective_at", "data"].contains(&k.as_str()))
    {
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
    let read =
        ImportedRecord::parse_json(&record.to_string()).map_err(|e| format!("{}: {}", e.field, e.message))?;
    assert_eq!(read.record.version, version);
    read.record.event.check_form().map_err(|e| format!("{}: {}", e.field, e.message))
}

#[derive(Debug)]
struct Sample {
    line: usize,
    expect: String,
    note: String,
    version: Option<u16>,
    /// For `parser-only` and `parser-lenient` samples: where schema and parser part, as
    /// schemas/README.md names it.
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
        let expected = match sample.expect.as_str() {
            "valid" => (true, true),
            "invalid" => (false, false),
            "parser-only" => (true, false),
            // The parser takes a JSON array where a struct is expected (serde reads its fields
            // in order); the schemas, like spec/events.md, want objects. Kept here so that a
            // fix to the parser shows up: these samples then become "invalid".
            "parser-lenient" => (false, true),
            other => panic!(
                "line {}: expect is valid, invalid, parser-only or parser-lenient, not {other:?}",
                sample.line
            ),
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
    assert!(
        disagreements.is_empty(),
        "{} of {} samples:\n{}",
        disagreements.len(),
        samples.len(),
        disagreements.join("\n")
    );
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
    for sample in samples.iter().filter(|s| s.expect.starts_with("parser-")) {
        let limit = sample.limit.as_deref().unwrap_or_else(|| {
            panic!("line {}: a {} sample names the limit it shows (\"limit\")", sample.line, sample.expect)
        });
        assert!(readme.contains(limit), "line {}: schemas/README.md does not mention {limit:?}", sample.line);
    }
}

// ---- each value type's schema against its parser, on generated strings -----------------------------

mod value_types {
    use chl_model::event::{OriginName, PublicKey};
    use chl_model::{CreditCode, Currency, Digest, PartyId, Region, Text, Timestamp};
    use jsonschema::Validator;
    use proptest::prelude::*;
    use serde_json::Value;
    use std::sync::LazyLock;

    /// The schema of `T` alone, compiled with formats asserted (the sample test checks that
    /// this makes no difference to submissions).
    fn validator<T: schemars::JsonSchema>() -> Validator {
        let schema =
            schemars::generate::SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<T>();
        jsonschema::draft202012::options().should_validate_formats(true).build(&schema.to_value()).unwrap()
    }

    /// The schema's verdict on `text`, and the parser's (serde, as for a field of a submission).
    fn verdicts<T: serde::de::DeserializeOwned>(
        validator: &Validator,
        text: &str,
    ) -> (bool, Result<T, String>) {
        let value = Value::String(text.to_owned());
        (validator.is_valid(&value), serde_json::from_value::<T>(value).map_err(|e| e.to_string()))
    }

    static ID: LazyLock<Validator> = LazyLock::new(validator::<PartyId>);
    static TEXT: LazyLock<Validator> = LazyLock::new(validator::<Text>);
    static REGION: LazyLock<Validator> = LazyLock::new(validator::<Region>);
    static CURRENCY: LazyLock<Validator> = LazyLock::new(validator::<Currency>);
    static CREDIT_CODE: LazyLock<Validator> = LazyLock::new(validator::<CreditCode>);
    static ORIGIN: LazyLock<Validator> = LazyLock::new(validator::<OriginName>);
    static TIME: LazyLock<Validator> = LazyLock::new(validator::<Timestamp>);
    static DIGEST: LazyLock<Validator> = LazyLock::new(validator::<Digest>);
    static PUBLIC_KEY: LazyLock<Validator> = LazyLock::new(validator::<PublicKey>);

    /// Characters where the rules of text, ids and codes have their edges.
    fn edgy_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => proptest::char::range(' ', '~'),
            1 => prop::sample::select(vec![
                '\0', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}', '\u{a0}', '\u{1680}',
                '\u{2000}', '\u{200a}', '\u{200b}', '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}',
                '\u{feff}', 'é', 'ａ', '２', '好', '🧴', '\u{10ffff}',
            ]),
            1 => any::<char>(),
        ]
    }

    fn edgy_string(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
        prop::collection::vec(edgy_char(), len).prop_map(|chars| chars.into_iter().collect())
    }

    fn agree<T: serde::de::DeserializeOwned>(validator: &Validator, text: &str) -> Result<(), TestCaseError> {
        let (by_schema, by_parser) = verdicts::<T>(validator, text);
        prop_assert_eq!(by_schema, by_parser.is_ok(), "{:?}: parser says {:?}", text, by_parser.err());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn ids(text in prop_oneof![
            "[A-Za-z0-9._:-]{0,66}",
            "[A-Za-z0-9][A-Za-z0-9._:-]{60,64}",
            edgy_string(0..8),
        ]) {
            agree::<PartyId>(&ID, &text)?;
        }

        #[test]
        fn regions_and_currencies(text in prop_oneof!["[A-Za-z0-9-]{0,7}", "[A-Z]{2}-[A-Z0-9]{0,4}", edgy_string(0..6)]) {
            agree::<Region>(&REGION, &text)?;
            agree::<Currency>(&CURRENCY, &text)?;
        }

        #[test]
        fn origins(text in prop_oneof![edgy_string(0..10), "[!-~]{250,260}"]) {
            agree::<OriginName>(&ORIGIN, &text)?;
        }

        #[test]
        fn digests(text in prop_oneof!["[0-9a-f]{62,66}", "[0-9a-fA-F]{64}", edgy_string(0..4)]) {
            agree::<Digest>(&DIGEST, &text)?;
        }

        #[test]
        fn public_keys(
            bytes in prop::collection::vec(any::<u8>(), 30..35),
            text in prop_oneof!["[A-Za-z0-9+/]{42,44}={0,2}", "[A-Za-z0-9+/=_-]{44}"],
        ) {
            use base64::Engine;
            agree::<PublicKey>(&PUBLIC_KEY, &base64::engine::general_purpose::STANDARD.encode(&bytes))?;
            agree::<PublicKey>(&PUBLIC_KEY, &base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes))?;
            agree::<PublicKey>(&PUBLIC_KEY, &text)?;
        }

        /// The schema checks the form of a credit code, not its check character.
        #[test]
        fn credit_codes(text in prop_oneof!["[0-9A-Z]{17,19}", "[0-9A-HJ-NPQRTUWXY]{18}", "[0-9a-z]{18}", edgy_string(0..4)]) {
            let (by_schema, by_parser) = verdicts::<CreditCode>(&CREDIT_CODE, &text);
            match by_parser {
                Ok(_) => prop_assert!(by_schema, "{:?}", text),
                Err(why) => prop_assert!(!by_schema || why.contains("check character"), "{:?}: {}", text, why),
            }
        }

        /// The schema counts characters where the ledger counts bytes.
        #[test]
        fn text(text in prop_oneof![
            edgy_string(0..6),
            (prop::sample::select(vec!["a", "é", "好", "🧴", " "]), 1015usize..1030, edgy_string(0..2))
                .prop_map(|(c, n, tail)| c.repeat(n) + &tail),
        ]) {
            let (by_schema, by_parser) = verdicts::<Text>(&TEXT, &text);
            match by_parser {
                Ok(_) => prop_assert!(by_schema, "{:?}", text),
                Err(why) => prop_assert!(
                    !by_schema || (text.len() > 1024 && why.contains("1024 bytes")),
                    "{:?}: {}", text, why
                ),
            }
        }

        /// The schema checks every part of a time but the range of years once it is in UTC.
        #[test]
        fn times(
            date in (0u32..=10_000, 0u32..=13, 0u32..=32).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
            separator in prop::sample::select(vec!["T", "t", " "]),
            time in (0u32..=24, 0u32..=60, 0u32..=60).prop_map(|(h, m, s)| format!("{h:02}:{m:02}:{s:02}")),
            fraction in prop_oneof![Just(String::new()), "\\.[0-9]{0,10}", "\\.[0-9]{1,6}0{0,4}"],
            zone in prop_oneof![
                prop::sample::select(vec!["Z", "z", "", "+00:00", "-00:00"]).prop_map(str::to_owned),
                (prop::sample::select(vec!['+', '-']), 0u32..=24, 0u32..=60)
                    .prop_map(|(sign, h, m)| format!("{sign}{h:02}:{m:02}")),
                "[+-][0-9]{4}",
            ],
            text in edgy_string(15..30),
        ) {
            for text in [format!("{date}{separator}{time}{fraction}{zone}"), text] {
                let (by_schema, by_parser) = verdicts::<Timestamp>(&TIME, &text);
                match by_parser {
                    Ok(_) => prop_assert!(by_schema, "{:?}", text),
                    Err(why) => prop_assert!(
                        !by_schema || why.contains("outside years 0000 to 9999"),
                        "{:?}: {}", text, why
                    ),
                }
            }
        }
    }

    #[test]
    fn leap_days_and_the_ends_of_time() {
        for text in [
            "2000-02-29T00:00:00Z",
            "2400-02-29T00:00:00Z",
            "0000-02-29T00:00:00Z",
            "1904-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
        ] {
            let (by_schema, by_parser) = verdicts::<Timestamp>(&TIME, text);
            assert_eq!(by_schema, by_parser.is_ok(), "{text}");
        }
    }
}
