//! The domain model of Channel Ledger: the things of a brand's distribution channel, the
//! events that change them, the submission form clients send, and the committed record with
//! its canonical bytes and hash.
//!
//! Every value type here can only hold a valid value: parsing from JSON, decoding from
//! canonical bytes and building in code all go through the same checks. This crate does no
//! I/O.

pub mod codec;
pub mod codes;
pub mod digest;
pub mod event;
pub mod id;
pub mod money;
pub mod record;
pub mod refusal;
pub mod schema;
pub mod shape;
pub mod submission;
pub mod text;
pub mod time;
mod validated;
pub mod versions;

pub use codes::{CreditCode, Currency, Region};
pub use digest::Digest;
pub use event::{Event, EventType};
pub use id::{AgreementId, BrandId, Category, DisputeId, GrantId, OrderId, PartyId, Sku, StoreId};
pub use money::Money;
pub use record::{ExportedRecord, ImportedRecord, Record, Seq};
pub use refusal::{Refusal, Rule};
pub use submission::Submission;
pub use text::Text;
pub use time::Timestamp;
pub use validated::ValueError;

/// How far after the ledger's clock a submission's `effective_at` may lie.
pub const MAX_EFFECTIVE_LEAD_MICROS: i64 = 5 * 60 * 1_000_000;
