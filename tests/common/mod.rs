//! Helpers for driving the real `chl` binary in end-to-end tests: run a command against a
//! ledger directory, build a ledger from the sample history, copy ledgers, walk segment files.

#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The origin every test ledger is created with.
pub const ORIGIN: &str = "cli-test.channel-ledger.example";

/// Bytes of a segment file's header.
pub const SEGMENT_HEADER_BYTES: usize = 32;
/// Frame magic, length field, trailer.
pub const FRAME_MAGIC: [u8; 4] = [0xC3, 0x48, 0x4C, 0x52];
pub const FRAME_HEADER_BYTES: usize = 8;
pub const FRAME_TRAILER_BYTES: usize = 32;

/// What one run of `chl` gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Panics with the whole run unless it exited 0.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "chl failed: {self:#?}");
        self
    }
}

pub fn chl_path() -> &'static str {
    env!("CARGO_BIN_EXE_chl")
}

/// `chl` with no `CHL_DATA` inherited, so `--data` is the only way a test names a ledger.
pub fn chl_command() -> Command {
    let mut cmd = Command::new(chl_path());
    cmd.env_remove("CHL_DATA");
    cmd
}

/// Runs `chl --data DIR ARGS...`.
pub fn chl(dir: &Path, args: &[&str]) -> Run {
    let out = chl_command().arg("--data").arg(dir).args(args).output().expect("run chl");
    Run::from_output(out)
}

/// Runs `chl ARGS...` (no `--data`).
pub fn chl_bare(args: &[&str]) -> Run {
    Run::from_output(chl_command().args(args).output().expect("run chl"))
}

/// Runs `chl --data DIR ARGS...` with `input` on stdin.
pub fn chl_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Run {
    let mut child = chl_command()
        .arg("--data")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chl");
    let mut stdin = child.stdin.take().unwrap();
    // A command that refuses early may close stdin before reading it all.
    let _ = stdin.write_all(input);
    drop(stdin);
    Run::from_output(child.wait_with_output().expect("wait for chl"))
}

/// `chl verify --file -` over `export` (no ledger needed; `--data` points nowhere useful).
pub fn verify_file_bytes(export: &[u8]) -> Run {
    let nowhere = Path::new("/nonexistent/chl-cli-test");
    chl_stdin(nowhere, &["verify", "--file", "-"], export)
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sample_path() -> PathBuf {
    repo_root().join("replay/samples/acme-channel.jsonl")
}

pub fn sample_lines() -> Vec<String> {
    fs::read_to_string(sample_path())
        .expect("read the sample")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("chl-cli-test-").tempdir().expect("create a scratch directory")
}

/// The ledger directory inside a scratch directory (not yet created).
pub fn ledger_in(scratch: &tempfile::TempDir) -> PathBuf {
    scratch.path().join("ledger")
}

/// `chl init --origin ORIGIN` into `dir`.
pub fn init(dir: &Path) -> Run {
    chl(dir, &["init", "--origin", ORIGIN]).ok()
}

/// A ledger holding record 0 and the 40 sample records (41 in all).
pub fn sample_ledger() -> (tempfile::TempDir, PathBuf) {
    let scratch = tempdir();
    let dir = ledger_in(&scratch);
    init(&dir);
    let sample = sample_path();
    chl(&dir, &["import", sample.to_str().unwrap()]).ok();
    (scratch, dir)
}

pub fn export(dir: &Path) -> String {
    chl(dir, &["export"]).ok().stdout
}

/// Copies a directory tree (files and directories only).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create copy");
    for entry in fs::read_dir(from).expect("read dir") {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_file() {
            fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// The segment files of a ledger, by name.
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut segs: Vec<PathBuf> = fs::read_dir(dir.join("log"))
        .expect("read the log directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    segs
}

/// The only segment file of a small ledger.
pub fn only_segment(dir: &Path) -> PathBuf {
    let segs = segment_files(dir);
    assert_eq!(segs.len(), 1, "expected one segment file, found {segs:?}");
    segs.into_iter().next().unwrap()
}

/// Byte ranges `[start, end)` of the frames of a segment file, walked from its 32-byte header
/// by the frames' own length fields. Panics if the file does not walk cleanly.
pub fn frame_ranges(segment: &[u8]) -> Vec<(usize, usize)> {
    let mut at = SEGMENT_HEADER_BYTES;
    let mut out = Vec::new();
    while at < segment.len() {
        assert_eq!(segment[at..at + 4], FRAME_MAGIC, "no frame magic at {at}");
        let len = u32::from_le_bytes(segment[at + 4..at + 8].try_into().unwrap()) as usize;
        let end = at + FRAME_HEADER_BYTES + len + FRAME_TRAILER_BYTES;
        assert!(end <= segment.len(), "frame at {at} runs past the end of the file");
        out.push((at, end));
        at = end;
    }
    out
}

/// Every seq named in `text` as `seq N`, in order of appearance.
pub fn named_seqs(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("seq ") {
        rest = &rest[i + 4..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse() {
            out.push(n);
        }
    }
    out
}

/// The first seq named in `text`.
pub fn first_named_seq(text: &str) -> Option<u64> {
    named_seqs(text).first().copied()
}

/// A small deterministic generator (splitmix64), so that "random" choices repeat.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Decodes standard base64 (with `=` padding); `None` if it is not.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::new();
    for (n, chunk) in bytes.chunks(4).enumerate() {
        let last = n == bytes.len() / 4 - 1;
        let mut acc = 0u32;
        let mut pad = 0;
        for (i, &c) in chunk.iter().enumerate() {
            let v = if c == b'=' {
                if !last || i < 2 {
                    return None;
                }
                pad += 1;
                0
            } else {
                if pad > 0 {
                    return None;
                }
                ALPHABET.iter().position(|&a| a == c)? as u32
            };
            acc = (acc << 6) | v;
        }
        let three = acc.to_be_bytes();
        out.extend_from_slice(&three[1..4 - pad]);
    }
    Some(out)
}

/// Whether `text` is `len` lower-case hex digits.
pub fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The export lines parsed as JSON.
pub fn parse_lines(export: &str) -> Vec<serde_json::Value> {
    export.lines().map(|l| serde_json::from_str(l).expect("an export line is JSON")).collect()
}
