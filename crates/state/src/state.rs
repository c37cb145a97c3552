//! The temporal state: every fact the log has stated, with its stamp, held so that rules and
//! questions about any time and any knowledge horizon are map lookups and short scans, never
//! a replay.
//!
//! `apply` is the only way in. Within a batch that may still be refused, every change is
//! noted in an undo list, so a refusal takes the state back exactly (`rollback_to`); `commit`
//! forgets the notes once the batch is durable.

use crate::facts::*;
use chl_model::event::HostPower;
use chl_model::{
    AgreementId, BrandId, Digest, DisputeId, Event, GrantId, OrderId, PartyId, Record, Seq, Sku, StoreId,
    Timestamp,
};
use std::collections::HashMap;

/// A digest of a submission's content (actor, effective time, type, data): two submissions
/// with the same fingerprint are the same submission (rule 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Fingerprint(pub u128);

impl Fingerprint {
    pub fn of(actor: &PartyId, effective_at: Timestamp, event: &Event) -> Fingerprint {
        let mut bytes = Vec::with_capacity(256);
        chl_model::codec::encode_identity(actor, effective_at, event, &mut bytes);
        Fingerprint::of_identity(&bytes)
    }

    /// The fingerprint of identity bytes already encoded (`codec::encode_identity`).
    pub fn of_identity(identity: &[u8]) -> Fingerprint {
        Fingerprint(digest128(FINGERPRINT_CONTEXT, identity))
    }

    pub fn of_record(record: &Record) -> Fingerprint {
        Fingerprint::of(&record.actor, record.effective_at, &record.event)
    }
}

const FINGERPRINT_CONTEXT: &str = "channel-ledger 2026 submission fingerprint v1";
const ORDER_KEY_CONTEXT: &str = "channel-ledger 2026 order key v1";

fn digest128(context: &str, bytes: &[u8]) -> u128 {
    let mut hasher = blake3::Hasher::new_derive_key(context);
    hasher.update(bytes);
    u128::from_le_bytes(hasher.finalize().as_bytes()[..16].try_into().unwrap())
}

/// Orders are the bulk of the ledger; the state keys them by a 128-bit digest of the id
/// rather than the id itself, to keep memory per sale small. (Two ids colliding in 128 bits
/// is not a practical concern.)
pub fn order_key(order: &OrderId) -> u128 {
    digest128(ORDER_KEY_CONTEXT, order.as_str().as_bytes())
}

/// One change `apply` made, to be taken back on rollback.
#[derive(Debug)]
enum Undo {
    Party(PartyId),
    SupplierAdmitted(PartyId),
    SupplierStatus(PartyId, Seq),
    Margin(PartyId, Seq),
    Policy(Seq),
    Brand(BrandId),
    Product(Sku),
    HostAppointed(BrandId),
    /// The appointments a dismissal ended, with what their dismissal was before.
    HostDismissed(BrandId, Vec<(usize, Option<Stamp>)>),
    Grant(GrantId),
    GrantRevoked(GrantId),
    Store(StoreId),
    StoreClosed(StoreId),
    Agreement(AgreementId),
    AgreementTerminated(AgreementId),
    Order(u128),
    OrderRefunded(u128),
    OrderDisputed(u128),
    StoreSale(StoreId, Seq),
    Dispute(DisputeId),
    DisputeClosed(DisputeId),
    Fingerprint(Fingerprint),
}

