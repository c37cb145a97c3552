//! The checkpoint parsers on arbitrary text: `Checkpoint::parse_body`, `Checkpoint::of_note`,
//! the signed-note check with a fixed key (the key of the ledger the seed corpus came from,
//! fuzz/seeds/verifier-key.txt, so that mutations of the real checkpoint reach the signature
//! check), `VerifierKey::parse` and `CheckpointKey::parse_signer_string` never panic. A parsed
//! body writes back (`body`) to text that parses to the same checkpoint; a note that verifies
//! returns a prefix of itself.
#![no_main]

use chl_ledger::bundle::VerifierKey;
use chl_ledger::checkpoint::{Checkpoint, verify_note};
use chl_ledger::keys::CheckpointKey;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static KEY: LazyLock<VerifierKey> = LazyLock::new(|| {
    VerifierKey::parse(include_str!("../seeds/verifier-key.txt")).expect("the seed ledger's key parses")
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(checkpoint) = Checkpoint::parse_body(&text) {
        assert_eq!(Checkpoint::parse_body(&checkpoint.body()), Ok(checkpoint.clone()));
    }
    let of_note = Checkpoint::of_note(&text);
    if let Ok(signed) = verify_note(&text, &KEY.name, &KEY.public_key) {
        assert!(text.starts_with(signed), "the signed text is not the note's own");
        if let Ok(checkpoint) = Checkpoint::parse_body(signed) {
            // The body a verified note signs is the checkpoint `of_note` reads (for notes the
            // ledger writes: one blank line, then the signatures).
            if text.matches("\n\n").count() == 1 {
                assert_eq!(of_note, Ok(checkpoint));
            }
        }
    }
    if let Ok(key) = VerifierKey::parse(&text) {
        assert_eq!(
            VerifierKey::parse(&chl_ledger::keys::verifier_string(&key.name, &key.public_key)),
            Ok(key)
        );
    }
    if let Ok(signer) = CheckpointKey::parse_signer_string(&text) {
        let again =
            CheckpointKey::parse_signer_string(&signer.to_signer_string()).expect("a key's own string");
        assert_eq!(again.public_key(), signer.public_key());
    }
});
