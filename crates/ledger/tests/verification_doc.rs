//! The worked example of docs/verification.md, rebuilt from fixed inputs.
//!
//! A real ledger is not reproducible (its key is random, `recorded_at` is the clock), so the
//! example is built here from fixed parts: the Ed25519 key of RFC 8032 (7.1, TEST 1) under the
//! name `ledger.example.com/acme`, the four golden records of docs/format.md (section 10) and a
//! fifth one, their Merkle tree, an inclusion proof, a consistency proof, two signed
//! checkpoints (Ed25519 is deterministic) and a bundle.
//!
//! Every number the document shows is pinned twice: the code must compute it, and the
//! document must state it verbatim. The fixtures in tests/verification/ (the bundle, the
//! checkpoints, the consistency proof, the verifier key and the Python verifier of the
//! document) must be exactly what the example produces, so `chl verify-bundle` and the Python
//! script can be run on them. The procedures of the document are implemented a second time
//! below, with nothing but SHA-256, BLAKE3, Ed25519, base64 and JSON, and must accept the
//! example, accept what a real ledger proves, and refuse each changed byte at the step the
//! document names.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chl_ledger::bundle::{Bundle, BundledRecord, VerifierKey, verify_bundle};
use chl_ledger::checkpoint::{Checkpoint, sign_note, verify_note};
use chl_ledger::keys::{CheckpointKey, key_id, verifier_string};
use chl_ledger::{Ledger, LedgerConfig};
use chl_log::merkle::{
    Hash, MemoryLeaves, Sha256Hasher, TreeHasher, consistency_proof, inclusion_proof, root, subtree_hash,
    verify_consistency, verify_inclusion,
};
use chl_model::codec::{encode_record, record_hash};
use chl_model::event::{
    Channel, GrantIssued, LedgerCreated, OriginName, PublicKey, Quantity, SaleRecorded, SaleRefunded, Scope,
};
use chl_model::{
    BrandId, Currency, Digest, Event, ExportedRecord, GrantId, Money, OrderId, PartyId, Record, Region, Seq,
    Sku, StoreId, Text, Timestamp,
};
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

// ---- the fixed inputs --------------------------------------------------------------------

const ORIGIN: &str = "ledger.example.com/acme";
/// RFC 8032, section 7.1, TEST 1: a published test key, never a real ledger's.
const SEED_HEX: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PUBLIC_KEY_HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

// ---- the pinned numbers (each also stated in docs/verification.md) -------------------------

const SIGNER_KEY: &str =
    "PRIVATE+KEY+ledger.example.com/acme+3a8b5f70+AZ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g";
const VKEY: &str = "ledger.example.com/acme+3a8b5f70+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";
const KEY_BLOCK: &str = "\
seed (32 bytes)        9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
public key (32 bytes)  d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a
key id input           6c65646765722e6578616d706c652e636f6d2f61636d650a01d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a
SHA-256 of that        3a8b5f70e1618afef9613b57bd7eb1381115ac09b5837cf6b0f7b6d6c8e5a970
key id                 3a8b5f70
verifier key           ledger.example.com/acme+3a8b5f70+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";
const RECORD_HASHES: [&str; 5] = [
    "d866c68fa9238446002e8d6cd7c32645d198e64c912b2d8ae31a6ed30bf7cde8",
    "bba3ca37dd789f6fd5bec1febda32ffca415137ddb034d82981296dff78679d4",
    "085fc8fb4c0128b8ac39bc6416ef4b7ae3027b3f0f041bda5f20bff165c503c8",
    "54ede60ac626250bb067f501d916d965c78289da3539eee6892d206e8368864c",
    "901fa0489cbb28b4081530ca3922c341f300a929d11e55bc1d5fe49715515c90",
];
const SEQ2_BYTES: &str = "01bba3ca37dd789f6fd5bec1febda32ffca415137ddb034d82981296dff78679d402fd000e205a00980c00010a687a2d74726164696e67fd000e205a00980c000c6772616e745f697373756564010d472d323032362d303030312e310461636d650a687a2d74726164696e670973682d72657461696c010b472d323032362d3030303101010f41434d452d534552554d2d33304d4c000103010205434e2d333105434e2d33320000fd00803589fe970c00fd00002e3be0c70c00";
const SEQ2_EXPORT: &str = r#"{"seq":2,"recorded_at":"2026-03-02T01:05:00.000000Z","type":"grant_issued","version":1,"actor":"hz-trading","effective_at":"2026-03-02T01:05:00.000000Z","data":{"grant":"G-2026-0001.1","brand":"acme","grantor":"hz-trading","grantee":"sh-retail","parent":"G-2026-0001","scope":{"skus":["ACME-SERUM-30ML"]},"channels":["taobao"],"regions":["CN-31","CN-32"],"exclusive":false,"sublicensable":false,"valid_from":"2026-03-02T00:00:00.000000Z","valid_until":"2026-12-31T16:00:00.000000Z"},"prev":"bba3ca37dd789f6fd5bec1febda32ffca415137ddb034d82981296dff78679d4","hash":"085fc8fb4c0128b8ac39bc6416ef4b7ae3027b3f0f041bda5f20bff165c503c8","ends_batch":true}"#;
const SEQ4_BYTES: &str = "0154ede60ac626250bb067f501d916d965c78289da3539eee6892d206e8368864c04fd00d0321f2a980c00010973682d72657461696cfd00b4e4102a980c000d73616c655f726566756e646564011254422d32303236303330322d3030303431371172657475726e656420756e6f70656e6564";
const SEQ4_EXPORT: &str = r#"{"seq":4,"recorded_at":"2026-03-03T02:00:00.000000Z","type":"sale_refunded","version":1,"actor":"sh-retail","effective_at":"2026-03-03T01:58:00.000000Z","data":{"order":"TB-20260302-000417","reason":"returned unopened"},"prev":"54ede60ac626250bb067f501d916d965c78289da3539eee6892d206e8368864c","hash":"901fa0489cbb28b4081530ca3922c341f300a929d11e55bc1d5fe49715515c90","ends_batch":true}"#;
const TREE_BLOCK: &str = "\
leaf[0]   = SHA-256(00 || bytes of seq 0)    = 55ef6b91ed77a7e321876891f8bbe8b0efc4f4ee04100cf5ce1356b1a801bb8a
leaf[1]   = SHA-256(00 || bytes of seq 1)    = af7208db81dec86ce1575742ae711d1c9eb132a56718d67ea67415ff274eb44e
leaf[2]   = SHA-256(00 || bytes of seq 2)    = 340d0bbbafd9b201ec0dfd66dc9d30b2bddcaa2cc4687cda5604a8cab0620b3d
leaf[3]   = SHA-256(00 || bytes of seq 3)    = be74720888b00fc5c5752e33cc64c651adcec0e09ba60a965e4ba9a60cd58c85
leaf[4]   = SHA-256(00 || bytes of seq 4)    = 9b993398be88bf7e808d5559232fd6364a9087f7a011cc8530916f067abfaf63
MTH[0:2]  = NODE(leaf[0], leaf[1])           = c22394d4135538b07d9878a8bd73f85aea827e26c53f89794c42bb2f8d2bc7fa
MTH[2:4]  = NODE(leaf[2], leaf[3])           = b8f2ce6e827fc595124c209792e0f5d033a46114fa138d1fe1b8b132b516708a
MTH[0:3]  = NODE(MTH[0:2], leaf[2])          = ee9ffe179a35e3a439f8fc0508a170f9fb4f3f94f7d1e9b9e7373b3da813b475   root of size 3
MTH[0:4]  = NODE(MTH[0:2], MTH[2:4])         = 3637cd3a046646bfb25e7d23bd0010b8bc1e4033de450fce03ad06f9fffd2f03   root of size 4
MTH[0:5]  = NODE(MTH[0:4], leaf[4])          = a30f8bc266eafec228e6030d9b3a02e68ae10e2ccc02360d0d4c41f4b7201a7a   root of size 5";
const ROOT_3_BASE64: &str = "7p/+F5o146Q5+PwFCKFw+ftPP5T30em55zc7PagTtHU=";
const ROOT_5_BASE64: &str = "ow+Lwmbq/sIo5gMNmzoC5orhDizMAjYNDUxB9LcgGno=";
const INCLUSION: [(&str, &str); 3] = [
    (
        "be74720888b00fc5c5752e33cc64c651adcec0e09ba60a965e4ba9a60cd58c85",
        "vnRyCIiwD8XFdS4zzGTGUa3OwOCbpgqWXkuppgzVjIU=",
    ),
    (
        "c22394d4135538b07d9878a8bd73f85aea827e26c53f89794c42bb2f8d2bc7fa",
        "wiOU1BNVOLB9mHiovXP4WuqCfibFP4l5TEK7L40rx/o=",
    ),
    (
        "9b993398be88bf7e808d5559232fd6364a9087f7a011cc8530916f067abfaf63",
        "m5kzmL6Iv36AjVVZIy/WNkqQh/egEcyFMJFvBnq/r2M=",
    ),
];
const INCLUSION_TRACE: &str = "\
start        r = leaf hash = 340d0bbbafd9b201ec0dfd66dc9d30b2bddcaa2cc4687cda5604a8cab0620b3d   fn = 2, sn = 4
p[0] be747208.. fn even:     r = NODE(r, p) = b8f2ce6e827fc595124c209792e0f5d033a46114fa138d1fe1b8b132b516708a   fn = 1, sn = 2
p[1] c22394d4.. fn odd:      r = NODE(p, r) = 3637cd3a046646bfb25e7d23bd0010b8bc1e4033de450fce03ad06f9fffd2f03   fn = 0, sn = 1
p[2] 9b993398.. fn even:     r = NODE(r, p) = a30f8bc266eafec228e6030d9b3a02e68ae10e2ccc02360d0d4c41f4b7201a7a   fn = 0, sn = 0
end          sn = 0 and r = the checkpoint's root: included";
const CONSISTENCY: [(&str, &str); 4] = [
    (
        "340d0bbbafd9b201ec0dfd66dc9d30b2bddcaa2cc4687cda5604a8cab0620b3d",
        "NA0Lu6/ZsgHsDf1m3J0wsr3cqizEaHzaVgSoyrBiCz0=",
    ),
    (
        "be74720888b00fc5c5752e33cc64c651adcec0e09ba60a965e4ba9a60cd58c85",
        "vnRyCIiwD8XFdS4zzGTGUa3OwOCbpgqWXkuppgzVjIU=",
    ),
    (
        "c22394d4135538b07d9878a8bd73f85aea827e26c53f89794c42bb2f8d2bc7fa",
        "wiOU1BNVOLB9mHiovXP4WuqCfibFP4l5TEK7L40rx/o=",
    ),
    (
        "9b993398be88bf7e808d5559232fd6364a9087f7a011cc8530916f067abfaf63",
        "m5kzmL6Iv36AjVVZIy/WNkqQh/egEcyFMJFvBnq/r2M=",
    ),
];
const CONSISTENCY_TRACE: &str = "\
start        fr = sr = c[0] = 340d0bbbafd9b201ec0dfd66dc9d30b2bddcaa2cc4687cda5604a8cab0620b3d   fn = 2, sn = 4
c[1] be747208.. fn even: sr = NODE(sr, c) = b8f2ce6e827fc595124c209792e0f5d033a46114fa138d1fe1b8b132b516708a   fn = 1, sn = 2
c[2] c22394d4.. fn odd:  fr = NODE(c, fr) = ee9ffe179a35e3a439f8fc0508a170f9fb4f3f94f7d1e9b9e7373b3da813b475
                       sr = NODE(c, sr) = 3637cd3a046646bfb25e7d23bd0010b8bc1e4033de450fce03ad06f9fffd2f03   fn = 0, sn = 1
