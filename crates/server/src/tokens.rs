//! API bearer tokens: who may call the HTTP API, as which principal, in which role.
//!
//! A token is 256 random bits, printed once by `chl token issue`; the ledger directory keeps
//! only its SHA-256 (`DIR/tokens.jsonl`, readable by its owner only). The file is separate
//! from the ledger's lock so that tokens can be issued and revoked while `chl serve` runs:
//! the server notices the file change on the next request and reloads it, so a revocation
//! takes effect at once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chl_model::PartyId;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What a principal may do (spec/http.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The platform operator: records sales, reads records, verdicts, channels and replays.
    Platform,
    /// A registered party acting as itself: submits its own events, reads its own brands.
    Party,
    /// Reads everything, with proofs.
    Auditor,
    /// Reads everything, with replays.
    Investigator,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Platform, Role::Party, Role::Auditor, Role::Investigator];

    pub fn name(self) -> &'static str {
        match self {
            Role::Platform => "platform",
            Role::Party => "party",
            Role::Auditor => "auditor",
            Role::Investigator => "investigator",
        }
    }

    pub fn parse(text: &str) -> Result<Role, TokenError> {
        Role::ALL.into_iter().find(|r| r.name() == text).ok_or_else(|| {
            TokenError::Invalid(format!(
                "unknown role {text:?}; a role is one of platform, party, auditor, investigator"
            ))
        })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One issued token, as stored: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// A short public name of the token (the start of its hash), for listing and revoking.
    pub id: String,
    pub principal: PartyId,
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    pub issued_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(String),
    #[error("{context}: {error}")]
    Io { context: String, error: io::Error },
    #[error("{path}: line {line}: {message}")]
    Corrupt { path: PathBuf, line: usize, message: String },
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> TokenError {
    move |error| TokenError::Io { context: context.into(), error }
}

/// The path of the token file of the ledger in `root`.
pub fn tokens_path(root: &Path) -> PathBuf {
    root.join("tokens.jsonl")
}

fn hash_hex(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The token file of one ledger directory.
pub struct TokenFile {
    path: PathBuf,
    lock_path: PathBuf,
}

/// A token just issued: `token` is shown once and kept nowhere.
pub struct Issued {
    pub token: String,
    pub entry: TokenEntry,
}

impl TokenFile {
    pub fn new(root: &Path) -> TokenFile {
        TokenFile { path: tokens_path(root), lock_path: root.join("tokens.lock") }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every token ever issued, revoked ones included.
    pub fn load(&self) -> Result<Vec<TokenEntry>, TokenError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(format!("read {}", self.path.display()))(e)),
        };
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| TokenError::Corrupt {
                    path: self.path.clone(),
                    line: i + 1,
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// Issues a new token for `principal` in `role`.
    pub fn issue(&self, principal: &str, role: Role, now: &str) -> Result<Issued, TokenError> {
        let principal = PartyId::parse(principal)
            .map_err(|e| TokenError::Invalid(format!("--principal {principal:?}: {e}")))?;
        match (role, principal.is_platform()) {
            (Role::Platform, false) => {
                return Err(TokenError::Invalid(format!(
                    "role platform belongs to principal platform, not {principal}"
                )));
            }
            (Role::Party, true) => {
                return Err(TokenError::Invalid(
                    "principal platform acts in role platform, not party".into(),
                ));
            }
            _ => {}
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| TokenError::Invalid(format!("cannot generate a token: {e}")))?;
        let token = format!("chl_{}", URL_SAFE_NO_PAD.encode(secret));
        let sha256 = hash_hex(&token);
        let entry = TokenEntry {
            id: format!("tok_{}", &sha256[..12]),
            principal,
            role,
            sha256,
            issued_at: now.to_owned(),
            revoked_at: None,
        };
        self.update(|entries| {
            entries.push(entry.clone());
            Ok(())
        })?;
        Ok(Issued { token, entry })
    }

    /// Revokes the tokens `which` picks; returns them. Revoking nothing is an error.
    pub fn revoke(&self, which: &Revoke, now: &str) -> Result<Vec<TokenEntry>, TokenError> {
        let mut revoked = Vec::new();
        self.update(|entries| {
            for entry in entries.iter_mut().filter(|e| e.revoked_at.is_none()) {
                let matches = match which {
                    Revoke::Id(id) => &entry.id == id,
                    Revoke::Token(token) => entry.sha256 == hash_hex(token),
                    Revoke::Principal(principal) => entry.principal.as_str() == principal,
                };
                if matches {
                    entry.revoked_at = Some(now.to_owned());
                    revoked.push(entry.clone());
                }
            }
            if revoked.is_empty() {
                return Err(TokenError::Invalid(format!("no live token matches {which}")));
            }
            Ok(())
        })?;
        Ok(revoked)
    }

    /// Reads, changes and atomically rewrites the file, holding its lock throughout so that
    /// two `chl token` commands never lose each other's change.
    fn update(
        &self,
        change: impl FnOnce(&mut Vec<TokenEntry>) -> Result<(), TokenError>,
    ) -> Result<(), TokenError> {
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&self.lock_path)
            .map_err(io_error(format!("open {}", self.lock_path.display())))?;
        lock.lock().map_err(io_error(format!("lock {}", self.lock_path.display())))?;
        let mut entries = self.load()?;
        change(&mut entries)?;
        let mut text = String::new();
        for entry in &entries {
            text.push_str(&serde_json::to_string(entry).expect("a token entry is JSON"));
            text.push('\n');
        }
        let tmp = self.path.with_extension("jsonl.tmp");
        let context = format!("write {}", tmp.display());
        let mut file: File = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_error(context.clone()))?;
        file.write_all(text.as_bytes()).map_err(io_error(context.clone()))?;
        file.sync_all().map_err(io_error(context))?;
        fs::rename(&tmp, &self.path).map_err(io_error(format!("replace {}", self.path.display())))?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_error(format!("sync {}", dir.display())))?;
        }
        Ok(())
    }
}

