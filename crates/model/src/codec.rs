//! The canonical bytes of a record and its hash: the one place that calls bincode.
//!
//! Layout (docs/format.md is the full specification, pinned by golden vectors in
//! tests/golden.rs): bincode 2.0.1, standard configuration (little-endian, variable-length
//! integers), fields in this order:
//!
//! ```text
//! format u8 (=1) | prev [u8;32] | seq u64 | recorded_at i64 | ends_batch bool
//! | actor str | effective_at i64 | type str | type_version u16 | data (per type)
//! ```
//!
//! `prev` comes right after the format byte so that a reader can follow the chain at a fixed
//! offset without decoding the rest.

use crate::digest::Digest;
use crate::event::{Event, EventType};
use crate::id::PartyId;
use crate::record::{Record, Seq};
use crate::time::Timestamp;
use bincode::de::{Decode, Decoder, DecoderImpl};
use bincode::enc::{Encode, Encoder};
use bincode::error::{DecodeError, EncodeError};
use std::sync::OnceLock;

/// The layout version in the first byte of every record.
pub const RECORD_FORMAT: u8 = 1;
/// The BLAKE3 derive-key context of record hashes.
pub const RECORD_HASH_CONTEXT: &str = "channel-ledger 2026 record v1";
/// No record's canonical bytes exceed this; larger submissions are refused.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

const CONFIG: bincode::config::Configuration = bincode::config::standard();

/// Decoding reserves memory for a length a record declares before reading what follows it,
/// so bytes from outside (a bundle) could ask for petabytes. The limit bounds what one record
/// may claim: 256 x the largest record, far above any real one (a list item takes at most
/// 72 bytes in memory). Encoding is unchanged.
const DECODE_LIMIT: usize = 256 * MAX_RECORD_BYTES;
type DecodeConfig = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<DECODE_LIMIT>,
>;
const DECODE_CONFIG: DecodeConfig = bincode::config::standard().with_limit::<DECODE_LIMIT>();

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("record does not decode: {0}")]
    Decode(String),
    #[error("record has {0} bytes after its data")]
    TrailingBytes(usize),
    #[error("record breaks a form rule: {0}")]
    Form(String),
    #[error("record bytes are not canonical (an integer or length is written longer than needed)")]
    NotCanonical,
    #[error("record format {0} is unknown (this build reads format {RECORD_FORMAT})")]
    UnknownFormat(u8),
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("{0} has no version {1} that this build reads (it writes version {2})")]
    UnknownVersion(EventType, u16, u16),
}

/// Appends the canonical bytes of `record` to `out`.
pub fn encode_record(record: &Record, out: &mut Vec<u8>) {
    bincode::encode_into_writer(RecordBytes(record), VecSink(out), CONFIG)
        .expect("encoding into memory cannot fail");
}

/// Appends the bytes that identify a submission's content: actor, effective time, type and
/// data, the data always in the type's current version (so a record written in an old version
/// and a new submission with the same content are the same). Rule 8 (idempotency) compares
/// digests of these.
pub fn encode_identity(actor: &PartyId, effective_at: Timestamp, event: &Event, out: &mut Vec<u8>) {
    bincode::encode_into_writer(Identity { actor, effective_at, event }, VecSink(out), CONFIG)
        .expect("encoding into memory cannot fail");
}

struct Identity<'a> {
    actor: &'a PartyId,
    effective_at: Timestamp,
    event: &'a Event,
}

impl Encode for Identity<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        let event_type = self.event.event_type();
        self.actor.encode(e)?;
        self.effective_at.encode(e)?;
        event_type.name().encode(e)?;
        event_type.current_version().encode(e)?;
        self.event.encode_data(e)
    }
}

/// Decodes canonical bytes, all of them, into a record.
pub fn decode_record(bytes: &[u8]) -> Result<Record, CodecError> {
    let record = decode_record_uncanonical(bytes)?;
    // bincode's decoder accepts integers written longer than needed; such bytes would give
    // the same record a second hash. Only the one canonical encoding is a record.
    let mut again = Vec::with_capacity(bytes.len());
    encode_record(&record, &mut again);
    if again != bytes {
        return Err(CodecError::NotCanonical);
    }
    Ok(record)
}

/// `decode_record` without its proof that the bytes are canonical, for bytes that an
/// inclusion proof binds to a signed tree head (verifying a bundle): the tree holds only
/// bytes the ledger wrote, which are canonical, so the re-encoding would prove nothing more.
/// Every other caller wants `decode_record`.
pub fn decode_record_bound_by_proof(bytes: &[u8]) -> Result<Record, CodecError> {
    decode_record_uncanonical(bytes)
}

fn decode_record_uncanonical(bytes: &[u8]) -> Result<Record, CodecError> {
    let mut d = decoder(bytes);
    let head = read_head(&mut d)?;
    let actor = PartyId::decode(&mut d).map_err(decode_error)?;
    let effective_at = Timestamp::decode(&mut d).map_err(decode_error)?;
    let name = String::decode(&mut d).map_err(decode_error)?;
    let event_type = EventType::from_name(&name).ok_or(CodecError::UnknownType(name))?;
    let version = u16::decode(&mut d).map_err(decode_error)?;
    let event = if version == event_type.current_version() {
        Event::decode_data(event_type, &mut d).map_err(decode_error)?
    } else {
        crate::versions::decode_old(event_type, version, &mut d)
            .ok_or(CodecError::UnknownVersion(event_type, version, event_type.current_version()))?
            .map_err(decode_error)?
    };
    let left = d.reader().0.len();
    if left != 0 {
        return Err(CodecError::TrailingBytes(left));
    }
    // The same form rules as a submission, so a record read from disk holds only what a
    // submission could have.
    event.check_form().map_err(|e| CodecError::Form(format!("{}: {}", e.field, e.message)))?;
    let record = Record {
        seq: head.seq,
        recorded_at: head.recorded_at,
        prev: head.prev,
        ends_batch: head.ends_batch,
        actor,
        effective_at,
        version,
        event,
    };
    Ok(record)
}

