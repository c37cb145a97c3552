//! A ledger in a directory: created with its key and record 0, opened with recovery, written
//! in all-or-nothing batches, read, exported and verified.

use crate::bundle::{Bundle, BundledRecord};
use crate::checkpoint::{Checkpoint, CheckpointStore, sign_note, verify_note};
use crate::dir::{DirLock, LedgerDir};
use crate::keys::{CheckpointKey, KeyError, verifier_string};
use crate::meta::{Meta, MetaDelta};
use crate::snapshots::{self, Snapshots};
use chl_log::{ChainError, ChainSummary, Head, Log, LogError, Mark, OpenReport, StoreConfig};
use chl_model::codec::MAX_RECORD_BYTES;
use chl_model::event::{LedgerCreated, OriginName, PublicKey};
use chl_model::{
    Digest, Event, ExportedRecord, ImportedRecord, MAX_EFFECTIVE_LEAD_MICROS, OrderId, PartyId, Record,
    Refusal, Rule, Seq, Sku, StoreId, Submission, Timestamp,
};
use chl_state::verdict::UnknownId;
use chl_state::{
    ChannelDiff, ChannelView, Decision, Fingerprint, Sale, SalesWindow, State, StateMark, Submitted, Verdict,
};
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{0} already holds a ledger")]
    AlreadyExists(PathBuf),
    #[error("{0} holds no ledger (create one with chl init)")]
    NoLedger(PathBuf),
    // Not `source`: the message already holds the error, and a source would repeat it.
    #[error("{context}: {error}")]
    Io { context: String, error: io::Error },
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("the index in {path}: {error}")]
    Index { path: PathBuf, error: sled::Error },
    #[error("cannot generate a key: {0}")]
    Random(getrandom::Error),
    #[error("the ledger cannot be written: {0}")]
    ReadOnly(String),
    #[error("record 0 is not a ledger_created record")]
    NoFoundingRecord,
    #[error("{0}: {1}")]
    Key(PathBuf, KeyError),
    #[error("{0}")]
    Proof(String),
    /// A read that needs the temporal state, asked before `state()` built it.
    #[error("the ledger's state is not loaded yet")]
    StateNotLoaded,
}

/// A refused import: the line, and why.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {refusal}")]
    Refused { line: u64, refusal: Refusal },
    #[error("line {line}: {message}")]
    Unreadable { line: u64, message: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<LogError> for ImportError {
    fn from(e: LogError) -> Self {
        ImportError::Ledger(LedgerError::Log(e))
    }
}

/// Why one submission was not staged.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Failed(#[from] LedgerError),
}

impl From<LogError> for StageError {
    fn from(e: LogError) -> Self {
        StageError::Failed(LedgerError::Log(e))
    }
}

#[derive(Debug, Clone, Default)]
pub struct LedgerConfig {
    pub store: StoreConfig,
    pub rules: RuleMode,
    /// A commit also signs and stores a checkpoint and updates the metadata index only when
    /// this long has passed since they were last brought up to date (zero: after every
    /// commit); `upkeep` brings them up to date whenever called. A server under load sets it
    /// so that many small commits share one checkpoint, whose files cost milliseconds to
    /// replace; checkpoints then lag the durable head by at most this long.
    pub upkeep_interval: std::time::Duration,
}

/// What an import appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    pub appended: u64,
    /// Submissions identical to records already there (rule 8): accepted, not appended.
    pub repeats: u64,
    /// The first of them (at most `REPEATS_NAMED`): the line, and the seq it repeats.
    pub first_repeats: Vec<(u64, Seq)>,
    /// Seqs of the appended records, first and last.
    pub range: Option<(Seq, Seq)>,
    pub head: Option<Head>,
}

/// The form of the lines of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportForm {
    /// Submissions: the ledger assigns seq, recorded_at, prev and hash.
    Submissions,
    /// Committed records from `chl export`: appended verbatim, each checked to continue the
    /// chain with the hash it states.
    Records,
}

pub struct Ledger {
    dir: LedgerDir,
    _lock: DirLock,
    log: Log,
    meta: Meta,
    origin: OriginName,
    public_key: PublicKey,
    open_report: OpenReport,
    config: LedgerConfig,
    /// The temporal state, built from the log when first needed; `None` also after a refused
    /// import, whose changes are dropped by rebuilding rather than by undo notes.
    state: Option<State>,
    /// The last accepted submission of the current batch, not yet in the log: whether it
    /// ends the batch is known only when the next one is accepted or the batch ends.
    held: Option<Record>,
    /// Records of the current batch appended to the log, with their hashes.
    batch: Vec<(Seq, Digest)>,
    /// Index updates for the records staged since the last commit.
    staged: MetaDelta,
    /// Index updates of committed records not yet written to the index (see `upkeep`).
    unindexed: MetaDelta,
    /// When the checkpoint and index were last brought up to date.
    last_upkeep: Option<std::time::Instant>,
    /// Reused buffer for a submission's identity bytes.
    identity: Vec<u8>,
    snapshots: Snapshots,
    /// The key that signs checkpoints; none in a ledger restored from an export.
    signer: Option<CheckpointKey>,
    checkpoints: CheckpointStore,
    /// The size of the tree the latest checkpoint covers.
    checkpointed: u64,
    /// The seq of the newest snapshot written or found.
    last_snapshot: Option<Seq>,
    state_source: Option<StateSource>,
}

/// How the state in memory was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateSource {
    /// Loaded from the snapshot at this seq, then the records after it replayed.
    Snapshot(Seq),
    /// Replayed from record 0.
    Replay,
}

/// What `rebuild` did.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    pub records: u64,
    /// The log's derived files (offset indexes, Merkle tree files), checked and rewritten.
    pub derived: chl_log::RebuildDerived,
    pub index_seconds: f64,
    pub state_seconds: f64,
    pub snapshot: PathBuf,
}

/// Write a snapshot after a commit once this many records came since the last one.
pub const SNAPSHOT_EVERY_RECORDS: u64 = 100_000;

/// Whether the rules of spec/events.md are judged. `FormOnly` exists to measure what the
/// rules cost (and for nothing else): a ledger written that way holds whatever it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RuleMode {
    #[default]
    Enforced,
    FormOnly,
}

/// What became of one staged submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staged {
    /// Accepted as the record with this seq (its hash is known when the batch ends).
    New(Seq),
    /// Identical to the record at this seq: accepted, nothing appended.
    Repeat(Seq),
}

