//! Proof bundles (spec/cli.md): records with their inclusion proofs against one signed
//! checkpoint, and optionally the verdict they support, checkable offline with the ledger's
//! verifier key alone.

use crate::checkpoint::{Checkpoint, NoteError, verify_note_with};
use crate::keys::key_id;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chl_log::merkle::{Sha256Hasher, TreeHasher, verify_inclusion};
use chl_model::codec::{decode_record_bound_by_proof, record_hash};
use chl_model::event::{OriginName, PublicKey};
use chl_model::{ExportedRecord, ImportedRecord, Seq};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// The signed note, as `chl checkpoint` prints it.
    pub checkpoint: String,
    pub records: Vec<BundledRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<serde_json::Value>,
    /// The verdict signed by the ledger's key: a signed note whose text is the verdict's JSON
    /// (keys sorted, no spaces) and a newline. The checkpoint proves the records; this proves
    /// the answer drawn from them is the ledger's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict_note: Option<String>,
}

/// The text a verdict note signs.
pub fn verdict_text(verdict: &serde_json::Value) -> String {
    format!("{verdict}\n")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundledRecord {
    pub seq: u64,
    /// Base64 of the record's canonical bytes.
    pub bytes: String,
    /// The export form of the record (kept as written, parsed once when checked).
    pub record: Box<serde_json::value::RawValue>,
    /// Base64 hashes of the inclusion proof (RFC 9162 §2.1.3).
    pub inclusion: Vec<String>,
}

impl BundledRecord {
    /// Bundles `bytes` (canonical, of record `seq`) with its proof.
    pub fn new(seq: Seq, bytes: &[u8], inclusion: &[[u8; 32]]) -> BundledRecord {
        // Bound by the inclusion proof checked below: if that fails, so does the bundle.
        let record = decode_record_bound_by_proof(bytes).expect("canonical bytes from the log decode");
        let mut json = Vec::new();
        ExportedRecord { record: &record, hash: record_hash(bytes) }
            .write_json(&mut json)
            .expect("in memory");
        BundledRecord {
            seq: seq.0,
            bytes: BASE64.encode(bytes),
            record: serde_json::value::RawValue::from_string(String::from_utf8(json).expect("JSON is UTF-8"))
                .expect("export form is JSON"),
            inclusion: inclusion.iter().map(|h| BASE64.encode(h)).collect(),
        }
    }
}

/// A verifier key in signed-note form: `name+hex(key id)+base64(0x01 || public key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: OriginName,
    pub public_key: PublicKey,
    /// The key decompressed, and its signed-note key id, computed once.
    verifying: ed25519_dalek::VerifyingKey,
    id: u32,
}

impl VerifierKey {
    pub fn parse(text: &str) -> Result<VerifierKey, BundleError> {
        let bad = |why: &str| BundleError::Key(why.to_owned());
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected name+keyid+key"));
        };
        let name = OriginName::parse(name).map_err(|_| bad("the key name is not a valid origin"))?;
        let material = BASE64.decode(material).map_err(|_| bad("the key is not base64"))?;
        let [0x01, key @ ..] = material.as_slice() else { return Err(bad("not an Ed25519 key")) };
        let public_key = PublicKey(key.try_into().map_err(|_| bad("an Ed25519 key has 32 bytes"))?);
        let key_id = key_id(&name, &public_key);
        if format!("{key_id:08x}") != id {
            return Err(bad("the key id does not match the key"));
        }
        let verifying = ed25519_dalek::VerifyingKey::from_bytes(&public_key.0)
            .map_err(|_| bad("the key is not a valid Ed25519 point"))?;
        Ok(VerifierKey { name, public_key, verifying, id: key_id })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("the bundle is not valid JSON of the bundle form: {0}")]
    Form(String),
    #[error("the verifier key: {0}")]
    Key(String),
    #[error("checkpoint: {0}")]
    Checkpoint(NoteError),
    #[error("checkpoint: it is of origin {0}, not of the key's {1}")]
    Origin(String, String),
    #[error("record {index} (seq {seq}): {what}")]
    Record { index: usize, seq: u64, what: String },
    #[error("verdict: {0}")]
    Verdict(String),
}

/// A bundle as read for verification: borrowed from the text where JSON lets it be, so that
/// checking a record costs little beyond its hashes (this is on an auditor's hot path).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleIn<'a> {
    #[serde(borrow)]
    checkpoint: Cow<'a, str>,
    #[serde(borrow)]
    records: Vec<RecordIn<'a>>,
    #[serde(default)]
    verdict: Option<serde_json::Value>,
    #[serde(default, borrow)]
    verdict_note: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordIn<'a> {
    seq: u64,
    #[serde(borrow)]
    bytes: Cow<'a, str>,
    #[serde(borrow)]
    record: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    inclusion: Vec<Cow<'a, str>>,
}

/// What a verified bundle proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleReport {
    pub checkpoint: Checkpoint,
    pub records: Vec<u64>,
    pub verdict: Option<String>,
}