/// The fields before the actor: enough to follow the chain and find batch boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHead {
    pub prev: Digest,
    pub seq: Seq,
    pub recorded_at: Timestamp,
    pub ends_batch: bool,
}

pub fn decode_head(bytes: &[u8]) -> Result<RecordHead, CodecError> {
    read_head(&mut decoder(bytes))
}

fn read_head(d: &mut SliceDecoder<'_>) -> Result<RecordHead, CodecError> {
    let format = u8::decode(d).map_err(decode_error)?;
    if format != RECORD_FORMAT {
        return Err(CodecError::UnknownFormat(format));
    }
    Ok(RecordHead {
        prev: Digest::decode(d).map_err(decode_error)?,
        seq: Seq::decode(d).map_err(decode_error)?,
        recorded_at: Timestamp::decode(d).map_err(decode_error)?,
        ends_batch: bool::decode(d).map_err(decode_error)?,
    })
}

/// BLAKE3 in derive-key mode with [`RECORD_HASH_CONTEXT`] over the canonical bytes.
pub fn record_hash(bytes: &[u8]) -> Digest {
    static TEMPLATE: OnceLock<blake3::Hasher> = OnceLock::new();
    let mut hasher = TEMPLATE.get_or_init(|| blake3::Hasher::new_derive_key(RECORD_HASH_CONTEXT)).clone();
    hasher.update(bytes);
    Digest(*hasher.finalize().as_bytes())
}

type SliceDecoder<'a> = DecoderImpl<Slice<'a>, DecodeConfig, ()>;

fn decoder(bytes: &[u8]) -> SliceDecoder<'_> {
    DecoderImpl::new(Slice(bytes), DECODE_CONFIG, ())
}

fn decode_error(e: DecodeError) -> CodecError {
    CodecError::Decode(e.to_string())
}

/// A reader over a byte slice that lets the decoder's caller see what is left.
struct Slice<'a>(&'a [u8]);

impl bincode::de::read::Reader for Slice<'_> {
    fn read(&mut self, out: &mut [u8]) -> Result<(), DecodeError> {
        if out.len() > self.0.len() {
            return Err(DecodeError::UnexpectedEnd { additional: out.len() - self.0.len() });
        }
        let (now, rest) = self.0.split_at(out.len());
        out.copy_from_slice(now);
        self.0 = rest;
        Ok(())
    }
}

struct VecSink<'a>(&'a mut Vec<u8>);

impl bincode::enc::write::Writer for VecSink<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

struct RecordBytes<'a>(&'a Record);

impl Encode for RecordBytes<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        let r = self.0;
        let event_type = r.event.event_type();
        RECORD_FORMAT.encode(e)?;
        r.prev.encode(e)?;
        r.seq.encode(e)?;
        r.recorded_at.encode(e)?;
        r.ends_batch.encode(e)?;
        r.actor.encode(e)?;
        r.effective_at.encode(e)?;
        event_type.name().encode(e)?;
        r.version.encode(e)?;
        if r.version == event_type.current_version() {
            r.event.encode_data(e)
        } else {
            crate::versions::encode_old(&r.event, r.version, e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{PartyRegistered, SupplierReinstated};
    use crate::{PartyId, Text};

    fn record(event: Event) -> Record {
        Record {
            seq: Seq(0),
            recorded_at: Timestamp::parse_rfc3339("2026-11-25T07:00:00Z").unwrap(),
            prev: Digest::ZERO,
            ends_batch: true,
            actor: PartyId::platform(),
            effective_at: Timestamp::parse_rfc3339("2013-03-29T00:00:00Z").unwrap(),
            version: event.event_type().current_version(),
            event,
        }
    }

    #[test]
    fn an_integer_written_longer_than_needed_is_not_a_record() {
        let mut bytes = Vec::new();
        encode_record(
            &record(Event::SupplierReinstated(SupplierReinstated {
                supplier: PartyId::parse("acme").unwrap(),
            })),
            &mut bytes,
        );
        assert!(decode_record(&bytes).is_ok());
        // seq 0 sits right after the format byte and prev; write it as a u16 varint instead.
        assert_eq!(bytes[33], 0);
        let mut longer = bytes[..33].to_vec();
        longer.extend_from_slice(&[251, 0, 0]);
        longer.extend_from_slice(&bytes[34..]);
        assert_eq!(decode_record(&longer), Err(CodecError::NotCanonical));
    }

    #[test]
    fn unknown_types_versions_and_trailing_bytes_are_named() {
        let mut bytes = Vec::new();
        let r = record(Event::PartyRegistered(PartyRegistered {
            party: PartyId::parse("acme").unwrap(),
            legal_name: Text::parse("Acme").unwrap(),
            credit_code: None,
        }));
        encode_record(&r, &mut bytes);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(decode_record(&trailing), Err(CodecError::TrailingBytes(1)));
        let mut format = bytes.clone();
        format[0] = 9;
        assert_eq!(decode_record(&format), Err(CodecError::UnknownFormat(9)));
        let name_at = bytes.windows(16).position(|w| w == b"party_registered").unwrap();
        let mut unknown = bytes.clone();
        unknown[name_at] = b'q';
        assert_eq!(decode_record(&unknown), Err(CodecError::UnknownType("qarty_registered".into())));
        let mut version = bytes.clone();
        version[name_at + 16] = 2;
        assert!(matches!(
            decode_record(&version),
            Err(CodecError::UnknownVersion(EventType::PartyRegistered, 2, 1))
        ));
    }
}