c[3] 9b993398.. fn even: sr = NODE(sr, c) = a30f8bc266eafec228e6030d9b3a02e68ae10e2ccc02360d0d4c41f4b7201a7a   fn = 0, sn = 0
end          sn = 0, fr = the old root, sr = the new root: consistent";
const NOTE_3: &str = "\
ledger.example.com/acme
3
7p/+F5o146Q5+PwFCKFw+ftPP5T30em55zc7PagTtHU=

\u{2014} ledger.example.com/acme OotfcMzqfup2LGvrJnaXZJ46yL4zmzHQFBdVhgSSFd9JIhJJKGGaE+Fomo8ANm5zXjflCGoPDvd9E4ga3qpYuaqomA8=
";
const NOTE_5: &str = "\
ledger.example.com/acme
5
ow+Lwmbq/sIo5gMNmzoC5orhDizMAjYNDUxB9LcgGno=

\u{2014} ledger.example.com/acme OotfcCbVzOA+1kvnWaehrA3LEZofOzW2NAW12Z3PXTS/KRdLR16StPXhG1wIn5R1Yv+2Fbk9pze3YodXeoistPafKwA=
";
const SIGNATURE_BLOCK: &str = "\
signed text      \"ledger.example.com/acme\\n5\\now+Lwmbq/sIo5gMNmzoC5orhDizMAjYNDUxB9LcgGno=\\n\"  (71 bytes)
signature line   \u{2014} ledger.example.com/acme OotfcCbVzOA+1kvnWaehrA3LEZofOzW2NAW12Z3PXTS/KRdLR16StPXhG1wIn5R1Yv+2Fbk9pze3YodXeoistPafKwA=
blob (68 bytes)  key id 3a8b5f70
                 signature 26d5cce03ed64be759a7a1ac0dcb119a1f3b35b63405b5d99dcf5d34bf29174b475e92b4f5e11b5c089f947562ffb615b93da737b76287577a88acb4f69f2b00";
const TAMPER_BLOCK: &str = "\
record bytes: byte 159 of seq 2, 31 -> 33 (region CN-31 becomes CN-33)
    chl verify-bundle: bundle refused: record 0 (seq 2): the record form is not what the bytes decode to
    procedure: step 3: the record's hash is not the BLAKE3 record hash of its bytes
record bytes as above, with `record` and `hash` rewritten to match them
    chl verify-bundle: bundle refused: record 0 (seq 2): inclusion proof: the proof does not lead to the expected root
    procedure: step 4: the proof leads to 48f6e86045a88c29cacc6afd04bff2e32ecafad9ce9561d19c2bcaa23094e7a8, not to the checkpoint's root
record form: `hash` with its last digit 8 -> 9
    chl verify-bundle: bundle refused: record 0 (seq 2): the record's hash is not the BLAKE3 record hash of its bytes
    procedure: step 3: the record's hash is not the BLAKE3 record hash of its bytes
