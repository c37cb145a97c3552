//! The history as it is written: the world's events interleaved, by the time they take
//! effect, with years of sales and the refunds and disputes that follow some of them.
//!
//! Sales are written day by day in effective-time order. Each sale is either ordinary (a
//! store whose authorization is clean at that moment, an in-scope product at or above its
//! floor) or, with probability `anomaly_rate`, a hunted case: a store built for that case is
//! picked at a moment its case applies. Refunds and disputes wait in a bounded queue until
//! their time comes; when the queue is full the earliest is written at once (its
//! `effective_at` still lies after its sale's), so memory never grows with the sales.

use crate::clock::*;
use crate::names::{PROVINCES, REFUND_REASONS};
use crate::rng::Rng;
use crate::truth::*;
use crate::world::{Brand, Scope, Situation, Sourcing, Store, World, weighted_province};
use crate::{Config, Summary};
use std::collections::BinaryHeap;
use std::io::{self, Write};

/// Output is handed to the writer in chunks of about this size.
const CHUNK: usize = 1 << 18;

/// The hunted cases, with their weights among hunted sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hunt {
    NoGrant,
    Expired,
    Revoked,
    RevokedLater,
    NotYetValid,
    OutOfScopeSku,
    OutOfScopeRegion,
    OutOfScopeChannel,
    PriceBelowFloor,
    Backdated,
    Unverified,
    StoreClosed,
    OwnerInactive,
}

const HUNTS: [(Hunt, u32); 13] = [
    (Hunt::NoGrant, 12),
    (Hunt::Expired, 8),
    (Hunt::Revoked, 8),
    (Hunt::RevokedLater, 6),
    (Hunt::NotYetValid, 6),
    (Hunt::OutOfScopeSku, 8),
    (Hunt::OutOfScopeRegion, 8),
    (Hunt::OutOfScopeChannel, 6),
    (Hunt::PriceBelowFloor, 12),
    (Hunt::Backdated, 6),
    (Hunt::Unverified, 8),
    (Hunt::StoreClosed, 5),
    (Hunt::OwnerInactive, 5),
];

/// An order id: `TM-` or `TB-`, the local date, a number within the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct OrderRef {
    taobao: bool,
    ymd: u32,
    n: u32,
}

impl OrderRef {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.taobao { b"TB-" } else { b"TM-" });
        push_u64(out, u64::from(self.ymd));
        out.push(b'-');
        push_padded(out, u64::from(self.n), 7);
    }
}

/// Appends `n` with at least `width` digits.
fn push_padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let digits = if n == 0 { 1 } else { n.ilog10() as usize + 1 };
    if digits < width {
        push_digits(out, n, width);
    } else {
        push_u64(out, n);
    }
}

const CLAIMS: [&str; 3] = ["counterfeit", "unauthorized_seller", "price_violation"];
const FINDINGS: [&str; 4] = ["authentic", "counterfeit", "unauthorized", "inconclusive"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    Refund { order: OrderRef, reason: u8 },
    DisputeOpened { order: OrderRef, claim: u8, claimant: u32, close: Option<(i64, u8)> },
    DisputeClosed { order: OrderRef, finding: u8 },
}

/// A refund or dispute waiting for its time; ordered earliest first (then first made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    at: i64,
    serial: u64,
    item: Item,
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.serial).cmp(&(self.at, self.serial))
    }
}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One sale before it is written.
struct Draft {
    store: u32,
    sku: usize,
    region: Option<u8>,
    price: i64,
    phase: Phase,
}

/// What a hunt needs of the sku and region.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fit {
    Inside,
    Outside,
}

/// The writer of one history.
pub struct Stream<'a> {
    cfg: &'a Config,
    world: &'a World,
    rng: Rng,
    pending: BinaryHeap<Pending>,
    serial: u64,
    next_event: usize,
    out: Vec<u8>,
    truth: Vec<u8>,
    /// Discount range (percent of list price) of the current day.
    discount: (u64, u64),
    pub summary: Summary,
}

