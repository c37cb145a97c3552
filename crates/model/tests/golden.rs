//! Golden vectors for docs/format.md.
//!
//! Every hex string, JSON line, enum index and field list here is also stated in the
//! document, and `the_document_states_every_golden_vector` (with the other `doc_*` checks)
//! fails if the two drift apart. A change that breaks one of these tests changes the bytes or
//! the hashes of records already written: it needs a new record format or type version, not a
//! new expected value.

use chl_model::codec::{RECORD_HASH_CONTEXT, decode_record, encode_record, record_hash};
use chl_model::event::{
    self, AgreementMode, Channel, DisputeClaim, DisputeFinding, GrantIssued, HostPower, LedgerCreated,
    OriginName, PublicKey, QualificationKind, Quantity, SaleRecorded, Scope,
};
use chl_model::{
    BrandId, Currency, Digest, Event, EventType, ExportedRecord, GrantId, ImportedRecord, Money, OrderId,
    PartyId, Record, Region, Seq, Sku, StoreId, Timestamp,
};
use serde::Deserialize;
use std::cell::Cell;

// ---- the golden records ---------------------------------------------------------------------

const SEQ0_BYTES: &str = "01000000000000000000000000000000000000000000000000000000000000000000fd808c603600980c000108706c6174666f726dfd808c603600980c000e6c65646765725f6372656174656401176c65646765722e6578616d706c652e636f6d2f61636d65d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const SEQ0_HASH: &str = "d866c68fa9238446002e8d6cd7c32645d198e64c912b2d8ae31a6ed30bf7cde8";
const SEQ0_JSON: &str = r#"{"seq":0,"recorded_at":"2026-03-02T01:00:00.123456Z","type":"ledger_created","version":1,"actor":"platform","effective_at":"2026-03-02T01:00:00.123456Z","data":{"origin":"ledger.example.com/acme","public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="},"prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"d866c68fa9238446002e8d6cd7c32645d198e64c912b2d8ae31a6ed30bf7cde8","ends_batch":true}"#;

const SEQ1_BYTES: &str = "01d866c68fa9238446002e8d6cd7c32645d198e64c912b2d8ae31a6ed30bf7cde801fd000e205a00980c00000d61636d652d6272616e642d636ffd000e205a00980c000c6772616e745f697373756564010b472d323032362d303030310461636d650d61636d652d6272616e642d636f0a687a2d74726164696e67000000020001000101fd0040fb1ff1970c00fd000023384ed10c00";
const SEQ1_HASH: &str = "bba3ca37dd789f6fd5bec1febda32ffca415137ddb034d82981296dff78679d4";
const SEQ1_JSON: &str = r#"{"seq":1,"recorded_at":"2026-03-02T01:05:00.000000Z","type":"grant_issued","version":1,"actor":"acme-brand-co","effective_at":"2026-03-02T01:05:00.000000Z","data":{"grant":"G-2026-0001","brand":"acme","grantor":"acme-brand-co","grantee":"hz-trading","scope":{},"channels":["tmall_flagship","tmall_franchise"],"exclusive":true,"sublicensable":true,"valid_from":"2026-03-01T16:00:00.000000Z","valid_until":"2027-03-01T16:00:00.000000Z"},"prev":"d866c68fa9238446002e8d6cd7c32645d198e64c912b2d8ae31a6ed30bf7cde8","hash":"bba3ca37dd789f6fd5bec1febda32ffca415137ddb034d82981296dff78679d4","ends_batch":false}"#;