inclusion proof: first byte of p[1], c2 -> c3
    chl verify-bundle: bundle refused: record 0 (seq 2): inclusion proof: the proof does not lead to the expected root
    procedure: step 4: the proof leads to 77be736aa7c1cf58dd3d981c257bb6ddc7926de105506eb8612207345526f428, not to the checkpoint's root
checkpoint text: size 5 -> 4
    chl verify-bundle: bundle refused: checkpoint: the signature by ledger.example.com/acme does not verify
    procedure: step 2: the signature does not verify
signature: first byte of the Ed25519 signature (blob byte 4)
    chl verify-bundle: bundle refused: checkpoint: the signature by ledger.example.com/acme does not verify
    procedure: step 2: the signature does not verify
signature: first byte of the key id (blob byte 0)
    chl verify-bundle: bundle refused: checkpoint: the note has no signature by ledger.example.com/acme
    procedure: step 2: the note has no signature by this key
leaf hash of the changed seq 2: 465f104e00d08935d03c673d46cb41ff5c1d8a4a0bee0b46f0882ccb9f87e2e2";

// ---- building the example -----------------------------------------------------------------

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn ts(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn party(id: &str) -> PartyId {
    PartyId::parse(id).unwrap()
}

fn public_key() -> PublicKey {
    PublicKey(unhex(PUBLIC_KEY_HEX).try_into().unwrap())
}

/// The signer-key line of the fixed key, computed from the seed with the public functions.
fn signer_string() -> String {
    let name = OriginName::parse(ORIGIN).unwrap();
    let mut material = vec![0x01];
    material.extend(unhex(SEED_HEX));
    format!("PRIVATE+KEY+{ORIGIN}+{:08x}+{}", key_id(&name, &public_key()), BASE64.encode(material))
}

/// The five records: the golden records 0 to 3 of docs/format.md, then a refund.
fn records() -> Vec<Record> {
    let at0 = "2026-03-02T09:00:00.123456+08:00";
    let at1 = "2026-03-02T01:05:00Z";
    let order = || OrderId::parse("TB-20260302-000417").unwrap();
    let sku = || Sku::parse("ACME-SERUM-30ML").unwrap();
    let region = |r: &str| Region::parse(r).unwrap();
    let fields: Vec<(&str, bool, &str, &str, Event)> = vec![
        (
            at0,
            true,
            "platform",
            at0,
            LedgerCreated { origin: OriginName::parse(ORIGIN).unwrap(), public_key: public_key() }.into(),
        ),
        (
            at1,
            false,
            "acme-brand-co",
            at1,
            GrantIssued {
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
            }
            .into(),
        ),
        (
            at1,
            true,
            "hz-trading",
            at1,
            GrantIssued {
                grant: GrantId::parse("G-2026-0001.1").unwrap(),
                brand: BrandId::parse("acme").unwrap(),
                grantor: party("hz-trading"),
                grantee: party("sh-retail"),
                parent: Some(GrantId::parse("G-2026-0001").unwrap()),
                scope: Scope { skus: Some(vec![sku()]), categories: None },
                channels: vec![Channel::Taobao],
                regions: Some(vec![region("CN-31"), region("CN-32")]),
                exclusive: false,
                sublicensable: false,
                valid_from: ts("2026-03-02T00:00:00Z"),
                valid_until: ts("2026-12-31T16:00:00Z"),
            }
            .into(),
        ),
        (
            "2026-03-02T06:30:15.25Z",
            true,
            "sh-retail",
            "2026-03-02T06:29:58Z",
            SaleRecorded {
                order: order(),
                store: StoreId::parse("sh-retail-taobao").unwrap(),
                sku: sku(),
                quantity: Quantity::try_from(300).unwrap(),
                unit_price: Money::new(12900, Currency::parse("CNY").unwrap()).unwrap(),
                region: Some(region("CN-31")),
                payment_ref: None,
            }
            .into(),
        ),
        (
            "2026-03-03T02:00:00Z",
            true,
            "sh-retail",
            "2026-03-03T01:58:00Z",
            SaleRefunded { order: order(), reason: Text::parse("returned unopened").unwrap() }.into(),
        ),
    ];
    let mut prev = Digest::ZERO;
    let mut out = Vec::new();
    for (seq, (recorded_at, ends_batch, actor, effective_at, event)) in fields.into_iter().enumerate() {
        let record = Record {
            seq: Seq(seq as u64),
            recorded_at: ts(recorded_at),
            prev,
            ends_batch,
            actor: party(actor),
            effective_at: ts(effective_at),
            version: event.event_type().current_version(),
            event,
        };
        prev = record_hash(&encode(&record));
        out.push(record);
    }
    out
}

fn encode(record: &Record) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_record(record, &mut bytes);
    bytes
}

fn export_line(record: &Record) -> String {
    let mut json = Vec::new();
    ExportedRecord { record, hash: record_hash(&encode(record)) }.write_json(&mut json).unwrap();
    String::from_utf8(json).unwrap()
}

struct Example {
    key: CheckpointKey,
    bytes: Vec<Vec<u8>>,
    leaves: MemoryLeaves,
    inclusion: Vec<Hash>,
    consistency: Vec<Hash>,
    note_3: String,
    note_5: String,
    bundle: Bundle,
}

fn example() -> Example {
    let key = CheckpointKey::parse_signer_string(&signer_string()).unwrap();
    let bytes: Vec<Vec<u8>> = records().iter().map(encode).collect();
    let leaves = MemoryLeaves(bytes.iter().map(|b| Sha256Hasher::leaf(b)).collect());
    let inclusion = inclusion_proof::<Sha256Hasher>(&leaves, 2, 5).unwrap();
    let consistency = consistency_proof::<Sha256Hasher>(&leaves, 3, 5).unwrap();
    let note = |size| {
        let body =
            Checkpoint { origin: ORIGIN.into(), size, root: root::<Sha256Hasher>(&leaves, size) }.body();
        sign_note(&body, &key)
    };
    let (note_3, note_5) = (note(3), note(5));
    let bundle = Bundle {
        checkpoint: note_5.clone(),
        records: vec![BundledRecord::new(Seq(2), &bytes[2], &inclusion)],
        verdict: None,
        verdict_note: None,
    };
    Example { key, bytes, leaves, inclusion, consistency, note_3, note_5, bundle }
}

/// The bundle as `chl prove --seq 2` prints it (src/commands.rs: through a JSON value, so
/// with the keys of every object sorted, pretty, then a newline).
fn bundle_text(example: &Example) -> String {
    let value = serde_json::to_value(&example.bundle).unwrap();
    format!("{}\n", serde_json::to_string_pretty(&value).unwrap())
}

/// The consistency proof as `chl prove --consistency 3 5` prints it.
fn consistency_text(example: &Example) -> String {
    let hashes: Vec<String> = example.consistency.iter().map(|h| BASE64.encode(h)).collect();
    let doc = serde_json::json!({"old_size": 3, "new_size": 5, "hashes": hashes});
    format!("{}\n", serde_json::to_string_pretty(&doc).unwrap())
}

fn fixture_path(name: &str) -> String {
    format!("{}/tests/verification/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn document() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/verification.md");
    std::fs::read_to_string(path).expect("docs/verification.md")
}

// ---- the procedures of the document, with standard primitives only ---------------------------