/// Which tokens `chl token revoke` revokes.
#[derive(Debug, Clone)]
pub enum Revoke {
    Id(String),
    Token(String),
    Principal(String),
}

impl std::fmt::Display for Revoke {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Revoke::Id(id) => write!(f, "id {id}"),
            Revoke::Token(_) => f.write_str("the token given"),
            Revoke::Principal(p) => write!(f, "principal {p}"),
        }
    }
}

/// The caller a valid token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: PartyId,
    pub role: Role,
    pub token_id: String,
}

/// Why a bearer token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    Unknown,
    Revoked,
}

/// The live tokens, as the server checks them: reloaded whenever the file changes.
pub struct TokenSet {
    file: TokenFile,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    /// (inode, size, mtime) of the file the cache was read from; `None` before any read.
    version: Option<(u64, u64, i64, i64)>,
    by_hash: HashMap<[u8; 32], TokenEntry>,
}

impl TokenSet {
    pub fn new(root: &Path) -> Result<TokenSet, TokenError> {
        let set = TokenSet { file: TokenFile::new(root), cache: Mutex::new(Cache::default()) };
        set.refresh()?;
        Ok(set)
    }

    /// Re-reads the file if it changed since the last read. Tokens are replaced by renaming a
    /// new file into place, so the inode changes with every update.
    fn refresh(&self) -> Result<(), TokenError> {
        let version = match fs::metadata(self.file.path()) {
            Ok(m) => Some((m.ino(), m.size(), m.mtime(), m.mtime_nsec())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error(format!("stat {}", self.file.path().display()))(e)),
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.version == version && version.is_some() {
            return Ok(());
        }
        let mut by_hash = HashMap::new();
        for entry in self.file.load()? {
            if let Some(hash) = parse_hex32(&entry.sha256) {
                by_hash.insert(hash, entry);
            }
        }
        *cache = Cache { version, by_hash };
        Ok(())
    }

    /// The caller `token` names. The lookup is by the token's SHA-256, and the stored hash is
    /// compared in constant time, so the time taken tells nothing about any stored token.
    pub fn authenticate(&self, token: &str) -> Result<Result<Caller, Rejected>, TokenError> {
        use subtle::ConstantTimeEq;
        self.refresh()?;
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = cache.by_hash.get(&presented) else { return Ok(Err(Rejected::Unknown)) };
        let stored = parse_hex32(&entry.sha256).unwrap_or([0; 32]);
        if !bool::from(stored.ct_eq(&presented)) {
            return Ok(Err(Rejected::Unknown));
        }
        if entry.revoked_at.is_some() {
            return Ok(Err(Rejected::Revoked));
        }
        Ok(Ok(Caller { principal: entry.principal.clone(), role: entry.role, token_id: entry.id.clone() }))
    }
}

fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-25T10:00:00Z";

    #[test]
    fn issued_tokens_authenticate_until_revoked() {
        let tmp = tempfile::tempdir().unwrap();
        let file = TokenFile::new(tmp.path());
        let issued = file.issue("acme", Role::Party, NOW).unwrap();
        assert!(issued.token.starts_with("chl_") && issued.token.len() == 47);
        let stored = fs::read_to_string(file.path()).unwrap();
        assert!(!stored.contains(&issued.token), "only the hash is stored");
        assert_eq!(fs::metadata(file.path()).unwrap().mode() & 0o777, 0o600);

        let set = TokenSet::new(tmp.path()).unwrap();
        let caller = set.authenticate(&issued.token).unwrap().unwrap();
        assert_eq!((caller.principal.as_str(), caller.role), ("acme", Role::Party));
        assert_eq!(set.authenticate("chl_forged").unwrap(), Err(Rejected::Unknown));

        file.revoke(&Revoke::Id(issued.entry.id.clone()), NOW).unwrap();
        assert_eq!(set.authenticate(&issued.token).unwrap(), Err(Rejected::Revoked));
        assert!(file.revoke(&Revoke::Id(issued.entry.id), NOW).is_err(), "already revoked");
    }

    #[test]
    fn roles_fit_their_principals() {
        let tmp = tempfile::tempdir().unwrap();
        let file = TokenFile::new(tmp.path());
        assert!(file.issue("acme", Role::Platform, NOW).is_err());
        assert!(file.issue("platform", Role::Party, NOW).is_err());
        assert!(file.issue("Not An Id!", Role::Auditor, NOW).is_err());
        assert!(file.issue("platform", Role::Platform, NOW).is_ok());
        assert!(file.issue("audit-co", Role::Auditor, NOW).is_ok());
        assert_eq!(file.load().unwrap().len(), 2);
    }
}