const SEQ2_BYTES: &str = "01bba3ca37dd789f6fd5bec1febda32ffca415137ddb034d82981296dff78679d402fd000e205a00980c00010a687a2d74726164696e67fd000e205a00980c000c6772616e745f697373756564010d472d323032362d303030312e310461636d650a687a2d74726164696e670973682d72657461696c010b472d323032362d3030303101010f41434d452d534552554d2d33304d4c000103010205434e2d333105434e2d33320000fd00803589fe970c00fd00002e3be0c70c00";
const SEQ2_HASH: &str = "085fc8fb4c0128b8ac39bc6416ef4b7ae3027b3f0f041bda5f20bff165c503c8";
const SEQ2_JSON: &str = r#"{"seq":2,"recorded_at":"2026-03-02T01:05:00.000000Z","type":"grant_issued","version":1,"actor":"hz-trading","effective_at":"2026-03-02T01:05:00.000000Z","data":{"grant":"G-2026-0001.1","brand":"acme","grantor":"hz-trading","grantee":"sh-retail","parent":"G-2026-0001","scope":{"skus":["ACME-SERUM-30ML"]},"channels":["taobao"],"regions":["CN-31","CN-32"],"exclusive":false,"sublicensable":false,"valid_from":"2026-03-02T00:00:00.000000Z","valid_until":"2026-12-31T16:00:00.000000Z"},"prev":"bba3ca37dd789f6fd5bec1febda32ffca415137ddb034d82981296dff78679d4","hash":"085fc8fb4c0128b8ac39bc6416ef4b7ae3027b3f0f041bda5f20bff165c503c8","ends_batch":true}"#;

const SEQ3_BYTES: &str = "01085fc8fb4c0128b8ac39bc6416ef4b7ae3027b3f0f041bda5f20bff165c503c803fda038867009980c00010973682d72657461696cfd00cb776e09980c000d73616c655f7265636f72646564011254422d32303236303330322d3030303431371073682d72657461696c2d74616f62616f0f41434d452d534552554d2d33304d4cfb2c01fbc86403434e590105434e2d333100";
const SEQ3_HASH: &str = "54ede60ac626250bb067f501d916d965c78289da3539eee6892d206e8368864c";
const SEQ3_JSON: &str = r#"{"seq":3,"recorded_at":"2026-03-02T06:30:15.250000Z","type":"sale_recorded","version":1,"actor":"sh-retail","effective_at":"2026-03-02T06:29:58.000000Z","data":{"order":"TB-20260302-000417","store":"sh-retail-taobao","sku":"ACME-SERUM-30ML","quantity":300,"unit_price":{"value":12900,"currency":"CNY"},"region":"CN-31"},"prev":"085fc8fb4c0128b8ac39bc6416ef4b7ae3027b3f0f041bda5f20bff165c503c8","hash":"54ede60ac626250bb067f501d916d965c78289da3539eee6892d206e8368864c","ends_batch":true}"#;

/// The public key of RFC 8032, section 7.1, TEST 1.
const PUBLIC_KEY_HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

struct Golden {
    record: Record,
    bytes: &'static str,
    hash: &'static str,
    json: &'static str,
}