/// Checks a bundle trusting only `key`: the checkpoint's signature, each record's bytes
/// against its stated form and hash, each inclusion proof against the checkpoint's root, and
/// that every record a verdict names as evidence is in the bundle. Never panics on input.
pub fn verify_bundle(text: &str, key: &VerifierKey) -> Result<BundleReport, BundleError> {
    let bundle: BundleIn = serde_json::from_str(text).map_err(|e| BundleError::Form(e.to_string()))?;
    let note_text = verify_note_with(&bundle.checkpoint, &key.name, key.id, &key.verifying)
        .map_err(BundleError::Checkpoint)?;
    let checkpoint = Checkpoint::parse_body(note_text).map_err(BundleError::Checkpoint)?;
    if checkpoint.origin != key.name.as_str() {
        return Err(BundleError::Origin(checkpoint.origin, key.name.to_string()));
    }
    let mut seqs = Vec::new();
    let mut rendered = Vec::with_capacity(512);
    let mut bytes = Vec::with_capacity(512);
    let mut proof: Vec<[u8; 32]> = Vec::with_capacity(64);
    for (index, bundled) in bundle.records.iter().enumerate() {
        let fail = |what: String| BundleError::Record { index, seq: bundled.seq, what };
        bytes.clear();
        BASE64
            .decode_vec(bundled.bytes.as_bytes(), &mut bytes)
            .map_err(|_| fail("bytes are not base64".into()))?;
        let bytes = bytes.as_slice();
        // Bound by the inclusion proof checked below: if that fails, so does the bundle.
        let record =
            decode_record_bound_by_proof(bytes).map_err(|e| fail(format!("bytes do not decode: {e}")))?;
        if record.seq.0 != bundled.seq {
            return Err(fail(format!("the bytes hold seq {}", record.seq)));
        }
        let hash = record_hash(bytes);
        // Fast path: the stated form is exactly the canonical export line of the bytes (as
        // chl writes it). Otherwise parse it and compare fields, to accept any spelling of the
        // same record and to say precisely what differs.
        rendered.clear();
        ExportedRecord { record: &record, hash }.write_json(&mut rendered).expect("in memory");
        if rendered != bundled.record.get().as_bytes() {
            let stated = ImportedRecord::parse_json(bundled.record.get())
                .map_err(|e| fail(format!("the record form: {}: {}", e.field, e.message)))?;
            if stated.record != record {
                return Err(fail("the record form is not what the bytes decode to".into()));
            }
            if stated.claimed_hash != hash {
                return Err(fail("the record's hash is not the BLAKE3 record hash of its bytes".into()));
            }
        }
        proof.clear();
        for hash in &bundled.inclusion {
            let mut decoded = [0u8; 48];
            match BASE64.decode_slice(hash.as_bytes(), &mut decoded) {
                Ok(32) => proof.push(decoded[..32].try_into().expect("32 bytes")),
                Ok(n) => return Err(fail(format!("an inclusion hash has {n} bytes, not 32"))),
                Err(_) => return Err(fail("an inclusion hash is not the base64 of 32 bytes".into())),
            }
        }
        let leaf = Sha256Hasher::leaf(bytes);
        verify_inclusion::<Sha256Hasher>(bundled.seq, checkpoint.size, &leaf, &proof, &checkpoint.root)
            .map_err(|e| fail(format!("inclusion proof: {e}")))?;
        seqs.push(bundled.seq);
    }
    let verdict = match &bundle.verdict {
        None => None,
        Some(verdict) => {
            // A verdict speaks of what the ledger knew at its checkpoint, no later or earlier.
            if verdict["known_at_seq"].as_u64() != checkpoint.size.checked_sub(1) {
                return Err(BundleError::Verdict(format!(
                    "it was drawn at another knowledge horizon than the checkpoint's (seq {})",
                    checkpoint.size.saturating_sub(1)
                )));
            }
            let note = bundle
                .verdict_note
                .as_deref()
                .ok_or_else(|| BundleError::Verdict("it is not signed".into()))?;
            let signed = verify_note_with(note, &key.name, key.id, &key.verifying)
                .map_err(|e| BundleError::Verdict(format!("its signature: {e}")))?;
            if signed != verdict_text(verdict) {
                return Err(BundleError::Verdict("it is not the verdict the ledger signed".into()));
            }
            let evidence = verdict["evidence"]
                .as_array()
                .ok_or_else(|| BundleError::Verdict("it has no evidence list".into()))?;
            for seq in evidence {
                let seq =
                    seq.as_u64().ok_or_else(|| BundleError::Verdict("evidence seqs are numbers".into()))?;
                if !seqs.contains(&seq) {
                    return Err(BundleError::Verdict(format!(
                        "evidence seq {seq} is not proven in the bundle"
                    )));
                }
            }
            Some(verdict["verdict"].as_str().unwrap_or("?").to_owned())
        }
    };
    Ok(BundleReport { checkpoint, records: seqs, verdict })
}
