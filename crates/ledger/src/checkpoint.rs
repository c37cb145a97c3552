//! Signed checkpoints: the C2SP tlog-checkpoint body in the signed-note format, so that the
//! transparency-log ecosystem's tools (Go's golang.org/x/mod/sumdb/note, witnesses) read them.
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <root hash, standard base64>\n
//! \n
//! — <key name> <base64(key id, 4 bytes big-endian || Ed25519 signature of the text above the blank line)>\n
//! ```

use crate::keys::{CheckpointKey, KeyError, key_id};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chl_model::event::{OriginName, PublicKey};
use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};

/// What a checkpoint commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("the note has no signature block (a blank line, then signature lines)")]
    NoSignatures,
    #[error("the note has no signature by {0}")]
    NotSignedBy(String),
    #[error("the signature by {0} does not verify")]
    BadSignature(String),
    #[error("a signature line is malformed: {0}")]
    MalformedSignature(String),
    #[error("the checkpoint body is malformed: {0}")]
    MalformedBody(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl Checkpoint {
    /// The body lines, ending with a newline.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, BASE64.encode(self.root))
    }

    /// The checkpoint a signed note carries (its signature not checked here).
    pub fn of_note(note: &str) -> Result<Checkpoint, NoteError> {
        let (body, _) = note.split_once("\n\n").ok_or(NoteError::NoSignatures)?;
        Checkpoint::parse_body(&format!("{body}\n"))
    }

    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |why: &str| NoteError::MalformedBody(why.to_owned());
        let mut lines = text.split_inclusive('\n');
        let origin = lines.next().and_then(|l| l.strip_suffix('\n')).ok_or_else(|| bad("no origin line"))?;
        let size = lines.next().and_then(|l| l.strip_suffix('\n')).ok_or_else(|| bad("no size line"))?;
        let root = lines.next().and_then(|l| l.strip_suffix('\n')).ok_or_else(|| bad("no root line"))?;
        if origin.is_empty() {
            return Err(bad("empty origin"));
        }
        if size.is_empty()
            || !size.bytes().all(|c| c.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad("the size is not a decimal number"));
        }
        let size = size.parse().map_err(|_| bad("the size is out of range"))?;
        let root: [u8; 32] = BASE64
            .decode(root)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("the root is not base64 of 32 bytes"))?;
        // Extension lines may follow; they are covered by the signature and kept as text.
        Ok(Checkpoint { origin: origin.to_owned(), size, root })
    }
}

/// Signs `text` (which must end with a newline) as a signed note by `key`.
pub fn sign_note(text: &str, key: &CheckpointKey) -> String {
    assert!(text.ends_with('\n'), "a note's text ends with a newline");
    let signature = key.signing_key().sign(text.as_bytes());
    let mut blob = key_id(key.name(), &key.public_key()).to_be_bytes().to_vec();
    blob.extend_from_slice(&signature.to_bytes());
    format!("{text}\n\u{2014} {} {}\n", key.name(), BASE64.encode(blob))
}

/// Checks a signed note against one verifier key (`name`, `public_key`) and returns its text.
pub fn verify_note<'a>(
    note: &'a str,
    name: &OriginName,
    public_key: &PublicKey,
) -> Result<&'a str, NoteError> {
    let verifying = VerifyingKey::from_bytes(&public_key.0)
        .map_err(|_| NoteError::MalformedSignature("the public key is not a valid Ed25519 key".into()))?;
    verify_note_with(note, name, key_id(name, public_key), &verifying)
}

/// `verify_note` with the key already decompressed and its id computed: a verifier checking
/// many notes against one key pays for those once (decompressing an Ed25519 point costs a
/// third of a signature check).
pub fn verify_note_with<'a>(
    note: &'a str,
    name: &OriginName,
    wanted_id: u32,
    verifying: &VerifyingKey,
) -> Result<&'a str, NoteError> {
    let split = note.rfind("\n\n").ok_or(NoteError::NoSignatures)?;
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    if signatures.is_empty() || !signatures.ends_with('\n') {
        return Err(NoteError::NoSignatures);
    }
    for line in signatures.lines() {
        let rest = line.strip_prefix("\u{2014} ").ok_or_else(|| {
            NoteError::MalformedSignature(format!("{line:?} does not start with an em dash"))
        })?;
        let (signer, blob) = rest
            .split_once(' ')
            .ok_or_else(|| NoteError::MalformedSignature(format!("{line:?} has no signature")))?;
        if signer != name.as_str() {
            continue;
        }
        let blob = BASE64
            .decode(blob)
            .map_err(|_| NoteError::MalformedSignature(format!("{line:?} is not base64")))?;
        if blob.len() != 4 + 64 || u32::from_be_bytes(blob[..4].try_into().unwrap()) != wanted_id {
            continue;
        }
        let signature = Signature::from_bytes(blob[4..].try_into().unwrap());
        return verifying
            .verify(text.as_bytes(), &signature)
            .map(|()| text)
            .map_err(|_| NoteError::BadSignature(name.to_string()));
    }
    Err(NoteError::NotSignedBy(name.to_string()))
}