fn ts(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn party(id: &str) -> PartyId {
    PartyId::parse(id).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex {text:?}");
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// `fb 2c 01`: bytes as the tables of docs/format.md show them.
fn spaced(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn record(
    seq: u64,
    prev: &str,
    recorded_at: &str,
    ends_batch: bool,
    actor: &str,
    effective_at: &str,
    event: Event,
) -> Record {
    Record {
        seq: Seq(seq),
        recorded_at: ts(recorded_at),
        prev: Digest::parse_hex(prev).unwrap(),
        ends_batch,
        actor: party(actor),
        effective_at: ts(effective_at),
        version: event.event_type().current_version(),
        event,
    }
}

/// The four golden records: a founding record, an import batch of two grants (the first
/// with every optional field absent, the second with most present), and a sale.
fn goldens() -> Vec<Golden> {
    let zero = "0".repeat(64);
    let ledger_created = LedgerCreated {
        origin: OriginName::parse("ledger.example.com/acme").unwrap(),
        public_key: PublicKey(Digest::parse_hex(PUBLIC_KEY_HEX).unwrap().0),
    };
    let grant = GrantIssued {
        grant: GrantId::parse("G-2026-0001").unwrap(),
        brand: BrandId::parse("acme").unwrap(),
        grantor: party("acme-brand-co"),
        grantee: party("hz-trading"),
        parent: None,
        scope: Scope { skus: None, categories: None },
        channels: vec![Channel::TmallFlagship, Channel::TmallFranchise],
        regions: None,
        exclusive: true,
        sublicensable: true,
        valid_from: ts("2026-03-02T00:00:00+08:00"),
        valid_until: ts("2027-03-02T00:00:00+08:00"),
    };
    let sub_grant = GrantIssued {
        grant: GrantId::parse("G-2026-0001.1").unwrap(),
        brand: BrandId::parse("acme").unwrap(),
        grantor: party("hz-trading"),
        grantee: party("sh-retail"),
        parent: Some(GrantId::parse("G-2026-0001").unwrap()),
        scope: Scope { skus: Some(vec![Sku::parse("ACME-SERUM-30ML").unwrap()]), categories: None },
        channels: vec![Channel::Taobao],
        regions: Some(vec![Region::parse("CN-31").unwrap(), Region::parse("CN-32").unwrap()]),
        exclusive: false,
        sublicensable: false,
        valid_from: ts("2026-03-02T00:00:00Z"),
        valid_until: ts("2026-12-31T16:00:00Z"),
    };
    let sale = SaleRecorded {
        order: OrderId::parse("TB-20260302-000417").unwrap(),
        store: StoreId::parse("sh-retail-taobao").unwrap(),
        sku: Sku::parse("ACME-SERUM-30ML").unwrap(),
        quantity: Quantity::try_from(300).unwrap(),
        unit_price: Money::new(12900, Currency::parse("CNY").unwrap()).unwrap(),
        region: Some(Region::parse("CN-31").unwrap()),
        payment_ref: None,
    };
    let at0 = "2026-03-02T09:00:00.123456+08:00";
    let at1 = "2026-03-02T01:05:00Z";
    vec![
        Golden {
            record: record(0, &zero, at0, true, "platform", at0, ledger_created.into()),
            bytes: SEQ0_BYTES,
            hash: SEQ0_HASH,
            json: SEQ0_JSON,
        },
        Golden {
            record: record(1, SEQ0_HASH, at1, false, "acme-brand-co", at1, grant.into()),
            bytes: SEQ1_BYTES,
            hash: SEQ1_HASH,
            json: SEQ1_JSON,
        },
        Golden {
            record: record(2, SEQ1_HASH, at1, true, "hz-trading", at1, sub_grant.into()),
            bytes: SEQ2_BYTES,
            hash: SEQ2_HASH,
            json: SEQ2_JSON,
        },
        Golden {
            record: record(
                3,
                SEQ2_HASH,
                "2026-03-02T06:30:15.25Z",
                true,
                "sh-retail",
                "2026-03-02T06:29:58Z",
                sale.into(),
            ),
            bytes: SEQ3_BYTES,
            hash: SEQ3_HASH,
            json: SEQ3_JSON,
        },
    ]
}

fn encode(record: &Record) -> Vec<u8> {
    let mut out = Vec::new();
    encode_record(record, &mut out);
    out
}

#[test]
fn golden_records_encode_to_the_documented_bytes_and_hashes() {
    for g in goldens() {
        let bytes = encode(&g.record);
        assert_eq!(hex(&bytes), g.bytes, "canonical bytes of seq {}", g.record.seq);
        assert_eq!(record_hash(&bytes).to_string(), g.hash, "hash of seq {}", g.record.seq);
    }
}

#[test]
fn golden_bytes_decode_back_to_the_records() {
    for g in goldens() {
        assert_eq!(decode_record(&unhex(g.bytes)).unwrap(), g.record, "seq {}", g.record.seq);
    }
}

#[test]
fn the_record_hash_is_blake3_derive_key_with_the_documented_context() {
    assert_eq!(RECORD_HASH_CONTEXT, "channel-ledger 2026 record v1");
    for g in goldens() {
        let bytes = unhex(g.bytes);
        let direct =
            blake3::Hasher::new_derive_key("channel-ledger 2026 record v1").update(&bytes).finalize();
        assert_eq!(hex(direct.as_bytes()), g.hash);
    }
}

#[test]
fn golden_records_form_a_chain() {
    let goldens = goldens();
    assert_eq!(goldens[0].record.prev, Digest::ZERO);
    for (i, pair) in goldens.windows(2).enumerate() {
        assert_eq!(pair[1].record.seq, Seq(i as u64 + 1));
        assert_eq!(pair[1].record.prev.to_string(), pair[0].hash);
        assert!(pair[1].record.recorded_at >= pair[0].record.recorded_at);
    }
    // `prev` sits at the fixed offset 1..33 of the canonical bytes.
    for pair in goldens.windows(2) {
        assert_eq!(&pair[1].bytes[2..66], pair[0].hash);
    }
    assert!(goldens.last().unwrap().record.ends_batch);
}

#[test]
fn export_json_is_exact_and_round_trips() {
    for g in goldens() {
        let hash = record_hash(&encode(&g.record));
        let mut line = Vec::new();
        ExportedRecord { record: &g.record, hash }.write_json(&mut line).unwrap();
        let line = String::from_utf8(line).unwrap();
        assert_eq!(line, g.json, "export of seq {}", g.record.seq);
        let imported =
            ImportedRecord::parse_json(&line).unwrap_or_else(|e| panic!("{}: {}", e.field, e.message));
        assert_eq!(imported.record, g.record);
        assert_eq!(imported.claimed_hash, hash);
        assert_eq!(hex(&encode(&imported.record)), g.bytes);
    }
}

// ---- primitives, enums and layouts ------------------------------------------------------

fn bincode_bytes<T: bincode::Encode>(value: T) -> Vec<u8> {
    bincode::encode_to_vec(value, bincode::config::standard()).unwrap()
}

/// `(type, value as the document writes it, bytes)`, each also a row of the document's table
/// of primitive examples.
fn primitive_examples() -> Vec<(&'static str, &'static str, Vec<u8>, &'static str)> {
    let t = |text: &str| ts(text);
    vec![
        ("u64", "0", bincode_bytes(0u64), "00"),
        ("u64", "250", bincode_bytes(250u64), "fa"),
        ("u64", "251", bincode_bytes(251u64), "fb fb 00"),
        ("u64", "300", bincode_bytes(300u64), "fb 2c 01"),
        ("u64", "65535", bincode_bytes(65535u64), "fb ff ff"),
        ("u64", "65536", bincode_bytes(65536u64), "fc 00 00 01 00"),
        ("u64", "4294967296", bincode_bytes(4_294_967_296u64), "fd 00 00 00 00 01 00 00 00"),
        ("u16", "1", bincode_bytes(1u16), "01"),
        ("u32", "300", bincode_bytes(300u32), "fb 2c 01"),
        ("i64", "0", bincode_bytes(0i64), "00"),
        ("i64", "-1", bincode_bytes(-1i64), "01"),
        ("i64", "1", bincode_bytes(1i64), "02"),
        ("i64", "-2", bincode_bytes(-2i64), "03"),
        ("i64", "125", bincode_bytes(125i64), "fa"),
        ("i64", "126", bincode_bytes(126i64), "fb fc 00"),
        ("i64", "-126", bincode_bytes(-126i64), "fb fb 00"),
        ("i64", "12900", bincode_bytes(12900i64), "fb c8 64"),
        ("Timestamp", "1970-01-01T00:00:00.000000Z", bincode_bytes(t("1970-01-01T00:00:00Z")), "00"),
        ("Timestamp", "1969-12-31T23:59:59.999999Z", bincode_bytes(t("1969-12-31T23:59:59.999999Z")), "01"),
        (
            "Timestamp",
            "2026-03-02T01:00:00.123456Z",
            bincode_bytes(t("2026-03-02T01:00:00.123456Z")),
            "fd 80 8c 60 36 00 98 0c 00",
        ),
        (
            "Timestamp",
            "0000-01-01T00:00:00.000000Z",
            bincode_bytes(Timestamp::MIN),
            "fd ff ff 2d 52 83 b9 b9 01",
        ),
        (
            "Timestamp",
            "9999-12-31T23:59:59.999999Z",
            bincode_bytes(Timestamp::MAX),
            "fd fe bf e6 98 19 88 08 07",
        ),
        ("bool", "false", bincode_bytes(false), "00"),
        ("bool", "true", bincode_bytes(true), "01"),
        ("Option<u8>", "None", bincode_bytes(None::<u8>), "00"),
        ("Option<u8>", "Some(7)", bincode_bytes(Some(7u8)), "01 07"),
        ("str", "\"CNY\"", bincode_bytes("CNY"), "03 43 4e 59"),
        ("str", "\"\"", bincode_bytes(""), "00"),
        ("Vec<u8>", "[3, 35]", bincode_bytes(vec![3u8, 35]), "02 03 23"),
        (
            "Vec<Channel>",
            "[taobao, offline]",
            bincode_bytes(vec![Channel::Taobao, Channel::Offline]),
            "02 03 04",
        ),
        ("[u8; 4]", "[1, 2, 3, 4]", bincode_bytes([1u8, 2, 3, 4]), "01 02 03 04"),
        (
            "Money",
            "12900 CNY",
            bincode_bytes(Money::new(12900, Currency::parse("CNY").unwrap()).unwrap()),
            "fb c8 64 03 43 4e 59",
        ),
    ]
}

fn primitive_row(ty: &str, value: &str, bytes: &[u8]) -> String {
    format!("| `{ty}` | `{value}` | `{}` |", spaced(bytes))
}

#[test]
fn primitives_encode_as_documented() {
    let doc = format_md();
    for (ty, value, bytes, expected) in primitive_examples() {
        assert_eq!(spaced(&bytes), expected, "{ty} {value}");
        let row = primitive_row(ty, value, &bytes);
        assert!(has_line(&doc, &row), "docs/format.md lacks the row\n{row}");
    }
}

/// Every variant of a unit enum, found by decoding each possible one-byte index, as the
/// document writes the list: "0 `tmall_flagship`, 1 `tmall_franchise`, ...".
fn variant_list<T>() -> String
where
    T: bincode::Decode<()> + bincode::Encode + serde::Serialize,
{
    let mut parts = Vec::new();
    for index in 0u8..=250 {
        let Ok((value, _)) = bincode::decode_from_slice::<T, _>(&[index], bincode::config::standard()) else {
            break;
        };
        assert_eq!(bincode_bytes(&value), [index]);
        let name = serde_json::to_string(&value).unwrap();
        parts.push(format!("{index} `{}`", name.trim_matches('"')));
    }
    assert!(bincode::decode_from_slice::<T, _>(&[parts.len() as u8], bincode::config::standard()).is_err());
    parts.join(", ")
}

#[test]
fn doc_lists_every_enum_variant_with_its_index() {
    let doc = format_md();
    for (name, list) in [
        ("Channel", variant_list::<Channel>()),
        ("QualificationKind", variant_list::<QualificationKind>()),
        ("HostPower", variant_list::<HostPower>()),
        ("AgreementMode", variant_list::<AgreementMode>()),
        ("DisputeClaim", variant_list::<DisputeClaim>()),
        ("DisputeFinding", variant_list::<DisputeFinding>()),
    ] {
        let row = format!("| `{name}` | {list} |");
        assert!(has_line(&doc, &row), "docs/format.md lacks the row\n{row}");
    }
}

/// A deserializer that only records the field list a derived `Deserialize` asks for. The
/// derives of serde and bincode both follow declaration order, so this is the byte order of
/// the struct's fields (and the order of the keys of its JSON form).
struct FieldsProbe<'a>(&'a Cell<Option<&'static [&'static str]>>);

impl<'de> serde::Deserializer<'de> for FieldsProbe<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.set(Some(fields));
        Err(serde::de::Error::custom("probed"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

fn fields_of<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
    let cell = Cell::new(None);
    let _ = T::deserialize(FieldsProbe(&cell));
    cell.get().expect("deserializes as a struct").to_vec()
}

macro_rules! event_layouts {
    ($($variant:ident),* $(,)?) => {
        vec![$( (EventType::$variant, fields_of::<event::$variant>()), )*]
    };
}

/// The field names of a layout block of docs/format.md: the lines indented by two spaces
/// after the line `header`, first word of each.
fn doc_layout(doc: &str, header: &str) -> Vec<String> {
    let mut lines = doc.lines().skip_while(|l| l.trim_end() != header);
    assert!(lines.next().is_some(), "docs/format.md has no layout line {header:?}");
    lines
        .take_while(|l| l.starts_with("  ") && !l.trim().is_empty())
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

#[test]
fn doc_lists_every_field_of_every_event_type_in_byte_order() {
    let doc = format_md();
    let layouts = event_layouts![
        LedgerCreated,
        PartyRegistered,
        SupplierAdmitted,
        SupplierSuspended,
        SupplierReinstated,
        SupplierExpelled,
        MarginDeposited,
        MarginDeducted,
        MarginRefunded,
        PolicySet,
        BrandRegistered,
        ProductRegistered,
        ChannelHostAppointed,
        ChannelHostDismissed,
        GrantIssued,
        GrantRevoked,
        StoreOpened,
        StoreClosed,
        AgreementSigned,
        AgreementTerminated,
        SaleRecorded,
        SaleRefunded,
        DisputeOpened,
        DisputeClosed,
    ];
    let types: Vec<EventType> = layouts.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, EventType::ALL, "an event type is missing from this test");
    for (event_type, fields) in layouts {
        let header = format!("event {} v{}", event_type.name(), event_type.current_version());
        assert_eq!(doc_layout(&doc, &header), fields, "fields of {event_type}");
    }
    for (name, fields) in [
        ("Scope", fields_of::<Scope>()),
        ("Qualification", fields_of::<event::Qualification>()),
        ("Money", fields_of::<Money>()),
    ] {
        assert_eq!(doc_layout(&doc, &format!("composite {name}")), fields, "fields of {name}");
    }
}

// ---- the document -------------------------------------------------------------------------

/// Whether `text` is a whole line of the document, so that a longer or shorter string around
/// it cannot pass for it.
fn has_line(doc: &str, text: &str) -> bool {
    doc.lines().any(|line| line.trim_end() == text)
}

fn format_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/format.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_document_states_every_golden_vector() {
    let doc = format_md();
    for g in goldens() {
        for (what, text) in [("bytes", g.bytes), ("hash", g.hash), ("export line", g.json)] {
            assert!(
                has_line(&doc, text),
                "docs/format.md lacks the {what} of seq {} as a line:\n{text}",
                g.record.seq
            );
        }
    }
    for text in [RECORD_HASH_CONTEXT, PUBLIC_KEY_HEX, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="] {
        assert!(doc.contains(text), "docs/format.md lacks {text}");
    }
}

/// The annotated breakdowns (`<!-- annotated seq=N -->` then a text block of
/// `offset hex meaning` lines) must cover the golden bytes of seq N exactly, in order.
#[test]
fn doc_annotated_breakdowns_add_up_to_the_golden_bytes() {
    let doc = format_md();
    let goldens = goldens();
    let mut found = 0;
    for (i, _) in doc.match_indices("<!-- annotated seq=") {
        let rest = &doc[i + "<!-- annotated seq=".len()..];
        let seq: usize = rest[..rest.find(' ').unwrap()].parse().unwrap();
        let block = rest.split("```text\n").nth(1).unwrap().split("```").next().unwrap();
        let mut bytes = Vec::new();
        for line in block.lines() {
            let mut words = line.split_whitespace();
            let Some(Ok(offset)) = words.next().map(str::parse::<usize>) else {
                continue;
            };
            assert_eq!(offset, bytes.len(), "seq {seq}: offset column at {line:?}");
            bytes.extend(unhex(words.next().unwrap()));
        }
        assert_eq!(hex(&bytes), goldens[seq].bytes, "annotated breakdown of seq {seq}");
        found += 1;
    }
    assert!(found >= 1, "docs/format.md has no annotated breakdown");
}

/// The frame and segment examples of the document, built from its description (the log
/// crate's own tests check its code against the same description).
#[test]
fn doc_frame_and_segment_examples() {
    let doc = format_md();
    let goldens = goldens();
    let mut frames = Vec::new();
    let mut offsets = Vec::new();
    let mut segment = Vec::new();
    segment.extend_from_slice(b"CHLSEGv1");
    segment.extend_from_slice(&0u64.to_le_bytes());
    segment.extend_from_slice(&[0; 16]);
    assert_eq!(segment.len(), 32);
    for g in &goldens {
        let body = unhex(g.bytes);
        let mut frame = vec![0xC3, 0x48, 0x4C, 0x52];
        frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
        frame.extend_from_slice(&body);
        frame.extend_from_slice(record_hash(&body).as_bytes());
        offsets.extend_from_slice(&(segment.len() as u32).to_le_bytes());
        segment.extend_from_slice(&frame);
        frames.push(frame);
    }
    for (what, text) in [
        ("frame of seq 0", hex(&frames[0])),
        ("segment header", hex(&segment[..32])),
        (".idx file", hex(&offsets)),
    ] {
        assert!(has_line(&doc, &text), "docs/format.md lacks the {what} as a line: {text}");
    }
    let size = format!("`00000000000000000000.seg`, of {} bytes", segment.len());
    assert!(doc.contains(&size), "docs/format.md lacks {size:?}");
}
