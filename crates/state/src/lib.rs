//! The temporal state of a Channel Ledger and the rules of spec/events.md.
//!
//! Every fact the log states is kept with its stamp (effective time and seq), so the rules
//! and the questions of auditors, brands and investigators ("as of t, known at seq K") are
//! answered from memory without replaying the log. This crate does no I/O: the ledger feeds
//! it records and asks it questions.

pub mod channel;
pub mod facts;
pub mod rules;
pub mod scope;
pub mod snapshot;
pub mod state;
pub mod verdict;

pub use channel::{ChannelDiff, ChannelView, SalesWindow};
pub use facts::{Stamp, SupplierStatus, View};
pub use rules::{Decision, Submitted, check};
pub use state::{Fingerprint, State, StateMark};
pub use verdict::{Reason, Sale, Verdict, VerdictKind, Warning};