impl<'a> Stream<'a> {
    pub fn new(cfg: &'a Config, world: &'a World) -> Stream<'a> {
        Stream {
            cfg,
            world,
            rng: Rng::new(cfg.seed, 0x0053_414C_4553), // "SALES"
            pending: BinaryHeap::with_capacity(cfg.pending_capacity),
            serial: 0,
            next_event: 0,
            out: Vec::with_capacity(CHUNK + 4096),
            truth: Vec::with_capacity(CHUNK + 4096),
            discount: (100, 100),
            summary: Summary::default(),
        }
    }

    /// Bytes held by the stream's own buffers (by capacity): fixed when it is made.
    pub fn footprint(&self) -> usize {
        self.pending.capacity() * size_of::<Pending>() + self.out.capacity() + self.truth.capacity()
    }

    pub fn run(
        &mut self,
        out: &mut dyn Write,
        mut truth: Option<&mut dyn Write>,
        progress: &mut dyn FnMut(u64),
    ) -> io::Result<()> {
        let world = self.world;
        let days = (world.end - world.start) / DAY;
        let counts = daily_counts(world.start, days, self.cfg.sales);
        let regular = hour_table(&REGULAR_HOURS);
        let festival = hour_table(&DOUBLE_11_HOURS);
        let mut done = 0u64;
        for (d, &n) in counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let day_start = world.start + d as i64 * DAY;
            let (_, month, day) = local_date(day_start);
            let hours = if (month, day) == (11, 11) { &festival } else { &regular };
            self.discount = day_discount(month, day);
            let prefix = date_prefix(day_start);
            let ymd = yyyymmdd(day_start);
            for i in 0..n {
                let x = (i as f64 + self.rng.unit()) / n as f64;
                let seconds = warp(hours, x);
                let t = day_start + seconds;
                self.flush_until(t, out)?;
                let order = OrderRef { taobao: false, ymd, n: i as u32 + 1 };
                self.sale(t, &prefix, seconds, order);
                done += 1;
                if self.out.len() >= CHUNK {
                    out.write_all(&self.out)?;
                    self.out.clear();
                }
                if self.truth.len() >= CHUNK {
                    if let Some(w) = truth.as_mut() {
                        w.write_all(&self.truth)?;
                    }
                    self.truth.clear();
                }
                if done.is_multiple_of(1 << 16) {
                    progress(done);
                }
            }
        }
        self.flush_until(i64::MAX, out)?;
        out.write_all(&self.out)?;
        self.out.clear();
        if let Some(w) = truth.as_mut() {
            w.write_all(&self.truth)?;
        }
        self.truth.clear();
        progress(done);
        Ok(())
    }

    /// Writes every world event and pending item due at or before `t`, in time order (world
    /// events first on a tie).
    fn flush_until(&mut self, t: i64, out: &mut dyn Write) -> io::Result<()> {
        loop {
            let event_at = self.world.events.get(self.next_event).map(|e| e.0);
            let pending_at = self.pending.peek().map(|p| p.at);
            match (event_at, pending_at) {
                (Some(e), p) if e <= t && p.is_none_or(|p| e <= p) => self.write_event(),
                (_, Some(p)) if p <= t => {
                    let item = self.pending.pop().expect("peeked");
                    self.write_pending(item);
                }
                _ => break,
            }
            if self.out.len() >= CHUNK {
                out.write_all(&self.out)?;
                self.out.clear();
            }
        }
        Ok(())
    }

    fn write_event(&mut self) {
        let from = match self.next_event {
            0 => 0,
            i => self.world.events[i - 1].1,
        };
        let to = self.world.events[self.next_event].1;
        self.out.extend_from_slice(&self.world.text[from..to]);
        self.next_event += 1;
        self.summary.lines += 1;
    }

    fn push_pending(&mut self, at: i64, item: Item) {
        if self.pending.len() >= self.cfg.pending_capacity {
            // Full: write the earliest now. It refers to a sale already written, and its
            // effective time is still after that sale's.
            let first = self.pending.pop().expect("full");
            self.write_pending(first);
        }
        self.serial += 1;
        self.pending.push(Pending { at, serial: self.serial, item });
    }

    fn write_pending(&mut self, p: Pending) {
        let out = &mut self.out;
        self.summary.lines += 1;
        let head = |out: &mut Vec<u8>, kind: &str| {
            out.extend_from_slice(b"{\"type\":\"");
            out.extend_from_slice(kind.as_bytes());
            out.extend_from_slice(b"\",\"actor\":\"platform\",\"effective_at\":\"");
            push_time(out, p.at);
            out.extend_from_slice(b"\",\"data\":{");
        };
        match p.item {
            Item::Refund { order, reason } => {
                head(out, "sale_refunded");
                out.extend_from_slice(b"\"order\":\"");
                order.write(out);
                out.extend_from_slice(b"\",\"reason\":\"");
                out.extend_from_slice(REFUND_REASONS[usize::from(reason)].as_bytes());
                out.extend_from_slice(b"\"}}\n");
            }
            Item::DisputeOpened { order, claim, claimant, close } => {
                head(out, "dispute_opened");
                out.extend_from_slice(b"\"dispute\":\"DSP-");
                order.write(out);
                out.extend_from_slice(b"\",\"order\":\"");
                order.write(out);
                out.extend_from_slice(b"\",\"claim\":\"");
                out.extend_from_slice(CLAIMS[usize::from(claim)].as_bytes());
                out.extend_from_slice(b"\",\"claimant\":\"");
                if claimant & (1 << 31) != 0 {
                    let brand = &self.world.brands[(claimant & !(1 << 31)) as usize];
                    out.extend_from_slice(b"brand protection team of ");
                    out.extend_from_slice(brand.slug.as_bytes());
                } else {
                    out.extend_from_slice(b"buyer tb_");
                    push_u64(out, u64::from(claimant));
                }
                out.extend_from_slice(b"\"}}\n");
                if let Some((at, finding)) = close {
                    self.push_pending(at, Item::DisputeClosed { order, finding });
                }
            }
            Item::DisputeClosed { order, finding } => {
                head(out, "dispute_closed");
                out.extend_from_slice(b"\"dispute\":\"DSP-");
                order.write(out);
                out.extend_from_slice(b"\",\"finding\":\"");
                out.extend_from_slice(FINDINGS[usize::from(finding)].as_bytes());
                out.extend_from_slice(b"\"}}\n");
            }
        }
    }

    // ---- one sale ---------------------------------------------------------------------------

    fn sale(&mut self, t: i64, date: &[u8; 11], seconds: i64, mut order: OrderRef) {
        let draft = match self.rng.chance(self.cfg.anomaly_rate) {
            true => self.hunt(t).unwrap_or_else(|| self.ordinary(t)),
            false => self.ordinary(t),
        };
        let world = self.world;
        let store = &world.stores[draft.store as usize];
        let brand = &world.brands[store.brand as usize];
        let sku = &brand.skus[draft.sku];
        let below = sku.floor.is_some_and(|f| draft.price < f);
        let owner_active = brand.owner_active(t);
        let closed = store.closed_at(t);
        let before =
            Truth::compose(draft.phase, owner_active, closed, if below { PRICE_BELOW_FLOOR } else { 0 });
        let hunted = !before.is_clean();
        let disputed =
            self.rng.chance(if hunted { self.cfg.dispute_rate } else { self.cfg.dispute_rate / 100.0 });
        let refunded = self.rng.chance(if disputed { 0.5 } else { self.cfg.refund_rate });
        let mut sale_warnings = if below { PRICE_BELOW_FLOOR } else { 0 };
        if refunded {
            sale_warnings |= REFUNDED;
        }
        if disputed {
            sale_warnings |= DISPUTED;
        }
        let truth = Truth::compose(draft.phase, owner_active, closed, sale_warnings);
        order.taobao = !store.tier.is_tmall();

        // The sale line.
        let out = &mut self.out;
        out.extend_from_slice(b"{\"type\":\"sale_recorded\",\"actor\":\"platform\",\"effective_at\":\"");
        out.extend_from_slice(date);
        push_clock(out, seconds);
        out.extend_from_slice(b"\",\"data\":{\"order\":\"");
        order.write(out);
        out.extend_from_slice(b"\",\"store\":\"");
        out.extend_from_slice(store.id.as_bytes());
        out.extend_from_slice(b"\",\"sku\":\"");
        out.extend_from_slice(sku.id.as_bytes());
        out.extend_from_slice(b"\",\"quantity\":");
        let roll = self.rng.below(100);
        let quantity = match roll {
            0..78 => 1,
            78..92 => 2,
            _ => 3 + self.rng.below(3),
        };
        push_u64(out, quantity);
        out.extend_from_slice(b",\"unit_price\":{\"value\":");
        push_i64(out, draft.price);
        out.extend_from_slice(b",\"currency\":\"CNY\"}");
        if let Some(region) = draft.region {
            out.extend_from_slice(b",\"region\":\"");
            out.extend_from_slice(PROVINCES[region as usize].0.as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b",\"payment_ref\":\"");
        push_u64(out, u64::from(order.ymd));
        out.extend_from_slice(b"2200");
        push_padded(out, u64::from(order.n), 10);
        out.extend_from_slice(b"\"}}\n");

        // Its truth.
        self.truth.extend_from_slice(b"{\"order\":\"");
        order.write(&mut self.truth);
        self.truth.push(b'"');
        truth.write_fields(&mut self.truth);
        self.truth.extend_from_slice(b"}\n");

        let s = &mut self.summary;
        s.lines += 1;
        s.sales += 1;
        s.hunted += u64::from(hunted);
        s.verdicts[truth.verdict as usize] += 1;
        for (i, n) in s.reasons.iter_mut().enumerate() {
            *n += u64::from(truth.reasons >> i & 1);
        }
        for (i, n) in s.warnings.iter_mut().enumerate() {
            *n += u64::from(truth.warnings >> i & 1);
        }

        // What follows it.
        if disputed {
            let open = (t + self.rng.range(2 * DAY, 30 * DAY)).min(world.last);
            let claim = if below {
                2
            } else {
                match truth.verdict {
                    Verdict::Unauthorized if self.rng.chance(0.6) => 1,
                    _ => 0,
                }
            };
            let claimant = match self.rng.chance(0.2) {
                true => store.brand | (1 << 31),
                false => self.rng.between(100_000, 9_999_999) as u32,
            };
            let close = self.rng.chance(0.8).then(|| {
                let at = (open + self.rng.range(7 * DAY, 45 * DAY)).min(world.last);
                let finding = match truth.verdict {
                    Verdict::Authentic => 0,
                    Verdict::Unauthorized if self.rng.chance(0.7) => 2,
                    Verdict::Unauthorized => 1,
                    Verdict::UnverifiedSource if self.rng.chance(0.5) => 3,
                    Verdict::UnverifiedSource => 1,
                };
                (at, finding)
            });
            self.push_pending(open, Item::DisputeOpened { order, claim, claimant, close });
        }
        if refunded {
            let at = (t + self.rng.range(DAY, 15 * DAY)).min(world.last);
            let reason = if hunted && self.rng.chance(0.5) { 4 } else { self.rng.below(4) as u8 };
            self.push_pending(at, Item::Refund { order, reason });
        }
    }

    /// The phase of a store's authorization at `t`, as the store was built.
    fn phase(store: &Store, t: i64) -> Phase {
        let agreement = match store.sourcing {
            Sourcing::None => None,
            Sourcing::Always => Some(0),
            Sourcing::Until(end) => (t < end).then_some(0),
        };
        match store.situation {
            Situation::Own => Phase::OwnStore,
            Situation::NoGrant => Phase::NoChain { failures: NO_GRANT, warnings: 0 },
            Situation::WrongChannel => Phase::NoChain { failures: OUT_OF_SCOPE_CHANNEL, warnings: 0 },
            Situation::Authorized => Phase::Chain { chain: 0, agreement },
            Situation::Expires { at } if t < at => Phase::Chain { chain: 0, agreement },
            Situation::Expires { .. } => Phase::NoChain { failures: GRANT_EXPIRED, warnings: 0 },
            Situation::Revoked { at, cascade } if t < at => Phase::Chain {
                chain: REVOKED_LATER,
                // With the cascade, the agreement's supplier holds the revoked grant.
                agreement: agreement.map(|w| if cascade { w | REVOKED_LATER } else { w }),
            },
            Situation::Revoked { .. } => Phase::NoChain { failures: GRANT_REVOKED, warnings: 0 },
            Situation::NotYetValid { from, late } if t < from => Phase::NoChain {
                failures: GRANT_NOT_YET_VALID,
                warnings: if late { GRANT_RECORDED_AFTER_SALE } else { 0 },
            },
            Situation::NotYetValid { .. } => Phase::Chain { chain: 0, agreement },
            Situation::Backdated { recorded } => {
                Phase::Chain { chain: if t < recorded { GRANT_RECORDED_AFTER_SALE } else { 0 }, agreement }
            }
        }
    }

    /// Whether an ordinary sale can be made at `store` at `t`: open, owner active, and its
    /// authorization clean (the owner's store, or a chain and an agreement with no warning).
    fn clean(&self, store: &Store, t: i64) -> bool {
        store.sells_at(t)
            && !store.closed_at(t)
            && self.world.brands[store.brand as usize].owner_active(t)
            && matches!(
                Self::phase(store, t),
                Phase::OwnStore | Phase::Chain { chain: 0, agreement: Some(0) }
            )
    }

    /// A store by the ordinary sales weights, within stores `first..end` (all: `None`).
    fn weighted_store(&mut self, within: Option<(u32, u32)>) -> u32 {
        let cumulative = &self.world.cumulative;
        let (lo, hi) = match within {
            Some((first, end)) => {
                let lo = if first == 0 { 0.0 } else { cumulative[first as usize - 1] };
                (lo, cumulative[end as usize - 1])
            }
            None => (0.0, *cumulative.last().expect("a brand has a flagship")),
        };
        let x = lo + self.rng.unit() * (hi - lo);
        let i = cumulative.partition_point(|&c| c <= x);
        i.min(cumulative.len() - 1) as u32
    }

    fn ordinary(&mut self, t: i64) -> Draft {
        for _ in 0..24 {
            let s = self.weighted_store(None);
            if self.clean(&self.world.stores[s as usize], t) {
                return self
                    .draft(s, t, Fit::Inside, Fit::Inside, false)
                    .expect("a clean store has products");
            }
        }
        // The flagship of a brand whose owner is active (of any brand, as a last resort).
        let brands = &self.world.brands;
        let first = self.rng.index(brands.len());
        let brand = (0..brands.len())
            .map(|k| (first + k) % brands.len())
            .find(|&b| brands[b].owner_active(t))
            .unwrap_or(first);
        let flagship = brands[brand].flagship;
        self.draft(flagship, t, Fit::Inside, Fit::Inside, false).expect("a flagship sells every product")
    }

    fn hunt(&mut self, t: i64) -> Option<Draft> {
        let total: u32 = HUNTS.iter().map(|h| h.1).sum();
        for _ in 0..4 {
            let mut x = self.rng.below(u64::from(total)) as u32;
            let mut kind = HUNTS[0].0;
            for (h, w) in HUNTS {
                if x < w {
                    kind = h;
                    break;
                }
                x -= w;
            }
            if let Some(draft) = self.try_hunt(kind, t) {
                return Some(draft);
            }
        }
        None
    }

    fn try_hunt(&mut self, kind: Hunt, t: i64) -> Option<Draft> {
        let world = self.world;
        let lists = &world.lists;
        match kind {
            Hunt::PriceBelowFloor => {
                for _ in 0..16 {
                    let s = self.weighted_store(None);
                    if self.clean(&world.stores[s as usize], t)
                        && let Some(d) = self.draft(s, t, Fit::Inside, Fit::Inside, true)
                    {
                        return Some(d);
                    }
                }
                None
            }
            Hunt::OwnerInactive => {
                let suspended: Vec<&Brand> = world.brands.iter().filter(|b| !b.owner_active(t)).collect();
                if suspended.is_empty() {
                    return None;
                }
                let brand = suspended[self.rng.index(suspended.len())];
                for _ in 0..16 {
                    let s = self.weighted_store(Some((brand.first_store, brand.end_store)));
                    let store = &world.stores[s as usize];
                    let clean_otherwise = store.sells_at(t)
                        && !store.closed_at(t)
                        && matches!(
                            Self::phase(store, t),
                            Phase::OwnStore | Phase::Chain { chain: 0, agreement: Some(0) }
                        );
                    if clean_otherwise {
                        return self.draft(s, t, Fit::Inside, Fit::Inside, false);
                    }
                }
                None
            }
            _ => {
                let list: &[u32] = match kind {
                    Hunt::NoGrant => &lists.no_grant,
                    Hunt::Expired => &lists.expires,
                    Hunt::Revoked | Hunt::RevokedLater => &lists.revoked,
                    Hunt::NotYetValid => &lists.not_yet_valid,
                    Hunt::OutOfScopeSku => &lists.scoped,
                    Hunt::OutOfScopeRegion => &lists.regional,
                    Hunt::OutOfScopeChannel => &lists.wrong_channel,
                    Hunt::Backdated => &lists.backdated,
                    Hunt::Unverified => &lists.unverified,
                    Hunt::StoreClosed => &lists.closed_selling,
                    Hunt::PriceBelowFloor | Hunt::OwnerInactive => unreachable!(),
                };
                if list.is_empty() {
                    return None;
                }
                for _ in 0..16 {
                    let s = list[self.rng.index(list.len())];
                    let store = &world.stores[s as usize];
                    if !store.sells_at(t) || !world.brands[store.brand as usize].owner_active(t) {
                        continue;
                    }
                    let phase = Self::phase(store, t);
                    let chain = matches!(phase, Phase::Chain { .. });
                    let ok = match (kind, store.situation) {
                        (Hunt::NoGrant | Hunt::OutOfScopeChannel, _) => true,
                        (Hunt::Expired, Situation::Expires { at }) => t >= at,
                        (Hunt::Revoked, Situation::Revoked { at, .. }) => t >= at,
                        (Hunt::RevokedLater, Situation::Revoked { at, .. }) => t < at && !store.closed_at(t),
                        (Hunt::NotYetValid, Situation::NotYetValid { from, .. }) => t < from,
                        (Hunt::Backdated, Situation::Backdated { recorded }) => t < recorded,
                        (Hunt::OutOfScopeSku | Hunt::OutOfScopeRegion, _) => chain && !store.closed_at(t),
                        (Hunt::Unverified, _) => {
                            matches!(phase, Phase::Chain { agreement: None, .. }) && !store.closed_at(t)
                        }
                        (Hunt::StoreClosed, _) => store.closed_at(t),
                        _ => false,
                    };
                    if !ok {
                        continue;
                    }
                    let (sku_fit, region_fit) = match kind {
                        Hunt::OutOfScopeSku => (Fit::Outside, Fit::Inside),
                        Hunt::OutOfScopeRegion => (Fit::Inside, Fit::Outside),
                        _ => (Fit::Inside, Fit::Inside),
                    };
                    if let Some(d) = self.draft(s, t, sku_fit, region_fit, false) {
                        return Some(d);
                    }
                }
                None
            }
        }
    }

    /// A sale at store `s` at `t`: a product inside (or outside) what its grant covers, a
    /// region inside (or outside) its grant's regions, a price at or above the floor (or
    /// below it: `below_floor`, which needs a product with a floor).
    fn draft(&mut self, s: u32, t: i64, sku_fit: Fit, region_fit: Fit, below_floor: bool) -> Option<Draft> {
        let world = self.world;
        let store = &world.stores[s as usize];
        let brand = &world.brands[store.brand as usize];
        let grant = store.leaf.map(|g| &world.grants[g as usize]);
        // The flagship and grey sellers sell anything of the brand, anywhere.
        let scope = grant.map(|g| &g.scope);
        let sku = self.pick_sku(brand, scope, t, sku_fit, below_floor)?;
        let region = self.pick_region(grant.and_then(|g| g.regions.as_deref()), region_fit)?;
        let mut phase = Self::phase(store, t);
        if let Phase::Chain { chain, .. } = phase {
            // A product or region the grant does not cover: the one chain fails on it.
            if sku_fit == Fit::Outside {
                phase = Phase::NoChain { failures: OUT_OF_SCOPE_SKU, warnings: chain };
            } else if region_fit == Fit::Outside {
                phase = Phase::NoChain { failures: OUT_OF_SCOPE_REGION, warnings: chain };
            }
        }
        let product = &brand.skus[sku];
        let price = if below_floor {
            let floor = product.floor.expect("picked with a floor");
            let p = floor * self.rng.between(45, 94) as i64 / 100 / 100 * 100;
            p.clamp(100, floor - 100)
        } else {
            let (lo, hi) = self.discount;
            let pct = if self.rng.chance(0.5) { hi } else { self.rng.between(lo, hi) };
            let p = product.list * pct as i64 / 100 / 100 * 100;
            p.max(product.floor.unwrap_or(100)).max(100)
        };
        Some(Draft { store: s, sku, region, price, phase })
    }

    fn pick_sku(
        &mut self,
        brand: &Brand,
        scope: Option<&Scope>,
        t: i64,
        fit: Fit,
        floor: bool,
    ) -> Option<usize> {
        let n = brand.launched(t);
        if n == 0 {
            return None;
        }
        let fits = |k: usize| {
            let sku = &brand.skus[k];
            let covered = scope.is_none_or(|s| s.covers(k, sku.category));
            covered == (fit == Fit::Inside) && (!floor || sku.floor.is_some())
        };
        for _ in 0..16 {
            let k = self.rng.index(n);
            if fits(k) {
                return Some(k);
            }
        }
        (0..n).find(|&k| fits(k))
    }

    /// `Some(None)`: no region on the sale (the store's counts, which lies inside its grant).
    fn pick_region(&mut self, allowed: Option<&[u8]>, fit: Fit) -> Option<Option<u8>> {
        match (fit, allowed) {
            (Fit::Inside, _) if self.rng.chance(0.15) => Some(None),
            (Fit::Inside, Some(list)) => Some(Some(list[self.rng.index(list.len())])),
            (Fit::Inside, None) => Some(Some(weighted_province(&mut self.rng))),
            (Fit::Outside, None) => None,
            (Fit::Outside, Some(list)) => {
                for _ in 0..32 {
                    let r = weighted_province(&mut self.rng);
                    if !list.contains(&r) {
                        return Some(Some(r));
                    }
                }
                (0..PROVINCES.len() as u8).find(|r| !list.contains(r)).map(Some)
            }
        }
    }
}

