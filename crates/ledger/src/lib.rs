//! A Channel Ledger in one directory: the checkpoint key, the record log, derived metadata in
//! sled, and the operations of the `chl` command line on them (init, import, export, verify).
//! Also the group committer through which concurrent writers share fsyncs.

pub mod bundle;
pub mod checkpoint;
pub mod committer;
pub mod dir;
pub mod keys;
pub mod ledger;
pub mod meta;
pub mod snapshots;
pub mod story;
pub mod timeline;

pub use committer::{
    BatchError, BatchOutcome, CommitObserver, CommitStats, Committer, CommitterConfig, SubmissionOutcome,
};
pub use ledger::{
    ImportError, ImportForm, ImportOutcome, Ledger, LedgerConfig, LedgerError, RebuildReport, RuleMode,
    StageError, Staged, StateSource,
};
pub use timeline::{Timeline, TimelineEntry, TimelineFilter};
