//! The record decoder and the submission parser answer arbitrary input with an error, never a
//! panic, and what they accept round-trips: a decoded record re-encodes to the same bytes (so
//! the same hash) and its export form reads back as the same record; a parsed submission
//! writes back to a line that parses to an equal submission. The same properties as the
//! `record_decoder` and `submission_parser` fuzz targets (fuzz/README.md), on arbitrary input
//! and on mutations of real records and submissions (replay/samples/acme-channel.jsonl and the
//! valid schema samples).
//!
//! BUG (open, see the two ignored tests at the end): the codec decodes with bincode's
//! `NoLimit` configuration, so a length prefix is believed before the bytes behind it are
//! read: a record of 45 bytes that declares a 2^60-byte actor makes the decoder ask for that
//! much memory and the process aborts (not a panic: nothing can catch it), and a list length of
//! 2^62 panics with "capacity overflow". `declares_more_than_it_holds` screens such inputs out
//! of the properties below so that they stay deterministic; remove it once codec.rs bounds
//! lengths (and un-ignore the two tests).

use bincode::Decode;
use bincode::de::DecoderImpl;
use bincode::de::read::SliceReader;
use bincode::error::DecodeError;
use chl_model::codec::{
    decode_head, decode_record, decode_record_bound_by_proof, encode_record, record_hash,
};
use chl_model::event::{self, LedgerCreated, OriginName, PublicKey};
use chl_model::versions::StoreOpenedV1;
use chl_model::{
    Digest, Event, EventType, ExportedRecord, ImportedRecord, PartyId, Record, Seq, Submission, Timestamp,
};
use proptest::prelude::*;
use std::sync::LazyLock;

const SAMPLE: &str = include_str!("../../../replay/samples/acme-channel.jsonl");
const SCHEMA_SAMPLES: &str = include_str!("schema_samples.jsonl");

/// The real submissions: every line of the sample, then every valid schema sample.
static SUBMISSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut lines: Vec<String> = SAMPLE.lines().map(str::to_owned).collect();
    for line in SCHEMA_SAMPLES.lines() {
        let sample: serde_json::Value = serde_json::from_str(line).unwrap();
        if sample["expect"] == "valid" {
            let text = sample["submission"].to_string();
            if Submission::parse_json(&text).is_ok() {
                lines.push(text);
            }
        }
    }
    lines
});

/// The canonical bytes of real records: a chain of `ledger_created` and one record per real
/// submission, and a `store_opened` written in version 1.
static RECORDS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let start = Timestamp::parse_rfc3339("2026-11-25T07:00:00Z").unwrap();
    let mut events = vec![(
        PartyId::platform(),
        None,
        Event::LedgerCreated(LedgerCreated {
            origin: OriginName::parse("fuzz.example/acme-channel").unwrap(),
            public_key: PublicKey([7; 32]),
        }),
    )];
    for line in SUBMISSIONS.iter() {
        let submission = Submission::parse_json(line).unwrap();
        events.push((submission.actor, submission.effective_at, submission.event));
    }
    let mut prev = Digest::ZERO;
    let mut records = Vec::new();
    for (i, (actor, effective_at, event)) in events.into_iter().enumerate() {
        let recorded_at = start.saturating_add_micros(i as i64 * 1_000_003);
        let record = Record {
            seq: Seq(i as u64),
            recorded_at,
            prev,
            ends_batch: i % 7 == 0,
            actor,
            effective_at: effective_at.unwrap_or(recorded_at),
            version: event.event_type().current_version(),
            event,
        };
        let mut bytes = Vec::new();
        encode_record(&record, &mut bytes);
        prev = record_hash(&bytes);
        records.push(bytes);
    }
    let store = records
        .iter()
        .map(|bytes| decode_record(bytes).unwrap())
        .find(|r| matches!(&r.event, Event::StoreOpened(s) if s.platform_shop_id.is_none()))
        .expect("a sample store without a platform shop id");
    let mut v1 = Vec::new();
    encode_record(&Record { version: 1, ..store }, &mut v1);
    records.push(v1);
    records
});

