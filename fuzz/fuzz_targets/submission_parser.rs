//! The submission parser on arbitrary text: `Submission::parse_json` never panics, on the input
//! as UTF-8 (when it is) and as a lossy string; what it accepts writes back (`write_json`) to a
//! line that parses to an equal submission, and that line writes back to itself.
#![no_main]

use chl_model::Submission;
use libfuzzer_sys::fuzz_target;

fn check(text: &str) {
    let Ok(submission) = Submission::parse_json(text) else { return };
    let mut line = Vec::new();
    submission.write_json(&mut line).expect("in memory");
    let line = String::from_utf8(line).expect("JSON is UTF-8");
    let again = Submission::parse_json(&line)
        .unwrap_or_else(|e| panic!("a submission's own line is refused: {e}\n{text}\n{line}"));
    assert_eq!(again, submission, "the written line parses to another submission\n{text}\n{line}");
    let mut twice = Vec::new();
    again.write_json(&mut twice).expect("in memory");
    assert_eq!(twice, line.as_bytes(), "writing is not stable");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check(text);
    } else {
        check(&String::from_utf8_lossy(data));
    }
});
