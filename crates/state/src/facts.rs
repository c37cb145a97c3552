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

/// One sale, as a channel view sums it.
#[derive(bincode::Encode, bincode::Decode, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleEntry {
    pub stamp: Stamp,
    pub quantity: u32,
    /// unit price x quantity, in minor units of `currency`.
    pub amount: i64,
    pub currency: [u8; 3],
}

/// Sums of sales.
#[derive(bincode::Encode, bincode::Decode, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Running {
    pub orders: u64,
    pub quantity: u64,
    pub amount: i64,
}

/// One store's sales of one brand in effective order, with running totals, so that the sum
/// over a window is two binary searches rather than a scan (a channel view sums thousands of
/// stores). A scan remains for the rare views the running totals cannot answer: a knowledge
/// horizon before some of the sales, or several currencies.
#[derive(bincode::Encode, bincode::Decode, Debug, Clone, Default, PartialEq, Eq)]
pub struct SalesSeries {
    pub entries: Vec<SaleEntry>,
    /// `running[i]`: the sums of `entries[0..=i]`.
    pub running: Vec<Running>,
    pub min_seq: Option<Seq>,
    pub max_seq: Option<Seq>,
    /// The currency of every entry, or `None` if they differ.
    pub one_currency: Option<[u8; 3]>,
}

impl SalesSeries {
    /// Adds a sale. Costs the entries after it (none for a sale later than every other),
    /// never the whole series: a store's sales can run to millions.
    pub fn insert(&mut self, entry: SaleEntry) {
        // Sales mostly arrive in effective order: appending needs no search through a series
        // that can run to a million entries (each probe a cache miss).
        let at = match self.entries.last() {
            Some(last) if last.stamp > entry.stamp => {
                self.entries.partition_point(|e| e.stamp <= entry.stamp)
            }
            _ => self.entries.len(),
        };
        let (seq, currency) = (entry.stamp.seq, entry.currency);
        self.one_currency = match self.entries.is_empty() {
            true => Some(currency),
            false => self.one_currency.filter(|c| *c == currency),
        };
        self.min_seq = Some(self.min_seq.map_or(seq, |m| m.min(seq)));
        self.max_seq = Some(self.max_seq.map_or(seq, |m| m.max(seq)));
        self.entries.insert(at, entry);
        self.rerun_totals_from(at);
    }

    /// Removes the entry of record `seq` (an undo).
    pub fn remove(&mut self, seq: Seq) {
        if let Some(at) = self.entries.iter().position(|e| e.stamp.seq == seq) {
            self.entries.remove(at);
            self.rerun_totals_from(at);
            self.min_seq = self.entries.iter().map(|e| e.stamp.seq).min();
            self.max_seq = self.entries.iter().map(|e| e.stamp.seq).max();
            let first = self.entries.first().map(|e| e.currency);
            self.one_currency = first.filter(|c| self.entries.iter().all(|e| e.currency == *c));
        }
    }

    fn rerun_totals_from(&mut self, at: usize) {
        self.running.truncate(at);
        let mut sum = at.checked_sub(1).map(|i| self.running[i]).unwrap_or_default();
        for e in &self.entries[at..] {
            sum.orders += 1;
            sum.quantity += u64::from(e.quantity);
            sum.amount = sum.amount.saturating_add(e.amount);
            self.running.push(sum);
        }
    }

    /// Orders, items and amount by currency of the sales with effective time in
    /// `[from, until)` known at `known`.
    pub fn totals(&self, from: Timestamp, until: Timestamp, known: Seq) -> (Running, Vec<([u8; 3], i64)>) {
        let start = self.entries.partition_point(|e| e.stamp.effective_at < from);
        let end = self.entries.partition_point(|e| e.stamp.effective_at < until).max(start);
        if let Some(currency) = self.one_currency
            && self.max_seq.is_some_and(|m| m <= known)
        {
            let before = start.checked_sub(1).map(|i| self.running[i]).unwrap_or_default();
            let after = end.checked_sub(1).map(|i| self.running[i]).unwrap_or_default();
            let sum = Running {
                orders: after.orders - before.orders,
                quantity: after.quantity - before.quantity,
                amount: after.amount - before.amount,
            };
            let amounts = if sum.orders == 0 { Vec::new() } else { vec![(currency, sum.amount)] };
            return (sum, amounts);
        }
        let mut sum = Running::default();
        let mut amounts: Vec<([u8; 3], i64)> = Vec::new();
        for e in self.entries[start..end].iter().filter(|e| e.stamp.seq <= known) {
            sum.orders += 1;
            sum.quantity += u64::from(e.quantity);
            sum.amount += e.amount;
            match amounts.iter_mut().find(|(c, _)| *c == e.currency) {
                Some((_, total)) => *total += e.amount,
                None => amounts.push((e.currency, e.amount)),
            }
        }
        (sum, amounts)
    }
}

#[derive(bincode::Encode, bincode::Decode, Debug, Clone)]
pub struct Dispute {
    pub order: OrderId,
    pub opened: Stamp,
    pub closed: Option<Stamp>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Running totals answer exactly what a scan answers, whatever the insertion order,
        /// horizon, window and currencies.
        #[test]
        fn sales_series_totals_match_a_scan(
            sales in prop::collection::vec((0i64..1000, 1u32..5, 1i64..10_000, any::<bool>()), 0..60),
            removed in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
            from in 0i64..1000, len in 0i64..1000, known in 0u64..70,
        ) {
            let mut series = SalesSeries::default();
            let mut kept = Vec::new();
            for (seq, (at, quantity, amount, usd)) in sales.iter().enumerate() {
                let entry = SaleEntry {
                    stamp: Stamp { effective_at: Timestamp::from_unix_micros(*at).unwrap(), seq: Seq(seq as u64) },
                    quantity: *quantity,
                    amount: *amount,
                    currency: if *usd { *b"USD" } else { *b"CNY" },
                };
                series.insert(entry);
                kept.push(entry);
            }
            for index in removed {
                if kept.is_empty() { break; }
                let entry = kept.remove(index.index(kept.len()));
                series.remove(entry.stamp.seq);
            }
            let from_t = Timestamp::from_unix_micros(from).unwrap();
            let until_t = Timestamp::from_unix_micros(from + len).unwrap();
            let (sum, amounts) = series.totals(from_t, until_t, Seq(known));
            let counted: Vec<&SaleEntry> = kept.iter()
                .filter(|e| e.stamp.effective_at >= from_t && e.stamp.effective_at < until_t && e.stamp.seq.0 <= known)
                .collect();
            prop_assert_eq!(sum.orders, counted.len() as u64);
            prop_assert_eq!(sum.quantity, counted.iter().map(|e| u64::from(e.quantity)).sum::<u64>());
            for currency in [*b"CNY", *b"USD"] {
                let expected: i64 = counted.iter().filter(|e| e.currency == currency).map(|e| e.amount).sum();
                let got = amounts.iter().find(|(c, _)| *c == currency).map_or(0, |(_, a)| *a);
                prop_assert_eq!(got, expected);
            }
        }
    }
}
