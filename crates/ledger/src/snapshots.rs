//! Snapshots of the temporal state at a seq, in `DIR/snapshots/state-<seq>.snap`:
//!
//! ```text
//! magic "CHLSNAP1" | seq u64 LE | hash of record seq [32] | length u64 LE | state bytes | BLAKE3 of them [32]
//! ```
//!
//! A snapshot is trusted only if its checksum holds and the log still holds record `seq` with
//! that hash: a snapshot from another ledger, or from records recovery later cut, is ignored.
//! Written to a temporary file, fsynced and renamed into place; the latest two are kept.

use chl_model::{Digest, Seq};
use chl_state::State;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"CHLSNAP1";
const KEEP: usize = 2;

pub struct Snapshots {
    dir: PathBuf,
}

/// A snapshot found on disk.
#[derive(Debug, Clone)]
pub struct SnapshotFile {
    pub seq: Seq,
    pub path: PathBuf,
}

impl Snapshots {
    pub fn new(dir: PathBuf) -> Snapshots {
        Snapshots { dir }
    }

    /// Snapshots on disk, newest first.
    pub fn list(&self) -> Vec<SnapshotFile> {
        let Ok(entries) = fs::read_dir(&self.dir) else { return Vec::new() };
        let mut found: Vec<SnapshotFile> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let seq = name.strip_prefix("state-")?.strip_suffix(".snap")?.parse().ok()?;
                Some(SnapshotFile { seq: Seq(seq), path: e.path() })
            })
            .collect();
        found.sort_by_key(|f| std::cmp::Reverse(f.seq));
        found
    }

    /// Writes the state as of record `seq` (whose hash is `hash`).
    pub fn write(&self, state: &State, seq: Seq, hash: Digest) -> io::Result<PathBuf> {
        fs::create_dir_all(&self.dir)?;
        let body = chl_state::snapshot::encode(state);
        let path = self.dir.join(format!("state-{:020}.snap", seq.0));
        let tmp = self.dir.join(format!("state-{:020}.snap.tmp", seq.0));
        let mut file = File::create(&tmp)?;
        file.write_all(MAGIC)?;
        file.write_all(&seq.0.to_le_bytes())?;
        file.write_all(hash.as_bytes())?;
        file.write_all(&(body.len() as u64).to_le_bytes())?;
        file.write_all(&body)?;
        file.write_all(blake3::hash(&body).as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &path)?;
        File::open(&self.dir)?.sync_all()?;
        for old in self.list().into_iter().skip(KEEP) {
            let _ = fs::remove_file(old.path);
        }
        Ok(path)
    }

    /// Reads a snapshot; `hash_at(seq)` must give the log's hash of that record.
    pub fn load(
        &self,
        file: &SnapshotFile,
        hash_at: impl Fn(Seq) -> Option<Digest>,
    ) -> Result<State, String> {
        let bytes = fs::read(&file.path).map_err(|e| e.to_string())?;
        parse(&bytes, file.seq, hash_at)
    }
}

fn parse(bytes: &[u8], seq: Seq, hash_at: impl Fn(Seq) -> Option<Digest>) -> Result<State, String> {
    let header = 8 + 8 + 32 + 8;
    if bytes.len() < header + 32 || &bytes[..8] != MAGIC {
        return Err("not a snapshot of this format".into());
    }
    let stored_seq = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
    let hash = Digest(bytes[16..48].try_into().unwrap());
    let len = u64::from_le_bytes(bytes[48..56].try_into().unwrap()) as usize;
    if stored_seq != seq.0 || bytes.len() != header + len + 32 {
        return Err("the snapshot's header does not match its file".into());
    }
    let body = &bytes[header..header + len];
    if blake3::hash(body).as_bytes() != &bytes[header + len..] {
        return Err("the snapshot's checksum does not hold".into());
    }
    if hash_at(seq) != Some(hash) {
        return Err(format!("the log's record {seq} is not the one the snapshot was taken at"));
    }
    let state = chl_state::snapshot::decode(body)?;
    if state.record_count() != seq.0 + 1 {
        return Err("the snapshot's state does not end at its seq".into());
    }
    Ok(state)
}

/// Where a ledger keeps its snapshots.
pub fn dir_of(root: &Path) -> PathBuf {
    root.join("snapshots")
}