#[derive(Debug, Default)]
pub struct State {
    pub(crate) parties: HashMap<PartyId, Party>,
    pub(crate) suppliers: HashMap<PartyId, Supplier>,
    /// `policy_set` records in effective order.
    pub(crate) policies: Vec<Policy>,
    pub(crate) brands: HashMap<BrandId, Brand>,
    pub(crate) products: HashMap<Sku, Product>,
    /// Host appointments by brand, in the order recorded.
    pub(crate) hosts: HashMap<BrandId, Vec<Appointment>>,
    pub(crate) grants: HashMap<GrantId, Grant>,
    /// Grants issued under each grant, for cascading revocations.
    pub(crate) children: HashMap<GrantId, Vec<GrantId>>,
    /// Grants of each brand, for exclusivity.
    pub(crate) grants_by_brand: HashMap<BrandId, Vec<GrantId>>,
    /// Grants held by each party, for finding the chains to a store's operator.
    pub(crate) grants_by_grantee: HashMap<PartyId, Vec<GrantId>>,
    /// Agreements by distributor, for finding a sale's sourcing.
    pub(crate) agreements_by_distributor: HashMap<PartyId, Vec<AgreementId>>,
    pub(crate) stores: HashMap<StoreId, Store>,
    pub(crate) agreements: HashMap<AgreementId, Agreement>,
    pub(crate) orders: HashMap<u128, Order>,
    pub(crate) disputes: HashMap<DisputeId, Dispute>,
    /// Sales per store in effective order, for channel views' totals.
    pub(crate) store_sales: HashMap<StoreId, Vec<(u32, SalesSeries)>>,
    /// Brands by a small index (`SaleEntry::brand`), and back.
    pub(crate) brand_names: Vec<BrandId>,
    pub(crate) brand_index: HashMap<BrandId, u32>,
    /// Stores by operator, for channel views.
    pub(crate) stores_by_operator: HashMap<PartyId, Vec<StoreId>>,
    pub(crate) fingerprints: HashMap<Fingerprint, Seq>,
    /// Records applied: the seq the next one must have.
    next_seq: u64,
    /// Changes since the last commit, while undo is on.
    undo: Vec<Undo>,
    undo_on: bool,
}

/// The parts of the state a snapshot keeps, in order (everything but the undo notes).
macro_rules! snapshot_fields {
    ($m:ident) => {
        $m!(
            parties,
            suppliers,
            policies,
            brands,
            products,
            hosts,
            grants,
            children,
            grants_by_brand,
            grants_by_grantee,
            stores,
            agreements,
            agreements_by_distributor,
            orders,
            disputes,
            store_sales,
            brand_names,
            brand_index,
            stores_by_operator,
            fingerprints,
            next_seq
        )
    };
}

impl bincode::Encode for State {
    fn encode<E: bincode::enc::Encoder>(&self, e: &mut E) -> Result<(), bincode::error::EncodeError> {
        assert!(self.undo.is_empty(), "snapshots are taken between batches");
        macro_rules! encode_all {
            ($($field:ident),*) => { $( self.$field.encode(e)?; )* };
        }
        snapshot_fields!(encode_all);
        Ok(())
    }
}

impl<C> bincode::Decode<C> for State {
    fn decode<D: bincode::de::Decoder<Context = C>>(d: &mut D) -> Result<Self, bincode::error::DecodeError> {
        macro_rules! decode_all {
            ($($field:ident),*) => {
                State { $( $field: bincode::Decode::decode(d)?, )* undo: Vec::new(), undo_on: true }
            };
        }
        Ok(snapshot_fields!(decode_all))
    }
}

/// A point to roll back to.
#[derive(Debug, Clone, Copy)]
pub struct StateMark {
    undo_len: usize,
    next_seq: u64,
}

impl State {
    pub fn new() -> State {
        State { undo_on: true, ..State::default() }
    }

    /// Records applied so far.
    pub fn record_count(&self) -> u64 {
        self.next_seq
    }

    /// Turns the undo notes on or off. Off suits one huge batch (an import) whose refusal is
    /// handled by rebuilding the state from the log instead, so memory does not grow with it.
    pub fn set_undo(&mut self, on: bool) {
        self.undo_on = on;
        if !on {
            self.undo.clear();
        }
    }

    pub fn undo_is_on(&self) -> bool {
        self.undo_on
    }

    pub fn mark(&self) -> StateMark {
        StateMark { undo_len: self.undo.len(), next_seq: self.next_seq }
    }

    /// Takes back every change since `mark`. Panics if undo was off meanwhile: the caller
    /// must then rebuild the state instead.
    pub fn rollback_to(&mut self, mark: StateMark) {
        assert!(self.undo_on, "rollback without undo notes; rebuild the state instead");
        while self.undo.len() > mark.undo_len {
            let undo = self.undo.pop().expect("len checked");
            self.take_back(undo);
        }
        self.next_seq = mark.next_seq;
    }

