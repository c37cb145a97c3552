//! Old versions of event types, and the one place that converts between them and the current
//! types.
//!
//! A record keeps the version it was written in: its canonical bytes, and so its hash, are
//! those of that version for ever. Reading upcasts old data to the current type (`upcast`);
//! writing a record back (re-encoding for verification, exporting) downcasts it to the version
//! it names (`downcast`), which is lossless because every field a later version adds is
//! optional and absent in data that came from the older version.
//!
//! To change a type's fields: copy its current struct here as `<Type>V<n>`, add the field to
//! the current struct (optional, at the end), raise `EventType::current_version`, and add one
//! arm to each function below.

use crate::event::{Channel, Event, EventType, FieldError, StoreOpened, strip_position};
use crate::{PartyId, Region, StoreId, Text};
use bincode::{Decode, Encode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `store_opened` version 1: before stores carried their platform shop id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreOpenedV1 {
    pub store: StoreId,
    pub operator: PartyId,
    pub channel: Channel,
    pub name: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
}

impl From<StoreOpenedV1> for StoreOpened {
    fn from(v1: StoreOpenedV1) -> StoreOpened {
        StoreOpened {
            store: v1.store,
            operator: v1.operator,
            channel: v1.channel,
            name: v1.name,
            region: v1.region,
            platform_shop_id: None,
        }
    }
}

/// Whether `event_type` has data in `version` that this build reads.
pub fn is_known(event_type: EventType, version: u16) -> bool {
    version == event_type.current_version() || matches!((event_type, version), (EventType::StoreOpened, 1))
}

/// The JSON Schema of the `data` object of an old version, inline (the types it refers to go to
/// `generator`'s definitions), or `None` for a version this build does not know as an old one.
pub(crate) fn old_data_json_schema(
    event_type: EventType,
    version: u16,
    generator: &mut schemars::SchemaGenerator,
) -> Option<schemars::Schema> {
    match (event_type, version) {
        (EventType::StoreOpened, 1) => Some(StoreOpenedV1::json_schema(generator)),
        _ => None,
    }
}

/// Decodes data of an old version and upcasts it. `None` for a version this build does not know.
pub(crate) fn decode_old<D: bincode::de::Decoder<Context = ()>>(
    event_type: EventType,
    version: u16,
    d: &mut D,
) -> Option<Result<Event, bincode::error::DecodeError>> {
    match (event_type, version) {
        (EventType::StoreOpened, 1) => Some(StoreOpenedV1::decode(d).map(|v1| Event::StoreOpened(v1.into()))),
        _ => None,
    }
}

/// The old form of `event` as `version`, for encoding and export. Panics if `event` holds
/// something that version cannot (a record never does: it was read from that version).
fn downcast(event: &Event, version: u16) -> OldData {
    match (event, version) {
        (Event::StoreOpened(current), 1) => {
            assert!(current.platform_shop_id.is_none(), "store_opened v1 has no platform_shop_id");
            OldData::StoreOpenedV1(StoreOpenedV1 {
                store: current.store.clone(),
                operator: current.operator.clone(),
                channel: current.channel,
                name: current.name.clone(),
                region: current.region.clone(),
            })
        }
        (event, version) => panic!("{} has no old version {version}", event.event_type()),
    }
}

enum OldData {
    StoreOpenedV1(StoreOpenedV1),
}

pub(crate) fn encode_old<E: bincode::enc::Encoder>(
    event: &Event,
    version: u16,
    e: &mut E,
) -> Result<(), bincode::error::EncodeError> {
    match downcast(event, version) {
        OldData::StoreOpenedV1(data) => data.encode(e),
    }
}

pub(crate) fn write_old_json<W: std::io::Write>(
    event: &Event,
    version: u16,
    out: W,
) -> serde_json::Result<()> {
    match downcast(event, version) {
        OldData::StoreOpenedV1(data) => serde_json::to_writer(out, &data),
    }
}

/// Parses the `data` of an old version and upcasts it. `None` for an unknown version.
pub(crate) fn from_old_json(
    event_type: EventType,
    version: u16,
    data_json: &str,
) -> Option<Result<Event, FieldError>> {
    let parse = |json: &str| -> Result<StoreOpenedV1, FieldError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let parsed = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." || path == "?" { "data".to_owned() } else { format!("data.{path}") };
            FieldError::new(field, strip_position(&e.into_inner().to_string()))
        })?;
        de.end().map_err(|e| FieldError::new("data", strip_position(&e.to_string())))?;
        Ok(parsed)
    };
    match (event_type, version) {
        (EventType::StoreOpened, 1) => Some(parse(data_json).map(|v1| Event::StoreOpened(v1.into()))),
        _ => None,
    }
}