/// Inputs screened out because they would hit the open BUG (module docs).
const SCREEN_LIMIT: usize = 1 << 20;

/// Whether decoding `bytes` as the codec does would claim more than `SCREEN_LIMIT` bytes for
/// its strings and lists at once: the inputs on which the codec, which sets no limit,
/// allocates a declared length it never checks (the open BUG). Walks the record layout with
/// bincode's limit set, type by type; the match over event types has no catch-all, so a new
/// type fails to compile here until it is added.
fn declares_more_than_it_holds(bytes: &[u8]) -> bool {
    macro_rules! current {
        ($event_type:expr, $d:expr; $($variant:ident)*) => {
            match $event_type { $( EventType::$variant => event::$variant::decode($d).map(drop), )* }
        };
    }
    let config = bincode::config::standard().with_limit::<SCREEN_LIMIT>();
    let mut d = DecoderImpl::new(SliceReader::new(bytes), config, ());
    let mut walk = || -> Result<(), DecodeError> {
        if u8::decode(&mut d)? != 1 {
            return Ok(());
        }
        Digest::decode(&mut d)?;
        Seq::decode(&mut d)?;
        Timestamp::decode(&mut d)?;
        bool::decode(&mut d)?;
        PartyId::decode(&mut d)?;
        Timestamp::decode(&mut d)?;
        let Some(event_type) = EventType::from_name(&String::decode(&mut d)?) else { return Ok(()) };
        let version = u16::decode(&mut d)?;
        if version == event_type.current_version() {
            current!(event_type, &mut d;
                LedgerCreated PartyRegistered SupplierAdmitted SupplierSuspended SupplierReinstated
                SupplierExpelled MarginDeposited MarginDeducted MarginRefunded PolicySet
                BrandRegistered ProductRegistered ChannelHostAppointed ChannelHostDismissed
                GrantIssued GrantRevoked StoreOpened StoreClosed AgreementSigned AgreementTerminated
                SaleRecorded SaleRefunded DisputeOpened DisputeClosed)
        } else if (event_type, version) == (EventType::StoreOpened, 1) {
            StoreOpenedV1::decode(&mut d).map(drop)
        } else {
            Ok(())
        }
    };
    matches!(walk(), Err(DecodeError::LimitExceeded))
}

/// The record decoder's properties on `bytes` (as the record_decoder fuzz target); whether
/// `decode_record` accepted them.
fn check_record_bytes(bytes: &[u8]) -> bool {
    // Bytes declaring more than they hold are checked too: the codec's decode limit refuses
    // them (they once aborted the process).
    let head = decode_head(bytes);
    let accepted = match decode_record(bytes) {
        Ok(record) => {
            let mut again = Vec::new();
            encode_record(&record, &mut again);
            assert_eq!(again, bytes, "a decoded record re-encodes to other bytes");
            let hash = record_hash(bytes);
            assert_eq!(hash, record_hash(&again));
            let head = head.expect("the head of a record decodes");
            assert_eq!(
                (head.seq, head.prev, head.recorded_at, head.ends_batch),
                (record.seq, record.prev, record.recorded_at, record.ends_batch)
            );
            let mut line = Vec::new();
            ExportedRecord { record: &record, hash }.write_json(&mut line).unwrap();
            let line = String::from_utf8(line).unwrap();
            let back = ImportedRecord::parse_json(&line).unwrap_or_else(|e| {
                panic!("the export form does not read back: {}: {}\n{line}", e.field, e.message)
            });
            assert_eq!(back.record, record, "the export form reads back as another record");
            assert_eq!(back.claimed_hash, hash);
            true
        }
        Err(_) => false,
    };
    if let Ok(record) = decode_record_bound_by_proof(bytes) {
        let mut canonical = Vec::new();
        encode_record(&record, &mut canonical);
        assert_eq!(decode_record(&canonical), Ok(record), "the canonical re-encoding does not decode");
    }
    accepted
}