    /// The batch is durable: its undo notes are no longer needed.
    pub fn commit(&mut self) {
        self.undo.clear();
    }

    fn note(&mut self, undo: Undo) {
        if self.undo_on {
            self.undo.push(undo);
        }
    }

    // ---- queries --------------------------------------------------------------------------

    pub fn party(&self, id: &PartyId) -> Option<&Party> {
        self.parties.get(id)
    }

    pub fn supplier(&self, id: &PartyId) -> Option<&Supplier> {
        self.suppliers.get(id)
    }

    pub fn brand(&self, id: &BrandId) -> Option<&Brand> {
        self.brands.get(id)
    }

    pub fn product(&self, sku: &Sku) -> Option<&Product> {
        self.products.get(sku)
    }

    pub fn grant(&self, id: &GrantId) -> Option<&Grant> {
        self.grants.get(id)
    }

    pub fn store(&self, id: &StoreId) -> Option<&Store> {
        self.stores.get(id)
    }

    pub fn agreement(&self, id: &AgreementId) -> Option<&Agreement> {
        self.agreements.get(id)
    }

    pub fn order(&self, id: &OrderId) -> Option<&Order> {
        self.orders.get(&order_key(id))
    }

    pub fn dispute(&self, id: &DisputeId) -> Option<&Dispute> {
        self.disputes.get(id)
    }

    /// The seq of an earlier record with the same content, if any.
    pub fn repeat_of(&self, fingerprint: Fingerprint) -> Option<Seq> {
        self.fingerprints.get(&fingerprint).copied()
    }

    /// The minimum margin in force in `view`.
    pub fn min_margin(&self, view: View) -> Option<&Policy> {
        self.policies.iter().filter(|p| view.sees(p.set)).max_by_key(|p| p.set)
    }

    /// Whether `host` may act for `brand` with `power` in `view`.
    pub fn host_may(&self, brand: &BrandId, host: &PartyId, power: HostPower, view: View) -> bool {
        self.hosts
            .get(brand)
            .is_some_and(|list| list.iter().any(|a| a.host == *host && a.empowers(power, view)))
    }

    /// The revocation that ends `grant`, its own or an ancestor's (revocation cascades), the
    /// earliest in effect, with the id of the grant revoked. Only revocations `view` knows of
    /// count; `view.at` is ignored (the caller compares the stamp with its time).
    pub fn revocation(&self, grant: &GrantId, known: Seq) -> Option<(Stamp, GrantId)> {
        self.revocation_ref(grant, known).map(|(stamp, id)| (stamp, id.clone()))
    }

