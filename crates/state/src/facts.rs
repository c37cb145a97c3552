//! The facts the state keeps: each stamped with when it took effect in the world and the seq
//! of the record that told the ledger, so that "as of t, known at seq K" is a filter.

use chl_model::event::{AgreementSigned, Channel, GrantIssued, HostPower};
use chl_model::{BrandId, Category, Money, OrderId, PartyId, Region, Seq, Text, Timestamp};

/// When a fact took effect (`effective_at`) and which record said so (`seq`).
#[derive(bincode::Encode, bincode::Decode, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub effective_at: Timestamp,
    pub seq: Seq,
}

/// A point of view: the world as of `at`, as the ledger knew it after record `known`.
#[derive(bincode::Encode, bincode::Decode, Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    pub at: Timestamp,
    pub known: Seq,
}

impl View {
    /// Everything recorded so far, as of `at`.
    pub fn at(at: Timestamp) -> View {
        View { at, known: Seq(u64::MAX) }
    }

    /// Whether a fact stamped `stamp` counts in this view: it took effect at or before `at` and
    /// was recorded at or before `known`.
    pub fn sees(&self, stamp: Stamp) -> bool {
        stamp.effective_at <= self.at && stamp.seq <= self.known
    }

    /// Whether an ending (revocation, closing, dismissal) counts: same rule.
    pub fn sees_end(&self, end: Option<Stamp>) -> bool {
        end.is_some_and(|e| self.sees(e))
    }
}

/// A validity window `[valid_from, valid_until)` of a fact recorded at `stamp`: it covers t
/// when `max(effective_at, valid_from) <= t < valid_until` (spec/events.md, "Time,
/// precisely"); an ending at or before t cuts it.
pub fn window_covers(stamp: Stamp, valid_from: Timestamp, valid_until: Timestamp, view: View) -> bool {
    view.sees(stamp) && stamp.effective_at.max(valid_from) <= view.at && view.at < valid_until
}

#[derive(bincode::Encode, bincode::Decode, Debug, Clone)]
pub struct Party {
    pub legal_name: Text,
    pub registered: Stamp,
}

/// Where a supplier stands.
#[derive(bincode::Encode, bincode::Decode, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupplierStatus {
    /// Admitted, or reinstated after a suspension.
    Active,
    Suspended,
    /// Final.
    Expelled,
}

impl SupplierStatus {
    pub fn describe(self) -> &'static str {
        match self {
            SupplierStatus::Active => "active",
            SupplierStatus::Suspended => "suspended",
            SupplierStatus::Expelled => "expelled",
        }
    }
}

#[derive(bincode::Encode, bincode::Decode, Debug, Clone)]
pub struct Supplier {
    /// Status changes in effective order (admission first), each with its stamp.
    pub statuses: Vec<(Stamp, SupplierStatus)>,
    /// Margin movements in effective order: signed minor units of a currency.
    pub margins: Vec<(Stamp, i64, chl_model::Currency)>,
}

impl Supplier {
    pub fn admitted(&self) -> Stamp {
        self.statuses[0].0
    }

    /// The status in `view`, with the stamp of the change that set it; `None` before admission.
    pub fn status(&self, view: View) -> Option<(Stamp, SupplierStatus)> {
        self.statuses.iter().filter(|(stamp, _)| view.sees(*stamp)).max_by_key(|(stamp, _)| *stamp).copied()
    }

    /// The margin balance in `currency` in `view`.
    pub fn balance(&self, currency: &chl_model::Currency, view: View) -> i64 {
        self.margins
            .iter()
            .filter(|(stamp, _, c)| c == currency && view.sees(*stamp))
            .map(|(_, delta, _)| delta)
            .sum()
    }
}

/// Inserts `item` keeping the list ordered by its stamp (records may be backdated).
pub fn insert_by_stamp<T>(list: &mut Vec<T>, item: T, stamp_of: impl Fn(&T) -> Stamp) {
    let stamp = stamp_of(&item);
    let at = list.partition_point(|x| stamp_of(x) <= stamp);
    list.insert(at, item);
}

#[derive(bincode::Encode, bincode::Decode, Debug, Clone)]
pub struct Policy {
    pub min_margin: Money,
    pub set: Stamp,
}

#[derive(bincode::Encode, bincode::Decode, Debug, Clone)]
pub struct Brand {
    pub owner: PartyId,
    pub name: Text,
    pub registered: Stamp,
}

#[derive(bincode::Encode, bincode::Decode, Debug, Clone)]
pub struct Product {
    pub brand: BrandId,
    pub category: Category,
    pub price_floor: Option<Money>,
    pub registered: Stamp,
}

/// A channel host's appointment for a brand.
#[derive(bincode::Encode, bincode::Decode, Debug, Clone)]
pub struct Appointment {
    pub host: PartyId,
    pub powers: Vec<HostPower>,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    pub appointed: Stamp,
    pub dismissed: Option<Stamp>,
}

impl Appointment {
    /// Whether the host may act with `power` in `view`.
    pub fn empowers(&self, power: HostPower, view: View) -> bool {
        self.powers.contains(&power)
            && window_covers(self.appointed, self.valid_from, self.valid_until, view)
            && !view.sees_end(self.dismissed)
    }
}

#[derive(bincode::Encode, bincode::Decode, Debug, Clone)]
pub struct Grant {
    pub data: GrantIssued,
    pub issued: Stamp,
    /// Its own revocation; revocations of its ancestors cascade (see `State::revocation`).
    pub revoked: Option<Stamp>,
}

#[derive(bincode::Encode, bincode::Decode, Debug, Clone)]
pub struct Store {
    pub operator: PartyId,
    pub channel: Channel,
    pub name: Text,
    pub region: Option<Region>,
    pub opened: Stamp,
    pub closed: Option<Stamp>,
}

#[derive(bincode::Encode, bincode::Decode, Debug, Clone)]
pub struct Agreement {
    pub data: AgreementSigned,
    pub signed: Stamp,
    pub terminated: Option<Stamp>,
}

/// What the state keeps of a sale: enough for the rules. The sale itself is read from the
/// log by its seq.
#[derive(bincode::Encode, bincode::Decode, Debug, Clone, Copy)]
pub struct Order {
    pub recorded: Stamp,
    pub refunded: Option<Stamp>,
    /// The first dispute opened on it.
    pub disputed: Option<Stamp>,
}

/// One sale, as a channel view sums it: per store, in effective order.
#[derive(bincode::Encode, bincode::Decode, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleEntry {
    pub stamp: Stamp,
    /// Index of the sku's brand in `State::brand_index`.
    pub brand: u32,
    pub quantity: u32,
    /// unit price x quantity, in minor units of `currency`.
    pub amount: i64,
    pub currency: [u8; 3],
}

#[derive(bincode::Encode, bincode::Decode, Debug, Clone)]
pub struct Dispute {
    pub order: OrderId,
    pub opened: Stamp,
    pub closed: Option<Stamp>,
}
