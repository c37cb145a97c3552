//! The record decoder on arbitrary bytes: `decode_record` never panics; what it accepts is
//! canonical (re-encoding gives the same bytes, so the same hash), its head agrees with
//! `decode_head`, and its export form reads back as the same record and hash. What the
//! proof-bound decoder (no canonical check) accepts re-encodes to bytes `decode_record`
//! accepts as the same record.
#![no_main]

use chl_model::codec::{
    decode_head, decode_record, decode_record_bound_by_proof, encode_record, record_hash,
};
use chl_model::{ExportedRecord, ImportedRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let head = decode_head(data);
    if let Ok(record) = decode_record(data) {
        let mut again = Vec::with_capacity(data.len());
        encode_record(&record, &mut again);
        assert_eq!(again, data, "a decoded record re-encodes to other bytes");
        let hash = record_hash(data);
        assert_eq!(hash, record_hash(&again), "the record hash is not stable");
        assert_eq!(hash, record_hash(data), "the record hash is not stable");
        let head = head.expect("the head of a record decodes");
        assert_eq!(
            (head.seq, head.prev, head.recorded_at, head.ends_batch),
            (record.seq, record.prev, record.recorded_at, record.ends_batch)
        );
        let mut line = Vec::new();
        ExportedRecord { record: &record, hash }.write_json(&mut line).expect("in memory");
        let line = String::from_utf8(line).expect("JSON is UTF-8");
        let back = ImportedRecord::parse_json(&line).unwrap_or_else(|e| {
            panic!("the export form does not read back: {}: {}\n{line}", e.field, e.message)
        });
        assert_eq!(back.record, record, "the export form reads back as another record");
        assert_eq!(back.claimed_hash, hash);
    }
    if let Ok(record) = decode_record_bound_by_proof(data) {
        let mut canonical = Vec::with_capacity(data.len());
        encode_record(&record, &mut canonical);
        assert_eq!(decode_record(&canonical), Ok(record), "the canonical re-encoding does not decode");
    }
});
