//! JSON Schemas of the event types, generated from the Rust types with schemars: one per event
//! type and version, each of the submission form `{"type", "actor", "effective_at"?, "data"}`
//! with that version's `data`. They are checked in under `schemas/` at the root of the
//! repository (schemas/README.md).
//!
//! The schemas state every rule of form that JSON Schema can express; the few it cannot (a
//! credit code's check character, a window's end after its start, ...) are listed in
//! schemas/README.md and checked by the ledger. crates/model/tests/schemas.rs holds the files
//! to what this module generates and checks a JSON Schema validator against
//! `Submission::parse_json` on good and bad samples.

use crate::event::EventType;
use crate::id::PartyId;
use crate::time::Timestamp;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// Where the schemas say they live: a schema's `$id` is this followed by its file name.
pub const BASE_URI: &str = "https://channel-ledger.example/schemas/";

/// Every event type and version that has a schema: for each type, in catalogue order, the old
/// versions this build reads (versions.rs), then the current one.
pub fn all_versions() -> Vec<(EventType, u16)> {
    EventType::ALL
        .iter()
        .flat_map(|&event_type| {
            (1..=event_type.current_version())
                .filter(move |&version| crate::versions::is_known(event_type, version))
                .map(move |version| (event_type, version))
        })
        .collect()
}

/// `<type>.v<version>.json`, the schema's file name under schemas/.
pub fn file_name(event_type: EventType, version: u16) -> String {
    format!("{event_type}.v{version}.json")
}

/// The schema of a submission of `event_type` whose data is in `version`, or `None` for a
/// version this build does not know. For the current version that is the submission form; for
/// an old one, the same form with the old data, describing the records written in it (new
/// submissions are always written in the current version).
///
/// The result is deterministic: object keys are sorted, whatever serde_json's features.
pub fn submission_schema(event_type: EventType, version: u16) -> Option<Value> {
    let current = event_type.current_version();
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let data = if version == current {
        event_type.data_json_schema(&mut generator)
    } else {
        crate::versions::old_data_json_schema(event_type, version, &mut generator)?
    };
    let actor = generator.subschema_for::<PartyId>();
    let effective_at = generator.subschema_for::<Option<Timestamp>>();
    let definitions = generator.take_definitions(true);

    let mut data = data.to_value();
    let doc = data.as_object_mut().and_then(|data| data.remove("description"));
    let doc = doc.as_ref().and_then(Value::as_str).unwrap_or_default();
    data["description"] =
        format!("The fields of {event_type} in version {version}; unknown fields are refused.").into();

    let name = event_type.name();
    let about = if event_type == EventType::LedgerCreated {
        format!(
            "The ledger refuses a submission of type {name} (rule 3, authority): `chl init` writes it as \
             record 0, with actor `platform`. This schema describes that record's type, actor, \
             effective_at and data (version {version})."
        )
    } else if version == current {
        format!(
            "A submission of type {name}: one JSON object per line of an import, or per element of an \
             API batch. Its data is in version {version}, the version the ledger writes new records \
             of {name} in. Unknown fields are refused, at the top level and in data."
        )
    } else {
        format!(
            "An old version of {name}: new submissions are always written in the current version, \
             {current} ({}). This schema describes the data of records written in version {version}, \
             which the ledger still reads and upcasts, in the shape of the submission form.",
            file_name(event_type, current)
        )
    };
    let description = if doc.is_empty() { about } else { format!("{doc}\n\n{about}") };

    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{BASE_URI}{}", file_name(event_type, version)),
        "title": format!("{name}, version {version}"),
        "description": description,
        "type": "object",
        "properties": {
            "type": { "const": name, "description": "The event type." },
            "actor": with_description(
                actor.to_value(),
                "The party (or `platform`) that performs the act. Over HTTP it must equal the \
                 authenticated principal; in a local import it is taken as given.",
            ),
            "effective_at": with_description(
                effective_at.to_value(),
                "When the fact took effect in the world; the time the ledger records it when \
                 absent (or null). It may lie in the past (backfill), never more than 5 minutes \
                 after the ledger's clock.",
            ),
            "data": data,
        },
        "required": ["type", "actor", "data"],
        "additionalProperties": false,
        "$defs": definitions,
    });
    Some(canonical(schema))
}

fn with_description(mut schema: Value, description: &str) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.insert("description".into(), description.into());
    }
    schema
}

/// Sorts object keys (serde_json keeps insertion order when some crate enables its
/// `preserve_order` feature) and unwraps the lines of descriptions taken from doc comments:
/// a single line break becomes a space, a blank line stays a paragraph break.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(String, Value)> = object.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut sorted = Map::new();
            for (key, value) in entries {
                let value = match value {
                    Value::String(text) if key == "description" || key == "title" => {
                        Value::String(unwrap_lines(&text))
                    }
                    value => canonical(value),
                };
                sorted.insert(key, value);
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        value => value,
    }
}

fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| paragraph.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_its_current_version_and_store_opened_its_first() {
        let versions = all_versions();
        for &event_type in EventType::ALL {
            assert!(versions.contains(&(event_type, event_type.current_version())), "{event_type}");
        }
        assert!(versions.contains(&(EventType::StoreOpened, 1)));
        assert_eq!(versions.len(), EventType::ALL.len() + 1);
        for (event_type, version) in versions {
            assert!(submission_schema(event_type, version).is_some(), "{event_type} v{version}");
        }
        assert_eq!(submission_schema(EventType::GrantIssued, 2), None);
    }

    #[test]
    fn descriptions_are_unwrapped() {
        assert_eq!(unwrap_lines("a\nb\n\nc\nd"), "a b\n\nc d");
    }
}
