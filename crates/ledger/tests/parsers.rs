//! The parsers an auditor feeds untrusted text never panic: checkpoints, signed notes,
//! verifier keys, signer keys, bundles and proofs answer arbitrary input with an error.

use chl_ledger::bundle::{VerifierKey, verify_bundle};
use chl_ledger::checkpoint::{Checkpoint, verify_note};
use chl_ledger::keys::CheckpointKey;
use chl_log::merkle::{Sha256Hasher, verify_consistency, verify_inclusion};
use chl_model::event::{OriginName, PublicKey};
use proptest::prelude::*;

const NOTE: &str = "example.com/ledger\n41\naN+OH2/YnqAkvO0a95MMsv/O0c0KbtgHUGtXDAZBbSc=\n\n\u{2014} example.com/ledger w99P32RUutToFOocTxQTquJ0zs2DG+puiZh3mqvDeiFQrTfloWrI92euyt33kCC9LV5TYHDQEoKpzS93NHvl8uDDiws=\n";

fn mutate(text: &str, at: prop::sample::Index, with: char, cut: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let i = at.index(chars.len());
    let mut out: Vec<char> = if cut { chars[..i].to_vec() } else { chars.clone() };
    if !cut {
        out[i] = with;
    }
    out.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn text_parsers_never_panic(text in ".{0,300}") {
        let name = OriginName::parse("example.com/ledger").unwrap();
        let key = PublicKey([9; 32]);
        let _ = Checkpoint::parse_body(&text);
        let _ = Checkpoint::of_note(&text);
        let _ = verify_note(&text, &name, &key);
        let _ = VerifierKey::parse(&text);
        let _ = CheckpointKey::parse_signer_string(&text);
        if let Ok(vkey) = VerifierKey::parse("example.com/ledger+00000000+AQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=") {
            let _ = verify_bundle(&text, &vkey);
        }
    }

    #[test]
    fn mutated_notes_never_panic(at in any::<prop::sample::Index>(), with in any::<char>(), cut in any::<bool>()) {
        let name = OriginName::parse("example.com/ledger").unwrap();
        let changed = mutate(NOTE, at, with, cut);
        let _ = Checkpoint::of_note(&changed);
        let _ = verify_note(&changed, &name, &PublicKey([9; 32]));
    }

    #[test]
    fn proofs_of_any_shape_never_panic(
        index in any::<u64>(), size in any::<u64>(), old in any::<u64>(),
        leaf in prop::collection::vec(any::<u8>(), 0..40),
        root in prop::collection::vec(any::<u8>(), 0..40),
        proof in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..70),
    ) {
        let _ = verify_inclusion::<Sha256Hasher>(index, size, &leaf, &proof, &root);
        let _ = verify_consistency::<Sha256Hasher>(old, size, &leaf, &root, &proof);
    }
}