/// What `verify_at` found: the chain, and the checkpoint it matched (none in a ledger
/// restored without its key).
#[derive(Debug, Clone)]
pub struct Verified {
    pub summary: ChainSummary,
    pub checkpoint: Option<Checkpoint>,
}

/// The signer key in `DIR/keys/checkpoint.key`, checked to be the one record 0 names.
fn load_signer(
    dir: &LedgerDir,
    origin: &OriginName,
    public_key: &PublicKey,
) -> Result<Option<CheckpointKey>, LedgerError> {
    let path = dir.checkpoint_key();
    let Ok(text) = fs::read_to_string(&path) else { return Ok(None) };
    let key = CheckpointKey::parse_signer_string(&text).map_err(|e| LedgerError::Key(path.clone(), e))?;
    if key.public_key() != *public_key || key.name() != origin {
        return Err(LedgerError::Key(path, KeyError("it is not the key that record 0 of this ledger names")));
    }
    Ok(Some(key))
}

/// Moves a damaged sled index out of the way (to `index.damaged-<unix seconds>`, kept for
/// inspection), so that a new one is built from the log.
fn set_index_aside(index: &Path) -> Result<(), LedgerError> {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let aside = index.with_file_name(format!("index.damaged-{stamp}"));
    fs::rename(index, &aside).map_err(io_context(format!("set the damaged index {} aside", index.display())))
}

/// How many repeats an import outcome names one by one.
pub const REPEATS_NAMED: usize = 10;

#[derive(Default)]
struct Repeated {
    count: u64,
    first: Vec<(u64, Seq)>,
}

/// The most bytes a record's canonical bytes take before its identity bytes (format, prev,
/// seq, recorded_at and ends_batch at their widest).
const RECORD_HEAD_MAX_BYTES: usize = 1 + 32 + 9 + 9 + 1;

fn io_context(context: impl Into<String>) -> impl FnOnce(io::Error) -> LedgerError {
    let context = context.into();
    move |error| LedgerError::Io { context, error }
}

