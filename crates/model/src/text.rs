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

/// Characters that `char::is_control` calls control characters (Unicode category Cc), as a
/// regular-expression class body.
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";
/// What `str::trim` strips besides control characters: the other Unicode White_Space
/// characters. Text needs at least one character outside both.
const BLANK: &str = r"\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// The JSON Schema of free text. The pattern states "non-blank, no control characters"
/// exactly; the byte limit can only be approximated, since `maxLength` counts characters.
fn text_schema() -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": TEXT_MAX_BYTES,
        "pattern": format!("^[^{CONTROL}]*[^{CONTROL}{BLANK}][^{CONTROL}]*$"),
        "description": "Free text: not empty or blank, no control characters, at most 1024 bytes of \
            UTF-8. maxLength counts characters, so the schema lets through up to 1024 characters; \
            the ledger refuses text longer than 1024 bytes (a Chinese character takes 3 bytes, so \
            342 of them are already too long).",
    })
}

validated_string!(Text, "text", check_text, schema = text_schema());
