//! The story of one order for an investigator of a counterfeit dispute (`chl replay --order`):
//! the sale; the verdict as the ledger knew it when the sale was recorded, when a dispute was
//! opened on it, and now; the grant chains those verdicts name, with each grant's timeline
//! (issued, sub-granted, revoked, expiry); the agreements they name (signed, terminated,
//! expiry); the suppliers involved with their status and margin histories; the store; and
//! findings: records made after the sale that take effect before it, records made late, what
//! changed between the horizons. A conclusion line is drawn from the verdicts.
//!
//! Everything comes from the state's indexes and point reads of records by seq
//! (`Ledger::read`): a story costs a few dozen reads whatever the length of the log, never a
//! scan. Only the first dispute opened on an order is indexed (`Order::disputed`), so a
//! second dispute on the same order is not in the story (`chl replay --order X --timeline`
//! lists every record of the order).
//!
//! **Recorded late**: a record whose `recorded_at` is more than `StoryOptions::late_after_hours`
//! (24 by default) after its `effective_at`. When every record of a story is late (a history
//! imported long after the fact), one finding says so instead of one per record: then only the
//! seqs tell what the ledger knew when.
//!
//! The story renders itself as an investigator's text (`to_text`) and as a Markdown case report
//! (`to_markdown`); its JSON form (serde) holds everything, with the export form of every record
//! cited under `records`.

use crate::bundle::Bundle;
use crate::ledger::{Ledger, LedgerError};
use crate::timeline::{Timeline, TimelineEntry, TimelineFilter};
use chl_model::event::{AgreementMode, Channel, Scope};
use chl_model::{
    AgreementId, BrandId, Category, Currency, Digest, DisputeId, Event, ExportedRecord, GrantId,
    ImportedRecord, Money, OrderId, PartyId, Record, Region, Seq, Sku, StoreId, Text, Timestamp,
};
use chl_state::{Reason, State, SupplierStatus, Verdict, VerdictKind, View, Warning};
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io;

const MICROS_PER_HOUR: i64 = 3_600_000_000;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;
/// A supplier's margin movements shown at most (the ones nearest the sale in time).
const MAX_MARGIN_ITEMS: usize = 100;
/// Hex digits of a hash in the text and Markdown forms (the JSON form has them whole).
const SHORT_HASH: usize = 12;

/// The horizons of a story's verdicts.
pub const AT_SALE: &str = "sale";
pub const AT_DISPUTE: &str = "dispute";
pub const NOW: &str = "now";

/// How a story is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoryOptions {
    /// A record is recorded late when its `recorded_at` is more than this many hours after its
    /// `effective_at`.
    pub late_after_hours: u32,
}

impl Default for StoryOptions {
    fn default() -> StoryOptions {
        StoryOptions { late_after_hours: 24 }
    }
}

/// One happening of the story, with the record that tells it.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `sale`, `refunded`, `dispute_opened`, `dispute_closed`; `issued`, `sub_granted`,
    /// `revoked`, `expires`; `signed`, `terminated`; `admitted`, `suspended`, `reinstated`,
    /// `expelled`; `deposited`, `deducted`, `margin_refunded`; `opened`, `closed`;
    /// `registered`, `policy_set`.
    pub kind: &'static str,
    /// The id it is about (an order, dispute, grant, agreement, supplier, store, brand or sku).
    pub subject: String,
    /// When it took effect; for `expires`, the end of the window.
    pub at: Timestamp,
    /// The record that tells it (for `expires`, the record that set the window).
    pub seq: Seq,
    pub hash: Digest,
    pub recorded_at: Timestamp,
    /// Whole hours from `effective_at` to `recorded_at`, when more than the story's threshold;
    /// null otherwise (and always for `expires`).
    pub recorded_late_hours: Option<u64>,
    pub text: String,
}

