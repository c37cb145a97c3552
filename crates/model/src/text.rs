//! Free text: names, reasons, references and notes.

use crate::validated::validated_string;

/// The longest free text, in bytes.
pub const TEXT_MAX_BYTES: usize = 1024;

/// Non-blank, at most 1024 bytes, no control characters (a record is one line of JSON and a
/// line of a terminal report; a newline or escape in a name would break both).
pub fn check_text(value: &str) -> Result<(), &'static str> {
    if value.trim().is_empty() {
        return Err("may not be empty or blank");
    }
    if value.len() > TEXT_MAX_BYTES {
        return Err("at most 1024 bytes");
    }
    if value.chars().any(char::is_control) {
        return Err("may not contain control characters");
    }
    Ok(())
}

validated_string!(Text, "text", check_text);
