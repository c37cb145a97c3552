//! Versioned event types: a record keeps the version it was written in, is read as the
//! current type, and is written back (for its hash, for export) in its own version.

use chl_model::codec::{decode_record, encode_record, record_hash};
use chl_model::event::{Channel, StoreOpened};
use chl_model::{
    Digest, Event, EventType, ExportedRecord, ImportedRecord, PartyId, Record, Region, Seq, StoreId, Text,
    Timestamp,
};

fn store_opened(platform_shop_id: Option<&str>) -> StoreOpened {
    StoreOpened {
        store: StoreId::parse("jingan-franchise").unwrap(),
        operator: PartyId::parse("franchise-sh").unwrap(),
        channel: Channel::TmallFranchise,
        name: Text::parse("Acme Beauty Jingan Franchise Store").unwrap(),
        region: Some(Region::parse("CN-31").unwrap()),
        platform_shop_id: platform_shop_id.map(|id| Text::parse(id).unwrap()),
    }
}

fn record(version: u16, event: StoreOpened) -> Record {
    Record {
        seq: Seq(19),
        recorded_at: Timestamp::parse_rfc3339("2026-11-25T07:00:00Z").unwrap(),
        prev: Digest([3; 32]),
        ends_batch: true,
        actor: PartyId::platform(),
        effective_at: Timestamp::parse_rfc3339("2013-03-26T02:00:00Z").unwrap(),
        version,
        event: Event::StoreOpened(event),
    }
}

fn bytes_of(record: &Record) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_record(record, &mut bytes);
    bytes
}

fn export_line(record: &Record) -> String {
    let bytes = bytes_of(record);
    let mut line = Vec::new();
    ExportedRecord { record, hash: record_hash(&bytes) }.write_json(&mut line).unwrap();
    String::from_utf8(line).unwrap()
}

#[test]
fn store_opened_is_written_in_version_2() {
    assert_eq!(EventType::StoreOpened.current_version(), 2);
    assert!(chl_model::versions::is_known(EventType::StoreOpened, 1));
    assert!(!chl_model::versions::is_known(EventType::StoreOpened, 3));
}

#[test]
fn a_version_1_record_is_read_as_the_current_type_and_keeps_its_bytes() {
    let v1 = record(1, store_opened(None));
    let v1_bytes = bytes_of(&v1);
    let v2_bytes = bytes_of(&record(2, store_opened(None)));
    // Version 2 adds one optional field at the end: one more byte (its absent tag).
    assert_eq!(v2_bytes.len(), v1_bytes.len() + 1);
    assert_ne!(record_hash(&v1_bytes), record_hash(&v2_bytes));

    let read = decode_record(&v1_bytes).unwrap();
    assert_eq!(read.version, 1, "the record still says what it was written in");
    let Event::StoreOpened(upcast) = &read.event else { panic!("{:?}", read.event) };
    assert_eq!(upcast.platform_shop_id, None);
    assert_eq!(bytes_of(&read), v1_bytes, "written back in version 1, so its hash holds");
}

#[test]
fn a_version_1_record_exports_and_imports_as_version_1() {
    let v1 = record(1, store_opened(None));
    let line = export_line(&v1);
    assert!(line.contains(r#""type":"store_opened","version":1"#), "{line}");
    assert!(!line.contains("platform_shop_id"), "{line}");
    let back = ImportedRecord::parse_json(&line).unwrap();
    assert_eq!(back.record, v1);
    assert_eq!(back.claimed_hash, record_hash(&bytes_of(&v1)));

    // A version 1 line cannot carry a field of version 2.
    let smuggled = line.replace(r#""region":"CN-31""#, r#""region":"CN-31","platform_shop_id":"12345""#);
    let refused = ImportedRecord::parse_json(&smuggled).err().expect("refused");
    assert_eq!(refused.field, "data.platform_shop_id");
}

#[test]
fn a_version_2_record_carries_the_new_field() {
    let v2 = record(2, store_opened(Some("TMALL-SHOP-61234567")));
    let bytes = bytes_of(&v2);
    assert_eq!(decode_record(&bytes).unwrap(), v2);
    let line = export_line(&v2);
    assert!(line.contains(r#""version":2"#) && line.contains(r#""platform_shop_id":"TMALL-SHOP-61234567""#));
    assert_eq!(ImportedRecord::parse_json(&line).unwrap().record, v2);
}

#[test]
fn an_unknown_version_is_refused_by_name() {
    let line = export_line(&record(2, store_opened(None))).replace(r#""version":2"#, r#""version":7"#);
    let refused = ImportedRecord::parse_json(&line).err().expect("refused");
    assert_eq!(refused.field, "version");
    assert!(refused.message.contains("store_opened has no version 7"), "{}", refused.message);
}
