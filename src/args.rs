//! The command line of spec/cli.md, parsed by clap.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "chl",
    version,
    about = "Channel Ledger: a tamper-evident ledger for brand distribution channels"
)]
pub struct Args {
    /// The ledger directory [default: $CHL_DATA, else ./chl-data]
    #[arg(long, global = true, env = "CHL_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a ledger: a new Ed25519 checkpoint key and record 0, ledger_created.
    Init {
        /// The ledger's name in its checkpoints and key [default: channel-ledger/<random>]
        #[arg(long)]
        origin: Option<String>,
    },
    /// Append the JSONL submissions of FILE (- for stdin), all or nothing. An export file
    /// (from chl export) is appended verbatim; into a directory without a ledger it restores
    /// that ledger.
    Import {
        /// The file to import, or - for standard input.
        file: PathBuf,
    },
    /// Print committed records as JSONL, in seq order.
    Export {
        #[arg(long, value_name = "SEQ")]
        from: Option<u64>,
        #[arg(long, value_name = "SEQ")]
        to: Option<u64>,
    },
    /// Re-read the whole log and check every record, hash and link.
    Verify {
        /// Check an exported file instead, with no ledger at hand.
        #[arg(long, value_name = "EXPORT.jsonl")]
        file: Option<PathBuf>,
    },
    /// Print the ledger's verifier key (signed-note vkey form).
    Key,
    /// Print the latest signed checkpoint (C2SP tlog-checkpoint in the signed-note format).
    Checkpoint,
    /// Print a proof bundle: a record (--seq) or an order's verdict and its evidence (--order)
    /// proven against a signed checkpoint; or a consistency proof between two tree sizes.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["seq", "order", "consistency"])))]
    Prove {
        #[arg(long)]
        seq: Option<u64>,
        /// The tree size of the checkpoint to prove against [default: the latest].
        #[arg(long, requires = "seq")]
        size: Option<u64>,
        #[arg(long)]
        order: Option<chl_model::OrderId>,
        /// OLD and NEW tree sizes.
        #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
        consistency: Option<Vec<u64>>,
    },
    /// Verify a proof bundle offline, trusting only the verifier key.
    VerifyBundle {
        /// The bundle file, or - for standard input.
        file: PathBuf,
        /// The ledger's verifier key, as chl key prints it.
        #[arg(long)]
        key: String,
    },
    /// Show what the ledger holds: head, records by type, size on disk.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// The authenticity verdict of an order, or whether a store may sell a sku at a time.
    #[command(group(clap::ArgGroup::new("question").required(true).args(["order", "store"])))]
    Check {
        /// The order whose sale to judge.
        #[arg(long, conflicts_with_all = ["store", "sku", "at"])]
        order: Option<chl_model::OrderId>,
        /// The store to ask about (with --sku and --at).
        #[arg(long, requires_all = ["sku", "at"])]
        store: Option<chl_model::StoreId>,
        #[arg(long, requires = "store")]
        sku: Option<chl_model::Sku>,
        /// RFC 3339, e.g. 2013-06-01T00:00:00+08:00.
        #[arg(long, requires = "store")]
        at: Option<chl_model::Timestamp>,
        /// Count only records up to this seq: the answer as the ledger knew it then.
        #[arg(long, value_name = "SEQ")]
        known_at_seq: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// A brand's channel as it stood: owner, hosts, grants, stores by tier, agreements, sales.
    Channel {
        #[arg(long)]
        brand: chl_model::BrandId,
        /// The time to look at [default: now].
        #[arg(long)]
        as_of: Option<chl_model::Timestamp>,
        /// Count only records up to this seq.
        #[arg(long, value_name = "SEQ")]
        known_at_seq: Option<u64>,
        /// Also show what changed between this earlier time and --as-of.
        #[arg(long, value_name = "TIME")]
        since: Option<chl_model::Timestamp>,
        /// Sum sales from this time [default: all].
        #[arg(long, value_name = "TIME")]
        sales_from: Option<chl_model::Timestamp>,
        /// Sum sales until this time [default: --as-of].
        #[arg(long, value_name = "TIME")]
        sales_until: Option<chl_model::Timestamp>,
        #[arg(long)]
        json: bool,
    },
    /// Re-derive every index and the state from the log alone, then write a state snapshot.
    Rebuild,
    /// Create a ledger from a generated channel history (when DIR holds none), verify it,
    /// show verdicts and a channel, then serve the API on it until Ctrl-C. Without --data it
    /// works in a new scratch directory.
    Demo {
        /// Stop after showing the ledger instead of serving the API on it.
        #[arg(long)]
        no_serve: bool,
        /// Where to serve the API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
    },
    /// Serve the HTTP API (spec/http.md) on the ledger until SIGTERM or Ctrl-C, then drain
    /// in-flight requests, sync and exit.
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// The largest request body accepted, in bytes.
        #[arg(long, default_value_t = 4 << 20)]
        max_body_bytes: usize,
        /// The most submissions in one POST /v1/events batch.
        #[arg(long, default_value_t = 1000)]
        max_batch: usize,
        /// Seconds before a request is answered 503 timeout.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        /// Public authorization checks allowed per client address per second.
        #[arg(long, default_value_t = 20.0)]
        public_rate: f64,
        /// The burst of public authorization checks allowed per client address.
        #[arg(long, default_value_t = 40.0)]
        public_burst: f64,
        /// Seconds between keep-alive comments on the live tail.
        #[arg(long, default_value_t = 15.0)]
        keep_alive: f64,
        /// Seconds a stop waits for open connections before dropping them.
        #[arg(long, default_value_t = 30.0)]
        drain_timeout: f64,
        /// Rate-limit public checks by the first X-Forwarded-For address (only behind a proxy
        /// that sets it).
        #[arg(long)]
        trust_forwarded_for: bool,
    },
    /// Issue, revoke or list the API's bearer tokens (works while chl serve runs).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// An order's story for an investigator (--order): the sale, its verdict at the sale, at its
    /// dispute and now, the grant chains, agreements and suppliers involved with their
    /// timelines, and findings. With other filters (or --timeline): the records that concern
    /// every id given, in seq order, optionally between two effective or recorded times.
    Replay {
        /// Tell this order's story (alone), or with --timeline list its records.
        #[arg(long)]
        order: Option<chl_model::OrderId>,
        #[arg(long)]
        store: Option<chl_model::StoreId>,
        /// A brand (its products' sales included).
        #[arg(long)]
        brand: Option<chl_model::BrandId>,
        /// A party, as actor or named in the data.
        #[arg(long)]
        party: Option<chl_model::PartyId>,
        /// A grant, as grant or parent.
        #[arg(long)]
        grant: Option<chl_model::GrantId>,
        #[arg(long)]
        agreement: Option<chl_model::AgreementId>,
        #[arg(long)]
        sku: Option<chl_model::Sku>,
        /// Only records effective at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        from: Option<chl_model::Timestamp>,
        /// Only records effective at or before this time.
        #[arg(long, value_name = "TIME")]
        to: Option<chl_model::Timestamp>,
        /// Only records recorded at or after this time.
        #[arg(long, value_name = "TIME")]
        recorded_from: Option<chl_model::Timestamp>,
        /// Only records recorded at or before this time.
        #[arg(long, value_name = "TIME")]
        recorded_to: Option<chl_model::Timestamp>,
        /// With --order: list the order's records instead of telling its story.
        #[arg(long, requires = "order")]
        timeline: bool,
        /// text (for a terminal), json (complete), or markdown (a case report).
        #[arg(long, value_enum, default_value_t = ReplayFormat::Text)]
        format: ReplayFormat,
        /// The same as --format json.
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// With --order: attach the proof bundle of the current verdict's evidence (as chl prove
        /// --order prints it): under "bundle" in JSON, as a final JSON block in text and Markdown.
        #[arg(long, requires = "order", conflicts_with = "timeline")]
        bundle: bool,
        /// A record made more than this many hours after it took effect counts as recorded late.
        #[arg(long, value_name = "HOURS", default_value_t = 24)]
        late_after: u32,
        /// The most records a timeline lists.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Write a realistic synthetic channel history as JSONL submissions to stdout, the same
    /// bytes for the same seed and flags, with the cases investigators hunt mixed in;
    /// --truth writes each sale's intended verdict (docs/gen.md).
    Gen {
        /// The seed of every random choice.
        #[arg(long, default_value_t = chl_gen::Config::default().seed)]
        seed: u64,
        /// Brands, each with its owner, agents, stores and products.
        #[arg(long, default_value_t = chl_gen::Config::default().brands)]
        brands: u32,
        /// Sales in all, spread over the years with seasonal peaks.
        #[arg(long, default_value_t = chl_gen::Config::default().sales)]
        sales: u64,
        /// Years of sales, ending at --end.
        #[arg(long, default_value_t = chl_gen::Config::default().years)]
        years: u32,
        /// The share of sales that are hunted cases (0 to 1).
        #[arg(long, default_value_t = chl_gen::Config::default().anomaly_rate)]
        anomaly_rate: f64,
        /// N of 1 + N + n: the mean number of Tmall franchise and specialty stores per brand.
        #[arg(long, default_value_t = chl_gen::Config::default().tmall_stores)]
        tmall_stores: u32,
        /// n of 1 + N + n: the mean number of authorized Taobao sellers per brand.
        #[arg(long, default_value_t = chl_gen::Config::default().taobao_sellers)]
        taobao_sellers: u32,
        /// The share of ordinary sales refunded (0 to 1).
        #[arg(long, default_value_t = chl_gen::Config::default().refund_rate)]
        refund_rate: f64,
        /// The share of hunted sales disputed (0 to 1; ordinary sales: a hundredth of it).
        #[arg(long, default_value_t = chl_gen::Config::default().dispute_rate)]
        dispute_rate: f64,
        /// When the sales end (RFC 3339) [default: 2025-12-01T00:00:00+08:00]. Must lie a month
        /// or more in the past when the history is imported.
        #[arg(long, value_name = "TIME")]
        end: Option<chl_model::Timestamp>,
        /// Also write one JSON line per sale to FILE: {"order", "verdict", "reasons", "warnings"}.
        #[arg(long, value_name = "FILE")]
        truth: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Issue a token for a principal in a role; the token is printed once, only its hash kept.
    Issue {
        /// A party id, or platform.
        #[arg(long)]
        principal: String,
        /// platform, party, auditor or investigator.
        #[arg(long)]
        role: String,
    },
    /// Revoke tokens: one by id (as issue and list print it), by the token itself, or every
    /// token of a principal.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["id", "token", "principal"])))]
    Revoke {
        #[arg(long)]
        id: Option<String>,
        /// The token (read from the command line; prefer --id in shared shells).
        #[arg(long)]
        token: Option<String>,
        #[arg(long)]
        principal: Option<String>,
    },
    /// List the tokens issued: id, principal, role, when issued and revoked. Never the tokens.
    List,
}

/// How `chl replay` prints.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayFormat {
    Text,
    Json,
    Markdown,
}