/// Where a ledger keeps its checkpoints: `DIR/checkpoints/latest` (the newest note) and
/// `DIR/checkpoints/history.jsonl` (every one, `{"size", "note"}` per line). Checkpoints are
/// signed only over durable records, which recovery never cuts, so no two are inconsistent;
/// a lost or stale file is re-signed on open.
pub struct CheckpointStore {
    dir: std::path::PathBuf,
}

impl CheckpointStore {
    pub fn new(dir: std::path::PathBuf) -> CheckpointStore {
        CheckpointStore { dir }
    }

    pub fn latest(&self) -> Option<String> {
        self.read_latest().ok().flatten()
    }

    /// The latest note: `Ok(None)` when there is none, an error when the file is there but
    /// cannot be read as text (damage that must not pass for "no checkpoint").
    pub fn read_latest(&self) -> std::io::Result<Option<String>> {
        match std::fs::read_to_string(self.dir.join("latest")) {
            Ok(note) => Ok(Some(note)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The tree size of the newest checkpoint signed: from `latest`, or, when that file is
    /// missing or damaged, from the history it copies.
    pub fn newest_size(&self) -> u64 {
        let size_of = |note: &str| {
            note.split_once("\n\n").and_then(|(body, _)| Checkpoint::parse_body(&format!("{body}\n")).ok())
        };
        if let Some(checkpoint) = self.latest().as_deref().and_then(size_of) {
            return checkpoint.size;
        }
        let Ok(history) = std::fs::read_to_string(self.dir.join("history.jsonl")) else { return 0 };
        history
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|entry| entry["note"].as_str().and_then(size_of))
            .map(|c| c.size)
            .max()
            .unwrap_or(0)
    }

    /// The checkpoint of a tree of exactly `size` records, from the history.
    pub fn of_size(&self, size: u64) -> Option<String> {
        let history = std::fs::read_to_string(self.dir.join("history.jsonl")).ok()?;
        history.lines().rev().find_map(|line| {
            let entry: serde_json::Value = serde_json::from_str(line).ok()?;
            (entry["size"].as_u64() == Some(size)).then(|| entry["note"].as_str().map(str::to_owned))?
        })
    }

    /// Stores `note` (of a tree of `size` records) as the latest, and in the history.
    pub fn store(&self, size: u64, note: &str) -> std::io::Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join("latest.tmp");
        std::fs::write(&tmp, note)?;
        std::fs::rename(&tmp, self.dir.join("latest"))?;
        let line = serde_json::json!({"size": size, "note": note}).to_string();
        let mut history =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("history.jsonl"))?;
        writeln!(history, "{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::verifier_string;

    fn go_reference() -> serde_json::Value {
        let path =
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/signed-note/go-reference.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn signing_the_go_reference_text_gives_the_go_reference_note() {
        let vectors = go_reference();
        let key = CheckpointKey::parse_signer_string(vectors["skey"].as_str().unwrap()).unwrap();
        let note = sign_note(vectors["text"].as_str().unwrap(), &key);
        assert_eq!(note, vectors["note"].as_str().unwrap());
        assert_eq!(verifier_string(key.name(), &key.public_key()), vectors["vkey"].as_str().unwrap());
        let text = verify_note(&note, key.name(), &key.public_key()).unwrap();
        assert_eq!(text, vectors["text"].as_str().unwrap());
    }

    #[test]
    fn any_change_to_a_note_fails_and_says_why() {
        let vectors = go_reference();
        let key = CheckpointKey::parse_signer_string(vectors["skey"].as_str().unwrap()).unwrap();
        let note = vectors["note"].as_str().unwrap();
        let changed = note.replace("cryptography", "cryptographY");
        assert_eq!(
            verify_note(&changed, key.name(), &key.public_key()),
            Err(NoteError::BadSignature("PeterNeumann".into()))
        );
        let other = CheckpointKey::generate(OriginName::parse("PeterNeumann").unwrap()).unwrap();
        assert!(
            verify_note(note, other.name(), &other.public_key()).is_err(),
            "another key with the same name"
        );
        assert_eq!(
            verify_note("no signatures\n", key.name(), &key.public_key()),
            Err(NoteError::NoSignatures)
        );
    }

    #[test]
    fn checkpoint_bodies_round_trip_and_refuse_garbage() {
        let cp = Checkpoint { origin: "example.com/ledger".into(), size: 42, root: [7; 32] };
        assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), cp);
        for bad in ["", "origin\n", "origin\n01\nAAAA\n", "origin\n-1\nAAAA\n", "origin\n5\nnot base64\n"] {
            assert!(Checkpoint::parse_body(bad).is_err(), "{bad:?}");
        }
    }
}
