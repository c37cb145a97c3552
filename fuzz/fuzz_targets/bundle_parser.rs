//! The bundle verifier on arbitrary text, with a fixed key (the key of the ledger the seed
//! corpus came from, fuzz/seeds/verifier-key.txt): `verify_bundle` never panics, and what it
//! accepts is consistent (a checkpoint of the key's origin, every proven seq inside its tree).
//! Each input is also applied as an edit to the real bundle of order TB-20130602-0003
//! (fuzz/corpus/bundle_parser/seed-order-compact.json), so that even byte soup reaches the
//! record, proof and verdict checks behind a valid checkpoint signature.
#![no_main]

use chl_ledger::bundle::{VerifierKey, verify_bundle};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static KEY: LazyLock<VerifierKey> = LazyLock::new(|| {
    VerifierKey::parse(include_str!("../seeds/verifier-key.txt")).expect("the seed ledger's key parses")
});

const REAL: &str = include_str!("../corpus/bundle_parser/seed-order-compact.json");

fn check(text: &str) {
    if let Ok(report) = verify_bundle(text, &KEY) {
        assert_eq!(report.checkpoint.origin, KEY.name.as_str());
        assert!(report.records.iter().all(|&seq| seq < report.checkpoint.size));
    }
}

fuzz_target!(|data: &[u8]| {
    check(&String::from_utf8_lossy(data));
    // As an edit of the real bundle: bytes 0-1 say where, byte 2 how many bytes to remove,
    // the rest (at most 64 bytes) is put in their place.
    if let [a, b, cut, with @ ..] = data
        && with.len() <= 64
    {
        let real = REAL.as_bytes();
        let at = usize::from(u16::from_le_bytes([*a, *b])) % real.len();
        let end = (at + usize::from(*cut % 32)).min(real.len());
        let mut edited = Vec::with_capacity(real.len() + with.len());
        edited.extend_from_slice(&real[..at]);
        edited.extend_from_slice(with);
        edited.extend_from_slice(&real[end..]);
        check(&String::from_utf8_lossy(&edited));
    }
});
