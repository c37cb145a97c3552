//! The JSON shape the contract promises: objects where the catalogue has objects.
//!
//! serde reads a struct from a JSON array of its fields in order as readily as from an object,
//! so `"amount": [100, "CNY"]` would parse. The contract (and the JSON Schemas in schemas/)
//! say objects; this one pass over the text refuses an array anywhere but as the value of a
//! field that holds a list.

use crate::event::FieldError;

/// Fields whose value is a list. An array anywhere else is refused.
const LIST_FIELDS: &[&str] =
    &["channels", "regions", "skus", "categories", "powers", "classes", "qualifications"];

/// Checks that `text` (one JSON document, already known to be well formed or about to be
/// parsed) has arrays only as the values of list fields. `root` names the document in
/// messages (`data`, or empty for a whole submission or record).
pub fn check_arrays(text: &str, root: &str) -> Result<(), FieldError> {
    // Per open container: whether it is an array, and for objects the last key read.
    let mut stack: Vec<(bool, &str)> = Vec::new();
    let mut expect_key = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                i = start;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if expect_key && let Some(top) = stack.last_mut() {
                    top.1 = text.get(start..i.min(bytes.len())).unwrap_or("");
                    expect_key = false;
                }
            }
            b'{' => {
                stack.push((false, ""));
                expect_key = true;
            }
            b'[' => {
                let allowed = matches!(stack.last(), Some((false, key)) if LIST_FIELDS.contains(key));
                if !allowed {
                    let path: Vec<&str> = std::iter::once(root)
                        .chain(stack.iter().filter(|(array, _)| !array).map(|(_, key)| *key))
                        .filter(|part| !part.is_empty())
                        .collect();
                    let field = if path.is_empty() { "submission".to_owned() } else { path.join(".") };
                    return Err(FieldError::new(field, "expected an object, found an array"));
                }
                stack.push((true, ""));
            }
            b'}' | b']' => {
                stack.pop();
            }
            b',' => expect_key = matches!(stack.last(), Some((false, _))),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_only_where_lists_are() {
        assert!(
            check_arrays(r#"{"type":"x","data":{"channels":["taobao"],"scope":{"skus":["a"]}}}"#, "").is_ok()
        );
        assert!(
            check_arrays(r#"{"data":{"qualifications":[{"kind":"other","reference":"[not a list]"}]}}"#, "")
                .is_ok()
        );
        let err = check_arrays(r#"{"data":{"amount":[5000000,"CNY"]}}"#, "").unwrap_err();
        assert_eq!(err.field, "data.amount");
        assert_eq!(check_arrays(r#"["grant_issued","acme"]"#, "").unwrap_err().field, "submission");
        assert_eq!(check_arrays(r#"[1]"#, "data").unwrap_err().field, "data");
        assert_eq!(check_arrays(r#"{"scope":[]}"#, "data").unwrap_err().field, "data.scope");
        assert!(check_arrays(r#"{"channels":[["taobao"]]}"#, "data").is_err());
        assert!(check_arrays(r#"{"note":"a \"[\" in text","classes":[3]}"#, "data").is_ok());
    }
}
