//! `chl gen`: a realistic synthetic history of a brand distribution platform, as JSONL
//! submissions that `chl import` accepts, with the verdict each sale was built to have.
//!
//! - **Deterministic**: the same seed and flags give the same bytes (`rng.rs` names the
//!   algorithms the bytes depend on).
//! - **Streaming**: the world (parties, brands, grant trees, stores, their cases) is designed
//!   first, and its size depends on the brands and stores only; sales are then written day
//!   by day and never kept, so memory does not grow with `--sales`.
//! - **Truth by construction**: each store is built as one case (clean, never authorized,
//!   grant expiring, revoked, not yet valid, backdated, ...), and each sale's verdict, reasons
//!   and warnings are composed from that design (`truth.rs`), never by running the checker.
//!
//! docs/gen.md describes the model, the cases and how each case's truth is decided.

mod clock;
mod names;
pub mod rng;
mod stream;
pub mod truth;
mod world;

use std::io::{self, Write};

pub use truth::{REASON_NAMES, Verdict, WARNING_NAMES};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub seed: u64,
    /// Brands, each with its owner, agents, stores and products.
    pub brands: u32,
    /// Sales in all.
    pub sales: u64,
    /// Years of sales, ending at `end`.
    pub years: u32,
    /// The share of sales that are hunted cases (0 to 1).
    pub anomaly_rate: f64,
    /// N: the mean number of Tmall franchise and specialty stores per brand.
    pub tmall_stores: u32,
    /// n: the mean number of authorized Taobao distribution sellers per brand.
    pub taobao_sellers: u32,
    /// The share of ordinary sales refunded.
    pub refund_rate: f64,
    /// The share of hunted sales disputed (ordinary sales: a hundredth of it).
    pub dispute_rate: f64,
    /// When the sales end (seconds since the Unix epoch; taken to the start of its day in
    /// Beijing time). Refunds and disputes run up to 25 days later.
    pub end: i64,
    /// At most this many refunds and disputes wait for their time; when the queue is full the
    /// earliest is written at once (still effective after its sale). It bounds memory, and
    /// changes the order of lines, never what they say or the truth. Not a flag of `chl gen`.
    pub pending_capacity: usize,
}

/// 2025-12-01T00:00:00+08:00: the default end of generated histories (fixed, so that output
/// never depends on the clock; early enough that every time lies in the past).
pub const DEFAULT_END: i64 = 1_764_518_400;

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 1,
            brands: 20,
            sales: 100_000,
            years: 3,
            anomaly_rate: 0.03,
            tmall_stores: 6,
            taobao_sellers: 40,
            refund_rate: 0.02,
            dispute_rate: 0.2,
            end: DEFAULT_END,
            pending_capacity: 1 << 16,
        }
    }
}

impl Config {
    /// Why these flags cannot make a history, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        let rate = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} {v}: expected a number from 0 to 1"))
            }
        };
        rate("--anomaly-rate", self.anomaly_rate)?;
        rate("--refund-rate", self.refund_rate)?;
        rate("--dispute-rate", self.dispute_rate)?;
        if !(1..=100_000).contains(&self.brands) {
            return Err(format!("--brands {}: expected 1 to 100000", self.brands));
        }
        if !(1..=30).contains(&self.years) {
            return Err(format!("--years {}: expected 1 to 30", self.years));
        }
        if self.pending_capacity == 0 {
            return Err("the queue of refunds and disputes needs room for one".into());
        }
        if self.tmall_stores > 999 || self.taobao_sellers > 9_999 {
            return Err("--tmall-stores is at most 999 and --taobao-sellers at most 9999 per brand".into());
        }
        // Every time must fit years 0001..9999 with the setup year before the sales.
        let first = self.end - (i64::from(self.years) + 2) * 366 * 86_400;
        if first < -62_135_596_800 || self.end > 253_402_300_799 - 60 * 86_400 {
            return Err("--end lies too far in the past or the future".into());
        }
        Ok(())
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Lines written (submissions).
    pub lines: u64,
    pub sales: u64,
    /// Sales that are not authentic-without-warnings before refunds and disputes.
    pub hunted: u64,
    /// Sales by verdict, in `Verdict::ALL` order.
    pub verdicts: [u64; 3],
    /// Sales with each reason, in `REASON_NAMES` order.
    pub reasons: [u64; 10],
    /// Sales with each warning, in `WARNING_NAMES` order.
    pub warnings: [u64; 5],
    /// Bytes the generator held while writing (world and buffers, by capacity).
    pub footprint: usize,
}

/// The shape of the designed world.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorldShape {
    pub brands: usize,
    /// Per brand: flagship stores (always 1), Tmall franchise and specialty stores, Taobao
    /// stores (authorized sellers and the rest).
    pub per_brand: Vec<(usize, usize, usize)>,
    pub stores: usize,
    /// Non-sale events.
    pub events: usize,
}

/// A designed world, ready to write its history.
pub struct Generator {
    config: Config,
    world: world::World,
}

impl Generator {
    pub fn new(config: Config) -> Result<Generator, String> {
        config.check()?;
        let world = world::build(&config);
        Ok(Generator { config, world })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn shape(&self) -> WorldShape {
        let per_brand = self
            .world
            .brands
            .iter()
            .map(|b| {
                let stores = &self.world.stores[b.first_store as usize..b.end_store as usize];
                let count = |t: world::Tier| stores.iter().filter(|s| s.tier == t).count();
                (
                    count(world::Tier::Flagship),
                    count(world::Tier::Franchise) + count(world::Tier::Specialty),
                    count(world::Tier::Taobao),
                )
            })
            .collect();
        WorldShape {
            brands: self.world.brands.len(),
            per_brand,
            stores: self.world.stores.len(),
            events: self.world.events.len(),
        }
    }

    /// Writes the history to `out` and, if given, one truth line per sale to `truth`.
    /// `progress` is told the number of sales written now and then.
    pub fn write(
        &self,
        out: &mut dyn Write,
        truth: Option<&mut dyn Write>,
        progress: &mut dyn FnMut(u64),
    ) -> io::Result<Summary> {
        let mut stream = stream::Stream::new(&self.config, &self.world);
        stream.run(out, truth, progress)?;
        let mut summary = stream.summary.clone();
        summary.footprint = self.world.footprint() + stream.footprint();
        Ok(summary)
    }
}