impl Ledger {
    /// Creates a ledger in `root`: a new checkpoint key and record 0, `ledger_created`.
    /// The log appears under its final name only once record 0 is durable, so an interrupted
    /// init leaves no ledger behind.
    pub fn init(root: &Path, origin: OriginName, config: LedgerConfig) -> Result<Ledger, LedgerError> {
        let dir = LedgerDir::new(root);
        if dir.holds_ledger() {
            return Err(LedgerError::AlreadyExists(root.to_owned()));
        }
        fs::create_dir_all(root).map_err(io_context(format!("create {}", root.display())))?;
        let lock = dir.lock().map_err(io_context("lock"))?;
        let key = CheckpointKey::generate(origin.clone()).map_err(LedgerError::Random)?;
        write_private_file(&dir.keys(), &dir.checkpoint_key(), key.to_signer_string().as_bytes())?;

        let staging = root.join("log.init");
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_context(format!("remove {}", staging.display())))?;
        }
        let (mut log, _) = Log::open_dir(&staging, config.store.clone())?;
        let now = log.clock();
        let founding = Record {
            seq: Seq::ZERO,
            recorded_at: now,
            prev: Digest::ZERO,
            ends_batch: true,
            actor: PartyId::platform(),
            effective_at: now,
            version: chl_model::EventType::LedgerCreated.current_version(),
            event: Event::LedgerCreated(LedgerCreated {
                origin: origin.clone(),
                public_key: key.public_key(),
            }),
        };
        log.append(&founding)?;
        log.commit()?;
        drop(log);
        fs::rename(&staging, dir.log()).map_err(io_context("move the new log into place"))?;
        sync_dir(root)?;
        drop(lock);
        Ledger::open(root, config)
    }

    /// Opens the ledger in `root`, recovering the log's tail and catching the index up.
    pub fn open(root: &Path, config: LedgerConfig) -> Result<Ledger, LedgerError> {
        let dir = LedgerDir::new(root);
        if !dir.holds_ledger() {
            return Err(LedgerError::NoLedger(root.to_owned()));
        }
        let lock = dir.lock().map_err(io_context("lock"))?;
        let (log, open_report) = Log::open_dir(&dir.log(), config.store.clone())?;
        Ledger::assemble(dir, lock, log, open_report, config)
    }

    /// Re-creates a ledger in an empty `root` from a `chl export` file that starts at seq 0.
    /// The result has the same records and hashes; it has no signer key (an export holds
    /// none), so copy `keys/` from the original to keep signing as it.
    pub fn restore(
        root: &Path,
        input: impl BufRead,
        config: LedgerConfig,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(Ledger, ImportOutcome), ImportError> {
        let dir = LedgerDir::new(root);
        if dir.holds_ledger() {
            return Err(LedgerError::AlreadyExists(root.to_owned()).into());
        }
        let mut lines = ImportLines::new(input);
        let Some((_, first)) = lines.next_line()? else {
            return Err(ImportError::Unreadable { line: 0, message: "the file is empty".into() });
        };
        if detect_form(first) != ImportForm::Records {
            // Submissions need a ledger to go into; only an export can found one.
            return Err(LedgerError::NoLedger(root.to_owned()).into());
        }
        let first = first.to_owned();
        let created_root = !root.exists();
        fs::create_dir_all(root).map_err(io_context(format!("create {}", root.display())))?;
        let lock = dir.lock().map_err(io_context("lock"))?;
        let staging = root.join("log.init");
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_context(format!("remove {}", staging.display())))?;
        }
        let (mut log, _) = Log::open_dir(&staging, config.store.clone())?;
        let filled = fill_restored_log(&mut log, &first, &mut lines, progress);
        let count = match filled.and_then(|count| Ok((count, log.commit()?))) {
            Ok((count, _)) => count,
            Err(e) => {
                // Leave the directory as it was found.
                drop(log);
                let _ = fs::remove_dir_all(&staging);
                drop(lock);
                let _ = fs::remove_file(dir.lock_file());
                if created_root {
                    let _ = fs::remove_dir(root);
                }
                return Err(e);
            }
        };
        drop(log);
        fs::rename(&staging, dir.log()).map_err(io_context("move the restored log into place"))?;
        sync_dir(root)?;
        let (log, report) = Log::open_dir(&dir.log(), config.store.clone())?;
        let ledger = Ledger::assemble(dir, lock, log, report, config)?;
        let head = ledger.log.head();
        Ok((
            ledger,
            ImportOutcome {
                appended: count,
                repeats: 0,
                first_repeats: Vec::new(),
                range: head.map(|h| (Seq::ZERO, h.seq)),
                head,
            },
        ))
    }

    fn assemble(
        dir: LedgerDir,
        lock: DirLock,
        log: Log,
        open_report: OpenReport,
        config: LedgerConfig,
    ) -> Result<Ledger, LedgerError> {
        if log.record_count() == 0 {
            return Err(LedgerError::NoFoundingRecord);
        }
        let (founding, founding_hash) = log.read(Seq::ZERO)?;
        let Event::LedgerCreated(created) = founding.event else {
            return Err(LedgerError::NoFoundingRecord);
        };
        let index_path = dir.index();
        // The index is derived: one sled cannot open (its files damaged) is set aside and
        // rebuilt from the log rather than keep the ledger from opening.
        let meta = match Meta::open(&index_path) {
            Ok(meta) => meta,
            Err(_) => {
                set_index_aside(&index_path)?;
                Meta::open(&index_path)
                    .map_err(|source| LedgerError::Index { path: index_path, error: source })?
            }
        };
        let snapshot_dir = snapshots::dir_of(dir.root());
        let signer = load_signer(&dir, &created.origin, &created.public_key)?;
        let checkpoints = CheckpointStore::new(dir.root().join("checkpoints"));
        let mut ledger = Ledger {
            dir,
            _lock: lock,
            log,
            meta,
            origin: created.origin,
            public_key: created.public_key,
            open_report,
            config,
            state: None,
            held: None,
            batch: Vec::new(),
            staged: MetaDelta::default(),
            unindexed: MetaDelta::default(),
            last_upkeep: None,
            identity: Vec::with_capacity(512),
            snapshots: Snapshots::new(snapshot_dir),
            signer,
            checkpoints,
            checkpointed: 0,
            last_snapshot: None,
            state_source: None,
        };
        ledger.last_snapshot = ledger.snapshots.list().first().map(|f| f.seq);
        ledger.checkpointed = ledger.checkpoints.newest_size();
        // A signed checkpoint covers only durable records, and recovery never cuts those: a
        // log shorter than the latest checkpoint lost acknowledged records. Refuse writes (the
        // next checkpoint would contradict the signed one) and say so; chl verify names it.
        let held = ledger.log.record_count();
        if ledger.checkpointed > held && ledger.open_report.damage.is_none() {
            ledger.open_report.damage = Some(chl_log::Damage {
                seq: Seq(held),
                what: format!(
                    "the latest signed checkpoint covers {} records but the log holds {held}: acknowledged records are missing",
                    ledger.checkpointed
                ),
            });
        }
        ledger.sign_checkpoint()?;
        if ledger.catch_up_index(founding_hash).is_err() {
            // Damaged data inside a sled that opened: set it aside and rebuild it too.
            let index_path = ledger.dir.index();
            set_index_aside(&index_path)?;
            ledger.meta = Meta::open(&index_path)
                .map_err(|source| LedgerError::Index { path: index_path, error: source })?;
            ledger.catch_up_index(founding_hash)?;
        }
        Ok(ledger)
    }

    /// Brings the derived index up to the log's head, rebuilding it when it belongs to
    /// another ledger or runs ahead of the log (recovery cut records it had seen).
    fn catch_up_index(&mut self, founding_hash: Digest) -> Result<(), LedgerError> {
        let index_err = |source| LedgerError::Index { path: self.dir.index(), error: source };
        let head = self.log.head().map(|h| h.seq);
        let mut upto = self.meta.indexed_upto().map_err(index_err)?;
        let same_ledger = self.meta.founding_hash().map_err(index_err)? == Some(founding_hash);
        if upto.is_some() && (!same_ledger || upto > head) {
            self.meta.clear().map_err(index_err)?;
            upto = None;
        }
        if upto == head {
            return Ok(());
        }
        let from = upto.map_or(Seq::ZERO, Seq::next);
        let mut delta = MetaDelta::default();
        self.log.scan(from, &mut |record, hash| {
            delta.add(&record, hash);
            std::ops::ControlFlow::Continue(())
        })?;
        self.meta.apply(&delta).map_err(index_err)?;
        self.meta.flush().map_err(index_err)
    }

    pub fn root(&self) -> &Path {
        self.dir.root()
    }

    /// What recovery found when the ledger was opened.
    pub fn open_report(&self) -> &OpenReport {
        &self.open_report
    }

    pub fn origin(&self) -> &OriginName {
        &self.origin
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The verifier key in signed-note form.
    pub fn verifier_key(&self) -> String {
        verifier_string(&self.origin, &self.public_key)
    }

    pub fn head(&self) -> Option<Head> {
        self.log.durable_head()
    }

    pub fn record_count(&self) -> u64 {
        self.log.durable_head().map_or(0, |h| h.seq.0 + 1)
    }

    pub fn read(&self, seq: Seq) -> Result<(Record, Digest), LedgerError> {
        Ok(self.log.read(seq)?)
    }

    /// Records held, by event type, from the index (and the commits not yet in it).
    pub fn counts(&self) -> Result<BTreeMap<String, u64>, LedgerError> {
        let mut counts = self
            .meta
            .counts()
            .map_err(|source| LedgerError::Index { path: self.dir.index(), error: source })?;
        for (name, n) in self.unindexed.counts() {
            *counts.entry(name.to_owned()).or_default() += n;
        }
        Ok(counts)
    }

    /// Log and index bytes on disk.
    pub fn size_bytes(&self) -> Result<u64, LedgerError> {
        let log = chl_log::Storage::size_bytes(self.log.store()).map_err(LogError::from)?;
        Ok(log + dir_size(&self.dir.index()))
    }

    fn ensure_writable(&self) -> Result<(), LedgerError> {
        if let Some(damage) = &self.open_report.damage {
            return Err(LedgerError::ReadOnly(format!("{damage}; run chl verify")));
        }
        match self.log.write_block() {
            Some(why) => Err(LedgerError::ReadOnly(why)),
            None => Ok(()),
        }
    }

    // ---- writing ------------------------------------------------------------------------

    /// The temporal state, replayed from the log the first time it is needed.
    pub fn state(&mut self) -> Result<&mut State, LedgerError> {
        if self.state.is_none() {
            assert!(self.held.is_none() && self.batch.is_empty(), "state rebuilt inside a batch");
            let (state, source) = self.load_state(true)?;
            self.state = Some(state);
            self.state_source = Some(source);
        }
        Ok(self.state.as_mut().expect("built above"))
    }

    /// The temporal state if it is built; reads that take `&self` need it built first
    /// (`state()`), so that many readers can share the ledger.
    pub fn loaded_state(&self) -> Result<&State, LedgerError> {
        self.state.as_ref().ok_or(LedgerError::StateNotLoaded)
    }

    /// How the state in memory was built, once it is.
    pub fn state_source(&self) -> Option<StateSource> {
        self.state_source
    }

    /// The state from the newest snapshot that fits this log (when `use_snapshots`), then the
    /// records after it; from record 0 otherwise.
    fn load_state(&self, use_snapshots: bool) -> Result<(State, StateSource), LedgerError> {
        let durable = self.log.durable_head().map(|h| h.seq);
        let hash_at = |seq: Seq| self.log.read(seq).ok().map(|(_, hash)| hash);
        let loaded = use_snapshots
            .then(|| self.snapshots.list())
            .into_iter()
            .flatten()
            .filter(|file| Some(file.seq) <= durable)
            .find_map(|file| self.snapshots.load(&file, hash_at).ok().map(|state| (state, file.seq)));
        let (mut state, from, source) = match loaded {
            Some((state, seq)) => (state, seq.next(), StateSource::Snapshot(seq)),
            None => (State::new(), Seq::ZERO, StateSource::Replay),
        };
        state.set_undo(false);
        self.log.scan(from, &mut |record, _| {
            let fingerprint = Fingerprint::of_record(&record);
            state.apply(&record, fingerprint);
            std::ops::ControlFlow::Continue(())
        })?;
        state.set_undo(true);
        Ok((state, source))
    }

    /// Signs and stores a checkpoint of the durable log, if it grew since the last one and
    /// the ledger has its signer key.
    fn sign_checkpoint(&mut self) -> Result<(), LedgerError> {
        let Some(key) = &self.signer else { return Ok(()) };
        if self.open_report.damage.is_some() {
            // Never sign over a damaged log: the checkpoint would vouch for what is wrong.
            return Ok(());
        }
        let size = self.record_count();
        if size <= self.checkpointed {
            return Ok(());
        }
        let root = self.log.tree_head(size)?;
        let body = Checkpoint { origin: self.origin.to_string(), size, root }.body();
        let note = sign_note(&body, key);
        self.checkpoints.store(size, &note).map_err(io_context("store a checkpoint"))?;
        self.checkpointed = size;
        Ok(())
    }

    /// The latest signed checkpoint (signed-note text), if the ledger has one.
    pub fn latest_checkpoint(&self) -> Option<String> {
        self.checkpoints.latest()
    }

    /// Whether durable records exist that no signed checkpoint covers yet (see
    /// `LedgerConfig::upkeep_interval`); `upkeep` signs one.
    pub fn checkpoint_behind(&self) -> bool {
        self.signer.is_some() && self.record_count() > self.checkpointed
    }

    /// The tree size of the latest signed checkpoint (0 before any).
    pub fn checkpointed_size(&self) -> u64 {
        self.checkpointed
    }

    /// The signed checkpoint of `size` records (default: the latest) and what it says.
    pub fn checkpoint(&self, size: Option<u64>) -> Result<(String, Checkpoint), LedgerError> {
        let note = match size {
            Some(size) => self.checkpoints.of_size(size),
            None => self.checkpoints.latest(),
        };
        let note = note.ok_or_else(|| {
            LedgerError::Proof(match size {
                Some(size) => format!("no checkpoint was signed at a tree of {size} records"),
                None => "the ledger has no signed checkpoint (restored without its key)".into(),
            })
        })?;
        let checkpoint = Checkpoint::of_note(&note)
            .map_err(|e| LedgerError::Proof(format!("the stored checkpoint: {e}")))?;
        Ok((note, checkpoint))
    }

    /// A bundle proving record `seq` against the checkpoint of `size` records (default: the
    /// latest).
    pub fn prove_seq(&self, seq: Seq, size: Option<u64>) -> Result<Bundle, LedgerError> {
        let (note, checkpoint) = self.checkpoint(size)?;
        let records = vec![self.bundled(seq, checkpoint.size)?];
        Ok(Bundle { checkpoint: note, records, verdict: None, verdict_note: None })
    }

    /// A bundle of an order's verdict as of the latest checkpoint, with every record the
    /// verdict rests on proven against it.
    pub fn prove_order(&self, order: &OrderId) -> Result<Bundle, LedgerError> {
        let (note, checkpoint) = self.checkpoint(None)?;
        let verdict = self.check_order(order, Some(Seq(checkpoint.size - 1)))?;
        let records = verdict
            .evidence
            .iter()
            .map(|&seq| self.bundled(seq, checkpoint.size))
            .collect::<Result<_, _>>()?;
        let mut verdict_json = serde_json::to_value(&verdict).expect("a verdict is JSON");
        verdict_json["order"] = serde_json::json!(order.as_str());
        verdict_json["known_at_seq"] = serde_json::json!(checkpoint.size - 1);
        let key = self.signer.as_ref().ok_or_else(|| {
            LedgerError::Proof(
                "the ledger has no signer key (restored without it) to sign the verdict".into(),
            )
        })?;
        let verdict_note = sign_note(&crate::bundle::verdict_text(&verdict_json), key);
        Ok(Bundle {
            checkpoint: note,
            records,
            verdict: Some(verdict_json),
            verdict_note: Some(verdict_note),
        })
    }

    fn bundled(&self, seq: Seq, size: u64) -> Result<BundledRecord, LedgerError> {
        if seq.0 >= size {
            return Err(LedgerError::Proof(format!(
                "seq {seq} is not in the checkpoint's tree of {size} records"
            )));
        }
        let bytes = self.log.record_bytes(seq)?;
        let proof = self.log.inclusion_proof(seq, size)?;
        Ok(BundledRecord::new(seq, &bytes, &proof))
    }

    /// The log (for proofs).
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Writes a snapshot of the state at the durable head, so the next open loads it instead
    /// of replaying the log. Returns its path.
    pub fn snapshot(&mut self) -> Result<PathBuf, LedgerError> {
        let head = self.log.durable_head().expect("a ledger has record 0");
        self.state()?;
        let state = self.state.as_ref().expect("built above");
        let path = self
            .snapshots
            .write(state, head.seq, head.hash)
            .map_err(io_context(format!("write a snapshot in {}", self.dir.root().display())))?;
        self.last_snapshot = Some(head.seq);
        Ok(path)
    }

    /// Re-derives everything derived from the log alone: the log's offset indexes and Merkle
    /// tree files (checked and rewritten), the sled index (cleared and rebuilt) and the state
    /// (replayed from record 0, ignoring snapshots), then writes a snapshot.
    pub fn rebuild(&mut self) -> Result<RebuildReport, LedgerError> {
        let derived = self.log.rebuild_derived()?;
        let started = std::time::Instant::now();
        let index_err = |source| LedgerError::Index { path: self.dir.index(), error: source };
        self.meta.clear().map_err(index_err)?;
        let (_, founding_hash) = self.log.read(Seq::ZERO)?;
        self.catch_up_index(founding_hash)?;
        let index_seconds = started.elapsed().as_secs_f64();
        let started = std::time::Instant::now();
        let (state, _) = self.load_state(false)?;
        self.state = Some(state);
        self.state_source = Some(StateSource::Replay);
        let state_seconds = started.elapsed().as_secs_f64();
        let snapshot = self.snapshot()?;
        Ok(RebuildReport { records: self.record_count(), derived, index_seconds, state_seconds, snapshot })
    }

    /// The seq the next accepted submission gets.
    fn next_seq(&self) -> Seq {
        Seq(self.log.next_seq().0 + u64::from(self.held.is_some()))
    }

    /// The ledger clock, never before any record of the batch.
    fn clock(&self) -> chl_model::Timestamp {
        let clock = self.log.clock();
        self.held.as_ref().map_or(clock, |held| clock.max(held.recorded_at))
    }

    /// Judges `submission` against the rules and, if it breaks none, adds it to the current
    /// batch (not yet durable; see `end_batch` and `commit`). An exact repeat of a recorded
    /// submission is accepted and adds nothing.
    pub fn stage(&mut self, submission: Submission) -> Result<Staged, StageError> {
        if self.held.is_none() && self.batch.is_empty() {
            self.ensure_writable()?;
        }
        let recorded_at = self.clock();
        let effective_at = submission.effective_at.unwrap_or(recorded_at);
        if effective_at > recorded_at.saturating_add_micros(MAX_EFFECTIVE_LEAD_MICROS) {
            return Err(Refusal::form(
                "effective_at",
                format!("{effective_at} is more than 5 minutes after the ledger clock ({recorded_at})"),
            )
            .into());
        }
        self.identity.clear();
        chl_model::codec::encode_identity(
            &submission.actor,
            effective_at,
            &submission.event,
            &mut self.identity,
        );
        if self.identity.len() + RECORD_HEAD_MAX_BYTES > MAX_RECORD_BYTES {
            return Err(Refusal::form(
                "data",
                format!(
                    "the record would take over {} bytes; a record may take at most {MAX_RECORD_BYTES}",
                    self.identity.len()
                ),
            )
            .into());
        }
        let fingerprint = Fingerprint::of_identity(&self.identity);
        if self.config.rules == RuleMode::Enforced {
            let submitted = Submitted { actor: &submission.actor, effective_at, event: &submission.event };
            let state = self.state()?;
            if let Decision::Repeat(seq) = chl_state::check(state, submitted, fingerprint)? {
                return Ok(Staged::Repeat(seq));
            }
        }
        let record = Record {
            seq: self.next_seq(),
            recorded_at,
            // prev and ends_batch are set when the record goes into the log.
            prev: Digest::ZERO,
            ends_batch: false,
            actor: submission.actor,
            effective_at,
            version: submission.event.event_type().current_version(),
            event: submission.event,
        };
        if let Some(state) = self.state.as_mut() {
            state.apply(&record, fingerprint);
        }
        self.staged.add_staged(&record);
        let seq = record.seq;
        if let Some(previous) = self.held.replace(record) {
            self.append_held(previous, false)?;
        }
        Ok(Staged::New(seq))
    }

    fn append_held(&mut self, mut record: Record, ends_batch: bool) -> Result<(), LogError> {
        record.prev = self.log.head_hash();
        record.ends_batch = ends_batch;
        let hash = self.log.append(&record)?;
        self.batch.push((record.seq, hash));
        Ok(())
    }

    /// Closes the current batch: its last record goes into the log marked as ending it.
    /// Returns the batch's records with their hashes.
    pub fn end_batch(&mut self) -> Result<Vec<(Seq, Digest)>, LedgerError> {
        if let Some(last) = self.held.take() {
            self.append_held(last, true)?;
        }
        Ok(std::mem::take(&mut self.batch))
    }

    /// Where the ledger stands between batches, to roll back to.
    pub fn mark(&self) -> LedgerMark {
        assert!(self.held.is_none() && self.batch.is_empty(), "marks are taken between batches");
        LedgerMark {
            log: self.log.mark(),
            state: self.state.as_ref().map(State::mark),
            staged: self.staged.clone(),
        }
    }

    /// Takes the log, the state and the index updates back to `mark`.
    pub fn rollback_to(&mut self, mark: LedgerMark) -> Result<(), LedgerError> {
        self.held = None;
        self.batch.clear();
        self.log.rollback_to(mark.log)?;
        match (self.state.as_mut(), mark.state) {
            (Some(state), Some(state_mark)) if state.undo_is_on() => state.rollback_to(state_mark),
            // No notes to undo with (an import), or the state came to be inside the batch:
            // rebuild it from the log when next needed.
            _ => self.state = None,
        }
        self.staged = mark.staged;
        Ok(())
    }

    /// Makes everything staged durable, then (see `LedgerConfig::upkeep_interval`) signs a
    /// checkpoint and updates the index. Ends the batch if open.
    pub fn commit(&mut self) -> Result<Option<Head>, LedgerError> {
        self.end_batch()?;
        let head = self.log.commit()?;
        if let Some(state) = self.state.as_mut() {
            state.commit();
        }
        self.unindexed.merge(std::mem::take(&mut self.staged));
        if self.upkeep_due() == Some(std::time::Duration::ZERO) {
            self.upkeep()?;
        }
        Ok(head)
    }

    /// Sets `LedgerConfig::upkeep_interval` of an open ledger.
    pub fn set_upkeep_interval(&mut self, interval: std::time::Duration) {
        self.config.upkeep_interval = interval;
    }

    /// How long until the checkpoint and index are due to be brought up to date; `None`
    /// when they are.
    pub fn upkeep_due(&self) -> Option<std::time::Duration> {
        let behind = self.record_count() > self.checkpointed && self.signer.is_some();
        if !behind && self.unindexed.is_empty() {
            return None;
        }
        let interval = self.config.upkeep_interval;
        let elapsed = self.last_upkeep.map_or(interval, |at| at.elapsed());
        Some(interval.saturating_sub(elapsed))
    }

    /// Signs and stores a checkpoint of the durable log if it grew, and brings the index up
    /// to date.
    pub fn upkeep(&mut self) -> Result<(), LedgerError> {
        self.last_upkeep = Some(std::time::Instant::now());
        self.sign_checkpoint()?;
        let unindexed = std::mem::take(&mut self.unindexed);
        // The index is derived: if it cannot be written now, the next open catches it up.
        let _ = self.meta.apply(&unindexed);
        Ok(())
    }

    /// Appends the lines of `input`, all or nothing, as one batch. Submissions are judged by
    /// the rules and get their seq, time and hash here; committed records (from `chl
    /// export`) must continue this ledger's chain and are appended verbatim (they were judged
    /// when first recorded). `progress(bytes_read)` is called now and then.
    pub fn import(
        &mut self,
        input: impl BufRead,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportOutcome, ImportError> {
        self.ensure_writable()?;
        if self.config.rules == RuleMode::Enforced {
            self.state()?;
        }
        let mark = self.mark();
        let first = self.log.next_seq();
        // An import can be millions of records: rather than keep undo notes for all of them,
        // a refusal drops the state and it is rebuilt from the log.
        if let Some(state) = self.state.as_mut() {
            state.set_undo(false);
        }
        let outcome = self.import_lines(input, progress);
        let repeated = match outcome {
            Ok(repeated) => repeated,
            Err(e) => {
                // With no undo notes, this drops the state (rebuilt from the log when needed).
                self.rollback_to(mark)?;
                return Err(e);
            }
        };
        if let Some(state) = self.state.as_mut() {
            state.set_undo(true);
        }
        let head = self.commit()?;
        let appended = head.map_or(0, |h| h.seq.0 + 1) - first.0;
        self.meta.flush().ok();
        let since_snapshot =
            head.map_or(0, |h| h.seq.0).saturating_sub(self.last_snapshot.map_or(0, |s| s.0));
        if self.state.is_some() && since_snapshot >= SNAPSHOT_EVERY_RECORDS {
            // Derived data: a failure here costs a longer open later, nothing more.
            let _ = self.snapshot();
        }
        Ok(ImportOutcome {
            appended,
            repeats: repeated.count,
            first_repeats: repeated.first,
            range: (appended > 0).then(|| (first, Seq(first.0 + appended - 1))),
            head,
        })
    }

    /// Stages every line; returns the repeats.
    fn import_lines(
        &mut self,
        input: impl BufRead,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Repeated, ImportError> {
        let mut lines = ImportLines::new(input);
        let mut form = None;
        let mut last_record = None;
        let mut repeated = Repeated::default();
        let mut since_progress = 0u32;
        while let Some((line, text)) = lines.next_line()? {
            let form = *form.get_or_insert_with(|| detect_form(text));
            let refused = |refusal| ImportError::Refused { line, refusal };
            match form {
                ImportForm::Records => {
                    let (record, hash) = append_exported(&mut self.log, text).map_err(refused)?;
                    if let Some(state) = self.state.as_mut() {
                        state.apply(&record, Fingerprint::of_record(&record));
                    }
                    self.staged.add(&record, hash);
                    last_record = Some(record);
                }
                ImportForm::Submissions => {
                    let submission = Submission::parse_json(text).map_err(refused)?;
                    match self.stage(submission) {
                        Ok(Staged::New(_)) => {}
                        Ok(Staged::Repeat(seq)) => {
                            repeated.count += 1;
                            if repeated.first.len() < REPEATS_NAMED {
                                repeated.first.push((line, seq));
                            }
                        }
                        Err(StageError::Refused(refusal)) => return Err(refused(refusal)),
                        Err(StageError::Failed(e)) => return Err(ImportError::Ledger(e)),
                    }
                }
            }
            since_progress += 1;
            if since_progress == 4096 {
                since_progress = 0;
                progress(lines.bytes);
            }
        }
        progress(lines.bytes);
        check_ends_batch(last_record.as_ref())
            .map_err(|refusal| ImportError::Refused { line: lines.line, refusal })?;
        Ok(repeated)
    }

    // ---- reading ------------------------------------------------------------------------

    /// The horizon of a question: records up to `known_at` (default: every durable record).
    fn horizon(&self, known_at: Option<Seq>) -> Seq {
        let head = self.log.durable_head().map_or(Seq::ZERO, |h| h.seq);
        known_at.map_or(head, |k| k.min(head))
    }

    /// The authenticity verdict on an order (spec/events.md), as the ledger knew it after
    /// record `known_at` (default: now). The sale is found through the state's order index
    /// and read from the log.
    pub fn check_order(&self, order: &OrderId, known_at: Option<Seq>) -> Result<Verdict, LedgerError> {
        let known = self.horizon(known_at);
        match self.sale(order, known)? {
            Some(sale) => Ok(self.loaded_state()?.verdict_of_sale(&sale, known)),
            None => Ok(Verdict::unknown_order()),
        }
    }

    /// The timeline of `chl replay` and `GET /v1/replay`: the durable records that concern every
    /// id `filter` names, within its effective-time window, in seq order, at most `limit` of
    /// them (timeline.rs says what a record concerns). Needs the state built (`state()`); an
    /// id the state does not know gives an empty timeline.
    pub fn timeline(
        &self,
        filter: &crate::timeline::TimelineFilter,
        limit: usize,
    ) -> Result<crate::timeline::Timeline, LedgerError> {
        crate::timeline::timeline(self.loaded_state()?, &self.log, filter, limit)
    }

    /// `timeline`, keeping only the records with `recorded_at` in `[recorded_from, recorded_to]`
    /// (either end optional), at most `limit` of them (story.rs, `timeline_recorded`).
    pub fn timeline_recorded(
        &self,
        filter: &crate::timeline::TimelineFilter,
        recorded_from: Option<Timestamp>,
        recorded_to: Option<Timestamp>,
        limit: usize,
    ) -> Result<crate::timeline::Timeline, LedgerError> {
        crate::story::timeline_recorded(self, filter, recorded_from, recorded_to, limit)
    }

    /// The story of an order for an investigator (story.rs): the sale, its verdict at the sale,
    /// at its dispute and now, the grant chains, agreements and suppliers involved with their
    /// timelines, and findings. `None` for an order the durable log does not hold. Needs the
    /// state built (`state()`); reads only the records it cites.
    pub fn order_story(
        &self,
        order: &OrderId,
        options: crate::story::StoryOptions,
    ) -> Result<Option<crate::story::OrderStory>, LedgerError> {
        crate::story::order_story(self, order, options)
    }

    /// The brand of the product an order sold, as known after `known_at` (default: now);
    /// `None` for an order unknown then. Decides who may see the order's verdict.
    pub fn order_brand(
        &self,
        order: &OrderId,
        known_at: Option<Seq>,
    ) -> Result<Option<chl_model::BrandId>, LedgerError> {
        let known = self.horizon(known_at);
        let Some(sale) = self.sale(order, known)? else { return Ok(None) };
        Ok(self.loaded_state()?.product(&sale.sku).map(|product| product.brand.clone()))
    }

    /// The sale of `order` if recorded by seq `known`, read from the log.
    fn sale(&self, order: &OrderId, known: Seq) -> Result<Option<Sale>, LedgerError> {
        let Some(seq) = self.loaded_state()?.order(order).map(|o| o.recorded.seq).filter(|s| *s <= known)
        else {
            return Ok(None);
        };
        let (record, _) = self.log.read(seq)?;
        let Event::SaleRecorded(sale) = record.event else {
            return Err(LedgerError::ReadOnly(format!(
                "seq {seq} is indexed as order {order} but is not a sale"
            )));
        };
        Ok(Some(Sale {
            order: sale.order,
            seq,
            at: record.effective_at,
            store: sale.store,
            sku: sale.sku,
            unit_price: Some(sale.unit_price),
            region: sale.region,
        }))
    }

    /// The channel of `brand` as of `at` (default: the ledger clock), as known after
    /// `known_at`, with sales summed over `window` (default: everything before `at`), and, given
    /// `since`, what changed from that earlier time. `None` for a brand unknown then.
    pub fn channel(
        &self,
        brand: &chl_model::BrandId,
        at: Option<Timestamp>,
        known_at: Option<Seq>,
        window: Option<SalesWindow>,
        since: Option<Timestamp>,
    ) -> Result<Option<(ChannelView<'_>, Option<ChannelDiff>)>, LedgerError> {
        let known = self.horizon(known_at);
        let at = at.unwrap_or_else(|| self.log.clock());
        let window = window.unwrap_or(SalesWindow { from: Timestamp::MIN, until: at });
        let state = self.loaded_state()?;
        let Some(view) = state.channel_view(brand, chl_state::View { at, known }, window) else {
            return Ok(None);
        };
        let diff = since.map(|since| {
            match state.channel_view(brand, chl_state::View { at: since, known }, window) {
                Some(earlier) => view.diff_since(&earlier),
                None => ChannelDiff { from: Some(since), to: Some(at), ..ChannelDiff::default() },
            }
        });
        Ok(Some((view, diff)))
    }

    /// May `store` sell `sku` at `at`, as known after `known_at`? `Ok(Err(_))` names an
    /// unknown store or sku.
    pub fn check_at(
        &self,
        store: &StoreId,
        sku: &Sku,
        at: Timestamp,
        known_at: Option<Seq>,
    ) -> Result<Result<Verdict, UnknownId>, LedgerError> {
        let known = self.horizon(known_at);
        Ok(self.loaded_state()?.verdict_at(store, sku, at, known))
    }

    /// Writes records `from..=to` (clamped to the log) as export lines; returns how many.
    pub fn export(&self, from: Seq, to: Option<Seq>, out: &mut dyn Write) -> Result<u64, LedgerError> {
        let last = match (self.log.durable_head(), to) {
            (None, _) => return Ok(0),
            (Some(h), Some(to)) => h.seq.min(to),
            (Some(h), None) => h.seq,
        };
        if from > last {
            return Ok(0);
        }
        let mut written = 0u64;
        let mut failure = None;
        self.log.scan(from, &mut |record, hash| {
            let result = ExportedRecord { record: &record, hash }
                .write_json(&mut *out)
                .map_err(io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            if let Err(e) = result {
                failure = Some(e);
                return std::ops::ControlFlow::Break(());
            }
            written += 1;
            if record.seq >= last {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })?;
        if let Some(e) = failure {
            return Err(LedgerError::Io { context: "write the export".into(), error: e });
        }
        out.flush().map_err(io_context("write the export"))?;
        Ok(written)
    }

    /// Re-reads and checks the whole log of this open ledger (see `chl_log::verify_store`).
    pub fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<ChainSummary, ChainError> {
        chl_log::verify_store(self.log.store(), &[], progress)
    }

    /// Checks the ledger in `root` as it lies on disk, without opening it: no recovery runs,
    /// so a torn or damaged tail is reported rather than cut. Holds the directory lock
    /// meanwhile so no writer changes the files under it.
    pub fn verify_at(
        root: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Result<Verified, ChainError>, LedgerError> {
        let dir = LedgerDir::new(root);
        if !dir.holds_ledger() {
            return Err(LedgerError::NoLedger(root.to_owned()));
        }
        let _lock = dir.lock().map_err(io_context("lock"))?;
        let unreadable = |what: String| Ok(Err(ChainError { seq: Seq::ZERO, what }));
        let note = match CheckpointStore::new(root.join("checkpoints")).read_latest() {
            Ok(note) => note,
            Err(e) => {
                return unreadable(format!("the latest checkpoint (checkpoints/latest) cannot be read: {e}"));
            }
        };
        if note.as_deref().is_some_and(|n| n.split_once("\n\n").is_none()) {
            return unreadable(
                "the latest checkpoint (checkpoints/latest) is not a signed note: no blank line before its signatures"
                    .into(),
            );
        }
        let body = note.as_deref().and_then(|n| n.split_once("\n\n")).map(|(b, _)| format!("{b}\n"));
        let claimed = body.as_deref().map(Checkpoint::parse_body).transpose();
        let claimed = match claimed {
            Ok(c) => c,
            Err(e) => {
                return Ok(Err(ChainError { seq: Seq::ZERO, what: format!("the latest checkpoint: {e}") }));
            }
        };
        let wanted: Vec<u64> = claimed.iter().map(|c| c.size).collect();
        let summary = match chl_log::verify_log_dir(&dir.log(), &wanted, progress) {
            Ok(summary) => summary,
            Err(e) => return Ok(Err(e)),
        };
        let (Some(note), Some(claimed)) = (note, claimed) else {
            return Ok(Ok(Verified { summary, checkpoint: None }));
        };
        let bad = |what: String| Ok(Err(ChainError { seq: Seq(claimed.size.saturating_sub(1)), what }));
        let Some((origin, public_key)) = summary.founding.clone() else {
            return bad("record 0 names no checkpoint key".into());
        };
        if let Err(e) = verify_note(&note, &origin, &public_key) {
            return bad(format!("the latest checkpoint does not verify with the ledger's key: {e}"));
        }
        if claimed.origin != origin.as_str() {
            return bad(format!("the latest checkpoint is of origin {}, not {origin}", claimed.origin));
        }
        match summary.tree_heads_at.iter().find(|(size, _)| *size == claimed.size) {
            Some((_, head)) if *head == claimed.root => {
                Ok(Ok(Verified { summary, checkpoint: Some(claimed) }))
            }
            Some(_) => bad(format!(
                "the Merkle root of the first {} records does not match the latest checkpoint",
                claimed.size
            )),
            None => bad(format!(
                "the latest checkpoint covers {} records but the log holds {}",
                claimed.size, summary.records
            )),
        }
    }

    /// Records in the ledger in `root`, counted from its offset indexes without opening it
    /// (for sizing a progress bar; 0 when unknown).
    pub fn estimate_records(root: &Path) -> u64 {
        let log = LedgerDir::new(root).log();
        let Ok(entries) = fs::read_dir(log) else {
            return 0;
        };
        entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "idx"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len() / 4)
            .sum()
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        // A checkpoint of every durable record, and the index: derived data, whose loss
        // costs a catch-up on the next open, nothing more.
        if self.upkeep_due().is_some() {
            let _ = self.upkeep();
        }
        let _ = self.meta.flush();
    }
}

/// A position to roll a batch back to.
pub struct LedgerMark {
    log: Mark,
    state: Option<StateMark>,
    staged: MetaDelta,
}

impl LedgerMark {
    pub fn record_count(&self) -> u64 {
        self.log.record_count()
    }
}

/// Lines of an import, numbered from 1, blank ones skipped, with the bytes read so far.
struct ImportLines<R> {
    input: R,
    buf: String,
    line: u64,
    bytes: u64,
}

impl<R: BufRead> ImportLines<R> {
    fn new(input: R) -> Self {
        ImportLines { input, buf: String::new(), line: 0, bytes: 0 }
    }

    fn next_line(&mut self) -> Result<Option<(u64, &str)>, ImportError> {
        loop {
            self.buf.clear();
            self.line += 1;
            let read = self.input.read_line(&mut self.buf).map_err(|e| ImportError::Unreadable {
                line: self.line,
                message: if e.kind() == io::ErrorKind::InvalidData {
                    "the line is not valid UTF-8".into()
                } else {
                    e.to_string()
                },
            })?;
            if read == 0 {
                self.line -= 1;
                return Ok(None);
            }
            self.bytes += read as u64;
            let text = self.buf.trim_end_matches(['\n', '\r']);
            if !text.trim().is_empty() {
                // Re-borrow after the loop's mutable use of buf.
                let text = self.buf.trim_end_matches(['\n', '\r']);
                return Ok(Some((self.line, text)));
            }
        }
    }
}

/// Export lines carry `seq` and `hash`; submissions never do.
fn detect_form(first_line: &str) -> ImportForm {
    match serde_json::from_str::<BTreeMap<String, serde_json::Value>>(first_line) {
        Ok(map) if map.contains_key("seq") && map.contains_key("hash") => ImportForm::Records,
        _ => ImportForm::Submissions,
    }
}

/// Appends one export line verbatim after checking that it continues the chain of `log` and
/// hashes to what it states.
fn append_exported(log: &mut Log, text: &str) -> Result<(Record, Digest), Refusal> {
    let imported = ImportedRecord::parse_json(text).map_err(Refusal::from)?;
    let record = imported.record;
    let chain = |message: String| Refusal::new(Rule::Form, "seq", message);
    if record.seq != log.next_seq() {
        return Err(chain(format!(
            "the record has seq {}, but the next seq of this ledger is {}",
            record.seq,
            log.next_seq()
        )));
    }
    if record.prev != log.head_hash() {
        return Err(Refusal::new(
            Rule::Form,
            "prev",
            format!(
                "seq {}: prev is not the hash of this ledger's seq {}",
                record.seq,
                record.seq.0.wrapping_sub(1)
            ),
        ));
    }
    if let Some(head) = log.head()
        && record.recorded_at < head.recorded_at
    {
        return Err(Refusal::new(
            Rule::Form,
            "recorded_at",
            format!("seq {}: recorded_at goes back in time", record.seq),
        ));
    }
    let founding = matches!(record.event, Event::LedgerCreated(_));
    if founding != (record.seq == Seq::ZERO) {
        return Err(Refusal::new(
            Rule::Authority,
            "type",
            format!("seq {}: ledger_created is record 0 and only record 0", record.seq),
        ));
    }
    record.event.check_form()?;
    if record.effective_at > record.recorded_at.saturating_add_micros(MAX_EFFECTIVE_LEAD_MICROS) {
        return Err(Refusal::form(
            "effective_at",
            format!("seq {}: more than 5 minutes after recorded_at", record.seq),
        ));
    }
    let hash = log.append(&record).map_err(|e| Refusal::form("data", format!("seq {}: {e}", record.seq)))?;
    if hash != imported.claimed_hash {
        return Err(Refusal::new(
            Rule::Form,
            "hash",
            format!("seq {}: the record's content hashes to {hash}, not to the hash it states", record.seq),
        ));
    }
    Ok((record, hash))
}

/// Appends the lines of an export, the first already read, to a new log.
fn fill_restored_log(
    log: &mut Log,
    first: &str,
    lines: &mut ImportLines<impl BufRead>,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, ImportError> {
    let (record, _) =
        append_exported(log, first).map_err(|refusal| ImportError::Refused { line: 1, refusal })?;
    let mut last = record;
    let mut count = 1u64;
    while let Some((line, text)) = lines.next_line()? {
        last = append_exported(log, text).map_err(|refusal| ImportError::Refused { line, refusal })?.0;
        count += 1;
        if count.is_multiple_of(4096) {
            progress(lines.bytes);
        }
    }
    check_ends_batch(Some(&last)).map_err(|refusal| ImportError::Refused { line: lines.line, refusal })?;
    Ok(count)
}

/// An import of records must end where a batch ended, or it would commit half a batch.
fn check_ends_batch(last: Option<&Record>) -> Result<(), Refusal> {
    match last {
        Some(record) if !record.ends_batch => Err(Refusal::form(
            "ends_batch",
            format!(
                "the last record, seq {}, does not end a batch: the export was cut inside one",
                record.seq
            ),
        )),
        _ => Ok(()),
    }
}

fn write_private_file(dir: &Path, path: &Path, contents: &[u8]) -> Result<(), LedgerError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_context(format!("create {}", dir.display())))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_context(format!("create {}", path.display())))?;
    file.write_all(contents)
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(io_context(format!("write {}", path.display())))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), LedgerError> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_context(format!("fsync {}", dir.display())))
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
