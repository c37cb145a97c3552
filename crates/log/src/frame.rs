//! A frame holds one record in a segment file:
//!
//! ```text
//! magic [C3 48 4C 52] | body_len u32 LE | body (canonical record bytes) | hash [32]
//! ```
//!
//! `hash` is the record hash of `body` (BLAKE3 derive-key, see chl_model::codec). It makes a
//! frame self-checking: a torn or flipped frame fails it. The magic lets recovery tell a frame
//! start from arbitrary bytes when it looks past damage.

use chl_model::Digest;
use chl_model::codec::{MAX_RECORD_BYTES, record_hash};

pub const FRAME_MAGIC: [u8; 4] = [0xC3, 0x48, 0x4C, 0x52];
/// Bytes before the body.
pub const FRAME_HEADER_BYTES: usize = 8;
/// Bytes after the body.
pub const FRAME_TRAILER_BYTES: usize = 32;
pub const FRAME_OVERHEAD_BYTES: usize = FRAME_HEADER_BYTES + FRAME_TRAILER_BYTES;
pub const MAX_FRAME_BYTES: usize = MAX_RECORD_BYTES + FRAME_OVERHEAD_BYTES;

/// Appends the frame of `body` to `out` and returns the record hash.
pub fn write_frame(body: &[u8], out: &mut Vec<u8>) -> Digest {
    assert!(!body.is_empty() && body.len() <= MAX_RECORD_BYTES, "record of {} bytes", body.len());
    let hash = record_hash(body);
    out.reserve(body.len() + FRAME_OVERHEAD_BYTES);
    out.extend_from_slice(&FRAME_MAGIC);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(hash.as_bytes());
    hash
}

/// What the bytes at a position hold.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameParse<'a> {
    /// A whole frame whose hash matches its body.
    Whole { body: &'a [u8], hash: Digest, frame_bytes: usize },
    /// The start of a frame that the bytes end before.
    Short,
    /// Not a valid frame.
    Bad(&'static str),
}

/// Parses the frame at the start of `bytes`, checking its hash.
pub fn parse_frame(bytes: &[u8]) -> FrameParse<'_> {
    match parse_frame_unchecked(bytes) {
        FrameParse::Whole { body, hash, frame_bytes } => {
            if record_hash(body) == hash {
                FrameParse::Whole { body, hash, frame_bytes }
            } else {
                FrameParse::Bad("the record hash does not match the record's bytes")
            }
        }
        other => other,
    }
}

/// Parses the frame at the start of `bytes` without checking its hash (for callers that
/// check it themselves, perhaps on another thread).
pub fn parse_frame_unchecked(bytes: &[u8]) -> FrameParse<'_> {
    if bytes.len() < FRAME_HEADER_BYTES {
        let magic_prefix = &FRAME_MAGIC[..bytes.len().min(4)];
        return if bytes[..magic_prefix.len()] == *magic_prefix {
            FrameParse::Short
        } else {
            FrameParse::Bad("no frame marker")
        };
    }
    if bytes[..4] != FRAME_MAGIC {
        return FrameParse::Bad("no frame marker");
    }
    let body_len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    if body_len == 0 || body_len > MAX_RECORD_BYTES {
        return FrameParse::Bad("the frame's length field is out of range");
    }
    let frame_bytes = body_len + FRAME_OVERHEAD_BYTES;
    if bytes.len() < frame_bytes {
        return FrameParse::Short;
    }
    let body = &bytes[FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + body_len];
    let hash = Digest(bytes[FRAME_HEADER_BYTES + body_len..frame_bytes].try_into().unwrap());
    FrameParse::Whole { body, hash, frame_bytes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_parses_back_and_any_flip_is_caught() {
        let mut out = Vec::new();
        let hash = write_frame(b"\x01some record bytes", &mut out);
        assert_eq!(
            parse_frame(&out),
            FrameParse::Whole { body: b"\x01some record bytes", hash, frame_bytes: out.len() }
        );
        for i in 0..out.len() {
            let mut flipped = out.clone();
            flipped[i] ^= 0x10;
            assert!(!matches!(parse_frame(&flipped), FrameParse::Whole { .. }), "flip at {i}");
        }
        for cut in 0..out.len() {
            assert_eq!(parse_frame(&out[..cut]), FrameParse::Short, "cut at {cut}");
        }
    }
}
