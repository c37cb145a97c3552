//! The ledger's checkpoint key, in the signed-note key forms of the transparency-log
//! ecosystem (golang.org/x/mod/sumdb/note), so its tools read the keys as they are:
//!
//! - verifier key: `<name>+<key id, 8 hex>+<base64(0x01 || public key)>`
//! - signer key:   `PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>`
//!
//! where the key id is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key) and
//! 0x01 names the Ed25519 algorithm.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chl_model::event::{OriginName, PublicKey};
use ed25519_dalek::SigningKey;
use sha2::{Digest as _, Sha256};

const ALG_ED25519: u8 = 0x01;

/// The key that signs the ledger's checkpoints, with the name (the ledger's origin) it signs
/// under.
pub struct CheckpointKey {
    name: OriginName,
    signing: SigningKey,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the checkpoint key file is not a signed-note Ed25519 private key: {0}")]
pub struct KeyError(pub &'static str);

impl CheckpointKey {
    /// A new random key from the operating system's generator.
    pub fn generate(name: OriginName) -> Result<CheckpointKey, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        Ok(CheckpointKey { name, signing: SigningKey::from_bytes(&seed) })
    }

    pub fn name(&self) -> &OriginName {
        &self.name
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// The signer-key line, for the key file.
    pub fn to_signer_string(&self) -> String {
        let mut material = vec![ALG_ED25519];
        material.extend_from_slice(self.signing.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            key_id(&self.name, &self.public_key()),
            BASE64.encode(material)
        )
    }

    pub fn parse_signer_string(text: &str) -> Result<CheckpointKey, KeyError> {
        let rest = text
            .trim_end()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError("it does not start with PRIVATE+KEY+"))?;
        // Names never hold '+', but base64 may: split from the left.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(KeyError("expected name+id+key"));
        };
        let name = OriginName::parse(name).map_err(|_| KeyError("the key name is not a valid origin"))?;
        let material = BASE64.decode(material).map_err(|_| KeyError("the key is not base64"))?;
        let [ALG_ED25519, seed @ ..] = material.as_slice() else {
            return Err(KeyError("the key is not an Ed25519 key"));
        };
        let seed: [u8; 32] = seed.try_into().map_err(|_| KeyError("an Ed25519 seed has 32 bytes"))?;
        let key = CheckpointKey { name, signing: SigningKey::from_bytes(&seed) };
        if format!("{:08x}", key_id(&key.name, &key.public_key())) != id {
            return Err(KeyError("the key id does not match the key"));
        }
        Ok(key)
    }
}

/// A fresh origin, `channel-ledger/<12 random hex digits>`, for a ledger created without one.
pub fn random_origin() -> Result<OriginName, getrandom::Error> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes)?;
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(OriginName::parse(&format!("channel-ledger/{suffix}")).expect("a valid origin"))
}

/// The verifier-key line: what an auditor needs to check checkpoints.
pub fn verifier_string(name: &OriginName, public_key: &PublicKey) -> String {
    let mut material = vec![ALG_ED25519];
    material.extend_from_slice(&public_key.0);
    format!("{name}+{:08x}+{}", key_id(name, public_key), BASE64.encode(material))
}

/// First four bytes of SHA-256(name || "\n" || 0x01 || public key), big-endian.
pub fn key_id(name: &OriginName, public_key: &PublicKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_str().as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public_key.0);
    let digest = h.finalize();
    u32::from_be_bytes(digest[..4].try_into().unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_string_round_trips() {
        let key = CheckpointKey::generate(OriginName::parse("example.com/ledger").unwrap()).unwrap();
        let back = CheckpointKey::parse_signer_string(&key.to_signer_string()).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(back.name(), key.name());
    }

    #[test]
    fn the_go_reference_signer_key_gives_its_verifier_key() {
        let path =
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/signed-note/go-reference.json");
        let text = std::fs::read_to_string(path).expect("shared/testdata beside the repository");
        let vectors: serde_json::Value = serde_json::from_str(&text).unwrap();
        let key = CheckpointKey::parse_signer_string(vectors["skey"].as_str().unwrap()).unwrap();
        assert_eq!(verifier_string(key.name(), &key.public_key()), vectors["vkey"].as_str().unwrap());
        assert_eq!(key.to_signer_string(), vectors["skey"].as_str().unwrap());
        let mut other_id = vectors["skey"].as_str().unwrap().replace("+c74f20a3+", "+c74f20a4+");
        assert_eq!(
            CheckpointKey::parse_signer_string(&other_id).err(),
            Some(KeyError("the key id does not match the key"))
        );
        other_id.truncate(other_id.len() - 4);
        assert!(CheckpointKey::parse_signer_string(&other_id).is_err());
    }

    #[test]
    fn key_id_matches_the_go_reference_vkey() {
        // From golang.org/x/mod/sumdb/note's documentation: the verifier key
        // PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW
        let name = OriginName::parse("PeterNeumann").unwrap();
        let material = BASE64.decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").unwrap();
        let key = PublicKey(material[1..].try_into().unwrap());
        assert_eq!(key_id(&name, &key), 0xc74f20a3);
        assert_eq!(
            verifier_string(&name, &key),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
    }
}