    /// `revocation` without cloning ids, for hot paths.
    pub(crate) fn revocation_ref<'a>(
        &'a self,
        grant: &'a GrantId,
        known: Seq,
    ) -> Option<(Stamp, &'a GrantId)> {
        let mut earliest: Option<(Stamp, &GrantId)> = None;
        let mut next = Some(grant);
        // Chains are short and acyclic (a parent is always recorded before its child).
        while let Some(id) = next {
            let Some((id, g)) = self.grants.get_key_value(id) else { break };
            if let Some(stamp) = g.revoked.filter(|s| s.seq <= known)
                && earliest.is_none_or(|(e, _)| stamp.effective_at < e.effective_at)
            {
                earliest = Some((stamp, id));
            }
            next = g.data.parent.as_ref();
        }
        earliest
    }

    /// Whether `grant` holds in `view`: its window covers the time and no revocation of it or
    /// its ancestors took effect at or before it.
    pub fn grant_holds(&self, grant: &GrantId, view: View) -> bool {
        self.grants.get(grant).is_some_and(|g| {
            window_covers(g.issued, g.data.valid_from, g.data.valid_until, view)
                && self
                    .revocation_ref(grant, view.known)
                    .is_none_or(|(stamp, _)| stamp.effective_at > view.at)
        })
    }

    /// Grants of `brand` held by `grantee`, in the order recorded.
    pub fn grants_held(
        &self,
        grantee: &PartyId,
        brand: &BrandId,
    ) -> impl Iterator<Item = (&GrantId, &Grant)> {
        self.grants_by_grantee
            .get(grantee)
            .into_iter()
            .flatten()
            .filter_map(|id| self.grants.get_key_value(id))
            .filter(move |(_, g)| g.data.brand == *brand)
    }

    /// Agreements of `brand` with `distributor`, in the order recorded.
    pub fn agreements_held(
        &self,
        distributor: &PartyId,
        brand: &BrandId,
    ) -> impl Iterator<Item = (&AgreementId, &Agreement)> {
        self.agreements_by_distributor
            .get(distributor)
            .into_iter()
            .flatten()
            .filter_map(|id| self.agreements.get_key_value(id))
            .filter(move |(_, a)| a.data.brand == *brand)
    }

    /// Grants of `brand`, in the order recorded.
    pub fn grants_of_brand(&self, brand: &BrandId) -> impl Iterator<Item = (&GrantId, &Grant)> {
        self.grants_by_brand.get(brand).into_iter().flatten().filter_map(|id| self.grants.get_key_value(id))
    }

    /// The category of a product, for scope judgements.
    pub fn category_of(&self, sku: &Sku) -> Option<&chl_model::Category> {
        self.products.get(sku).map(|p| &p.category)
    }

    // ---- applying records -------------------------------------------------------------------

    /// Takes in a record the rules accepted (or one replayed from the log).
    pub fn apply(&mut self, record: &Record, fingerprint: Fingerprint) {
        assert_eq!(record.seq.0, self.next_seq, "records are applied in seq order");
        let stamp = Stamp { effective_at: record.effective_at, seq: record.seq };
        self.next_seq += 1;
        if record.seq.0 > 0 && !self.fingerprints.contains_key(&fingerprint) {
            self.fingerprints.insert(fingerprint, record.seq);
            self.note(Undo::Fingerprint(fingerprint));
        }
        match &record.event {
            Event::LedgerCreated(_) => {}
            Event::PartyRegistered(e) => {
                self.parties
                    .insert(e.party.clone(), Party { legal_name: e.legal_name.clone(), registered: stamp });
                self.note(Undo::Party(e.party.clone()));
            }
            Event::SupplierAdmitted(e) => {
                self.suppliers.insert(
                    e.supplier.clone(),
                    Supplier { statuses: vec![(stamp, SupplierStatus::Active)], margins: Vec::new() },
                );
                self.note(Undo::SupplierAdmitted(e.supplier.clone()));
            }
            Event::SupplierSuspended(e) => self.set_status(&e.supplier, stamp, SupplierStatus::Suspended),
            Event::SupplierReinstated(e) => self.set_status(&e.supplier, stamp, SupplierStatus::Active),
            Event::SupplierExpelled(e) => self.set_status(&e.supplier, stamp, SupplierStatus::Expelled),
            Event::MarginDeposited(e) => self.move_margin(&e.supplier, stamp, e.amount.value(), &e.amount),
            Event::MarginDeducted(e) => self.move_margin(&e.supplier, stamp, -e.amount.value(), &e.amount),
            Event::MarginRefunded(e) => self.move_margin(&e.supplier, stamp, -e.amount.value(), &e.amount),
            Event::PolicySet(e) => {
                insert_by_stamp(
                    &mut self.policies,
                    Policy { min_margin: e.min_margin.clone(), set: stamp },
                    |p| p.set,
                );
                self.note(Undo::Policy(stamp.seq));
            }
            Event::BrandRegistered(e) => {
                let brand = Brand { owner: e.owner.clone(), name: e.name.clone(), registered: stamp };
                self.brands.insert(e.brand.clone(), brand);
                self.note(Undo::Brand(e.brand.clone()));
            }
            Event::ProductRegistered(e) => {
                let product = Product {
                    brand: e.brand.clone(),
                    category: e.category.clone(),
                    price_floor: e.price_floor.clone(),
                    registered: stamp,
                };
                self.products.insert(e.sku.clone(), product);
                self.note(Undo::Product(e.sku.clone()));
            }
            Event::ChannelHostAppointed(e) => {
                self.hosts.entry(e.brand.clone()).or_default().push(Appointment {
                    host: e.host.clone(),
                    powers: e.powers.clone(),
                    valid_from: e.valid_from,
                    valid_until: e.valid_until,
                    appointed: stamp,
                    dismissed: None,
                });
                self.note(Undo::HostAppointed(e.brand.clone()));
            }
            Event::ChannelHostDismissed(e) => {
                // Ends, from its effective time, every appointment of the host for the brand
                // that began by then and was not already ended earlier (a dismissal may be
                // backdated before one recorded earlier).
                let mut before = Vec::new();
                for (i, appointment) in self.hosts.get_mut(&e.brand).into_iter().flatten().enumerate() {
                    let began = appointment.appointed.effective_at <= stamp.effective_at;
                    let ends_later =
                        appointment.dismissed.is_none_or(|d| d.effective_at > stamp.effective_at);
                    if appointment.host == e.host && began && ends_later {
                        before.push((i, appointment.dismissed));
                        appointment.dismissed = Some(stamp);
                    }
                }
                self.note(Undo::HostDismissed(e.brand.clone(), before));
            }
            Event::GrantIssued(e) => {
                if let Some(parent) = &e.parent {
                    self.children.entry(parent.clone()).or_default().push(e.grant.clone());
                }
                self.grants_by_brand.entry(e.brand.clone()).or_default().push(e.grant.clone());
                self.grants_by_grantee.entry(e.grantee.clone()).or_default().push(e.grant.clone());
                self.grants.insert(e.grant.clone(), Grant { data: e.clone(), issued: stamp, revoked: None });
                self.note(Undo::Grant(e.grant.clone()));
            }
            Event::GrantRevoked(e) => {
                if let Some(grant) = self.grants.get_mut(&e.grant) {
                    grant.revoked = Some(stamp);
                    self.note(Undo::GrantRevoked(e.grant.clone()));
                }
            }
            Event::StoreOpened(e) => {
                self.stores_by_operator.entry(e.operator.clone()).or_default().push(e.store.clone());
                let store = Store {
                    operator: e.operator.clone(),
                    channel: e.channel,
                    name: e.name.clone(),
                    region: e.region.clone(),
                    opened: stamp,
                    closed: None,
                };
                self.stores.insert(e.store.clone(), store);
                self.note(Undo::Store(e.store.clone()));
            }
            Event::StoreClosed(e) => {
                if let Some(store) = self.stores.get_mut(&e.store) {
                    store.closed = Some(stamp);
                    self.note(Undo::StoreClosed(e.store.clone()));
                }
            }
            Event::AgreementSigned(e) => {
                self.agreements_by_distributor
                    .entry(e.distributor.clone())
                    .or_default()
                    .push(e.agreement.clone());
                let agreement = Agreement { data: e.clone(), signed: stamp, terminated: None };
                self.agreements.insert(e.agreement.clone(), agreement);
                self.note(Undo::Agreement(e.agreement.clone()));
            }
            Event::AgreementTerminated(e) => {
                if let Some(agreement) = self.agreements.get_mut(&e.agreement) {
                    agreement.terminated = Some(stamp);
                    self.note(Undo::AgreementTerminated(e.agreement.clone()));
                }
            }
            Event::SaleRecorded(e) => {
                let key = order_key(&e.order);
                self.orders.insert(key, Order { recorded: stamp, refunded: None, disputed: None });
                self.note(Undo::Order(key));
                if let Some(brand) = self.products.get(&e.sku).map(|p| p.brand.clone()) {
                    let brand = self.intern_brand(&brand);
                    let currency: [u8; 3] =
                        e.unit_price.currency().as_str().as_bytes().try_into().expect("3 letters");
                    let entry = SaleEntry {
                        stamp,
                        quantity: e.quantity.get(),
                        amount: e.unit_price.value().saturating_mul(i64::from(e.quantity.get())),
                        currency,
                    };
                    let series = self.store_sales.entry(e.store.clone()).or_default();
                    let at = match series.iter().position(|(b, _)| *b == brand) {
                        Some(at) => at,
                        None => {
                            series.push((brand, SalesSeries::default()));
                            series.len() - 1
                        }
                    };
                    series[at].1.insert(entry);
                    self.note(Undo::StoreSale(e.store.clone(), stamp.seq));
                }
            }
            Event::SaleRefunded(e) => {
                let key = order_key(&e.order);
                if let Some(order) = self.orders.get_mut(&key) {
                    order.refunded = Some(stamp);
                    self.note(Undo::OrderRefunded(key));
                }
            }
            Event::DisputeOpened(e) => {
                let dispute = Dispute { order: e.order.clone(), opened: stamp, closed: None };
                self.disputes.insert(e.dispute.clone(), dispute);
                self.note(Undo::Dispute(e.dispute.clone()));
                let key = order_key(&e.order);
                if let Some(order) = self.orders.get_mut(&key)
                    && order.disputed.is_none()
                {
                    order.disputed = Some(stamp);
                    self.note(Undo::OrderDisputed(key));
                }
            }
            Event::DisputeClosed(e) => {
                if let Some(dispute) = self.disputes.get_mut(&e.dispute) {
                    dispute.closed = Some(stamp);
                    self.note(Undo::DisputeClosed(e.dispute.clone()));
                }
            }
        }
    }

    /// The small index of `brand` for sale entries (interned once, never removed: an unused
    /// index after a rollback is harmless).
    fn intern_brand(&mut self, brand: &BrandId) -> u32 {
        if let Some(&i) = self.brand_index.get(brand) {
            return i;
        }
        let i = self.brand_names.len() as u32;
        self.brand_names.push(brand.clone());
        self.brand_index.insert(brand.clone(), i);
        i
    }

    fn set_status(&mut self, supplier: &PartyId, stamp: Stamp, status: SupplierStatus) {
        if let Some(s) = self.suppliers.get_mut(supplier) {
            insert_by_stamp(&mut s.statuses, (stamp, status), |(st, _)| *st);
            self.note(Undo::SupplierStatus(supplier.clone(), stamp.seq));
        }
    }

    fn move_margin(&mut self, supplier: &PartyId, stamp: Stamp, delta: i64, amount: &chl_model::Money) {
        if let Some(s) = self.suppliers.get_mut(supplier) {
            insert_by_stamp(&mut s.margins, (stamp, delta, amount.currency().clone()), |(st, _, _)| *st);
            self.note(Undo::Margin(supplier.clone(), stamp.seq));
        }
    }

    fn take_back(&mut self, undo: Undo) {
        match undo {
            Undo::Party(id) => drop(self.parties.remove(&id)),
            Undo::SupplierAdmitted(id) => drop(self.suppliers.remove(&id)),
            Undo::SupplierStatus(id, seq) => {
                if let Some(s) = self.suppliers.get_mut(&id) {
                    s.statuses.retain(|(stamp, _)| stamp.seq != seq);
                }
            }
            Undo::Margin(id, seq) => {
                if let Some(s) = self.suppliers.get_mut(&id) {
                    s.margins.retain(|(stamp, _, _)| stamp.seq != seq);
                }
            }
            Undo::Policy(seq) => self.policies.retain(|p| p.set.seq != seq),
            Undo::Brand(id) => drop(self.brands.remove(&id)),
            Undo::Product(sku) => drop(self.products.remove(&sku)),
            Undo::HostAppointed(brand) => {
                if let Some(list) = self.hosts.get_mut(&brand) {
                    list.pop();
                }
            }
            Undo::HostDismissed(brand, before) => {
                if let Some(list) = self.hosts.get_mut(&brand) {
                    for (i, dismissed) in before {
                        list[i].dismissed = dismissed;
                    }
                }
            }
            Undo::Grant(id) => {
                if let Some(grant) = self.grants.remove(&id) {
                    if let Some(parent) = &grant.data.parent
                        && let Some(siblings) = self.children.get_mut(parent)
                    {
                        siblings.retain(|c| *c != id);
                    }
                    if let Some(list) = self.grants_by_brand.get_mut(&grant.data.brand) {
                        list.retain(|g| *g != id);
                    }
                    if let Some(list) = self.grants_by_grantee.get_mut(&grant.data.grantee) {
                        list.retain(|g| *g != id);
                    }
                }
            }
            Undo::GrantRevoked(id) => {
                if let Some(grant) = self.grants.get_mut(&id) {
                    grant.revoked = None;
                }
            }
            Undo::Store(id) => {
                if let Some(store) = self.stores.remove(&id)
                    && let Some(list) = self.stores_by_operator.get_mut(&store.operator)
                {
                    list.retain(|s| *s != id);
                }
            }
            Undo::OrderDisputed(key) => {
                if let Some(order) = self.orders.get_mut(&key) {
                    order.disputed = None;
                }
            }
            Undo::StoreSale(store, seq) => {
                for (_, series) in self.store_sales.get_mut(&store).into_iter().flatten() {
                    series.remove(seq);
                }
            }
            Undo::StoreClosed(id) => {
                if let Some(store) = self.stores.get_mut(&id) {
                    store.closed = None;
                }
            }
            Undo::Agreement(id) => {
                if let Some(agreement) = self.agreements.remove(&id)
                    && let Some(list) = self.agreements_by_distributor.get_mut(&agreement.data.distributor)
                {
                    list.retain(|a| *a != id);
                }
            }
            Undo::AgreementTerminated(id) => {
                if let Some(agreement) = self.agreements.get_mut(&id) {
                    agreement.terminated = None;
                }
            }
            Undo::Order(key) => drop(self.orders.remove(&key)),
            Undo::OrderRefunded(key) => {
                if let Some(order) = self.orders.get_mut(&key) {
                    order.refunded = None;
                }
            }
            Undo::Dispute(id) => drop(self.disputes.remove(&id)),
            Undo::DisputeClosed(id) => {
                if let Some(dispute) = self.disputes.get_mut(&id) {
                    dispute.closed = None;
                }
            }
            Undo::Fingerprint(fingerprint) => drop(self.fingerprints.remove(&fingerprint)),
        }
    }

    /// A digest of everything the state holds, for tests that compare states built in
    /// different ways (live, replayed, rolled back).
    pub fn digest(&self) -> Digest {
        let mut lines: Vec<String> = Vec::new();
        lines.extend(self.parties.iter().map(|(k, v)| format!("party {k} {v:?}")));
        lines.extend(self.suppliers.iter().map(|(k, v)| format!("supplier {k} {v:?}")));
        lines.extend(self.policies.iter().map(|v| format!("policy {v:?}")));
        lines.extend(self.brands.iter().map(|(k, v)| format!("brand {k} {v:?}")));
        lines.extend(self.products.iter().map(|(k, v)| format!("product {k} {v:?}")));
        lines.extend(
            self.hosts.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("hosts {k} {v:?}")),
        );
        lines.extend(self.grants.iter().map(|(k, v)| format!("grant {k} {v:?}")));
        lines.extend(
            self.children.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("children {k} {v:?}")),
        );
        lines.extend(
            self.grants_by_brand
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("by-brand {k} {v:?}")),
        );
        lines.extend(self.stores.iter().map(|(k, v)| format!("store {k} {v:?}")));
        lines.extend(
            self.grants_by_grantee
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("held {k} {v:?}")),
        );
        lines.extend(
            self.agreements_by_distributor
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("distributes {k} {v:?}")),
        );
        lines.extend(self.agreements.iter().map(|(k, v)| format!("agreement {k} {v:?}")));
        lines.extend(self.orders.iter().map(|(k, v)| format!("order {k} {v:?}")));
        lines.extend(self.disputes.iter().map(|(k, v)| format!("dispute {k} {v:?}")));
        for (store, series) in &self.store_sales {
            for (brand, sales) in series.iter().filter(|(_, s)| !s.entries.is_empty()) {
                let brand = &self.brand_names[*brand as usize];
                lines.push(format!("sales {store} {brand} {:?} {:?}", sales.entries, sales.running));
            }
        }
        lines.extend(
            self.stores_by_operator
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("operator {k} {v:?}")),
        );
        lines.extend(self.fingerprints.iter().map(|(k, v)| format!("fp {k:?} {v:?}")));
        lines.push(format!("next {}", self.next_seq));
        lines.sort();
        Digest(*blake3::hash(lines.join("\n").as_bytes()).as_bytes())
    }
}
