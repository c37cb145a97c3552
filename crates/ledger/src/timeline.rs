//! The timeline of `chl replay` and `GET /v1/replay`: the records that concern an order,
//! store, brand, party, grant, agreement or sku, in seq order, optionally between two times.
//!
//! What a record concerns is read from its typed event, then completed through the state for
//! the ids it names only indirectly (`subjects`):
//!
//! - every record concerns its actor;
//! - a record concerns each id it names in its data: the party, supplier, owner, host,
//!   grantor, grantee, operator, supplier and distributor fields; the brand, sku, grant
//!   (and a grant's `parent`), store, agreement and order fields; the skus a grant's or an
//!   agreement's scope lists;
//! - `grant_revoked` concerns what its grant's `grant_issued` names (brand, grantor, grantee,
//!   listed skus; not its parent); `agreement_terminated` what its agreement's
//!   `agreement_signed` names; `store_closed` the store's operator;
//! - a sale concerns its order, store, sku, the sku's brand and the store's operator;
//!   `sale_refunded` and `dispute_opened` concern their order and everything its sale
//!   concerns (the sale is read from the log); `dispute_closed` the dispute's order and the
//!   same;
//! - `policy_set` and `ledger_created` concern only their actor.
//!
//! The ids of one kind a record concerns never change once recorded (ids are unique for ever
//! and the facts resolved, a product's brand, a grant's parties, a store's operator, are fixed
//! at their first record), so resolving them through the current state gives the same answer
//! at any knowledge horizon.

use crate::ledger::LedgerError;
use chl_log::Log;
use chl_model::event::{SaleRecorded, Scope};
use chl_model::{
    AgreementId, BrandId, Digest, Event, ExportedRecord, GrantId, OrderId, PartyId, Record, Seq, Sku,
    StoreId, Timestamp,
};
use chl_state::State;
use serde::Serialize;
use serde_json::value::RawValue;
use std::io;
use std::ops::ControlFlow;

/// Which records a timeline holds: those that concern every id given (the conditions are
/// joined by AND) and whose `effective_at` lies in `[from, to]` (both ends included) where
/// those are given. The default filter takes every record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineFilter {
    pub order: Option<OrderId>,
    pub store: Option<StoreId>,
    pub brand: Option<BrandId>,
    pub party: Option<PartyId>,
    pub grant: Option<GrantId>,
    pub agreement: Option<AgreementId>,
    pub sku: Option<Sku>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

/// The matching records, in seq order. Serializes as `{"records": [<export form>, ...],
/// "truncated": bool, "scanned_upto": seq or null}`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timeline {
    pub records: Vec<TimelineEntry>,
    /// More records match than the limit let through.
    pub truncated: bool,
    /// The answer is complete through this seq: every matching record at or below it is in
    /// `records`, so a next page starts after it. The durable head when not truncated; the
    /// seq before the first match left out when truncated; `None` when nothing is covered
    /// (an empty log, or a limit of 0 with a match at seq 0).
    pub scanned_upto: Option<Seq>,
}

/// One record of a timeline. Serializes as the record's export form (`chl export`'s line),
/// which holds its seq and hash too.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub seq: Seq,
    pub hash: Digest,
    /// The export form, as `ExportedRecord::write_json` writes it.
    pub record: Box<RawValue>,
}

impl Serialize for TimelineEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.record.serialize(s)
    }
}