/// The submission parser's properties on `text` (as the submission_parser fuzz target);
/// whether it was accepted.
fn check_submission(text: &str) -> bool {
    let Ok(submission) = Submission::parse_json(text) else { return false };
    let mut line = Vec::new();
    submission.write_json(&mut line).unwrap();
    let line = String::from_utf8(line).unwrap();
    let again = Submission::parse_json(&line)
        .unwrap_or_else(|e| panic!("a submission's own line is refused: {e}\n{text}\n{line}"));
    assert_eq!(again, submission, "the written line parses to another submission\n{text}\n{line}");
    let mut twice = Vec::new();
    again.write_json(&mut twice).unwrap();
    assert_eq!(twice, line.as_bytes(), "writing is not stable");
    true
}

/// One edit of a byte string: overwrite, flip one bit, insert, or delete at a position.
#[derive(Debug, Clone)]
enum Edit {
    Set(prop::sample::Index, u8),
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, b)| Edit::Set(at, b)),
        (any::<prop::sample::Index>(), 0u8..8).prop_map(|(at, bit)| Edit::Flip(at, bit)),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<prop::sample::Index>().prop_map(Edit::Delete),
    ];
    prop::collection::vec(edit, 1..5)
}

fn apply(bytes: &mut Vec<u8>, edits: &[Edit]) {
    for edit in edits {
        match *edit {
            Edit::Set(at, b) if !bytes.is_empty() => {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            Edit::Flip(at, bit) if !bytes.is_empty() => {
                let i = at.index(bytes.len());
                bytes[i] ^= 1 << bit;
            }
            Edit::Insert(at, b) => {
                let i = at.index(bytes.len() + 1);
                bytes.insert(i, b);
            }
            Edit::Delete(at) if !bytes.is_empty() => {
                bytes.remove(at.index(bytes.len()));
            }
            _ => {}
        }
    }
}

/// Character edits of a text: the same four kinds, by character, with replacements drawn
/// mostly from JSON's own punctuation and from the characters ids and times are made of.
fn char_edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, char)>> {
    let with = prop_oneof![
        3 => prop::sample::select(
            "{}[]\":,0123456789-+.:TZeE _abcdefghijklmnopqrstuvwxyz\\/nul".chars().collect::<Vec<_>>()
        ),
        1 => any::<char>(),
    ];
    prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, with), 1..5)
}