/// Step 1: name, key id and public key of a verifier key.
fn audit_vkey(vkey: &str) -> Result<(String, [u8; 4], [u8; 32]), String> {
    let mut parts = vkey.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("step 1: not name+keyid+key".into());
    };
    let material = BASE64.decode(material).map_err(|_| "step 1: the key is not base64")?;
    if material.len() != 33 || material[0] != 0x01 {
        return Err("step 1: not an Ed25519 verifier key".into());
    }
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(&material);
    let digest = h.finalize();
    if hex(&digest[..4]) != id {
        return Err("step 1: the key id does not match the name and key".into());
    }
    Ok((name.to_owned(), digest[..4].try_into().unwrap(), material[1..].try_into().unwrap()))
}

type AuditKey = (String, [u8; 4], [u8; 32]);

/// Step 2: the text of a signed note, if `key` signed it.
fn audit_note(note: &str, key: &AuditKey) -> Result<String, String> {
    let (name, id, public) = key;
    let split = note.rfind("\n\n").ok_or("step 2: the note has no signature block")?;
    if !note.ends_with('\n') {
        return Err("step 2: the note has no signature block".into());
    }
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    for line in signatures.lines() {
        let rest = line.strip_prefix("\u{2014} ").ok_or("step 2: a signature line without an em dash")?;
        let (signer, blob) = rest.split_once(' ').ok_or("step 2: a signature line without a signature")?;
        let blob = BASE64.decode(blob).map_err(|_| "step 2: a signature that is not base64")?;
        if signer != name || blob.len() != 68 || blob[..4] != id[..] {
            continue;
        }
        let verifying = VerifyingKey::from_bytes(public).map_err(|_| "step 2: not an Ed25519 key")?;
        let signature = Signature::from_bytes(blob[4..].try_into().unwrap());
        return verifying
            .verify(text.as_bytes(), &signature)
            .map(|()| text.to_owned())
            .map_err(|_| "step 2: the signature does not verify".into());
    }
    Err("step 2: the note has no signature by this key".into())
}

/// Step 2, continued: size and root of a checkpoint the key signed.
fn audit_checkpoint(note: &str, key: &AuditKey) -> Result<(u64, [u8; 32]), String> {
    let text = audit_note(note, key)?;
    let lines: Vec<&str> = text.split('\n').collect();
    if lines.len() < 4 {
        return Err("step 2: the checkpoint body has fewer than three lines".into());
    }
    if lines[0] != key.0 {
        return Err("step 2: the checkpoint is of another origin than the key's".into());
    }
    let size = lines[1];
    if size.is_empty()
        || !size.bytes().all(|c| c.is_ascii_digit())
        || (size.len() > 1 && size.starts_with('0'))
    {
        return Err("step 2: the size is not a decimal number".into());
    }
    let root = BASE64.decode(lines[2]).ok().and_then(|r| r.try_into().ok()).ok_or("step 2: a bad root")?;
    Ok((size.parse().map_err(|_| "step 2: the size is out of range")?, root))
}

/// Step 3: the record hash, BLAKE3 in derive-key mode.
fn audit_record_hash(bytes: &[u8]) -> [u8; 32] {
    *blake3::Hasher::new_derive_key("channel-ledger 2026 record v1").update(bytes).finalize().as_bytes()
}

/// Step 3: the head of the canonical bytes against the export form, and the stated hash.
fn audit_record(bundled: &Value) -> Result<Vec<u8>, String> {
    let bytes =
        BASE64.decode(bundled["bytes"].as_str().ok_or("step 3: no bytes")?).map_err(|e| e.to_string())?;
    let record = &bundled["record"];
    let mut at = 0;
    let mut take = |n: usize| -> Result<&[u8], String> {
        let piece = bytes.get(at..at + n).ok_or("step 3: the bytes end early")?;
        at += n;
        Ok(piece)
    };
    fn varint(take: &mut dyn FnMut(usize) -> Result<Vec<u8>, String>) -> Result<u64, String> {
        let tag = take(1)?[0];
        let width = match tag {
            0..=0xfa => return Ok(tag.into()),
            0xfb => 2,
            0xfc => 4,
            0xfd => 8,
            _ => return Err("step 3: a varint tag wider than 8 bytes".into()),
        };
        let mut le = [0u8; 8];
        le[..width].copy_from_slice(&take(width)?);
        Ok(u64::from_le_bytes(le))
    }
    let mut take = |n: usize| take(n).map(<[u8]>::to_vec);
    let time = |take: &mut dyn FnMut(usize) -> Result<Vec<u8>, String>| -> Result<String, String> {
        let z = varint(take)?;
        let micros = ((z >> 1) as i64) ^ -((z & 1) as i64);
        let mut text = String::new();
        Timestamp::from_unix_micros(micros)
            .ok_or("step 3: a time out of range")?
            .write_rfc3339(&mut text)
            .unwrap();
        Ok(text)
    };
    let text = |take: &mut dyn FnMut(usize) -> Result<Vec<u8>, String>| -> Result<String, String> {
        let len = varint(take)? as usize;
        String::from_utf8(take(len)?).map_err(|_| "step 3: a string that is not UTF-8".into())
    };
    if take(1)? != [1] {
        return Err("step 3: not a record of format 1".into());
    }
    let head = [
        ("prev", Value::from(hex(&take(32)?))),
        ("seq", Value::from(varint(&mut take)?)),
        ("recorded_at", Value::from(time(&mut take)?)),
        (
            "ends_batch",
            match take(1)?[0] {
                0 => Value::from(false),
                1 => Value::from(true),
                _ => Value::Null,
            },
        ),
        ("actor", Value::from(text(&mut take)?)),
        ("effective_at", Value::from(time(&mut take)?)),
        ("type", Value::from(text(&mut take)?)),
        ("version", Value::from(varint(&mut take)?)),
    ];
    for (field, value) in &head {
        if record[field] != *value || value.is_null() {
            return Err(format!("step 3: the record's {field} is not what its bytes hold"));
        }
    }
    if bundled["seq"] != head[1].1 {
        return Err("step 3: the bundle's seq is not the one the bytes hold".into());
    }
    if record["hash"] != hex(&audit_record_hash(&bytes)) {
        return Err("step 3: the record's hash is not the BLAKE3 record hash of its bytes".into());
    }
    Ok(bytes)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in parts {
        h.update(part);
    }
    h.finalize().into()
}

/// Step 4: SHA-256(0x00 || bytes).
fn audit_leaf(bytes: &[u8]) -> [u8; 32] {
    sha256(&[&[0x00], bytes])
}

/// SHA-256(0x01 || left || right).
fn audit_node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    sha256(&[&[0x01], left, right])
}

fn short(hash: &[u8]) -> String {
    format!("{}..", &hex(hash)[..8])
}

