//! The record log of Channel Ledger: append-only segment files written by one writer, a
//! BLAKE3 hash chain over canonical record bytes, crash recovery and verification.
//!
//! Layering inside the crate: `frame` (one record's bytes on disk) -> `storage` (segment
//! files, the `Storage` trait, recovery) -> `log` (the chain, batches, commit) -> `verify`.

pub mod fault;
pub mod frame;
pub mod log;
pub mod merkle;
pub mod sample;
pub mod storage;
pub mod tree;
pub mod verify;

pub use log::{Head, Log, LogError, Mark, RebuildDerived};
pub use storage::{
    Damage, IndexRebuild, OpenReport, SegmentStore, Storage, StoreConfig, StoreError, TornTail,
    UnfinishedBatch,
};
pub use verify::{
    ChainCheck, ChainError, ChainSummary, DerivedDamage, verify_export, verify_log_dir, verify_store,
};
