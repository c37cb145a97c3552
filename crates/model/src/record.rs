//! Committed records: what the ledger stores, hashes and exports.

use crate::digest::Digest;
use crate::event::{Event, EventType, FieldError};
use crate::id::PartyId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A record's position in the log: 0, 1, 2, ... without gaps. Also its Merkle leaf index.
#[derive(
    Copy,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl Seq {
    pub const ZERO: Seq = Seq(0);

    pub fn get(self) -> u64 {
        self.0
    }

    pub fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
}

impl schemars::JsonSchema for Seq {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Seq".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::Seq").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // Serialized as the bare number (`#[serde(transparent)]` over a u64).
        schemars::json_schema!({
            "type": "integer",
            "format": "uint64",
            "minimum": 0,
            "description": "A record's position in the log: 0, 1, 2, ... without gaps (record 0 is \
                ledger_created).",
        })
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {}", self.0)
    }
}

/// One committed record. Its canonical bytes (codec.rs) cover every field here, so its hash
/// commits to its position (`seq`), its predecessor (`prev`), when it was recorded, who
/// submitted it, when it took effect, and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: Seq,
    /// The ledger's clock when the record was appended; never decreases along `seq`.
    pub recorded_at: Timestamp,
    /// The hash of record `seq - 1`; zero for seq 0.
    pub prev: Digest,
    /// True on the last record of an atomic batch (an import, or one append of the API).
    /// Recovery keeps only whole batches: records after the last `ends_batch` are an append
    /// that was never acknowledged.
    pub ends_batch: bool,
    pub actor: PartyId,
    /// When the fact took effect in the world.
    pub effective_at: Timestamp,
    /// The version of the event type the record was written in (its bytes are that
    /// version's); `event` holds the data upcast to the current version.
    pub version: u16,
    pub event: Event,
}

/// A record together with its hash, as `chl export` writes it (one JSON object per line).
pub struct ExportedRecord<'a> {
    pub record: &'a Record,
    pub hash: Digest,
}

#[derive(Serialize)]
struct RecordJsonOut<'a> {
    seq: Seq,
    recorded_at: Timestamp,
    #[serde(rename = "type")]
    event_type: &'static str,
    version: u16,
    actor: &'a PartyId,
    effective_at: Timestamp,
    data: DataOut<'a>,
    prev: Digest,
    hash: Digest,
    ends_batch: bool,
}

/// The data object in the version the record was written in.
struct DataOut<'a>(&'a Record);

impl Serialize for DataOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        if r.version == r.event.event_type().current_version() {
            return r.event.data().serialize(s);
        }
        let mut json = Vec::new();
        crate::versions::write_old_json(&r.event, r.version, &mut json).map_err(serde::ser::Error::custom)?;
        let raw: Box<serde_json::value::RawValue> =
            serde_json::from_slice(&json).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl ExportedRecord<'_> {
    /// Writes the export form: `{"seq", "recorded_at", "type", "version", "actor",
    /// "effective_at", "data", "prev", "hash", "ends_batch"}`.
    pub fn write_json<W: std::io::Write>(&self, out: W) -> serde_json::Result<()> {
        let r = self.record;
        let event_type = r.event.event_type();
        serde_json::to_writer(
            out,
            &RecordJsonOut {
                seq: r.seq,
                recorded_at: r.recorded_at,
                event_type: event_type.name(),
                version: r.version,
                actor: &r.actor,
                effective_at: r.effective_at,
                data: DataOut(r),
                prev: r.prev,
                hash: self.hash,
                ends_batch: r.ends_batch,
            },
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordJsonIn<'a> {
    seq: Seq,
    recorded_at: Timestamp,
    #[serde(rename = "type", borrow)]
    event_type: std::borrow::Cow<'a, str>,
    version: u16,
    actor: PartyId,
    effective_at: Timestamp,
    #[serde(borrow)]
    data: &'a serde_json::value::RawValue,
    prev: Digest,
    hash: Digest,
    ends_batch: bool,
}

/// A record read back from its export form, with the hash the line claims for it (which the
/// reader must check against the hash of the record's canonical bytes).
pub struct ImportedRecord {
    pub record: Record,
    pub claimed_hash: Digest,
}

impl ImportedRecord {
    pub fn parse_json(line: &str) -> Result<ImportedRecord, FieldError> {
        let mut json = serde_json::Deserializer::from_str(line);
        let form: RecordJsonIn = serde_path_to_error::deserialize(&mut json).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." || path == "?" { "record".to_owned() } else { path };
            FieldError::new(field, crate::event::strip_position(&e.into_inner().to_string()))
        })?;
        json.end().map_err(|e| FieldError::new("record", crate::event::strip_position(&e.to_string())))?;
        let event_type = EventType::from_name(&form.event_type)
            .ok_or_else(|| FieldError::new("type", format!("unknown event type {:?}", form.event_type)))?;
        let event = if form.version == event_type.current_version() {
            Event::from_json_data(event_type, form.data.get())?
        } else {
            crate::versions::from_old_json(event_type, form.version, form.data.get()).ok_or_else(|| {
                FieldError::new(
                    "version",
                    format!(
                        "{event_type} has no version {} that this build reads (it writes version {})",
                        form.version,
                        event_type.current_version()
                    ),
                )
            })??
        };
        event.check_form()?;
        crate::shape::check_arrays(line, "")?;
        Ok(ImportedRecord {
            record: Record {
                seq: form.seq,
                recorded_at: form.recorded_at,
                prev: form.prev,
                ends_batch: form.ends_batch,
                actor: form.actor,
                effective_at: form.effective_at,
                version: form.version,
                event,
            },
            claimed_hash: form.hash,
        })
    }
}