/// Step 4: RFC 9162, 2.1.3.2, with a trace of each step as the document shows it.
fn audit_inclusion(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    proof: &[[u8; 32]],
    root: &[u8; 32],
    trace: &mut Vec<String>,
) -> Result<(), String> {
    if index >= size {
        return Err("step 4: the leaf index is not below the tree size".into());
    }
    let (mut fn_, mut sn, mut r) = (index, size - 1, leaf);
    trace.push(format!("start        r = leaf hash = {}   fn = {fn_}, sn = {sn}", hex(&r)));
    for (i, p) in proof.iter().enumerate() {
        if sn == 0 {
            return Err("step 4: the proof has the wrong length".into());
        }
        let rule;
        if fn_ & 1 == 1 || fn_ == sn {
            rule = if fn_ & 1 == 1 { "fn odd:      r = NODE(p, r)" } else { "fn = sn:     r = NODE(p, r)" };
            r = audit_node(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            rule = "fn even:     r = NODE(r, p)";
            r = audit_node(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
        trace.push(format!("p[{i}] {} {rule} = {}   fn = {fn_}, sn = {sn}", short(p), hex(&r)));
    }
    if sn != 0 {
        return Err("step 4: the proof has the wrong length".into());
    }
    if r != *root {
        return Err(format!("step 4: the proof leads to {}, not to the checkpoint's root", hex(&r)));
    }
    trace.push("end          sn = 0 and r = the checkpoint's root: included".into());
    Ok(())
}

/// Step 5: RFC 9162, 2.1.4.2, with a trace.
fn audit_consistency(
    old: u64,
    new: u64,
    old_root: &[u8; 32],
    new_root: &[u8; 32],
    proof: &[[u8; 32]],
    trace: &mut Vec<String>,
) -> Result<(), String> {
    if old == 0 || old > new {
        return Err("step 5: a consistency proof needs 0 < old size <= new size".into());
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err("step 5: equal sizes need an empty proof and equal roots".into())
        };
    }
    if proof.is_empty() {
        return Err("step 5: the proof has the wrong length".into());
    }
    let mut c = proof.to_vec();
    if old.is_power_of_two() {
        c.insert(0, *old_root);
    }
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (c[0], c[0]);
    trace.push(format!("start        fr = sr = c[0] = {}   fn = {fn_}, sn = {sn}", hex(&fr)));
    for (i, h) in c.iter().enumerate().skip(1) {
        if sn == 0 {
            return Err("step 5: the proof has the wrong length".into());
        }
        if fn_ & 1 == 1 || fn_ == sn {
            let rule = if fn_ & 1 == 1 { "fn odd:  " } else { "fn = sn: " };
            fr = audit_node(h, &fr);
            sr = audit_node(h, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
            fn_ >>= 1;
            sn >>= 1;
            trace.push(format!("c[{i}] {} {rule}fr = NODE(c, fr) = {}", short(h), hex(&fr)));
            trace.push(format!(
                "                       sr = NODE(c, sr) = {}   fn = {fn_}, sn = {sn}",
                hex(&sr)
            ));
        } else {
            sr = audit_node(&sr, h);
            fn_ >>= 1;
            sn >>= 1;
            trace.push(format!(
                "c[{i}] {} fn even: sr = NODE(sr, c) = {}   fn = {fn_}, sn = {sn}",
                short(h),
                hex(&sr)
            ));
        }
    }
    if sn != 0 {
        return Err("step 5: the proof has the wrong length".into());
    }
    if fr != *old_root || sr != *new_root {
        return Err("step 5: the proof does not lead to both roots".into());
    }
    trace.push("end          sn = 0, fr = the old root, sr = the new root: consistent".into());
    Ok(())
}

fn hashes_of(list: &Value) -> Result<Vec<[u8; 32]>, String> {
    list.as_array()
        .ok_or("not a list")?
        .iter()
        .map(|h| {
            BASE64
                .decode(h.as_str().unwrap_or(""))
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| "a hash that is not base64 of 32 bytes".to_owned())
        })
        .collect()
}

/// Step 6: a bundle; returns the checkpoint's size and the proven seqs.
fn audit_bundle(text: &str, vkey: &str) -> Result<(u64, Vec<u64>), String> {
    let key = audit_vkey(vkey)?;
    let bundle: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let (size, root) = audit_checkpoint(bundle["checkpoint"].as_str().ok_or("no checkpoint")?, &key)?;
    let mut proven = Vec::new();
    for bundled in bundle["records"].as_array().ok_or("no records")? {
        let bytes = audit_record(bundled)?;
        let proof = hashes_of(&bundled["inclusion"]).map_err(|e| format!("step 4: {e}"))?;
        let seq = bundled["seq"].as_u64().ok_or("no seq")?;
        audit_inclusion(seq, size, audit_leaf(&bytes), &proof, &root, &mut Vec::new())?;
        proven.push(seq);
    }
    if let Some(verdict) = bundle.get("verdict") {
        let note = bundle["verdict_note"].as_str().ok_or("step 6: the verdict is not signed")?;
        let signed: Value = serde_json::from_str(&audit_note(note, &key)?).map_err(|e| e.to_string())?;
        if signed != *verdict {
            return Err("step 6: the verdict is not the one the ledger signed".into());
        }
        if verdict["known_at_seq"].as_u64() != Some(size - 1) {
            return Err("step 6: the verdict is not of the checkpoint's tree".into());
        }
        for seq in verdict["evidence"].as_array().ok_or("step 6: no evidence")? {
            if !seq.as_u64().is_some_and(|s| proven.contains(&s)) {
                return Err(format!("step 6: evidence seq {seq} is not proven in the bundle"));
            }
        }
    }
    Ok((size, proven))
}

// ---- the numbers of the worked example -------------------------------------------------------

fn key_block(example: &Example) -> String {
    let public = example.key.public_key();
    let mut input = ORIGIN.as_bytes().to_vec();
    input.extend([0x0a, 0x01]);
    input.extend(public.0);
    let vkey = verifier_string(example.key.name(), &public);
    [
        format!("seed (32 bytes)        {SEED_HEX}"),
        format!("public key (32 bytes)  {}", hex(&public.0)),
        format!("key id input           {}", hex(&input)),
        format!("SHA-256 of that        {}", hex(&sha256(&[&input]))),
        format!("key id                 {:08x}", key_id(example.key.name(), &public)),
        format!("verifier key           {vkey}"),
    ]
    .join("\n")
}

fn tree_block(example: &Example) -> String {
    let l = &example.leaves;
    let mth = |a, b| hex(&subtree_hash::<Sha256Hasher>(l, a, b));
    let mut lines: Vec<String> = (0..5)
        .map(|i| format!("leaf[{i}]   = SHA-256(00 || bytes of seq {i})    = {}", hex(&l.0[i])))
        .collect();
    lines.extend([
        format!("MTH[0:2]  = NODE(leaf[0], leaf[1])           = {}", mth(0, 2)),
        format!("MTH[2:4]  = NODE(leaf[2], leaf[3])           = {}", mth(2, 4)),
        format!("MTH[0:3]  = NODE(MTH[0:2], leaf[2])          = {}   root of size 3", mth(0, 3)),
        format!("MTH[0:4]  = NODE(MTH[0:2], MTH[2:4])         = {}   root of size 4", mth(0, 4)),
        format!("MTH[0:5]  = NODE(MTH[0:4], leaf[4])          = {}   root of size 5", mth(0, 5)),
    ]);
    lines.join("\n")
}

fn signature_block(example: &Example) -> String {
    let (text, signatures) = example.note_5.split_once("\n\n").unwrap();
    let line = signatures.trim_end();
    let blob = BASE64.decode(line.rsplit_once(' ').unwrap().1).unwrap();
    [
        format!("signed text      {:?}  ({} bytes)", format!("{text}\n"), text.len() + 1),
        format!("signature line   {line}"),
        format!("blob (68 bytes)  key id {}", hex(&blob[..4])),
        format!("                 signature {}", hex(&blob[4..])),
    ]
    .join("\n")
}

fn flip_base64(text: &str, at: usize, bit: u8) -> String {
    let mut bytes = BASE64.decode(text).unwrap();
    bytes[at] ^= bit;
    BASE64.encode(bytes)
}

/// The bundle of the example with one change.
fn changed(example: &Example, edit: impl FnOnce(&mut Value)) -> String {
    let mut bundle: Value = serde_json::from_str(&bundle_text(example)).unwrap();
    edit(&mut bundle);
    serde_json::to_string_pretty(&bundle).unwrap()
}

fn change_signature(note: &str, at: usize) -> String {
    let (head, blob) = note.trim_end().rsplit_once(' ').unwrap();
    format!("{head} {}\n", flip_base64(blob, at, 0x01))
}

/// Each one-byte change of the document's table: what it is, the bundle, what `chl
/// verify-bundle` says, and the step of the document's procedure that fails.
fn tampered(example: &Example) -> Vec<(&'static str, String, String, String)> {
    let vkey = verifier_string(example.key.name(), &example.key.public_key());
    let library = |text: &str| {
        verify_bundle(text, &VerifierKey::parse(&vkey).unwrap()).map(|_| ()).unwrap_err().to_string()
    };
    let procedure = |text: &str| audit_bundle(text, &vkey).unwrap_err();
    let mut forged = example.bytes[2].clone();
    forged[159] ^= 0x02;
    let cases = vec![
        (
            "record bytes: byte 159 of seq 2, 31 -> 33 (region CN-31 becomes CN-33)",
            changed(example, |b| b["records"][0]["bytes"] = Value::from(BASE64.encode(&forged))),
        ),
        (
            "record bytes as above, with `record` and `hash` rewritten to match them",
            changed(example, |b| {
                let forged_record = BundledRecord::new(Seq(2), &forged, &example.inclusion);
                b["records"][0] = serde_json::to_value(forged_record).unwrap();
            }),
        ),
        (
            "record form: `hash` with its last digit 8 -> 9",
            changed(example, |b| {
                let hash = b["records"][0]["record"]["hash"].as_str().unwrap().replace("03c8", "03c9");
                b["records"][0]["record"]["hash"] = Value::from(hash);
            }),
        ),
        (
            "inclusion proof: first byte of p[1], c2 -> c3",
            changed(example, |b| {
                let p1 = flip_base64(b["records"][0]["inclusion"][1].as_str().unwrap(), 0, 0x01);
                b["records"][0]["inclusion"][1] = Value::from(p1);
            }),
        ),
        (
            "checkpoint text: size 5 -> 4",
            changed(example, |b| {
                b["checkpoint"] = Value::from(example.note_5.replacen("\n5\n", "\n4\n", 1));
            }),
        ),
        (
            "signature: first byte of the Ed25519 signature (blob byte 4)",
            changed(example, |b| b["checkpoint"] = Value::from(change_signature(&example.note_5, 4))),
        ),
        (
            "signature: first byte of the key id (blob byte 0)",
            changed(example, |b| b["checkpoint"] = Value::from(change_signature(&example.note_5, 0))),
        ),
    ];
    cases
        .into_iter()
        .map(|(what, text)| {
            let (lib, step) = (library(&text), procedure(&text));
            (what, text, lib, step)
        })
        .collect()
}

fn tamper_block(example: &Example) -> String {
    let mut forged = example.bytes[2].clone();
    forged[159] ^= 0x02;
    let leaf = audit_leaf(&forged);
    let mut lines = Vec::new();
    for (what, _, library, step) in tampered(example) {
        lines
            .push(format!("{what}\n    chl verify-bundle: bundle refused: {library}\n    procedure: {step}"));
    }
    lines.push(format!("leaf hash of the changed seq 2: {}", hex(&leaf)));
    lines.join("\n")
}

fn trace_inclusion(example: &Example) -> String {
    let root5 = root::<Sha256Hasher>(&example.leaves, 5);
    let mut trace = Vec::new();
    audit_inclusion(2, 5, audit_leaf(&example.bytes[2]), &example.inclusion, &root5, &mut trace).unwrap();
    trace.join("\n")
}

fn trace_consistency(example: &Example) -> String {
    let (root3, root5) = (root::<Sha256Hasher>(&example.leaves, 3), root::<Sha256Hasher>(&example.leaves, 5));
    let mut trace = Vec::new();
    audit_consistency(3, 5, &root3, &root5, &example.consistency, &mut trace).unwrap();
    trace.join("\n")
}

// ---- the tests --------------------------------------------------------------------------------

const SAMPLE: &str = include_str!("../../../replay/samples/acme-channel.jsonl");

/// The fixture files and what the example makes of each.
fn fixtures(example: &Example) -> Vec<(&'static str, String)> {
    vec![
        ("verifier.vkey", format!("{}\n", verifier_string(example.key.name(), &example.key.public_key()))),
        ("checkpoint-3.note", example.note_3.clone()),
        ("checkpoint-5.note", example.note_5.clone()),
        ("consistency-3-5.json", consistency_text(example)),
        ("bundle-seq-2.json", bundle_text(example)),
    ]
}

#[test]
fn the_worked_example_has_the_pinned_numbers() {
    let example = example();
    assert_eq!(signer_string(), SIGNER_KEY);
    assert_eq!(hex(&example.key.public_key().0), PUBLIC_KEY_HEX, "RFC 8032 TEST 1: seed -> public key");
    assert_eq!(verifier_string(example.key.name(), &example.key.public_key()), VKEY);
    assert_eq!(example.key.to_signer_string(), SIGNER_KEY);
    assert_eq!(key_block(&example), KEY_BLOCK);

    let records = records();
    for (seq, record) in records.iter().enumerate() {
        assert_eq!(record_hash(&encode(record)).to_string(), RECORD_HASHES[seq], "hash of seq {seq}");
        assert_eq!(hex(&audit_record_hash(&example.bytes[seq])), RECORD_HASHES[seq], "BLAKE3 directly");
        let prev = if seq == 0 { "0".repeat(64) } else { RECORD_HASHES[seq - 1].to_owned() };
        assert_eq!(hex(&example.bytes[seq][1..33]), prev, "bytes 1..33 of seq {seq} are prev");
    }
    assert_eq!(hex(&example.bytes[2]), SEQ2_BYTES);
    assert_eq!(export_line(&records[2]), SEQ2_EXPORT);
    assert_eq!(hex(&example.bytes[4]), SEQ4_BYTES);
    assert_eq!(export_line(&records[4]), SEQ4_EXPORT);

    assert_eq!(tree_block(&example), TREE_BLOCK);
    for (seq, bytes) in example.bytes.iter().enumerate() {
        assert_eq!(audit_leaf(bytes), example.leaves.0[seq], "leaf {seq} with SHA-256 directly");
    }
    assert_eq!(BASE64.encode(root::<Sha256Hasher>(&example.leaves, 3)), ROOT_3_BASE64);
    assert_eq!(BASE64.encode(root::<Sha256Hasher>(&example.leaves, 5)), ROOT_5_BASE64);
    let pairs = |hashes: &[Hash]| -> Vec<(String, String)> {
        hashes.iter().map(|h| (hex(h), BASE64.encode(h))).collect()
    };
    let owned = |pinned: &[(&str, &str)]| -> Vec<(String, String)> {
        pinned.iter().map(|(h, b)| (h.to_string(), b.to_string())).collect()
    };
    assert_eq!(pairs(&example.inclusion), owned(&INCLUSION));
    assert_eq!(pairs(&example.consistency), owned(&CONSISTENCY));
    assert_eq!(trace_inclusion(&example), INCLUSION_TRACE);
    assert_eq!(trace_consistency(&example), CONSISTENCY_TRACE);

    assert_eq!(example.note_3, NOTE_3);
    assert_eq!(example.note_5, NOTE_5);
    assert_eq!(signature_block(&example), SIGNATURE_BLOCK);
    assert_eq!(tamper_block(&example), TAMPER_BLOCK);
}

#[test]
fn the_fixtures_are_the_worked_example() {
    let example = example();
    let bless = std::env::var_os("CHL_BLESS_VERIFICATION_FIXTURES").is_some();
    for (name, expected) in fixtures(&example) {
        if bless {
            std::fs::write(fixture_path(name), &expected).unwrap();
        }
        assert_eq!(
            fixture(name),
            expected,
            "tests/verification/{name} (CHL_BLESS_VERIFICATION_FIXTURES=1 rewrites it)"
        );
    }
}

#[test]
fn the_document_states_every_pinned_number() {
    let doc = document();
    let example = example();
    let mut pinned: Vec<String> = vec![
        ORIGIN,
        SEED_HEX,
        PUBLIC_KEY_HEX,
        SIGNER_KEY,
        VKEY,
        KEY_BLOCK,
        SEQ2_BYTES,
        SEQ2_EXPORT,
        SEQ4_BYTES,
        SEQ4_EXPORT,
        TREE_BLOCK,
        ROOT_3_BASE64,
        ROOT_5_BASE64,
        INCLUSION_TRACE,
        CONSISTENCY_TRACE,
        NOTE_3,
        NOTE_5,
        SIGNATURE_BLOCK,
        TAMPER_BLOCK,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    pinned.extend(RECORD_HASHES.iter().map(|h| h.to_string()));
    for (hex, base64) in INCLUSION.iter().chain(&CONSISTENCY) {
        pinned.extend([hex.to_string(), base64.to_string()]);
    }
    for (name, content) in fixtures(&example) {
        assert!(
            doc.contains(&content),
            "docs/verification.md does not show tests/verification/{name}:\n{content}"
        );
        assert!(doc.contains(&format!("`{name}`")), "docs/verification.md does not name {name}");
    }
    let script = fixture("chl_verify.py");
    assert!(
        doc.contains(&script),
        "docs/verification.md does not show tests/verification/chl_verify.py verbatim"
    );
    for value in pinned {
        assert!(doc.contains(&value), "docs/verification.md does not state:\n{value}");
    }
    for seq in [2, 4] {
        let stated = format!("Its canonical bytes ({} bytes)", example.bytes[seq].len());
        assert!(doc.contains(&stated), "docs/verification.md does not state {stated:?} of seq {seq}");
    }
    let text_len = example.note_5.split_once("\n\n").unwrap().0.len() + 1;
    assert!(doc.contains(&format!("over the {text_len} bytes of text")), "the length of the signed text");
}

#[test]
fn the_library_accepts_the_worked_example() {
    let example = example();
    let key = VerifierKey::parse(VKEY).unwrap();
    let report = verify_bundle(&fixture("bundle-seq-2.json"), &key).unwrap();
    assert_eq!(
        (report.checkpoint.origin.as_str(), report.checkpoint.size, report.records),
        (ORIGIN, 5, vec![2])
    );
    assert_eq!(report.verdict, None);
    let name = OriginName::parse(ORIGIN).unwrap();
    for (note, size) in [(&example.note_3, 3), (&example.note_5, 5)] {
        let text = verify_note(note, &name, &public_key()).unwrap();
        let checkpoint = Checkpoint::parse_body(text).unwrap();
        assert_eq!((checkpoint.size, checkpoint.root), (size, root::<Sha256Hasher>(&example.leaves, size)));
    }
    let (root3, root5) = (root::<Sha256Hasher>(&example.leaves, 3), root::<Sha256Hasher>(&example.leaves, 5));
    verify_inclusion::<Sha256Hasher>(2, 5, &example.leaves.0[2], &example.inclusion, &root5).unwrap();
    verify_consistency::<Sha256Hasher>(3, 5, &root3, &root5, &example.consistency).unwrap();
    // Record 0 names the key: the ledger committed to it in its first record.
    let record0: Value = serde_json::from_str(&export_line(&records()[0])).unwrap();
    assert_eq!(record0["data"]["origin"], ORIGIN);
    assert_eq!(record0["data"]["public_key"], BASE64.encode(public_key().0));
    assert_eq!(format!("{ORIGIN}+3a8b5f70+{}", BASE64.encode([&[1u8][..], &public_key().0].concat())), VKEY);
}

#[test]
fn the_procedures_of_the_document_accept_the_worked_example() {
    let key = audit_vkey(&fixture("verifier.vkey")).unwrap();
    assert_eq!((key.0.as_str(), hex(&key.1)), (ORIGIN, "3a8b5f70".to_owned()));
    assert_eq!(audit_bundle(&fixture("bundle-seq-2.json"), VKEY), Ok((5, vec![2])));
    let (old_size, old_root) = audit_checkpoint(&fixture("checkpoint-3.note"), &key).unwrap();
    let (new_size, new_root) = audit_checkpoint(&fixture("checkpoint-5.note"), &key).unwrap();
    let proof: Value = serde_json::from_str(&fixture("consistency-3-5.json")).unwrap();
    assert_eq!((proof["old_size"].as_u64(), proof["new_size"].as_u64()), (Some(old_size), Some(new_size)));
    let hashes = hashes_of(&proof["hashes"]).unwrap();
    audit_consistency(old_size, new_size, &old_root, &new_root, &hashes, &mut Vec::new()).unwrap();

    // Step 1 catches a changed key id, step 2 a key of the same name that did not sign.
    assert_eq!(
        audit_vkey(&VKEY.replace("+3a8b5f70+", "+3a8b5f71+")),
        Err("step 1: the key id does not match the name and key".into())
    );
    let other = CheckpointKey::parse_signer_string(&{
        // RFC 8032, section 7.1, TEST 2.
        let seed = unhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
        let public = ed25519_dalek::SigningKey::from_bytes(&seed.clone().try_into().unwrap()).verifying_key();
        let id = key_id(&OriginName::parse(ORIGIN).unwrap(), &PublicKey(public.to_bytes()));
        format!("PRIVATE+KEY+{ORIGIN}+{id:08x}+{}", BASE64.encode([&[1u8][..], &seed].concat()))
    })
    .unwrap();
    let other_vkey = verifier_string(other.name(), &other.public_key());
    assert_eq!(
        audit_bundle(&fixture("bundle-seq-2.json"), &other_vkey),
        Err("step 2: the note has no signature by this key".into())
    );
    assert!(matches!(
        verify_bundle(&fixture("bundle-seq-2.json"), &VerifierKey::parse(&other_vkey).unwrap()),
        Err(chl_ledger::bundle::BundleError::Checkpoint(_))
    ));

    // A changed consistency proof, or one between the wrong roots, fails step 5.
    let mut bad = hashes.clone();
    bad[2][0] ^= 0x01;
    let (root3, root5) = (old_root, new_root);
    assert_eq!(
        audit_consistency(3, 5, &root3, &root5, &bad, &mut Vec::new()),
        Err("step 5: the proof does not lead to both roots".into())
    );
    assert!(verify_consistency::<Sha256Hasher>(3, 5, &root3, &root5, &bad).is_err());
    let root4 = root::<Sha256Hasher>(&example().leaves, 4);
    assert!(audit_consistency(3, 5, &root3, &root4, &hashes, &mut Vec::new()).is_err());
    assert!(audit_consistency(3, 5, &root3, &root5, &hashes[..3], &mut Vec::new()).is_err());
}

#[test]
fn each_changed_byte_fails_where_the_document_says() {
    // The pinned TAMPER_BLOCK states each outcome; here, that none of them is accepted by
    // either verifier and that the library and the procedures fail on the same part.
    let example = example();
    let cases = tampered(&example);
    assert_eq!(cases.len(), 7);
    for (what, text, library, step) in &cases {
        let part = if library.starts_with("checkpoint:") {
            "step 2"
        } else if library.contains("inclusion proof") {
            "step 4"
        } else {
            "step 3"
        };
        assert!(step.starts_with(part), "{what}: {library} / {step}");
        assert!(verify_bundle(text, &VerifierKey::parse(VKEY).unwrap()).is_err(), "{what}");
    }
}

#[test]
fn the_procedures_accept_what_a_real_ledger_proves() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = OriginName::parse("audit.example").unwrap();
    let mut ledger = Ledger::init(tmp.path(), origin, LedgerConfig::default()).unwrap();
    let lines: Vec<&str> = SAMPLE.lines().collect();
    ledger.import(lines[..20].join("\n").as_bytes(), &mut |_| {}).unwrap();
    ledger.import(lines[20..].join("\n").as_bytes(), &mut |_| {}).unwrap();
    let vkey = ledger.verifier_key();
    let key = audit_vkey(&vkey).unwrap();

    // chl prove --order: a verdict, signed, and every record of its evidence proven.
    let order = chl_model::OrderId::parse("TB-20130602-0003").unwrap();
    let bundle = serde_json::to_string_pretty(&ledger.prove_order(&order).unwrap()).unwrap();
    let (size, proven) = audit_bundle(&bundle, &vkey).unwrap();
    let report = verify_bundle(&bundle, &VerifierKey::parse(&vkey).unwrap()).unwrap();
    assert_eq!((report.checkpoint.size, report.records), (size, proven.clone()));
    assert!(proven.len() > 1, "{proven:?}");
    let doc: Value = serde_json::from_str(&bundle).unwrap();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut changed = doc.clone();
        f(&mut changed);
        audit_bundle(&changed.to_string(), &vkey).unwrap_err()
    };
    assert_eq!(
        edit(&|b| b["verdict"]["verdict"] = Value::from("unauthorized")),
        "step 6: the verdict is not the one the ledger signed"
    );
    assert_eq!(
        edit(&|b| {
            b["records"].as_array_mut().unwrap().pop();
        }),
        format!("step 6: evidence seq {} is not proven in the bundle", proven.last().unwrap())
    );
    assert_eq!(
        edit(&|b| {
            b.as_object_mut().unwrap().remove("verdict_note");
        }),
        "step 6: the verdict is not signed"
    );

    // chl prove --seq N --size M against an older checkpoint, and --consistency between them.
    let (old_note, old) = ledger.checkpoint(Some(21)).unwrap();
    let (new_note, new) = ledger.checkpoint(None).unwrap();
    let bundle = serde_json::to_string(&ledger.prove_seq(Seq(7), Some(21)).unwrap()).unwrap();
    assert_eq!(audit_bundle(&bundle, &vkey), Ok((21, vec![7])));
    assert_eq!(audit_checkpoint(&old_note, &key), Ok((old.size, old.root)));
    assert_eq!(audit_checkpoint(&new_note, &key), Ok((new.size, new.root)));
    let proof = ledger.log().consistency_proof(old.size, new.size).unwrap();
    let mut trace = Vec::new();
    audit_consistency(old.size, new.size, &old.root, &new.root, &proof, &mut trace).unwrap();
    for (old_size, new_size) in [(1, 41), (16, 41), (21, 21), (32, 33), (40, 41)] {
        let proof = ledger.log().consistency_proof(old_size, new_size).unwrap();
        let (a, b) = (ledger.log().tree_head(old_size).unwrap(), ledger.log().tree_head(new_size).unwrap());
        audit_consistency(old_size, new_size, &a, &b, &proof, &mut Vec::new())
            .unwrap_or_else(|e| panic!("{old_size} -> {new_size}: {e}"));
    }
    for (seq, size) in [(0, 1), (0, 41), (13, 41), (40, 41), (31, 32), (32, 33)] {
        let proof = ledger.log().inclusion_proof(Seq(seq), size).unwrap();
        let leaf = audit_leaf(&ledger.log().record_bytes(Seq(seq)).unwrap());
        let head = ledger.log().tree_head(size).unwrap();
        audit_inclusion(seq, size, leaf, &proof, &head, &mut Vec::new())
            .unwrap_or_else(|e| panic!("{seq} in {size}: {e}"));
    }
}

/// Runs the Python verifier of the document on the fixtures when python3 has the `blake3` and
/// `cryptography` packages (nothing is installed here); otherwise says it was skipped.
#[test]
fn the_python_verifier_agrees_when_python_is_at_hand() {
    let python = |args: &[&str]| std::process::Command::new("python3").args(args).output();
    match python(&["-c", "import blake3, cryptography"]) {
        Ok(out) if out.status.success() => {}
        _ => {
            eprintln!("skipped: python3 with the blake3 and cryptography packages is not available");
            return;
        }
    }
    let script = fixture_path("chl_verify.py");
    let run = |args: &[&str]| {
        let out = python(&[&[script.as_str()], args].concat()).unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (bundle, old, new, proof) = (
        fixture_path("bundle-seq-2.json"),
        fixture_path("checkpoint-3.note"),
        fixture_path("checkpoint-5.note"),
        fixture_path("consistency-3-5.json"),
    );
    let (code, out) = run(&["bundle", &bundle, VKEY]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("root {}", hex(&root::<Sha256Hasher>(&example().leaves, 5)))), "{out}");
    let (code, out) = run(&["consistency", &old, &new, &proof, VKEY]);
    assert_eq!((code, out.as_str()), (Some(0), "OK: the tree of 5 records extends the tree of 3\n"));
    let (code, out) = run(&["consistency", &new, &old, &proof, VKEY]);
    assert_eq!(code, Some(1), "{out}");

    let tmp = tempfile::tempdir().unwrap();
    for (what, text, _, step) in tampered(&example()) {
        let path = tmp.path().join("bundle.json");
        std::fs::write(&path, &text).unwrap();
        let (code, out) = run(&["bundle", path.to_str().unwrap(), VKEY]);
        assert_eq!(code, Some(1), "{what}: {out}");
        assert!(out.starts_with(&format!("REFUSED: {}", &step[..6])), "{what}: {out} / {step}");
    }
    // A verdict bundle of a real ledger.
    let dir = tempfile::tempdir().unwrap();
    let mut ledger =
        Ledger::init(dir.path(), OriginName::parse("audit.example").unwrap(), LedgerConfig::default())
            .unwrap();
    ledger.import(SAMPLE.as_bytes(), &mut |_| {}).unwrap();
    let order = chl_model::OrderId::parse("TB-20130602-0003").unwrap();
    let path = tmp.path().join("order.json");
    std::fs::write(&path, serde_json::to_string_pretty(&ledger.prove_order(&order).unwrap()).unwrap())
        .unwrap();
    let (code, out) = run(&["bundle", path.to_str().unwrap(), &ledger.verifier_key()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("OK: the ledger signed the verdict authentic; its evidence is proven"), "{out}");
}