// ---- the calendar ---------------------------------------------------------------------------

/// How many sales each day gets: `total` spread by the days' weights, rounded so that they
/// sum to `total` exactly.
pub fn daily_counts(start: i64, days: i64, total: u64) -> Vec<u64> {
    let weights: Vec<f64> = (0..days).map(|d| day_weight(start + d * DAY, d)).collect();
    let sum: f64 = weights.iter().sum();
    let mut counts = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    let mut given = 0u64;
    for (d, w) in weights.iter().enumerate() {
        acc += w;
        let upto = if d + 1 == weights.len() {
            total
        } else {
            ((total as f64) * acc / sum).round().min(total as f64) as u64
        };
        let upto = upto.max(given);
        counts.push(upto - given);
        given = upto;
    }
    counts
}

/// The relative weight of a day's sales: steady growth, weekends, months, and the shopping
/// festivals (Double 11 above all; 618; Double 12), with the Spring Festival lull.
fn day_weight(day_start: i64, d: i64) -> f64 {
    let (_, month, day) = local_date(day_start);
    let weekday = weekday((day_start + CST).div_euclid(DAY));
    let growth = 1.0 + 0.3 * d as f64 / 365.0;
    let week = [0.95, 0.95, 0.95, 1.0, 1.05, 1.1, 1.1][weekday as usize];
    let season = [0.9, 0.75, 0.95, 0.95, 1.0, 1.1, 0.95, 0.95, 1.0, 1.05, 1.3, 1.15][month as usize - 1];
    let festival = match (month, day) {
        (11, 11) => 12.0,
        (11, 1..=10) => 1.8,
        (11, 12) => 1.5,
        (6, 18) => 4.0,
        (6, 1..=17) => 1.3,
        (12, 12) => 3.0,
        (2, 5..=15) => 0.5,
        _ => 1.0,
    };
    growth * week * season * festival
}