/// A margin movement, with the balance it left.
#[derive(Debug, Clone, Serialize)]
pub struct MarginItem {
    #[serde(flatten)]
    pub item: Item,
    /// Signed, in minor units of `currency`.
    pub delta: i64,
    pub currency: Currency,
    /// The balance in `currency` after this movement, every movement known now counted in
    /// effective order.
    pub balance_after: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SaleStory {
    pub seq: Seq,
    pub hash: Digest,
    pub at: Timestamp,
    pub recorded_at: Timestamp,
    pub store: StoreId,
    pub store_name: Text,
    pub operator: PartyId,
    pub channel: Channel,
    /// The region the check judges: the sale's own, else the store's.
    pub region: Option<Region>,
    /// Whether `region` is the store's (the sale named none).
    pub region_from_store: bool,
    pub sku: Sku,
    pub product_name: Option<Text>,
    pub category: Category,
    pub brand: BrandId,
    pub owner: PartyId,
    pub quantity: u32,
    pub unit_price: Money,
    pub price_floor: Option<Money>,
    pub payment_ref: Option<Text>,
}

/// The verdict on the sale as the ledger knew it after record `known_at_seq`.
#[derive(Debug, Clone, Serialize)]
pub struct HorizonVerdict {
    /// `sale`, `dispute` or `now`.
    pub horizon: &'static str,
    pub known_at_seq: Seq,
    /// The dispute whose opening is the horizon (`dispute` only).
    pub dispute: Option<DisputeId>,
    pub verdict: Verdict,
}

/// The revocation that ends a grant: its own, or an ancestor's (revocation cascades).
#[derive(Debug, Clone, Serialize)]
pub struct Revocation {
    pub seq: Seq,
    pub at: Timestamp,
    /// The grant revoked: this one, or the ancestor it was revoked through.
    pub grant: GrantId,
}

#[derive(Debug, Clone, Serialize)]
pub struct GrantStory {
    pub grant: GrantId,
    /// The record that issued it.
    pub seq: Seq,
    pub hash: Digest,
    pub parent: Option<GrantId>,
    pub grantor: PartyId,
    pub grantee: PartyId,
    pub scope: Scope,
    pub channels: Vec<Channel>,
    pub regions: Option<Vec<Region>>,
    pub exclusive: bool,
    pub sublicensable: bool,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    pub revoked: Option<Revocation>,
    /// At the sale's time, as known now: `valid`, `not_yet_valid`, `expired` or `revoked`.
    pub at_sale: &'static str,
    /// What of the sale it does not cover: `sku`, `channel`, `region` (empty: it covers the sale).
    pub does_not_cover: Vec<&'static str>,
}

/// A grant chain some verdict names, root first, and its timeline.
#[derive(Debug, Clone, Serialize)]
pub struct ChainStory {
    /// The horizons whose verdict names this chain.
    pub named_at: Vec<&'static str>,
    pub grants: Vec<GrantStory>,
    /// Issued, sub-granted, revoked and expiry of its grants, in effective order.
    pub events: Vec<Item>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GrantRef {
    pub grant: GrantId,
    pub seq: Seq,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgreementStory {
    pub agreement: AgreementId,
    pub seq: Seq,
    pub hash: Digest,
    pub supplier: PartyId,
    pub distributor: PartyId,
    pub brand: BrandId,
    pub mode: AgreementMode,
    pub scope: Scope,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    /// The horizons whose verdict names this agreement (empty: another agreement of the store's
    /// operator for the brand, named by no verdict).
    pub named_at: Vec<&'static str>,
    /// At the sale's time, as known now: `active`, `not_yet_active`, `ended` or `terminated`.
    pub at_sale: &'static str,
    /// The supplier's status at the sale's time, as known now (null: not admitted then).
    pub supplier_status_at_sale: Option<&'static str>,
    /// Why it could not show the goods' source at the sale, as known now: `not_yet_active`,
    /// `ended`, `terminated`, `out_of_scope_sku`, `supplier_inactive`, `supplier_not_granted`
    /// (a supplier other than the owner held no grant covering the sku then). Empty: it could.
    pub fails_at_sale: Vec<&'static str>,
    /// Signed, terminated, expiry.
    pub events: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Balance {
    pub currency: Currency,
    /// Minor units.
    pub value: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SupplierStory {
    pub supplier: PartyId,
    /// What it is to this sale: `brand owner of B`, `grantor of G`, `holder of G`,
    /// `supplier under A`, `distributor under A`, `operator of S`.
    pub roles: Vec<String>,
    /// `active`, `suspended` or `expelled` at the sale's time as known now; null before admission.
    pub status_at_sale: Option<&'static str>,
    pub status_now: Option<&'static str>,
    pub balance_at_sale: Vec<Balance>,
    pub balance_now: Vec<Balance>,
    /// Admission, suspensions, reinstatements, expulsion, in effective order.
    pub statuses: Vec<Item>,
    /// Deposits, deductions and refunds in effective order (at most 100, those nearest the sale).
    pub margins: Vec<MarginItem>,
    /// Margin movements left out of `margins`.
    pub margins_omitted: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoreStory {
    pub store: StoreId,
    pub name: Text,
    pub operator: PartyId,
    pub channel: Channel,
    pub region: Option<Region>,
    /// Opened and closed.
    pub events: Vec<Item>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyRef {
    pub min_margin: Money,
    pub seq: Seq,
}

/// Something the investigator should know, with the records it rests on.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `verdict_changed`, `grant_recorded_after_sale`, `revocation_recorded_after_sale`,
    /// `recorded_after_sale`, `grant_expired`, `grant_not_yet_valid`, `grant_revoked`,
    /// `revoked_later`, `out_of_scope`, `no_grant`, `owner_store`, `no_agreement`,
    /// `agreement_not_relied_on`, `agreement_without_grant`,
    /// `supplier_not_admitted`, `supplier_suspended`, `supplier_expelled`, `margin_deducted`,
    /// `margin_below_minimum`, `price_below_floor`, `refunded`, `dispute`, `recorded_late`,
    /// `backfilled`.
    pub kind: &'static str,
    pub seqs: Vec<Seq>,
    pub text: String,
}

/// The story of one order (module documentation).
#[derive(Debug, Clone, Serialize)]
pub struct OrderStory {
    pub order: OrderId,
    /// The story is told as the ledger knows it after this record (the durable head).
    pub known_at_seq: Seq,
    pub head_hash: Digest,
    /// The ledger's verifier key, to check a proof bundle of the story's evidence offline.
    pub verifier_key: String,
    pub late_after_hours: u32,
    pub conclusion: String,
    pub sale: SaleStory,
    /// At the sale, at the (first) dispute if one was opened, and now.
    pub verdicts: Vec<HorizonVerdict>,
    /// The sale, its refund, the dispute opened on it and its closing, in seq order.
    pub order_events: Vec<Item>,
    pub store: StoreStory,
    pub grant_chains: Vec<ChainStory>,
    /// Grants of the brand that the store's operator holds outside the chains named.
    pub other_grants_held: Vec<GrantRef>,
    pub agreements: Vec<AgreementStory>,
    pub suppliers: Vec<SupplierStory>,
    /// The platform's minimum margin in force at the sale, as known now.
    pub min_margin_at_sale: Option<PolicyRef>,
    /// The brand's and the product's registration, the minimum-margin policy in force.
    pub context: Vec<Item>,
    pub findings: Vec<Finding>,
    /// The export form of every record the story cites, in seq order.
    pub records: Vec<TimelineEntry>,
}

// ---- building -----------------------------------------------------------------------------

/// Reads records by seq, once each.
struct Reader<'a> {
    ledger: &'a Ledger,
    read: BTreeMap<Seq, (Record, Digest)>,
    late_after_micros: i64,
}

impl Reader<'_> {
    fn record(&mut self, seq: Seq) -> Result<&(Record, Digest), LedgerError> {
        if !self.read.contains_key(&seq) {
            let found = self.ledger.read(seq)?;
            self.read.insert(seq, found);
        }
        Ok(&self.read[&seq])
    }

    fn item(&mut self, kind: &'static str, subject: &dyn ToString, seq: Seq) -> Result<Item, LedgerError> {
        let late_after = self.late_after_micros;
        let (record, hash) = self.record(seq)?;
        Ok(Item {
            kind,
            subject: subject.to_string(),
            at: record.effective_at,
            seq,
            hash: *hash,
            recorded_at: record.recorded_at,
            recorded_late_hours: lateness(record, late_after),
            text: describe(record),
        })
    }
}

fn lateness(record: &Record, late_after_micros: i64) -> Option<u64> {
    let lag = record.recorded_at.unix_micros().saturating_sub(record.effective_at.unix_micros());
    (lag > late_after_micros).then_some((lag / MICROS_PER_HOUR) as u64)
}

fn inconsistent(order: &OrderId, what: String) -> LedgerError {
    LedgerError::Io {
        context: format!("tell the story of order {order}"),
        error: io::Error::new(io::ErrorKind::InvalidData, what),
    }
}

/// What the story needs of the sale while judging grants and agreements.
struct SaleContext<'a> {
    at: Timestamp,
    sku: &'a Sku,
    category: &'a Category,
    channel: Channel,
    region: Option<&'a Region>,
    head: Seq,
}

pub(crate) fn order_story(
    ledger: &Ledger,
    order: &OrderId,
    options: StoryOptions,
) -> Result<Option<OrderStory>, LedgerError> {
    let state = ledger.loaded_state()?;
    let Some(head) = ledger.head() else { return Ok(None) };
    let Some(entry) = state.order(order).copied().filter(|o| o.recorded.seq <= head.seq) else {
        return Ok(None);
    };
    let mut reader = Reader {
        ledger,
        read: BTreeMap::new(),
        late_after_micros: i64::from(options.late_after_hours) * MICROS_PER_HOUR,
    };
    let known = |seq: Seq| seq <= head.seq;
    let sale_seq = entry.recorded.seq;
    let (sale_record, sale_hash) = reader.record(sale_seq)?.clone();
    let Event::SaleRecorded(sale) = &sale_record.event else {
        return Err(inconsistent(order, format!("seq {sale_seq} is indexed as the order but is not a sale")));
    };
    let t = sale_record.effective_at;
    let store = state
        .store(&sale.store)
        .ok_or_else(|| inconsistent(order, format!("store {} is not in the state", sale.store)))?;
    let product = state
        .product(&sale.sku)
        .ok_or_else(|| inconsistent(order, format!("sku {} is not in the state", sale.sku)))?;
    let brand = state
        .brand(&product.brand)
        .ok_or_else(|| inconsistent(order, format!("brand {} is not in the state", product.brand)))?;
    let region = sale.region.clone().or_else(|| store.region.clone());
    let ctx = SaleContext {
        at: t,
        sku: &sale.sku,
        category: &product.category,
        channel: store.channel,
        region: region.as_ref(),
        head: head.seq,
    };
    let product_name = match &reader.record(product.registered.seq)?.0.event {
        Event::ProductRegistered(p) => Some(p.name.clone()),
        _ => None,
    };

    // The verdicts at three horizons.
    let mut verdicts = vec![HorizonVerdict {
        horizon: AT_SALE,
        known_at_seq: sale_seq,
        dispute: None,
        verdict: ledger.check_order(order, Some(sale_seq))?,
    }];
    let disputed = entry.disputed.filter(|d| known(d.seq));
    let mut dispute_id: Option<DisputeId> = None;
    if let Some(opened) = disputed {
        if let Event::DisputeOpened(e) = &reader.record(opened.seq)?.0.event {
            dispute_id = Some(e.dispute.clone());
        }
        verdicts.push(HorizonVerdict {
            horizon: AT_DISPUTE,
            known_at_seq: opened.seq,
            dispute: dispute_id.clone(),
            verdict: ledger.check_order(order, Some(opened.seq))?,
        });
    }
    verdicts.push(HorizonVerdict {
        horizon: NOW,
        known_at_seq: head.seq,
        dispute: None,
        verdict: ledger.check_order(order, None)?,
    });

    // The order's own records.
    let mut order_events = vec![reader.item("sale", order, sale_seq)?];
    if let Some(refund) = entry.refunded.filter(|r| known(r.seq)) {
        order_events.push(reader.item("refunded", order, refund.seq)?);
    }
    let mut dispute_closing = None;
    if let (Some(opened), Some(id)) = (disputed, &dispute_id) {
        order_events.push(reader.item("dispute_opened", id, opened.seq)?);
        if let Some(closed) = state.dispute(id).and_then(|d| d.closed).filter(|c| known(c.seq)) {
            order_events.push(reader.item("dispute_closed", id, closed.seq)?);
            dispute_closing = Some(closed.seq);
        }
    }
    order_events.sort_by_key(|i| i.seq);

    // The store, the brand, the product, the policy in force.
    let mut store_events = vec![reader.item("opened", &sale.store, store.opened.seq)?];
    if let Some(closed) = store.closed.filter(|c| known(c.seq)) {
        store_events.push(reader.item("closed", &sale.store, closed.seq)?);
    }
    let mut context = vec![
        reader.item("registered", &product.brand, brand.registered.seq)?,
        reader.item("registered", &sale.sku, product.registered.seq)?,
    ];
    let at_sale = View { at: t, known: head.seq };
    let policy =
        state.min_margin(at_sale).map(|p| PolicyRef { min_margin: p.min_margin.clone(), seq: p.set.seq });
    if let Some(p) = &policy {
        context.push(reader.item("policy_set", &"platform", p.seq)?);
    }
    context.sort_by_key(|i| i.seq);

    // Grant chains named at any horizon.
    let mut named_chains: Vec<(Vec<GrantId>, Vec<&'static str>)> = Vec::new();
    for hv in &verdicts {
        let ids: Vec<GrantId> = hv.verdict.grant_chain.iter().map(|l| l.grant.clone()).collect();
        if ids.is_empty() {
            continue;
        }
        match named_chains.iter_mut().find(|(chain, _)| *chain == ids) {
            Some((_, named)) => named.push(hv.horizon),
            None => named_chains.push((ids, vec![hv.horizon])),
        }
    }
    let mut grant_chains = Vec::new();
    for (ids, named_at) in named_chains {
        let mut grants = Vec::new();
        let mut events: Vec<Item> = Vec::new();
        for id in &ids {
            let (story, items) = grant_story(state, &mut reader, id, &ctx)?;
            grants.push(story);
            for item in items {
                if !events
                    .iter()
                    .any(|e| e.kind == item.kind && e.seq == item.seq && e.subject == item.subject)
                {
                    events.push(item);
                }
            }
        }
        events.sort_by_key(|e| (e.at, e.seq));
        grant_chains.push(ChainStory { named_at, grants, events });
    }
    let in_chains: BTreeSet<&GrantId> =
        grant_chains.iter().flat_map(|c| c.grants.iter().map(|g| &g.grant)).collect();
    let other_grants_held: Vec<GrantRef> = state
        .grants_held(&store.operator, &product.brand)
        .filter(|(id, g)| known(g.issued.seq) && !in_chains.contains(id))
        .map(|(id, g)| GrantRef { grant: id.clone(), seq: g.issued.seq })
        .collect();

    // Agreements named at any horizon, then the store operator's other agreements of the brand.
    let mut named_agreements: Vec<(AgreementId, Vec<&'static str>)> = Vec::new();
    for hv in &verdicts {
        if let Some(a) = &hv.verdict.agreement {
            match named_agreements.iter_mut().find(|(id, _)| *id == a.agreement) {
                Some((_, named)) => named.push(hv.horizon),
                None => named_agreements.push((a.agreement.clone(), vec![hv.horizon])),
            }
        }
    }
    for (id, a) in state.agreements_held(&store.operator, &product.brand) {
        if known(a.signed.seq) && !named_agreements.iter().any(|(named, _)| named == id) {
            named_agreements.push((id.clone(), Vec::new()));
        }
    }
    let mut agreements = Vec::new();
    for (id, named_at) in named_agreements {
        let Some(a) = state.agreement(&id) else { continue };
        agreements.push(agreement_story(state, &mut reader, &id, a, named_at, &brand.owner, &ctx)?);
    }

    // The suppliers involved.
    let mut involved: Vec<(PartyId, Vec<String>)> = Vec::new();
    let mut involve = |party: &PartyId, role: String| {
        if state.supplier(party).is_none() {
            return;
        }
        match involved.iter_mut().find(|(p, _)| p == party) {
            Some((_, roles)) => {
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
            None => involved.push((party.clone(), vec![role])),
        }
    };
    involve(&brand.owner, format!("brand owner of {}", product.brand));
    for chain in &grant_chains {
        for g in &chain.grants {
            involve(&g.grantor, format!("grantor of {}", g.grant));
            involve(&g.grantee, format!("holder of {}", g.grant));
        }
    }
    for a in &agreements {
        involve(&a.supplier, format!("supplier under {}", a.agreement));
        involve(&a.distributor, format!("distributor under {}", a.agreement));
    }
    involve(&store.operator, format!("operator of {}", sale.store));
    let mut suppliers = Vec::new();
    for (party, roles) in involved {
        suppliers.push(supplier_story(state, &mut reader, &party, roles, &ctx)?);
    }

    let sale_story = SaleStory {
        seq: sale_seq,
        hash: sale_hash,
        at: t,
        recorded_at: sale_record.recorded_at,
        store: sale.store.clone(),
        store_name: store.name.clone(),
        operator: store.operator.clone(),
        channel: store.channel,
        region: region.clone(),
        region_from_store: sale.region.is_none() && store.region.is_some(),
        sku: sale.sku.clone(),
        product_name,
        category: product.category.clone(),
        brand: product.brand.clone(),
        owner: brand.owner.clone(),
        quantity: sale.quantity.get(),
        unit_price: sale.unit_price.clone(),
        price_floor: product.price_floor.clone(),
        payment_ref: sale.payment_ref.clone(),
    };
    let store_story = StoreStory {
        store: sale.store.clone(),
        name: store.name.clone(),
        operator: store.operator.clone(),
        channel: store.channel,
        region: store.region.clone(),
        events: store_events,
    };

    let mut story = OrderStory {
        order: order.clone(),
        known_at_seq: head.seq,
        head_hash: head.hash,
        verifier_key: ledger.verifier_key(),
        late_after_hours: options.late_after_hours,
        conclusion: String::new(),
        sale: sale_story,
        verdicts,
        order_events,
        store: store_story,
        grant_chains,
        other_grants_held,
        agreements,
        suppliers,
        min_margin_at_sale: policy,
        context,
        findings: Vec::new(),
        records: Vec::new(),
    };
    story.findings = findings(&story, dispute_closing);
    story.conclusion = conclusion(&story);
    let mut records = Vec::with_capacity(reader.read.len());
    for (seq, (record, hash)) in &reader.read {
        records.push(export_entry(*seq, record, *hash)?);
    }
    story.records = records;
    Ok(Some(story))
}

/// A grant of a named chain, and its items: issued (or sub-granted), its own revocation, its
/// expiry.
fn grant_story(
    state: &State,
    reader: &mut Reader<'_>,
    id: &GrantId,
    ctx: &SaleContext<'_>,
) -> Result<(GrantStory, Vec<Item>), LedgerError> {
    let g = state
        .grant(id)
        .ok_or_else(|| LedgerError::Proof(format!("grant {id} named by a verdict is not in the state")))?;
    let d = &g.data;
    let issued_kind = if d.parent.is_some() { "sub_granted" } else { "issued" };
    let issued = reader.item(issued_kind, id, g.issued.seq)?;
    let mut items = vec![issued.clone()];
    if let Some(own) = g.revoked.filter(|r| r.seq <= ctx.head) {
        items.push(reader.item("revoked", id, own.seq)?);
    }
    items.push(Item {
        kind: "expires",
        subject: id.to_string(),
        at: d.valid_until,
        recorded_late_hours: None,
        text: format!("grant {id} expires (the end of its window), {}", relative(d.valid_until, ctx.at)),
        ..issued.clone()
    });
    let revoked = state.revocation(id, ctx.head).map(|(stamp, grant)| Revocation {
        seq: stamp.seq,
        at: stamp.effective_at,
        grant,
    });
    let at_sale = if ctx.at < g.issued.effective_at.max(d.valid_from) {
        "not_yet_valid"
    } else if ctx.at >= d.valid_until {
        "expired"
    } else if revoked.as_ref().is_some_and(|r| r.at <= ctx.at) {
        "revoked"
    } else {
        "valid"
    };
    let mut does_not_cover = Vec::new();
    if !chl_state::scope::covers(&d.scope, ctx.sku, ctx.category) {
        does_not_cover.push("sku");
    }
    if !d.channels.contains(&ctx.channel) {
        does_not_cover.push("channel");
    }
    if !chl_state::scope::covers_region(&d.regions, ctx.region) {
        does_not_cover.push("region");
    }
    let story = GrantStory {
        grant: id.clone(),
        seq: g.issued.seq,
        hash: issued.hash,
        parent: d.parent.clone(),
        grantor: d.grantor.clone(),
        grantee: d.grantee.clone(),
        scope: d.scope.clone(),
        channels: d.channels.clone(),
        regions: d.regions.clone(),
        exclusive: d.exclusive,
        sublicensable: d.sublicensable,
        valid_from: d.valid_from,
        valid_until: d.valid_until,
        revoked,
        at_sale,
        does_not_cover,
    };
    Ok((story, items))
}

fn agreement_story(
    state: &State,
    reader: &mut Reader<'_>,
    id: &AgreementId,
    a: &chl_state::facts::Agreement,
    named_at: Vec<&'static str>,
    owner: &PartyId,
    ctx: &SaleContext<'_>,
) -> Result<AgreementStory, LedgerError> {
    let d = &a.data;
    let signed = reader.item("signed", id, a.signed.seq)?;
    let mut events = vec![signed.clone()];
    if let Some(end) = a.terminated.filter(|e| e.seq <= ctx.head) {
        events.push(reader.item("terminated", id, end.seq)?);
    }
    events.push(Item {
        kind: "expires",
        subject: id.to_string(),
        at: d.valid_until,
        recorded_late_hours: None,
        text: format!("agreement {id} ends (the end of its window), {}", relative(d.valid_until, ctx.at)),
        ..signed.clone()
    });
    events.sort_by_key(|e| (e.at, e.seq));
    let view = View { at: ctx.at, known: ctx.head };
    let at_sale = if ctx.at < a.signed.effective_at.max(d.valid_from) {
        "not_yet_active"
    } else if ctx.at >= d.valid_until {
        "ended"
    } else if view.sees_end(a.terminated) {
        "terminated"
    } else {
        "active"
    };
    let mut fails_at_sale = Vec::new();
    if at_sale != "active" {
        fails_at_sale.push(at_sale);
    }
    if !chl_state::scope::covers(&d.scope, ctx.sku, ctx.category) {
        fails_at_sale.push("out_of_scope_sku");
    }
    let supplier_status = state.supplier(&d.supplier).and_then(|s| s.status(view)).map(|(_, st)| st);
    if supplier_status != Some(SupplierStatus::Active) {
        fails_at_sale.push("supplier_inactive");
    }
    if d.supplier != *owner
        && !state.grants_held(&d.supplier, &d.brand).any(|(gid, g)| {
            state.grant_holds(gid, view) && chl_state::scope::covers(&g.data.scope, ctx.sku, ctx.category)
        })
    {
        fails_at_sale.push("supplier_not_granted");
    }
    Ok(AgreementStory {
        agreement: id.clone(),
        seq: a.signed.seq,
        hash: signed.hash,
        supplier: d.supplier.clone(),
        distributor: d.distributor.clone(),
        brand: d.brand.clone(),
        mode: d.mode,
        scope: d.scope.clone(),
        valid_from: d.valid_from,
        valid_until: d.valid_until,
        named_at,
        at_sale,
        supplier_status_at_sale: supplier_status.map(SupplierStatus::describe),
        fails_at_sale,
        events,
    })
}

fn supplier_story(
    state: &State,
    reader: &mut Reader<'_>,
    party: &PartyId,
    roles: Vec<String>,
    ctx: &SaleContext<'_>,
) -> Result<SupplierStory, LedgerError> {
    let s = state.supplier(party).expect("only suppliers are involved");
    let at_sale = View { at: ctx.at, known: ctx.head };
    let now = View { at: Timestamp::MAX, known: ctx.head };
    let mut statuses = Vec::new();
    for (i, (stamp, status)) in s.statuses.iter().enumerate().filter(|(_, (stamp, _))| stamp.seq <= ctx.head)
    {
        let kind = match (i, status) {
            (0, _) => "admitted",
            (_, SupplierStatus::Active) => "reinstated",
            (_, SupplierStatus::Suspended) => "suspended",
            (_, SupplierStatus::Expelled) => "expelled",
        };
        statuses.push(reader.item(kind, party, stamp.seq)?);
    }
    let movements: Vec<_> = s.margins.iter().filter(|(stamp, _, _)| stamp.seq <= ctx.head).collect();
    let mut running: Vec<Balance> = Vec::new();
    let mut after = Vec::with_capacity(movements.len());
    for (_, delta, currency) in &movements {
        let value = match running.iter_mut().find(|b| b.currency == *currency) {
            Some(b) => {
                b.value += delta;
                b.value
            }
            None => {
                running.push(Balance { currency: currency.clone(), value: *delta });
                *delta
            }
        };
        after.push(value);
    }
    // Keep the movements nearest the sale in time when there are too many to show.
    let mut shown: Vec<usize> = (0..movements.len()).collect();
    if shown.len() > MAX_MARGIN_ITEMS {
        shown.sort_by_key(|&i| {
            (movements[i].0.effective_at.unix_micros() - ctx.at.unix_micros()).unsigned_abs()
        });
        shown.truncate(MAX_MARGIN_ITEMS);
        shown.sort_unstable();
    }
    let mut margins = Vec::with_capacity(shown.len());
    for &i in &shown {
        let (stamp, delta, currency) = movements[i];
        let kind = match &reader.record(stamp.seq)?.0.event {
            Event::MarginDeposited(_) => "deposited",
            Event::MarginDeducted(_) => "deducted",
            _ => "margin_refunded",
        };
        let item = reader.item(kind, party, stamp.seq)?;
        margins.push(MarginItem { item, delta: *delta, currency: currency.clone(), balance_after: after[i] });
    }
    let balances = |view: View| -> Vec<Balance> {
        running
            .iter()
            .map(|b| Balance { currency: b.currency.clone(), value: s.balance(&b.currency, view) })
            .collect()
    };
    Ok(SupplierStory {
        supplier: party.clone(),
        roles,
        status_at_sale: s.status(at_sale).map(|(_, st)| st.describe()),
        status_now: s.status(now).map(|(_, st)| st.describe()),
        balance_at_sale: balances(at_sale),
        balance_now: balances(now),
        statuses,
        margins,
        margins_omitted: movements.len() - shown.len(),
    })
}

fn export_entry(seq: Seq, record: &Record, hash: Digest) -> Result<TimelineEntry, LedgerError> {
    let failed = |error: io::Error| LedgerError::Io { context: "write a story record".into(), error };
    let mut json = Vec::with_capacity(512);
    ExportedRecord { record, hash }.write_json(&mut json).map_err(|e| failed(e.into()))?;
    let json = String::from_utf8(json).map_err(|e| failed(io::Error::new(io::ErrorKind::InvalidData, e)))?;
    let raw = RawValue::from_string(json).map_err(|e| failed(e.into()))?;
    Ok(TimelineEntry { seq, hash, record: raw })
}

// ---- findings and conclusion ----------------------------------------------------------------

impl OrderStory {
    pub fn verdict_at(&self, horizon: &str) -> Option<&HorizonVerdict> {
        self.verdicts.iter().find(|v| v.horizon == horizon)
    }

    fn now(&self) -> &HorizonVerdict {
        self.verdict_at(NOW).expect("a story has a verdict now")
    }

    fn at_sale(&self) -> &HorizonVerdict {
        self.verdict_at(AT_SALE).expect("a story has a verdict at the sale")
    }

    /// Every record-backed item of the story but the sale, once each (by seq), in seq order.
    fn record_items(&self) -> Vec<&Item> {
        let mut items: Vec<&Item> = Vec::new();
        let all = self
            .order_events
            .iter()
            .chain(&self.store.events)
            .chain(&self.context)
            .chain(self.grant_chains.iter().flat_map(|c| &c.events))
            .chain(self.agreements.iter().flat_map(|a| &a.events))
            .chain(
                self.suppliers
                    .iter()
                    .flat_map(|s| s.statuses.iter().chain(s.margins.iter().map(|m| &m.item))),
            );
        for item in all {
            if item.kind != "expires" && item.kind != "sale" && !items.iter().any(|i| i.seq == item.seq) {
                items.push(item);
            }
        }
        items.sort_by_key(|i| i.seq);
        items
    }

    /// Every verdict at every horizon is the same (kind and reasons).
    fn same_everywhere(&self) -> bool {
        let now = &self.now().verdict;
        self.verdicts.iter().all(|v| v.verdict.verdict == now.verdict && v.verdict.reasons == now.reasons)
    }
}

fn findings(story: &OrderStory, dispute_closing: Option<Seq>) -> Vec<Finding> {
    let mut out = Vec::new();
    let sale = &story.sale;
    let t = sale.at;
    let now = &story.now().verdict;
    let order_seqs: BTreeSet<Seq> =
        story.order_events.iter().filter(|i| i.kind != "sale").map(|i| i.seq).collect();

    // The verdict changed between horizons.
    if !story.same_everywhere() {
        let mut changed_by: BTreeSet<Seq> = BTreeSet::new();
        for hv in story.verdicts.iter().filter(|v| v.horizon != AT_SALE) {
            changed_by.extend(
                hv.verdict.evidence.iter().copied().filter(|s| *s > sale.seq && !order_seqs.contains(s)),
            );
        }
        let horizons: Vec<String> = story
            .verdicts
            .iter()
            .map(|hv| format!("{} {}", verdict_phrase(&hv.verdict), horizon_phrase(hv)))
            .collect();
        let by = if changed_by.is_empty() {
            String::new()
        } else {
            format!("; records made after the sale that the later answers rest on: {}", seq_list(&changed_by))
        };
        out.push(Finding {
            kind: "verdict_changed",
            seqs: changed_by.iter().copied().collect(),
            text: format!("The verdict changed after the sale: {}{by}.", horizons.join(", ")),
        });
    }

    // Records made after the sale that take effect before it.
    let items = story.record_items();
    let mut explained_late: BTreeSet<Seq> = BTreeSet::new();
    for item in items.iter().filter(|i| i.seq > sale.seq && i.at <= t && !order_seqs.contains(&i.seq)) {
        let delay = item.recorded_at.unix_micros() - sale.recorded_at.unix_micros();
        let when = if delay >= 60_000_000 {
            format!(", {} after the sale was recorded", span(delay))
        } else {
            String::new()
        };
        let late = match item.recorded_late_hours {
            Some(_) => {
                explained_late.insert(item.seq);
                format!(
                    "; it was recorded {} after the time it claims",
                    span(item.recorded_at.unix_micros() - item.at.unix_micros())
                )
            }
            None => String::new(),
        };
        let (kind, text) = match item.kind {
            "issued" | "sub_granted" => (
                "grant_recorded_after_sale",
                format!(
                    "Grant {} was recorded after the sale it is relied on for (seq {}; the sale is seq {}){when}, \
                     though it claims effect from {}, {}: a sign of backdating{late}.",
                    item.subject,
                    item.seq,
                    sale.seq,
                    short_time(item.at),
                    relative(item.at, t)
                ),
            ),
            "revoked" => (
                "revocation_recorded_after_sale",
                format!(
                    "The revocation of grant {} was recorded after the sale (seq {}; the sale is seq {}){when}, but \
                     takes effect from {}, {}: it counts against the sale only as known from seq {} on{late}.",
                    item.subject,
                    item.seq,
                    sale.seq,
                    short_time(item.at),
                    relative(item.at, t),
                    item.seq
                ),
            ),
            _ => (
                "recorded_after_sale",
                format!(
                    "Seq {} ({}) was recorded after the sale (seq {}){when}, but takes effect from {}, {}{late}.",
                    item.seq,
                    item.text,
                    sale.seq,
                    short_time(item.at),
                    relative(item.at, t)
                ),
            ),
        };
        out.push(Finding { kind, seqs: vec![item.seq], text });
    }

    // The chains named: what held and what did not at the sale.
    let mut seen: BTreeSet<&GrantId> = BTreeSet::new();
    for chain in &story.grant_chains {
        for g in &chain.grants {
            if !seen.insert(&g.grant) {
                continue;
            }
            match g.at_sale {
                "expired" => out.push(Finding {
                    kind: "grant_expired",
                    seqs: vec![g.seq],
                    text: format!(
                        "Grant {} (seq {}) expired on {}, {}.",
                        g.grant,
                        g.seq,
                        short_time(g.valid_until),
                        relative(g.valid_until, t)
                    ),
                }),
                "not_yet_valid" => out.push(Finding {
                    kind: "grant_not_yet_valid",
                    seqs: vec![g.seq],
                    text: format!(
                        "Grant {} (seq {}) was not valid yet at the sale: its window opens {}.",
                        g.grant,
                        g.seq,
                        short_time(g.valid_from)
                    ),
                }),
                _ => {}
            }
            if let Some(r) = &g.revoked {
                let through = if r.grant == g.grant {
                    String::new()
                } else {
                    format!(" through its ancestor {}", r.grant)
                };
                if r.at <= t && r.seq < sale.seq {
                    out.push(Finding {
                        kind: "grant_revoked",
                        seqs: vec![r.seq],
                        text: format!(
                            "Grant {} was revoked{through} from {} (seq {}), {}.",
                            g.grant,
                            short_time(r.at),
                            r.seq,
                            relative(r.at, t)
                        ),
                    });
                } else if r.at > t {
                    out.push(Finding {
                        kind: "revoked_later",
                        seqs: vec![r.seq],
                        text: format!(
                            "Grant {} was revoked{through} from {} (seq {}), {}: that does not undo the sale's \
                             authorization, only later sales'.",
                            g.grant,
                            short_time(r.at),
                            r.seq,
                            relative(r.at, t)
                        ),
                    });
                }
            }
            let mut gaps = Vec::new();
            for what in &g.does_not_cover {
                gaps.push(match *what {
                    "sku" => format!("the sku {} (its scope: {})", sale.sku, scope_text(&g.scope)),
                    "channel" => format!(
                        "the store's channel {} (it lists {})",
                        name_of(&sale.channel),
                        g.channels.iter().map(name_of).collect::<Vec<_>>().join(", ")
                    ),
                    _ => format!(
                        "the region {} (it lists {})",
                        sale.region.as_ref().map_or_else(|| "none".to_owned(), |r| r.to_string()),
                        regions_text(&g.regions)
                    ),
                });
            }
            if !gaps.is_empty() {
                out.push(Finding {
                    kind: "out_of_scope",
                    seqs: vec![g.seq],
                    text: format!(
                        "Grant {} (seq {}) does not cover {}.",
                        g.grant,
                        g.seq,
                        gaps.join(", nor ")
                    ),
                });
            }
        }
    }
    if sale.operator == sale.owner {
        out.push(Finding {
            kind: "owner_store",
            seqs: vec![story.store.events[0].seq],
            text: format!(
                "Store {} is run by the brand owner {} itself: it needs neither grant nor agreement.",
                sale.store, sale.owner
            ),
        });
    } else if story.grant_chains.is_empty() {
        let text = if story.other_grants_held.is_empty() {
            format!(
                "{} never held a grant of {}, as far as the ledger knows (through seq {}): the seller was never \
                 authorized.",
                sale.operator, sale.brand, story.known_at_seq
            )
        } else {
            format!(
                "{} holds grants of {}, but no chain of them was tried for this sale.",
                sale.operator, sale.brand
            )
        };
        out.push(Finding { kind: "no_grant", seqs: Vec::new(), text });
    }
    if story.agreements.is_empty() && sale.operator != sale.owner {
        out.push(Finding {
            kind: "no_agreement",
            seqs: Vec::new(),
            text: format!(
                "{} never signed an agreement for {} as distributor, as far as the ledger knows (through seq {}): \
                 nothing shows where the goods came from.",
                sale.operator, sale.brand, story.known_at_seq
            ),
        });
    }
    if now.verdict == VerdictKind::Unauthorized {
        for a in story.agreements.iter().filter(|a| a.fails_at_sale.is_empty()) {
            out.push(Finding {
                kind: "agreement_without_grant",
                seqs: vec![a.seq],
                text: format!(
                    "Agreement {} (seq {}) was in force at the sale, but an agreement shows where goods came from, \
                     not that the seller may sell them: without a grant chain that holds, the sale is unauthorized.",
                    a.agreement, a.seq
                ),
            });
        }
    }
    for a in story.agreements.iter().filter(|a| !a.named_at.contains(&NOW) && !a.fails_at_sale.is_empty()) {
        out.push(Finding {
            kind: "agreement_not_relied_on",
            seqs: vec![a.seq],
            text: format!(
                "Agreement {} (seq {}) could not show the goods' source at the sale: {}.",
                a.agreement,
                a.seq,
                agreement_failures(a, sale).join("; ")
            ),
        });
    }

    // Suppliers' standing and margins.
    for s in &story.suppliers {
        let who = format!("{} ({})", s.supplier, s.roles.join(", "));
        if s.status_at_sale.is_none() {
            out.push(Finding {
                kind: "supplier_not_admitted",
                seqs: s.statuses.first().map(|i| i.seq).into_iter().collect(),
                text: format!("{who} was not yet an admitted supplier at the sale."),
            });
        }
        for (i, item) in s.statuses.iter().enumerate() {
            let kind = match item.kind {
                "suspended" => "supplier_suspended",
                "expelled" => "supplier_expelled",
                _ => continue,
            };
            let mut seqs = vec![item.seq];
            let mut text = format!(
                "{who} was {} from {} (seq {}), {}: {}",
                item.kind,
                short_time(item.at),
                item.seq,
                relative(item.at, t),
                reason_of(&item.text)
            );
            match s.statuses.get(i + 1) {
                Some(next) if next.kind == "reinstated" => {
                    seqs.push(next.seq);
                    let _ = write!(text, "; reinstated from {} (seq {})", short_time(next.at), next.seq);
                    if item.at <= t && t < next.at {
                        text.push_str("; so suspended at the sale");
                    }
                }
                _ if item.at <= t => text.push_str("; still so at the sale"),
                _ => {}
            }
            text.push('.');
            out.push(Finding { kind, seqs, text });
        }
        for m in s.margins.iter().filter(|m| m.item.kind == "deducted") {
            out.push(Finding {
                kind: "margin_deducted",
                seqs: vec![m.item.seq],
                text: format!(
                    "{} was deducted from the margin of {who} on {} (seq {}), {}: {}; the balance left was {}{}.",
                    amount(-m.delta, &m.currency),
                    short_time(m.item.at),
                    m.item.seq,
                    relative(m.item.at, t),
                    reason_of(&m.item.text),
                    amount(m.balance_after, &m.currency),
                    match &story.min_margin_at_sale {
                        Some(p) if *p.min_margin.currency() == m.currency && m.balance_after < p.min_margin.value() => {
                            format!(
                                ", below the platform's minimum of {} (seq {}): it may issue no grant and sign no \
                                 agreement until it pays in again",
                                money(&p.min_margin),
                                p.seq
                            )
                        }
                        _ => String::new(),
                    }
                ),
            });
        }
        if let Some(policy) = &story.min_margin_at_sale {
            let min = &policy.min_margin;
            let balance =
                s.balance_at_sale.iter().find(|b| b.currency == *min.currency()).map_or(0, |b| b.value);
            if balance < min.value() {
                out.push(Finding {
                    kind: "margin_below_minimum",
                    seqs: vec![policy.seq],
                    text: format!(
                        "The margin of {who} was {} at the sale, below the platform's minimum of {} (seq {}).",
                        amount(balance, min.currency()),
                        money(min),
                        policy.seq
                    ),
                });
            }
        }
    }

    // The sale itself, its refund and dispute.
    if now.warnings.contains(&Warning::PriceBelowFloor)
        && let Some(floor) = &sale.price_floor
    {
        out.push(Finding {
            kind: "price_below_floor",
            seqs: vec![sale.seq],
            text: format!(
                "Sold at {} each, under the product's price floor of {}.",
                money(&sale.unit_price),
                money(floor)
            ),
        });
    }
    for item in &story.order_events {
        match item.kind {
            "refunded" => out.push(Finding {
                kind: "refunded",
                seqs: vec![item.seq],
                text: format!(
                    "The order was refunded from {} (seq {}): {}.",
                    short_time(item.at),
                    item.seq,
                    reason_of(&item.text)
                ),
            }),
            "dispute_opened" => {
                let closing = story.order_events.iter().find(|i| Some(i.seq) == dispute_closing);
                let mut seqs = vec![item.seq];
                let mut text = format!(
                    "Dispute {} was opened on {} (seq {}), {}: {}",
                    item.subject,
                    short_time(item.at),
                    item.seq,
                    relative(item.at, t),
                    reason_of(&item.text)
                );
                match closing {
                    Some(c) => {
                        seqs.push(c.seq);
                        let _ = write!(
                            text,
                            "; closed on {} (seq {}): {}",
                            short_time(c.at),
                            c.seq,
                            reason_of(&c.text)
                        );
                    }
                    None => text.push_str("; still open"),
                }
                text.push('.');
                out.push(Finding { kind: "dispute", seqs, text });
            }
            _ => {}
        }
    }

    // Records made late.
    let sale_late =
        story.order_events.iter().find(|i| i.kind == "sale").is_some_and(|i| i.recorded_late_hours.is_some());
    if sale_late && items.iter().all(|i| i.recorded_late_hours.is_some()) {
        out.push(Finding {
            kind: "backfilled",
            seqs: Vec::new(),
            text: format!(
                "Every record of this story was recorded more than {} h after it took effect (a history imported \
                 after the fact): recording times say nothing here; the seqs tell what was known when.",
                story.late_after_hours
            ),
        });
    } else {
        let sale_item = story.order_events.iter().filter(|i| i.kind == "sale");
        let mut late: Vec<&Item> = items
            .iter()
            .copied()
            .chain(sale_item)
            .filter(|i| i.recorded_late_hours.is_some() && !explained_late.contains(&i.seq))
            .collect();
        late.sort_by_key(|i| i.seq);
        for item in late {
            out.push(Finding {
                kind: "recorded_late",
                seqs: vec![item.seq],
                text: format!(
                    "Seq {} ({}) was recorded {} after it took effect ({}).",
                    item.seq,
                    item.text,
                    span(item.recorded_at.unix_micros() - item.at.unix_micros()),
                    short_time(item.at)
                ),
            });
        }
    }
    out
}

fn conclusion(story: &OrderStory) -> String {
    let now = &story.now().verdict;
    let at_sale = &story.at_sale().verdict;
    let mut text = if story.same_everywhere() {
        let sale = &story.sale;
        let chain = story.grant_chains.iter().find(|c| c.named_at.contains(&NOW));
        let through = match chain {
            Some(c) => {
                let ids: Vec<String> = c.grants.iter().map(|g| g.grant.to_string()).collect();
                format!("{} is authorized through {}", sale.operator, ids.join(" -> "))
            }
            None => format!("the store is the brand owner {}'s own", sale.owner),
        };
        let mut base = match now.verdict {
            VerdictKind::Authentic => {
                let sourced = now
                    .agreement
                    .as_ref()
                    .map_or(String::new(), |a| format!(" and sourced under agreement {}", a.agreement));
                format!("Authentic at every horizon: {through}{sourced}")
            }
            VerdictKind::UnverifiedSource => {
                let failed: Vec<String> = story
                    .agreements
                    .iter()
                    .filter(|a| !a.fails_at_sale.is_empty())
                    .map(|a| format!("agreement {}: {}", a.agreement, agreement_failures(a, sale).join(", ")))
                    .collect();
                let failed =
                    if failed.is_empty() { String::new() } else { format!(" ({})", failed.join("; ")) };
                format!(
                    "An authorized seller at every horizon ({through}), but no agreement shows where the goods came from{failed}"
                )
            }
            _ => format!(
                "Unauthorized at every horizon ({}): {}",
                reason_list(&now.reasons),
                why_unauthorized(story)
            ),
        };
        if now.warnings.contains(&Warning::GrantRecordedAfterSale) {
            base.push_str(", though the authorization rests on a grant recorded after the sale: check it for backdating");
        }
        if now.warnings.contains(&Warning::RevokedLater) {
            let revocation = story
                .findings
                .iter()
                .find(|f| f.kind == "revoked_later")
                .map_or(String::new(), |f| format!(" (seq {})", seq_list(f.seqs.iter())));
            base.push_str(&format!(
                "; a grant relied on was revoked after the sale{revocation}, which does not undo it"
            ));
        }
        base
    } else {
        let mut base = format!(
            "{} as the ledger knows it now (seq {}), but {} as known when the sale was recorded (seq {})",
            verdict_phrase(now),
            story.known_at_seq,
            verdict_phrase(at_sale),
            story.sale.seq
        );
        if let Some(d) = story.verdict_at(AT_DISPUTE) {
            let same = |a: &Verdict, b: &Verdict| a.verdict == b.verdict && a.reasons == b.reasons;
            let dispute = d.dispute.as_ref().map_or("?".to_owned(), |d| d.to_string());
            if same(&d.verdict, at_sale) {
                let _ = write!(base, " and still when dispute {dispute} was opened (seq {})", d.known_at_seq);
            } else if !same(&d.verdict, now) {
                let _ = write!(
                    base,
                    ", and {} when dispute {dispute} was opened (seq {})",
                    verdict_phrase(&d.verdict),
                    d.known_at_seq
                );
            }
        }
        let backdated_grant = story.findings.iter().find(|f| f.kind == "grant_recorded_after_sale");
        let backdated_revocation = story.findings.iter().find(|f| f.kind == "revocation_recorded_after_sale");
        let authorized = |v: &Verdict| v.verdict != VerdictKind::Unauthorized;
        if authorized(now)
            && !authorized(at_sale)
            && let Some(f) = backdated_grant
        {
            let _ = write!(
                base,
                ": the authorization was recorded only after the sale (seq {}), a sign of backdating",
                seq_list(f.seqs.iter())
            );
        } else if !authorized(now)
            && authorized(at_sale)
            && let Some(f) = backdated_revocation
        {
            let _ = write!(
                base,
                ": a revocation recorded after the sale (seq {}) was backdated before it",
                seq_list(f.seqs.iter())
            );
        } else if let Some(f) = story.findings.iter().find(|f| f.kind == "verdict_changed")
            && !f.seqs.is_empty()
        {
            let _ = write!(
                base,
                ": records made after the sale changed the answer (seq {})",
                seq_list(f.seqs.iter())
            );
        }
        base
    };
    if let Some(dispute) = story.verdict_at(AT_DISPUTE).and_then(|d| d.dispute.as_ref()) {
        match story.order_events.iter().find(|i| i.kind == "dispute_closed") {
            Some(closed) => {
                let _ = write!(
                    text,
                    ". Dispute {dispute} was closed with finding {}",
                    finding_word(&closed.text)
                );
            }
            None => {
                let _ = write!(text, ". Dispute {dispute} is still open");
            }
        }
    }
    text.push('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

// ---- words ---------------------------------------------------------------------------------

/// Why an agreement could not show the goods' source at the sale, in a few words each.
fn agreement_failures(a: &AgreementStory, sale: &SaleStory) -> Vec<String> {
    a.fails_at_sale
        .iter()
        .map(|fail| match *fail {
            "not_yet_active" => "it was not in force yet".to_owned(),
            "ended" => format!("it had ended on {}", short_time(a.valid_until)),
            "terminated" => {
                let seq = a
                    .events
                    .iter()
                    .find(|e| e.kind == "terminated")
                    .map_or(String::new(), |e| format!(" (seq {})", e.seq));
                format!("it had been terminated{seq}")
            }
            "out_of_scope_sku" => format!("it does not cover {}", sale.sku),
            "supplier_inactive" => format!(
                "its supplier {} was {} at the sale",
                a.supplier,
                a.supplier_status_at_sale.unwrap_or("not an admitted supplier")
            ),
            _ => {
                format!("its supplier {} held no grant of {} covering {} then", a.supplier, a.brand, sale.sku)
            }
        })
        .collect()
}

/// Why the verdict now is `unauthorized`, in a few words per failure.
fn why_unauthorized(story: &OrderStory) -> String {
    let sale = &story.sale;
    let now = &story.now().verdict;
    let mut why = Vec::new();
    for reason in &now.reasons {
        match reason {
            Reason::BrandOwnerInactive => {
                why.push(format!("the brand owner {} was not an active supplier at the sale", sale.owner))
            }
            Reason::StoreClosed => why.push(format!("store {} was not open at the sale", sale.store)),
            Reason::NoGrant if story.other_grants_held.is_empty() => {
                why.push(format!("{} never held a grant of {}", sale.operator, sale.brand))
            }
            Reason::NoGrant => {
                why.push(format!("{} held no grant of {} for this sale", sale.operator, sale.brand))
            }
            Reason::ChainBroken => {
                why.push("the grant chain does not lead back to the brand owner".to_owned())
            }
            _ => {}
        }
    }
    let chain = story.grant_chains.iter().find(|c| c.named_at.contains(&NOW));
    for g in chain.iter().flat_map(|c| &c.grants) {
        match g.at_sale {
            "expired" => why.push(format!("grant {} expired on {}", g.grant, short_time(g.valid_until))),
            "not_yet_valid" => why.push(format!("grant {} was not valid yet", g.grant)),
            "revoked" => {
                if let Some(r) = &g.revoked {
                    why.push(format!(
                        "grant {} was revoked from {} (seq {})",
                        g.grant,
                        short_time(r.at),
                        r.seq
                    ));
                }
            }
            _ => {}
        }
        for what in &g.does_not_cover {
            let value = match *what {
                "sku" => sale.sku.to_string(),
                "channel" => name_of(&sale.channel),
                _ => sale.region.as_ref().map_or_else(|| "(none)".to_owned(), |r| r.to_string()),
            };
            why.push(format!("grant {} does not cover the sale's {what} {value}", g.grant));
        }
    }
    why.dedup();
    why.join("; ")
}

fn verdict_phrase(v: &Verdict) -> String {
    match v.verdict {
        VerdictKind::Authentic => "authentic".to_owned(),
        VerdictKind::UnverifiedSource => "an authorized seller with an unverified source".to_owned(),
        VerdictKind::Unauthorized => format!("unauthorized ({})", reason_list(&v.reasons)),
        VerdictKind::UnknownOrder => "unknown".to_owned(),
    }
}

fn horizon_phrase(hv: &HorizonVerdict) -> String {
    match hv.horizon {
        AT_SALE => format!("as known at the sale (seq {})", hv.known_at_seq),
        AT_DISPUTE => format!(
            "as known when dispute {} was opened (seq {})",
            hv.dispute.as_ref().map_or("?".to_owned(), |d| d.to_string()),
            hv.known_at_seq
        ),
        _ => format!("now (seq {})", hv.known_at_seq),
    }
}

fn reason_list(reasons: &[Reason]) -> String {
    reasons.iter().map(name_of).collect::<Vec<_>>().join(", ")
}

/// The snake-case name serde gives a unit variant.
fn name_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn seq_list<'a>(seqs: impl IntoIterator<Item = &'a Seq>) -> String {
    seqs.into_iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
}

/// The part of an item's text after its first ": " (a reason, a claim, a finding).
fn reason_of(text: &str) -> &str {
    text.split_once(": ").map_or(text, |(_, rest)| rest)
}

/// The finding word of a `dispute_closed` item's text ("... finding counterfeit ...").
fn finding_word(text: &str) -> String {
    text.split_once("finding ")
        .map(|(_, rest)| rest.split([' ', ';', ',', ':']).next().unwrap_or(rest).to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// An instant without a zero fraction: `2013-06-03T03:00:00Z`.
pub fn short_time(at: Timestamp) -> String {
    let text = at.to_string();
    match text.strip_suffix(".000000Z") {
        Some(whole) => format!("{whole}Z"),
        None => text,
    }
}

/// A length of time in the largest sensible unit: minutes, hours or days.
fn span(micros: i64) -> String {
    let micros = micros.unsigned_abs();
    let (n, unit) = if micros < MICROS_PER_HOUR as u64 {
        (micros / 60_000_000, "minute")
    } else if micros < 2 * MICROS_PER_DAY as u64 {
        (micros / MICROS_PER_HOUR as u64, "hour")
    } else {
        (micros / MICROS_PER_DAY as u64, "day")
    };
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

/// Where `at` lies from the sale's time `t`.
fn relative(at: Timestamp, t: Timestamp) -> String {
    let d = at.unix_micros() - t.unix_micros();
    match d {
        0 => "at the moment of the sale".to_owned(),
        d if d < 0 => format!("{} before the sale", span(d)),
        d => format!("{} after the sale", span(d)),
    }
}

/// Minor units of a currency with its usual decimals and thousands separators:
/// `50,000.00 CNY`.
fn amount(value: i64, currency: &Currency) -> String {
    let code = currency.as_str();
    let decimals: u32 = match code {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "PYG" | "UGX" | "XAF" | "XOF" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "IQD" | "LYD" => 3,
        _ => 2,
    };
    let negative = value < 0;
    let value = value.unsigned_abs();
    let unit = 10u64.pow(decimals);
    let whole = (value / unit).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if negative { "-" } else { "" };
    if decimals == 0 {
        format!("{sign}{grouped} {code}")
    } else {
        format!("{sign}{grouped}.{:0width$} {code}", value % unit, width = decimals as usize)
    }
}

fn money(m: &Money) -> String {
    amount(m.value(), m.currency())
}

fn scope_text(scope: &Scope) -> String {
    let mut parts = Vec::new();
    if let Some(skus) = &scope.skus {
        parts.push(format!("skus {}", skus.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")));
    }
    if let Some(categories) = &scope.categories {
        parts.push(format!(
            "categories {}",
            categories.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    if parts.is_empty() { "every product".to_owned() } else { parts.join(" and ") }
}

fn regions_text(regions: &Option<Vec<Region>>) -> String {
    match regions {
        None => "every region".to_owned(),
        Some(list) => list.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", "),
    }
}

fn window_text(from: Timestamp, until: Timestamp) -> String {
    format!("{} to {}", short_time(from), short_time(until))
}

/// One line saying what a record says, for an investigator.
pub fn describe(record: &Record) -> String {
    let actor = &record.actor;
    match &record.event {
        Event::LedgerCreated(e) => format!("ledger {} created", e.origin),
        Event::PartyRegistered(e) => format!("party {} registered: {}", e.party, e.legal_name),
        Event::SupplierAdmitted(e) => {
            let kinds: Vec<String> = e.qualifications.iter().map(|q| name_of(&q.kind)).collect();
            format!("{} admitted as a supplier on {}", e.supplier, kinds.join(", "))
        }
        Event::SupplierSuspended(e) => format!("{} suspended: {}", e.supplier, e.reason),
        Event::SupplierReinstated(e) => format!("{} reinstated", e.supplier),
        Event::SupplierExpelled(e) => format!("{} expelled: {}", e.supplier, e.reason),
        Event::MarginDeposited(e) => {
            format!("{} deposited into the margin of {}", money(&e.amount), e.supplier)
        }
        Event::MarginDeducted(e) => {
            format!("{} deducted from the margin of {}: {}", money(&e.amount), e.supplier, e.reason)
        }
        Event::MarginRefunded(e) => {
            format!("{} refunded from the margin of {}", money(&e.amount), e.supplier)
        }
        Event::PolicySet(e) => format!("minimum margin set to {}", money(&e.min_margin)),
        Event::BrandRegistered(e) => {
            format!(
                "brand {} ({}) registered, owner {}, trademark {}",
                e.brand, e.name, e.owner, e.trademark_no
            )
        }
        Event::ProductRegistered(e) => format!(
            "product {} ({}, {}) of {} registered{}",
            e.sku,
            e.name,
            e.category,
            e.brand,
            e.price_floor.as_ref().map_or(String::new(), |f| format!(", price floor {}", money(f)))
        ),
        Event::ChannelHostAppointed(e) => format!(
            "{} appointed channel host of {} ({}), {}",
            e.host,
            e.brand,
            e.powers.iter().map(name_of).collect::<Vec<_>>().join(", "),
            window_text(e.valid_from, e.valid_until)
        ),
        Event::ChannelHostDismissed(e) => format!("{} dismissed as channel host of {}", e.host, e.brand),
        Event::GrantIssued(e) => {
            let what = match &e.parent {
                Some(parent) => format!("sub-grant {} under {}", e.grant, parent),
                None => format!("grant {}", e.grant),
            };
            let by = if *actor != e.grantor { format!(" (submitted by {actor})") } else { String::new() };
            let flags = [(e.exclusive, "; exclusive"), (e.sublicensable, "; sublicensable")]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, f)| *f)
                .collect::<String>();
            format!(
                "{what} of {} issued by {} to {}{by}: {}; {}; {}{flags}; {}",
                e.brand,
                e.grantor,
                e.grantee,
                scope_text(&e.scope),
                e.channels.iter().map(name_of).collect::<Vec<_>>().join(", "),
                regions_text(&e.regions),
                window_text(e.valid_from, e.valid_until)
            )
        }
        Event::GrantRevoked(e) => format!("grant {} revoked by {actor}: {}", e.grant, e.reason),
        Event::StoreOpened(e) => format!(
            "store {} ({}) opened for {}: {}{}",
            e.store,
            e.name,
            e.operator,
            name_of(&e.channel),
            e.region.as_ref().map_or(String::new(), |r| format!(", {r}"))
        ),
        Event::StoreClosed(e) => format!("store {} closed: {}", e.store, e.reason),
        Event::AgreementSigned(e) => format!(
            "agreement {} signed: {} supplies {} with {} ({}), {}; {}",
            e.agreement,
            e.supplier,
            e.distributor,
            e.brand,
            name_of(&e.mode),
            scope_text(&e.scope),
            window_text(e.valid_from, e.valid_until)
        ),
        Event::AgreementTerminated(e) => {
            format!("agreement {} terminated by {actor}: {}", e.agreement, e.reason)
        }
        Event::SaleRecorded(e) => format!(
            "sale {}: {} x {} at {} for {} each{}",
            e.order,
            e.quantity.get(),
            e.sku,
            e.store,
            money(&e.unit_price),
            e.region.as_ref().map_or(String::new(), |r| format!(", region {r}"))
        ),
        Event::SaleRefunded(e) => format!("order {} refunded: {}", e.order, e.reason),
        Event::DisputeOpened(e) => format!(
            "dispute {} opened on order {}: {} claimed{}",
            e.dispute,
            e.order,
            name_of(&e.claim),
            e.claimant.as_ref().map_or(String::new(), |c| format!(" by {c}"))
        ),
        Event::DisputeClosed(e) => format!(
            "dispute {} closed: finding {}{}",
            e.dispute,
            name_of(&e.finding),
            e.note.as_ref().map_or(String::new(), |n| format!("; {n}"))
        ),
    }
}

fn short_hash(hash: &Digest) -> String {
    hash.to_string()[..SHORT_HASH].to_owned()
}

// ---- text ----------------------------------------------------------------------------------

fn late_mark(item: &Item) -> String {
    match item.recorded_late_hours {
        Some(h) => format!("  [recorded {} late]", span(h as i64 * MICROS_PER_HOUR)),
        None => String::new(),
    }
}

fn item_line(out: &mut String, item: &Item) {
    let _ = writeln!(
        out,
        "  {:<20}  seq {:<5} {}  {:<15} {}{}",
        short_time(item.at),
        item.seq.to_string(),
        short_hash(&item.hash),
        item.kind,
        item.text,
        late_mark(item)
    );
}

fn verdict_line(v: &Verdict) -> String {
    let list = |items: Vec<String>| if items.is_empty() { "none".to_owned() } else { items.join(", ") };
    let chain: Vec<String> = v.grant_chain.iter().map(|l| format!("{} (seq {})", l.grant, l.seq)).collect();
    format!(
        "{}; reasons {}; warnings {}; chain {}; agreement {}",
        name_of(&v.verdict),
        list(v.reasons.iter().map(name_of).collect()),
        list(v.warnings.iter().map(name_of).collect()),
        if chain.is_empty() { "none".to_owned() } else { chain.join(" -> ") },
        v.agreement.as_ref().map_or("none".to_owned(), |a| format!("{} (seq {})", a.agreement, a.seq))
    )
}

fn horizon_label(hv: &HorizonVerdict) -> String {
    match hv.horizon {
        AT_SALE => "at the sale".to_owned(),
        AT_DISPUTE => format!("at dispute {}", hv.dispute.as_ref().map_or("?".to_owned(), |d| d.to_string())),
        _ => "now".to_owned(),
    }
}

fn named_at_text(named: &[&str]) -> String {
    if named.is_empty() {
        return "by no verdict".to_owned();
    }
    named
        .iter()
        .map(|h| match *h {
            AT_SALE => "at the sale",
            AT_DISPUTE => "at the dispute",
            _ => "now",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn agreement_at_sale_text(a: &AgreementStory, sale: &SaleStory) -> String {
    if a.fails_at_sale.is_empty() {
        "in force, with its supplier active, covering the goods".to_owned()
    } else {
        agreement_failures(a, sale).join("; ")
    }
}

fn grant_summary(g: &GrantStory) -> String {
    let under = g.parent.as_ref().map_or(String::new(), |p| format!(" under {p}"));
    let revoked = g.revoked.as_ref().map_or(String::new(), |r| {
        let through = if r.grant == g.grant { String::new() } else { format!(" through {}", r.grant) };
        format!("; revoked{through} from {} (seq {})", short_time(r.at), r.seq)
    });
    format!(
        "{} -> {}{under}; {}; {}; {}{}{}; {}{revoked}",
        g.grantor,
        g.grantee,
        scope_text(&g.scope),
        g.channels.iter().map(name_of).collect::<Vec<_>>().join(", "),
        regions_text(&g.regions),
        if g.exclusive { "; exclusive" } else { "" },
        if g.sublicensable { "; sublicensable" } else { "" },
        window_text(g.valid_from, g.valid_until)
    )
}

fn at_sale_text(g: &GrantStory) -> String {
    let mut text = g.at_sale.replace('_', " ");
    if !g.does_not_cover.is_empty() {
        let _ = write!(text, ", does not cover the sale's {}", g.does_not_cover.join(", "));
    }
    text
}

fn balances_text(balances: &[Balance]) -> String {
    if balances.is_empty() {
        return "none".to_owned();
    }
    balances.iter().map(|b| amount(b.value, &b.currency)).collect::<Vec<_>>().join(" + ")
}

fn sale_lines(s: &SaleStory) -> Vec<(String, String)> {
    let region = match (&s.region, s.region_from_store) {
        (None, _) => "none".to_owned(),
        (Some(r), true) => format!("{r} (the store's; the sale names none)"),
        (Some(r), false) => r.to_string(),
    };
    vec![
        ("record".into(), format!("seq {}, hash {}", s.seq, s.hash)),
        ("sold".into(), format!("{} (recorded {})", short_time(s.at), short_time(s.recorded_at))),
        (
            "goods".into(),
            format!(
                "{} x {}{} of brand {} (category {}, owner {}) at {} each{}",
                s.quantity,
                s.sku,
                s.product_name.as_ref().map_or(String::new(), |n| format!(" \"{n}\"")),
                s.brand,
                s.category,
                s.owner,
                money(&s.unit_price),
                s.price_floor.as_ref().map_or(String::new(), |f| format!(" (price floor {})", money(f)))
            ),
        ),
        (
            "store".into(),
            format!("{} \"{}\", {}, run by {}", s.store, s.store_name, name_of(&s.channel), s.operator),
        ),
        ("region".into(), region),
        ("payment".into(), s.payment_ref.as_ref().map_or("not given".to_owned(), |p| p.to_string())),
    ]
}

impl OrderStory {
    /// Whether every record of the story was recorded late (the finding `backfilled`).
    pub fn backfilled(&self) -> bool {
        self.findings.iter().any(|f| f.kind == "backfilled")
    }

    /// The story as the text forms show it: in a backfilled story, marking every record as
    /// recorded late says nothing (the finding says it once), so the marks are left out.
    fn shown(&self) -> std::borrow::Cow<'_, OrderStory> {
        if !self.backfilled() {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut story = self.clone();
        let items = story
            .order_events
            .iter_mut()
            .chain(&mut story.store.events)
            .chain(&mut story.context)
            .chain(story.grant_chains.iter_mut().flat_map(|c| &mut c.events))
            .chain(story.agreements.iter_mut().flat_map(|a| &mut a.events))
            .chain(
                story
                    .suppliers
                    .iter_mut()
                    .flat_map(|s| s.statuses.iter_mut().chain(s.margins.iter_mut().map(|m| &mut m.item))),
            );
        for item in items {
            item.recorded_late_hours = None;
        }
        std::borrow::Cow::Owned(story)
    }

    /// The story as plain text for a terminal, with a proof bundle appended when given.
    pub fn to_text(&self, bundle: Option<&Bundle>) -> String {
        let shown = self.shown();
        let this = shown.as_ref();
        this.text(bundle)
    }

    /// The story as a Markdown case report, with a proof bundle appended when given.
    pub fn to_markdown(&self, bundle: Option<&Bundle>) -> String {
        let shown = self.shown();
        let this = shown.as_ref();
        this.markdown(bundle)
    }

    fn text(&self, bundle: Option<&Bundle>) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Order {}: its story as the ledger holds it through seq {} (head hash {})",
            self.order,
            self.known_at_seq,
            short_hash(&self.head_hash)
        );
        let _ = writeln!(
            out,
            "(hashes shortened to {SHORT_HASH} hex digits; \"recorded late\" = recorded more than {} h after taking effect)",
            self.late_after_hours
        );
        let _ = writeln!(out, "\nConclusion: {}", self.conclusion);
        let _ = writeln!(out, "\nThe sale");
        for (key, value) in sale_lines(&self.sale) {
            let _ = writeln!(out, "  {key:<8} {value}");
        }
        let _ = writeln!(out, "\nVerdicts");
        for hv in &self.verdicts {
            let _ = writeln!(
                out,
                "  {:<22} known at seq {:<5} {}",
                horizon_label(hv),
                hv.known_at_seq.to_string(),
                verdict_line(&hv.verdict)
            );
        }
        let _ = writeln!(out, "\nThe order's records");
        for item in &self.order_events {
            item_line(&mut out, item);
        }
        if self.grant_chains.is_empty() {
            let _ = writeln!(out, "\nGrant chains: none named");
        }
        for chain in &self.grant_chains {
            let ids: Vec<String> = chain.grants.iter().map(|g| g.grant.to_string()).collect();
            let _ = writeln!(
                out,
                "\nGrant chain {} (named {})",
                ids.join(" -> "),
                named_at_text(&chain.named_at)
            );
            for g in &chain.grants {
                let _ = writeln!(out, "  {} (seq {}): {}", g.grant, g.seq, grant_summary(g));
                let _ = writeln!(out, "      at the sale: {}", at_sale_text(g));
            }
            for item in &chain.events {
                item_line(&mut out, item);
            }
        }
        if !self.other_grants_held.is_empty() {
            let others: Vec<String> =
                self.other_grants_held.iter().map(|g| format!("{} (seq {})", g.grant, g.seq)).collect();
            let _ = writeln!(
                out,
                "\nOther grants of {} held by {}: {}",
                self.sale.brand,
                self.sale.operator,
                others.join(", ")
            );
        }
        if self.agreements.is_empty() {
            let _ = writeln!(out, "\nAgreements: {} holds none of {}", self.sale.operator, self.sale.brand);
        }
        for a in &self.agreements {
            let _ = writeln!(
                out,
                "\nAgreement {} (seq {}, named {})",
                a.agreement,
                a.seq,
                named_at_text(&a.named_at)
            );
            let _ = writeln!(
                out,
                "  {} supplies {} ({}), {}; {}; at the sale: {}",
                a.supplier,
                a.distributor,
                name_of(&a.mode),
                scope_text(&a.scope),
                window_text(a.valid_from, a.valid_until),
                agreement_at_sale_text(a, &self.sale)
            );
            for item in &a.events {
                item_line(&mut out, item);
            }
        }
        for s in &self.suppliers {
            let _ = writeln!(out, "\nSupplier {} ({})", s.supplier, s.roles.join(", "));
            let _ = writeln!(
                out,
                "  at the sale: {}, margin {}; now: {}, margin {}",
                s.status_at_sale.unwrap_or("not admitted"),
                balances_text(&s.balance_at_sale),
                s.status_now.unwrap_or("not admitted"),
                balances_text(&s.balance_now)
            );
            for item in &s.statuses {
                item_line(&mut out, item);
            }
            for m in &s.margins {
                let mut item = m.item.clone();
                let _ = write!(item.text, " (balance {})", amount(m.balance_after, &m.currency));
                item_line(&mut out, &item);
            }
            if s.margins_omitted > 0 {
                let _ = writeln!(out, "  ({} more margin movements not shown)", s.margins_omitted);
            }
        }
        if let Some(p) = &self.min_margin_at_sale {
            let _ = writeln!(out, "\nMinimum margin at the sale: {} (seq {})", money(&p.min_margin), p.seq);
        }
        let _ = writeln!(out, "\nStore {}", self.store.store);
        for item in &self.store.events {
            item_line(&mut out, item);
        }
        let _ = writeln!(out, "\nThe brand, the product, the policy");
        for item in &self.context {
            item_line(&mut out, item);
        }
        let _ = writeln!(out, "\nFindings");
        if self.findings.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for f in &self.findings {
            let _ = writeln!(out, "  - {}", f.text);
        }
        if let Some(bundle) = bundle {
            let _ = writeln!(
                out,
                "\nProof bundle (save it as bundle.json; check it with chl verify-bundle bundle.json --key {})",
                self.verifier_key
            );
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(bundle).unwrap_or_default());
        }
        out
    }

    fn markdown(&self, bundle: Option<&Bundle>) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Case report: order {}\n", self.order);
        let _ = writeln!(
            out,
            "Replayed from the ledger through seq {} (head hash `{}`). Seqs are positions in the log; \
             hashes are the records' BLAKE3 hashes, shortened to {SHORT_HASH} hex digits (the JSON form, \
             `--format json`, has them whole). *Recorded late* means recorded more than {} h after taking effect.\n",
            self.known_at_seq,
            short_hash(&self.head_hash),
            self.late_after_hours
        );
        let _ = writeln!(out, "**Conclusion.** {}\n", md(&self.conclusion));
        let _ = writeln!(out, "## The sale\n");
        let _ = writeln!(out, "| | |\n|---|---|");
        for (key, value) in sale_lines(&self.sale) {
            let _ = writeln!(out, "| {key} | {} |", md(&value));
        }
        let _ = writeln!(out, "\n## Verdicts at each horizon\n");
        let _ = writeln!(
            out,
            "| horizon | known at seq | verdict | reasons | warnings | grant chain | agreement |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        let dash =
            |items: Vec<String>, sep: &str| if items.is_empty() { "—".to_owned() } else { items.join(sep) };
        for hv in &self.verdicts {
            let v = &hv.verdict;
            let _ = writeln!(
                out,
                "| {} | {} | **{}** | {} | {} | {} | {} |",
                horizon_label(hv),
                hv.known_at_seq,
                name_of(&v.verdict),
                dash(v.reasons.iter().map(name_of).collect(), ", "),
                dash(v.warnings.iter().map(name_of).collect(), ", "),
                dash(v.grant_chain.iter().map(|l| format!("{} ({})", l.grant, l.seq)).collect(), " → "),
                v.agreement.as_ref().map_or("—".to_owned(), |a| format!("{} ({})", a.agreement, a.seq))
            );
        }
        let _ = writeln!(out, "\n## The order's records\n");
        items_table(&mut out, &self.order_events);
        let _ = writeln!(out, "\n## Grant chains\n");
        if self.grant_chains.is_empty() {
            let _ = writeln!(out, "No verdict names a grant chain.");
        }
        for chain in &self.grant_chains {
            let ids: Vec<String> = chain.grants.iter().map(|g| g.grant.to_string()).collect();
            let _ = writeln!(out, "### {} (named {})\n", ids.join(" → "), named_at_text(&chain.named_at));
            let _ = writeln!(out, "| grant | seq | terms | at the sale |\n|---|---|---|---|");
            for g in &chain.grants {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    g.grant,
                    g.seq,
                    md(&grant_summary(g)),
                    md(&at_sale_text(g))
                );
            }
            let _ = writeln!(out);
            items_table(&mut out, &chain.events);
            let _ = writeln!(out);
        }
        if !self.other_grants_held.is_empty() {
            let others: Vec<String> =
                self.other_grants_held.iter().map(|g| format!("{} (seq {})", g.grant, g.seq)).collect();
            let _ = writeln!(
                out,
                "Other grants of {} held by {}: {}.\n",
                self.sale.brand,
                self.sale.operator,
                others.join(", ")
            );
        }
        let _ = writeln!(out, "## Agreements\n");
        if self.agreements.is_empty() {
            let _ = writeln!(out, "{} holds no agreement of {}.\n", self.sale.operator, self.sale.brand);
        }
        for a in &self.agreements {
            let _ =
                writeln!(out, "### {} (seq {}, named {})\n", a.agreement, a.seq, named_at_text(&a.named_at));
            let _ = writeln!(
                out,
                "{} supplies {} ({}), {}; {}. At the sale: {}.\n",
                a.supplier,
                a.distributor,
                name_of(&a.mode),
                md(&scope_text(&a.scope)),
                window_text(a.valid_from, a.valid_until),
                md(&agreement_at_sale_text(a, &self.sale))
            );
            items_table(&mut out, &a.events);
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "## Suppliers\n");
        if let Some(p) = &self.min_margin_at_sale {
            let _ = writeln!(
                out,
                "Minimum margin in force at the sale: {} (seq {}).\n",
                money(&p.min_margin),
                p.seq
            );
        }
        for s in &self.suppliers {
            let _ = writeln!(out, "### {} ({})\n", s.supplier, md(&s.roles.join(", ")));
            let _ = writeln!(
                out,
                "At the sale: {}, margin {}. Now: {}, margin {}.\n",
                s.status_at_sale.unwrap_or("not admitted"),
                balances_text(&s.balance_at_sale),
                s.status_now.unwrap_or("not admitted"),
                balances_text(&s.balance_now)
            );
            items_table(&mut out, &s.statuses);
            if !s.margins.is_empty() {
                let _ = writeln!(out);
                let _ = writeln!(out, "| effective | seq | hash | margin | balance after | recorded |");
                let _ = writeln!(out, "|---|---|---|---|---|---|");
                for m in &s.margins {
                    let _ = writeln!(
                        out,
                        "| {} | {} | `{}` | {} | {} | {}{} |",
                        short_time(m.item.at),
                        m.item.seq,
                        short_hash(&m.item.hash),
                        md(&m.item.text),
                        amount(m.balance_after, &m.currency),
                        short_time(m.item.recorded_at),
                        late_md(&m.item)
                    );
                }
            }
            if s.margins_omitted > 0 {
                let _ = writeln!(out, "\n({} more margin movements not shown.)", s.margins_omitted);
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "## The store, the brand and the product\n");
        let mut items = self.store.events.clone();
        items.extend(self.context.iter().cloned());
        items.sort_by_key(|i| i.seq);
        items_table(&mut out, &items);
        let _ = writeln!(out, "\n## Findings\n");
        if self.findings.is_empty() {
            let _ = writeln!(out, "None.");
        }
        for f in &self.findings {
            let _ = writeln!(out, "- {}", md(&f.text));
        }
        let _ = writeln!(out, "\n## Conclusion\n\n{}", md(&self.conclusion));
        if let Some(bundle) = bundle {
            let _ = writeln!(
                out,
                "\n## Proof bundle\n\nThe records the current verdict rests on, each with its inclusion proof \
                 under the ledger's signed checkpoint, and the verdict signed by the ledger's key (as \
                 `chl prove --order {}` prints it). Save the block as `bundle.json` and check it offline with \
                 `chl verify-bundle bundle.json --key {}`.\n",
                self.order, self.verifier_key
            );
            let _ =
                writeln!(out, "```json\n{}\n```", serde_json::to_string_pretty(bundle).unwrap_or_default());
        }
        out
    }
}

/// Text safe in a Markdown table cell.
fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn late_md(item: &Item) -> String {
    match item.recorded_late_hours {
        Some(h) => format!(" (**{} late**)", span(h as i64 * MICROS_PER_HOUR)),
        None => String::new(),
    }
}

fn items_table(out: &mut String, items: &[Item]) {
    let _ = writeln!(out, "| effective | seq | hash | what | recorded |\n|---|---|---|---|---|");
    for item in items {
        let recorded = if item.kind == "expires" {
            "—".to_owned()
        } else {
            format!("{}{}", short_time(item.recorded_at), late_md(item))
        };
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} | {} |",
            short_time(item.at),
            item.seq,
            short_hash(&item.hash),
            md(&item.text),
            recorded
        );
    }
}

// ---- timelines between recorded times -------------------------------------------------------

/// The most records `timeline_recorded` fetches in one pass before giving up on completeness.
const MAX_FETCH: usize = 100_000;

#[derive(serde::Deserialize)]
struct RecordedAt {
    recorded_at: Timestamp,
}

/// The timeline of `filter`, keeping only records with `recorded_at` in `[from, to]` (both
/// included), at most `limit` of them. `recorded_at` never decreases along seq, so the kept
/// records are one run of the timeline: the timeline is fetched with a growing limit until the
/// run is complete, more than `limit` records are kept, or 100,000 records were fetched (then the
/// answer says `truncated`).
pub(crate) fn timeline_recorded(
    ledger: &Ledger,
    filter: &TimelineFilter,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    limit: usize,
) -> Result<Timeline, LedgerError> {
    if from.is_none() && to.is_none() {
        return ledger.timeline(filter, limit);
    }
    let head = ledger.head().map(|h| h.seq);
    let mut fetch = limit.saturating_add(1).clamp(64, MAX_FETCH.max(limit.saturating_add(1)));
    loop {
        let fetched = ledger.timeline(filter, fetch)?;
        let mut kept = Vec::new();
        let mut past_end = false;
        for entry in fetched.records {
            let recorded = serde_json::from_str::<RecordedAt>(entry.record.get())
                .map_err(|e| LedgerError::Io { context: "read a timeline record".into(), error: e.into() })?
                .recorded_at;
            if to.is_some_and(|to| recorded > to) {
                past_end = true;
                break;
            }
            if from.is_none_or(|from| recorded >= from) {
                kept.push(entry);
            }
        }
        if kept.len() > limit {
            let first_left = kept[limit].seq;
            kept.truncate(limit);
            return Ok(Timeline {
                records: kept,
                truncated: true,
                scanned_upto: first_left.0.checked_sub(1).map(Seq),
            });
        }
        if past_end || !fetched.truncated {
            return Ok(Timeline { records: kept, truncated: false, scanned_upto: head });
        }
        if fetch >= MAX_FETCH.max(limit.saturating_add(1)) {
            return Ok(Timeline { records: kept, truncated: true, scanned_upto: fetched.scanned_upto });
        }
        fetch = fetch.saturating_mul(4).min(MAX_FETCH.max(limit.saturating_add(1)));
    }
}

/// A timeline as text lines: seq, short hash, effective time, type, what the record says.
pub fn timeline_text(timeline: &Timeline) -> String {
    let mut out = String::new();
    for entry in &timeline.records {
        let (at, recorded, what, kind) = entry_parts(entry);
        let _ = writeln!(
            out,
            "seq {:<6} {}  {:<20}  {:<22} {}  (recorded {})",
            entry.seq.to_string(),
            short_hash(&entry.hash),
            at,
            kind,
            what,
            recorded
        );
    }
    let _ = writeln!(out, "{}", timeline_footer(timeline));
    out
}

/// A timeline as a Markdown report under `title`.
pub fn timeline_markdown(timeline: &Timeline, title: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", md(title));
    let _ = writeln!(out, "| seq | hash | effective | recorded | type | what |\n|---|---|---|---|---|---|");
    for entry in &timeline.records {
        let (at, recorded, what, kind) = entry_parts(entry);
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} |",
            entry.seq,
            short_hash(&entry.hash),
            at,
            recorded,
            kind,
            md(&what)
        );
    }
    let _ = writeln!(out, "\n{}", timeline_footer(timeline));
    out
}

fn timeline_footer(timeline: &Timeline) -> String {
    let n = timeline.records.len();
    let records = if n == 1 { "1 record".to_owned() } else { format!("{n} records") };
    match (timeline.truncated, timeline.scanned_upto) {
        (true, Some(upto)) => format!("{records}; more match (raise --limit): complete through seq {upto}"),
        (true, None) => format!("{records}; more match (raise --limit)"),
        (false, Some(upto)) => format!("{records}; complete through seq {upto}"),
        (false, None) => records,
    }
}

/// Effective time, recorded time, description and type of a timeline entry.
fn entry_parts(entry: &TimelineEntry) -> (String, String, String, String) {
    match ImportedRecord::parse_json(entry.record.get()) {
        Ok(imported) => {
            let r = &imported.record;
            (
                short_time(r.effective_at),
                short_time(r.recorded_at),
                describe(r),
                r.event.event_type().name().to_owned(),
            )
        }
        Err(e) => ("?".into(), "?".into(), format!("(unreadable record: {e:?})"), "?".into()),
    }
}