fn apply_chars(text: &str, edits: &[(prop::sample::Index, u8, char)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(at, kind, with) in edits {
        match kind {
            0 if !chars.is_empty() => {
                let i = at.index(chars.len());
                chars[i] = with;
            }
            1 => {
                let i = at.index(chars.len() + 1);
                chars.insert(i, with);
            }
            2 if !chars.is_empty() => {
                chars.remove(at.index(chars.len()));
            }
            3 if !chars.is_empty() => {
                // Duplicate a stretch: repeated fields, doubled list items, nested objects.
                let i = at.index(chars.len());
                let end = (i + 1 + usize::from(with as u8 % 24)).min(chars.len());
                let stretch: Vec<char> = chars[i..end].to_vec();
                chars.splice(i..i, stretch);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

#[test]
fn every_real_record_decodes_and_round_trips() {
    assert!(RECORDS.len() > 90, "{} records", RECORDS.len());
    for bytes in RECORDS.iter() {
        assert!(!declares_more_than_it_holds(bytes));
        assert!(check_record_bytes(bytes), "a real record does not decode");
    }
    let last = decode_record(RECORDS.last().unwrap()).unwrap();
    assert_eq!((last.event.event_type(), last.version), (EventType::StoreOpened, 1));
}

#[test]
fn every_real_submission_parses_and_round_trips() {
    for line in SUBMISSIONS.iter() {
        assert!(check_submission(line), "{line}");
    }
}

#[test]
fn the_screen_catches_the_known_bug_inputs_and_nothing_real() {
    assert!(declares_more_than_it_holds(&huge_string_length()));
    assert!(declares_more_than_it_holds(&huge_list_length()));
    assert!(RECORDS.iter().all(|bytes| !declares_more_than_it_holds(bytes)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_record_decoder(
        format_one in any::<bool>(),
        mut bytes in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        if format_one {
            bytes.insert(0, 1);
        }
        check_record_bytes(&bytes);
    }

    #[test]
    fn mutated_real_records_never_panic_the_record_decoder(
        which in any::<prop::sample::Index>(),
        edits in edits(),
    ) {
        let mut bytes = RECORDS[which.index(RECORDS.len())].clone();
        apply(&mut bytes, &edits);
        check_record_bytes(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics_the_submission_parser(text in ".{0,300}") {
        check_submission(&text);
    }

    #[test]
    fn json_like_text_never_panics_the_submission_parser(
        text in r#"\{("(type|actor|effective_at|data|[a-z_]{1,12})":([0-9.eE+-]{1,24}|"[^"]{0,30}"|\{[^{}]{0,60}\}|\[[^\]]{0,40}\]|true|false|null),?){0,6}\}"#,
    ) {
        check_submission(&text);
    }

    #[test]
    fn mutated_real_submissions_never_panic_the_submission_parser(
        which in any::<prop::sample::Index>(),
        edits in char_edits(),
        lossy in any::<bool>(),
    ) {
        let line = &SUBMISSIONS[which.index(SUBMISSIONS.len())];
        let changed = apply_chars(line, &edits);
        if lossy {
            // As the server reads a body that is not UTF-8: cut mid-character, then lossily.
            let bytes = changed.as_bytes();
            let cut = &bytes[..bytes.len().saturating_sub(usize::from(edits[0].1))];
            check_submission(&String::from_utf8_lossy(cut));
        } else {
            check_submission(&changed);
        }
    }
}

/// A record whose actor declares 2^60 bytes (found by the record_decoder fuzz target; the
/// file is fuzz/regressions/record_decoder/bug-huge-length-prefix.bin).
fn huge_string_length() -> Vec<u8> {
    let mut bytes = vec![1];
    bytes.extend_from_slice(&[0; 32]); // prev
    bytes.extend_from_slice(&[0, 0, 0]); // seq, recorded_at, ends_batch
    bytes.push(253); // the actor's length: a u64 follows
    bytes.extend_from_slice(&(1u64 << 60).to_le_bytes());
    bytes
}

/// A real grant_issued record cut where its scope's category list begins, the list declaring
/// 2^62 items (fuzz/regressions/record_decoder/bug-huge-list-length.bin).
fn huge_list_length() -> Vec<u8> {
    let (grant, category) = RECORDS
        .iter()
        .find_map(|bytes| match decode_record(bytes) {
            Ok(Record { event: Event::GrantIssued(g), .. }) => match g.scope.categories.as_deref() {
                Some([only]) => Some((bytes, only.as_str().to_owned())),
                _ => None,
            },
            _ => None,
        })
        .expect("a sample grant with one category");
    // Some, one item, the category's length and bytes.
    let mut list = vec![1, 1, category.len() as u8];
    list.extend_from_slice(category.as_bytes());
    let at = grant.windows(list.len()).position(|w| w == list).expect("the category list");
    let mut bytes = grant[..at + 1].to_vec();
    bytes.push(253);
    bytes.extend_from_slice(&(1u64 << 62).to_le_bytes());
    bytes
}

#[test]
fn bug_a_huge_declared_string_length_is_an_error() {
    assert!(decode_record(&huge_string_length()).is_err());
    assert!(decode_record_bound_by_proof(&huge_string_length()).is_err());
}

#[test]
fn bug_a_huge_declared_list_length_is_an_error() {
    assert!(decode_record(&huge_list_length()).is_err());
    assert!(decode_record_bound_by_proof(&huge_list_length()).is_err());
}