/// One thing a record concerns.
#[derive(Debug, Clone, Copy)]
enum Subject<'a> {
    Order(&'a OrderId),
    Store(&'a StoreId),
    Brand(&'a BrandId),
    Party(&'a PartyId),
    Grant(&'a GrantId),
    Agreement(&'a AgreementId),
    Sku(&'a Sku),
}

const ORDER: u8 = 1;
const STORE: u8 = 1 << 1;
const BRAND: u8 = 1 << 2;
const PARTY: u8 = 1 << 3;
const GRANT: u8 = 1 << 4;
const AGREEMENT: u8 = 1 << 5;
const SKU: u8 = 1 << 6;

impl TimelineFilter {
    /// The ids given, as bits.
    fn wanted(&self) -> u8 {
        let mut wanted = 0;
        for (given, bit) in [
            (self.order.is_some(), ORDER),
            (self.store.is_some(), STORE),
            (self.brand.is_some(), BRAND),
            (self.party.is_some(), PARTY),
            (self.grant.is_some(), GRANT),
            (self.agreement.is_some(), AGREEMENT),
            (self.sku.is_some(), SKU),
        ] {
            if given {
                wanted |= bit;
            }
        }
        wanted
    }

    /// The bit of a given id that `subject` is, if it is one.
    fn hit(&self, subject: Subject<'_>) -> u8 {
        fn is<T: PartialEq>(given: &Option<T>, id: &T, bit: u8) -> u8 {
            if given.as_ref() == Some(id) { bit } else { 0 }
        }
        match subject {
            Subject::Order(id) => is(&self.order, id, ORDER),
            Subject::Store(id) => is(&self.store, id, STORE),
            Subject::Brand(id) => is(&self.brand, id, BRAND),
            Subject::Party(id) => is(&self.party, id, PARTY),
            Subject::Grant(id) => is(&self.grant, id, GRANT),
            Subject::Agreement(id) => is(&self.agreement, id, AGREEMENT),
            Subject::Sku(id) => is(&self.sku, id, SKU),
        }
    }

    fn in_window(&self, at: Timestamp) -> bool {
        self.from.is_none_or(|from| from <= at) && self.to.is_none_or(|to| at <= to)
    }

    /// The first seq that can concern every id given: no record concerns an id before the
    /// record that brought it in (rule 2 of spec/events.md: ids referred to exist, and a
    /// store's sales, a grant's revocation, an order's refund come after them). `None` when an
    /// id is unknown to the state, so that nothing can match.
    fn first_seq(&self, state: &State) -> Option<Seq> {
        let mut first = Seq::ZERO;
        let mut after = |seq: Option<Seq>| seq.map(|seq| first = first.max(seq));
        if let Some(id) = &self.order {
            after(state.order(id).map(|o| o.recorded.seq))?;
        }
        if let Some(id) = &self.store {
            after(state.store(id).map(|s| s.opened.seq))?;
        }
        if let Some(id) = &self.brand {
            after(state.brand(id).map(|b| b.registered.seq))?;
        }
        if let Some(id) = &self.party {
            // The platform acts from record 0 on and is never registered.
            let registered =
                if id.is_platform() { Some(Seq::ZERO) } else { state.party(id).map(|p| p.registered.seq) };
            after(registered)?;
        }
        if let Some(id) = &self.grant {
            after(state.grant(id).map(|g| g.issued.seq))?;
        }
        if let Some(id) = &self.agreement {
            after(state.agreement(id).map(|a| a.signed.seq))?;
        }
        if let Some(id) = &self.sku {
            after(state.product(id).map(|p| p.registered.seq))?;
        }
        Some(first)
    }
}

/// Reads the durable records of `log` that `filter` takes, from the first that can match, and
/// stops once it knows whether more than `limit` match.
pub(crate) fn timeline(
    state: &State,
    log: &Log,
    filter: &TimelineFilter,
    limit: usize,
) -> Result<Timeline, LedgerError> {
    let Some(head) = log.durable_head().map(|h| h.seq) else {
        return Ok(Timeline::default());
    };
    let complete = Timeline { records: Vec::new(), truncated: false, scanned_upto: Some(head) };
    let Some(first) = filter.first_seq(state) else { return Ok(complete) };
    // An id the state knows only from records not yet durable is unknown to the log read here.
    if first > head || filter.from.zip(filter.to).is_some_and(|(from, to)| from > to) {
        return Ok(complete);
    }
    let wanted = filter.wanted();
    // Only these need the sale behind a refund or dispute.
    let needs_sale = wanted & (STORE | BRAND | PARTY | SKU) != 0;
    let mut out = Timeline { scanned_upto: Some(head), ..Timeline::default() };
    let mut failure: Option<LedgerError> = None;
    log.scan(first, &mut |record, hash| {
        if record.seq > head {
            return ControlFlow::Break(());
        }
        if !filter.in_window(record.effective_at) {
            return ControlFlow::Continue(());
        }
        let mut hits = 0u8;
        let mut sale = |order: &OrderId| if needs_sale { sale_of(state, log, order) } else { Ok(None) };
        if let Err(e) = subjects(&record, state, &mut sale, &mut |s| hits |= filter.hit(s)) {
            failure = Some(e);
            return ControlFlow::Break(());
        }
        if hits != wanted {
            return ControlFlow::Continue(());
        }
        if out.records.len() == limit {
            out.truncated = true;
            out.scanned_upto = record.seq.0.checked_sub(1).map(Seq);
            return ControlFlow::Break(());
        }
        match entry(&record, hash) {
            Ok(entry) => out.records.push(entry),
            Err(e) => {
                failure = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn entry(record: &Record, hash: Digest) -> Result<TimelineEntry, LedgerError> {
    let failed = |error: io::Error| LedgerError::Io { context: "write a timeline record".into(), error };
    let mut json = Vec::with_capacity(512);
    ExportedRecord { record, hash }.write_json(&mut json).map_err(|e| failed(e.into()))?;
    let json = String::from_utf8(json).map_err(|e| failed(io::Error::new(io::ErrorKind::InvalidData, e)))?;
    let record_json = RawValue::from_string(json).map_err(|e| failed(e.into()))?;
    Ok(TimelineEntry { seq: record.seq, hash, record: record_json })
}

/// The sale of `order`, read from the log at the seq the state's order index gives.
fn sale_of(state: &State, log: &Log, order: &OrderId) -> Result<Option<SaleRecorded>, LedgerError> {
    let Some(seq) = state.order(order).map(|o| o.recorded.seq) else { return Ok(None) };
    let (record, _) = log.read(seq)?;
    match record.event {
        Event::SaleRecorded(sale) => Ok(Some(sale)),
        _ => Err(LedgerError::ReadOnly(format!("seq {seq} is indexed as order {order} but is not a sale"))),
    }
}

/// Calls `see` with everything `record` concerns (see the module's documentation); an id may
/// come more than once. `sale` finds the sale of an order that a refund or dispute names, or
/// gives `None` when the caller does not need what the sale concerns.
fn subjects(
    record: &Record,
    state: &State,
    sale: &mut dyn FnMut(&OrderId) -> Result<Option<SaleRecorded>, LedgerError>,
    see: &mut dyn FnMut(Subject<'_>),
) -> Result<(), LedgerError> {
    see(Subject::Party(&record.actor));
    match &record.event {
        Event::LedgerCreated(_) | Event::PolicySet(_) => {}
        Event::PartyRegistered(e) => see(Subject::Party(&e.party)),
        Event::SupplierAdmitted(e) => see(Subject::Party(&e.supplier)),
        Event::SupplierSuspended(e) => see(Subject::Party(&e.supplier)),
        Event::SupplierReinstated(e) => see(Subject::Party(&e.supplier)),
        Event::SupplierExpelled(e) => see(Subject::Party(&e.supplier)),
        Event::MarginDeposited(e) => see(Subject::Party(&e.supplier)),
        Event::MarginDeducted(e) => see(Subject::Party(&e.supplier)),
        Event::MarginRefunded(e) => see(Subject::Party(&e.supplier)),
        Event::BrandRegistered(e) => {
            see(Subject::Brand(&e.brand));
            see(Subject::Party(&e.owner));
        }
        Event::ProductRegistered(e) => {
            see(Subject::Sku(&e.sku));
            see(Subject::Brand(&e.brand));
        }
        Event::ChannelHostAppointed(e) => {
            see(Subject::Brand(&e.brand));
            see(Subject::Party(&e.host));
        }
        Event::ChannelHostDismissed(e) => {
            see(Subject::Brand(&e.brand));
            see(Subject::Party(&e.host));
        }
        Event::GrantIssued(e) => {
            see(Subject::Grant(&e.grant));
            if let Some(parent) = &e.parent {
                see(Subject::Grant(parent));
            }
            grant_named(&e.brand, &e.grantor, &e.grantee, &e.scope, see);
        }
        Event::GrantRevoked(e) => {
            see(Subject::Grant(&e.grant));
            if let Some(g) = state.grant(&e.grant) {
                grant_named(&g.data.brand, &g.data.grantor, &g.data.grantee, &g.data.scope, see);
            }
        }
        Event::StoreOpened(e) => {
            see(Subject::Store(&e.store));
            see(Subject::Party(&e.operator));
        }
        Event::StoreClosed(e) => {
            see(Subject::Store(&e.store));
            if let Some(store) = state.store(&e.store) {
                see(Subject::Party(&store.operator));
            }
        }
        Event::AgreementSigned(e) => {
            see(Subject::Agreement(&e.agreement));
            agreement_named(&e.brand, &e.supplier, &e.distributor, &e.scope, see);
        }
        Event::AgreementTerminated(e) => {
            see(Subject::Agreement(&e.agreement));
            if let Some(a) = state.agreement(&e.agreement) {
                agreement_named(&a.data.brand, &a.data.supplier, &a.data.distributor, &a.data.scope, see);
            }
        }
        Event::SaleRecorded(e) => sale_named(e, state, see),
        Event::SaleRefunded(e) => order_named(&e.order, state, sale, see)?,
        Event::DisputeOpened(e) => order_named(&e.order, state, sale, see)?,
        Event::DisputeClosed(e) => {
            if let Some(dispute) = state.dispute(&e.dispute) {
                order_named(&dispute.order, state, sale, see)?;
            }
        }
    }
    Ok(())
}

fn scope_named(scope: &Scope, see: &mut dyn FnMut(Subject<'_>)) {
    for sku in scope.skus.iter().flatten() {
        see(Subject::Sku(sku));
    }
}

fn grant_named(
    brand: &BrandId,
    grantor: &PartyId,
    grantee: &PartyId,
    scope: &Scope,
    see: &mut dyn FnMut(Subject<'_>),
) {
    see(Subject::Brand(brand));
    see(Subject::Party(grantor));
    see(Subject::Party(grantee));
    scope_named(scope, see);
}

fn agreement_named(
    brand: &BrandId,
    supplier: &PartyId,
    distributor: &PartyId,
    scope: &Scope,
    see: &mut dyn FnMut(Subject<'_>),
) {
    see(Subject::Brand(brand));
    see(Subject::Party(supplier));
    see(Subject::Party(distributor));
    scope_named(scope, see);
}

/// A sale: its order, store and sku, the sku's brand and the store's operator.
fn sale_named(sale: &SaleRecorded, state: &State, see: &mut dyn FnMut(Subject<'_>)) {
    see(Subject::Order(&sale.order));
    see(Subject::Store(&sale.store));
    see(Subject::Sku(&sale.sku));
    if let Some(product) = state.product(&sale.sku) {
        see(Subject::Brand(&product.brand));
    }
    if let Some(store) = state.store(&sale.store) {
        see(Subject::Party(&store.operator));
    }
}

/// A record about an order that names only the order: the order, and what its sale concerns
/// when the caller asked for the sale.
fn order_named(
    order: &OrderId,
    state: &State,
    sale: &mut dyn FnMut(&OrderId) -> Result<Option<SaleRecorded>, LedgerError>,
    see: &mut dyn FnMut(Subject<'_>),
) -> Result<(), LedgerError> {
    see(Subject::Order(order));
    if let Some(found) = sale(order)? {
        sale_named(&found, state, see);
    }
    Ok(())
}
