//! The ledger directory: where each part lives, and the lock that makes one process its only
//! writer.
//!
//! ```text
//! DIR/LOCK                     held (flock) by the process that has the ledger open
//! DIR/log/<base>.seg, .idx     the record log: the truth
//! DIR/keys/checkpoint.key      the Ed25519 signer key, mode 0600
//! DIR/index/                   sled: derived metadata and indexes, rebuilt from the log
//! ```

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

pub struct LedgerDir {
    root: PathBuf,
}

impl LedgerDir {
    pub fn new(root: &Path) -> LedgerDir {
        LedgerDir { root: root.to_owned() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn log(&self) -> PathBuf {
        self.root.join("log")
    }

    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }

    pub fn checkpoint_key(&self) -> PathBuf {
        self.keys().join("checkpoint.key")
    }

    pub fn index(&self) -> PathBuf {
        self.root.join("index")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.root.join("LOCK")
    }

    /// Whether a ledger lives here (its log directory exists).
    pub fn holds_ledger(&self) -> bool {
        self.log().is_dir()
    }

    /// Takes the directory's exclusive lock, or says who holds it.
    pub fn lock(&self) -> io::Result<DirLock> {
        let path = self.lock_file();
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "the ledger in {} is in use by another process{}",
                        self.root.display(),
                        if holder.is_empty() { String::new() } else { format!(" (pid {holder})") }
                    ),
                ));
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
        file.set_len(0)?;
        std::io::Write::write_all(&mut &file, std::process::id().to_string().as_bytes())?;
        Ok(DirLock { _file: file })
    }
}

/// Held while the ledger is open; released when dropped (or when the process dies).
pub struct DirLock {
    _file: File,
}
