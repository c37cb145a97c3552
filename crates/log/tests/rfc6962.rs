//! The public RFC 6962 / RFC 9162 test vectors (../shared/testdata/rfc6962, from
//! transparency-dev/merkle), every one with its stated semantics.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chl_log::merkle::{MemoryLeaves, Sha256Hasher, TreeHasher, root, verify_consistency, verify_inclusion};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/rfc6962")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "json") {
            out.push(path);
        }
    }
}

fn bytes(value: &Value) -> Vec<u8> {
    value.as_str().map(|s| BASE64.decode(s).expect("base64")).unwrap_or_default()
}

fn proof(value: &Value) -> Vec<Vec<u8>> {
    value.as_array().map(|items| items.iter().map(bytes).collect()).unwrap_or_default()
}

/// Sizes and indexes are int64 in the vectors; a negative one can only be an error case.
fn number(value: &Value) -> Option<u64> {
    value.as_i64().and_then(|n| u64::try_from(n).ok())
}

#[test]
fn every_public_vector_passes_with_its_stated_semantics() {
    let mut files = Vec::new();
    json_files(&vectors_dir().join("inclusion"), &mut files);
    let inclusion = files.len();
    json_files(&vectors_dir().join("consistency"), &mut files);
    let mut failures = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let want_err = case["wantErr"].as_bool().unwrap();
        let outcome = if i < inclusion {
            match (number(&case["leafIdx"]), number(&case["treeSize"])) {
                (Some(index), Some(size)) => verify_inclusion::<Sha256Hasher>(
                    index,
                    size,
                    &bytes(&case["leafHash"]),
                    &proof(&case["proof"]),
                    &bytes(&case["root"]),
                )
                .map_err(|e| e.to_string()),
                _ => Err("negative index or size".to_owned()),
            }
        } else {
            match (number(&case["size1"]), number(&case["size2"])) {
                (Some(old), Some(new)) => verify_consistency::<Sha256Hasher>(
                    old,
                    new,
                    &bytes(&case["root1"]),
                    &bytes(&case["root2"]),
                    &proof(&case["proof"]),
                )
                .map_err(|e| e.to_string()),
                _ => Err("negative size".to_owned()),
            }
        };
        if outcome.is_err() != want_err {
            failures.push(format!(
                "{}: wantErr {want_err}, got {outcome:?} ({})",
                file.display(),
                case["desc"]
            ));
        }
    }
    assert_eq!(files.len(), 196, "the README promises 196 vectors");
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn tree_heads_of_the_reference_leaves() {
    let text = std::fs::read_to_string(vectors_dir().join("leaves.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let leaves: Vec<[u8; 32]> = doc["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hex| Sha256Hasher::leaf(&decode_hex(hex.as_str().unwrap())))
        .collect();
    let tree = MemoryLeaves(leaves);
    for (size, want) in doc["root_by_tree_size_hex"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            root::<Sha256Hasher>(&tree, size as u64).to_vec(),
            decode_hex(want.as_str().unwrap()),
            "size {size}"
        );
    }
}

fn decode_hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}