/// Discounts off list price (percent paid) by day; prices never go below the floor on
/// ordinary sales.
fn day_discount(month: u32, day: u32) -> (u64, u64) {
    match (month, day) {
        (11, 11) => (75, 90),
        (11, 1..=12) => (85, 95),
        (6, 18) => (80, 90),
        (6, 1..=20) => (88, 97),
        (12, 12) => (85, 95),
        _ => (92, 100),
    }
}

/// Relative sales by local hour on an ordinary day: low at night, an evening peak.
const REGULAR_HOURS: [f64; 24] = [
    0.6, 0.3, 0.15, 0.1, 0.08, 0.1, 0.3, 0.6, 1.0, 1.3, 1.5, 1.5, 1.4, 1.4, 1.5, 1.5, 1.4, 1.4, 1.5, 1.8,
    2.2, 2.6, 2.4, 1.4,
];
/// On 11 November: the midnight rush, then the evening.
const DOUBLE_11_HOURS: [f64; 24] = [
    8.0, 4.0, 1.5, 0.5, 0.3, 0.3, 0.5, 0.8, 1.2, 1.5, 1.6, 1.6, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.6, 2.0, 2.6,
    3.2, 3.5, 3.0,
];

/// Cumulative shares of the day at each hour's start (25 entries, 0 to 1).
fn hour_table(weights: &[f64; 24]) -> [f64; 25] {
    let sum: f64 = weights.iter().sum();
    let mut table = [0.0; 25];
    for h in 0..24 {
        table[h + 1] = table[h] + weights[h] / sum;
    }
    table[24] = 1.0;
    table
}

/// The second of the day at which a share `x` (0..1) of the day's sales has happened:
/// non-decreasing in `x`, so sales drawn in order stay in time order.
fn warp(table: &[f64; 25], x: f64) -> i64 {
    let h = table.partition_point(|&c| c <= x).saturating_sub(1).min(23);
    let frac = (x - table[h]) / (table[h + 1] - table[h]);
    h as i64 * HOUR + ((frac * 3600.0) as i64).clamp(0, 3599)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_counts_sum_exactly_and_peak_on_double_11() {
        let start = days_from_civil(2022, 12, 1) * DAY - CST;
        let counts = daily_counts(start, 3 * 365, 1_000_003);
        assert_eq!(counts.iter().sum::<u64>(), 1_000_003);
        let max = counts.iter().enumerate().max_by_key(|(_, c)| **c).unwrap().0 as i64;
        let (_, m, d) = local_date(start + max * DAY);
        assert_eq!((m, d), (11, 11));
    }

    #[test]
    fn warp_is_monotone_and_within_the_day() {
        let table = hour_table(&DOUBLE_11_HOURS);
        let mut last = -1;
        for i in 0..100_000 {
            let s = warp(&table, i as f64 / 100_000.0);
            assert!(s >= last && s < DAY, "{s} after {last}");
            last = s;
        }
    }
}
