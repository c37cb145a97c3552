//! The authenticity check of spec/events.md: was this sale authentic, and on what evidence?
//!
//! Everything is judged in one `View`: the world as of the sale's time, as the ledger knew it
//! after record `known`. Every grant chain that could authorize the seller is tried; the
//! answer names the best one (fewest warnings, then shortest, then earliest recorded), gathers
//! the failures of all of them, and lists the seqs of every record it rests on.

use crate::facts::*;
use crate::scope;
use crate::state::State;
use chl_model::{AgreementId, GrantId, Money, OrderId, Region, Seq, Sku, StoreId, Timestamp};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeSet;

/// The verdict of an authenticity check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// A grant chain from the brand owner authorizes the seller, and an agreement shows where the
    /// goods came from (or the store is the brand owner's own).
    Authentic,
    /// A grant chain authorizes the seller, but no agreement covers the goods' source.
    UnverifiedSource,
    /// No grant chain authorizes the seller, or the brand owner or the store is not in good
    /// standing; `reasons` says why.
    Unauthorized,
    /// The order is not known as of the seq asked about.
    UnknownOrder,
}

/// Why a seller was not authorized. When no grant chain holds, the failures of every chain
/// tried; when one holds, only the brand owner's and the store's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The brand owner was not an active supplier then (never admitted, suspended or expelled).
    BrandOwnerInactive,
    /// The store was not open then (closed, or not opened yet).
    StoreClosed,
    /// The store's operator holds no grant of the brand.
    NoGrant,
    /// A grant of the chain had not started yet (before its `valid_from` or its effective time).
    GrantNotYetValid,
    /// A grant of the chain had expired (at or after its `valid_until`).
    GrantExpired,
    /// A grant of the chain had been revoked with effect at or before then.
    GrantRevoked,
    /// A grant of the chain does not cover the sku (by sku or category).
    OutOfScopeSku,
    /// A grant of the chain does not cover the store's channel.
    OutOfScopeChannel,
    /// A grant of the chain does not cover the sale's (or else the store's) region.
    OutOfScopeRegion,
    /// The chain does not lead to the brand owner: a parent grant unknown, a parent that may not
    /// be sublicensed, or a root grant not issued by the brand owner.
    ChainBroken,
}

/// Something worth knowing about an answer that does not change its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    /// The sale's unit price is below the product's price floor (in the same currency).
    PriceBelowFloor,
    /// A grant relied on was recorded after the sale.
    GrantRecordedAfterSale,
    /// A grant relied on was revoked later, with effect after the time judged.
    RevokedLater,
    /// The order was refunded.
    Refunded,
    /// The order was disputed.
    Disputed,
}

/// One grant of the chain the verdict names, root first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ChainLink {
    pub grant: GrantId,
    /// The seq of the record that issued the grant.
    pub seq: Seq,
}

/// The agreement the goods were sourced through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AgreementRef {
    pub agreement: AgreementId,
    /// The seq of the record that signed the agreement.
    pub seq: Seq,
}

/// The answer to "was this sale authentic?" (or "may this store sell this sku then?").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Verdict {
    pub verdict: VerdictKind,
    /// Why the seller was not authorized: distinct, in a fixed order; empty unless the verdict
    /// is `unauthorized`.
    #[schemars(extend("uniqueItems" = true))]
    pub reasons: Vec<Reason>,
    /// Distinct, in a fixed order.
    #[schemars(extend("uniqueItems" = true))]
    pub warnings: Vec<Warning>,
    /// The grant chain relied on (or, when none holds, the one that came closest), root first;
    /// empty for the brand owner's own store, when the operator holds no grant, and for an
    /// unknown order.
    pub grant_chain: Vec<ChainLink>,
    /// The agreement the goods were sourced through, if one covers them; always present, null
    /// when none does.
    pub agreement: Option<AgreementRef>,
    /// Seqs of every record the verdict rests on, ascending.
    #[schemars(extend("uniqueItems" = true))]
    pub evidence: Vec<Seq>,
}

impl Verdict {
    pub fn unknown_order() -> Verdict {
        Verdict {
            verdict: VerdictKind::UnknownOrder,
            reasons: Vec::new(),
            warnings: Vec::new(),
            grant_chain: Vec::new(),
            agreement: None,
            evidence: Vec::new(),
        }
    }
}

/// What the check needs of a sale, read from its record.
#[derive(Debug, Clone)]
pub struct Sale {
    pub order: OrderId,
    pub seq: Seq,
    pub at: Timestamp,
    pub store: StoreId,
    pub sku: Sku,
    pub unit_price: Option<Money>,
    pub region: Option<Region>,
}

/// Why a (store, sku, time) question has no verdict: the store or sku is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownId(pub String);

impl std::error::Error for UnknownId {}

impl std::fmt::Display for UnknownId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The agreement a sale was sourced through, with the seqs it rests on and the warnings of
/// the supplier's grant it relies on.
struct Sourcing {
    agreement: AgreementRef,
    evidence: Vec<Seq>,
    warnings: BTreeSet<Warning>,
}

fn chain_links(candidate: &Candidate) -> Vec<ChainLink> {
    candidate.links.iter().map(|(grant, stamp)| ChainLink { grant: grant.clone(), seq: stamp.seq }).collect()
}

/// A grant chain tried, with what went wrong with it.
struct Candidate {
    /// Root first.
    links: Vec<(GrantId, Stamp)>,
    failures: BTreeSet<Reason>,
    warnings: BTreeSet<Warning>,
    evidence: BTreeSet<Seq>,
}

impl State {
    /// The verdict on a sale, in `view` (`view.at` is ignored: the sale's own time counts).
    pub fn verdict_of_sale(&self, sale: &Sale, known: Seq) -> Verdict {
        let Some(order) = self.order(&sale.order).filter(|o| o.recorded.seq <= known) else {
            return Verdict::unknown_order();
        };
        let view = View { at: sale.at, known };
        let mut verdict = self
            .judge(&sale.store, &sale.sku, sale.region.as_ref(), view, Some(sale.seq))
            .expect("a recorded sale names a store and sku that exist");
        let mut warnings: BTreeSet<Warning> = verdict.warnings.iter().copied().collect();
        let mut evidence: BTreeSet<Seq> = verdict.evidence.iter().copied().collect();
        evidence.insert(sale.seq);
        if let (Some(price), Some(floor)) =
            (&sale.unit_price, self.product(&sale.sku).and_then(|p| p.price_floor.as_ref()))
            && price.currency() == floor.currency()
            && price.value() < floor.value()
        {
            warnings.insert(Warning::PriceBelowFloor);
            evidence.insert(self.product(&sale.sku).expect("floor").registered.seq);
        }
        if let Some(refund) = order.refunded.filter(|r| r.seq <= known) {
            warnings.insert(Warning::Refunded);
            evidence.insert(refund.seq);
        }
        if let Some(dispute) = order.disputed.filter(|d| d.seq <= known) {
            warnings.insert(Warning::Disputed);
            evidence.insert(dispute.seq);
        }
        verdict.warnings = warnings.into_iter().collect();
        verdict.evidence = evidence.into_iter().collect();
        verdict
    }

    /// May `store` sell `sku` at `at`, as known after record `known`? The same judgement as
    /// for a sale, without the sale's own warnings.
    pub fn verdict_at(
        &self,
        store: &StoreId,
        sku: &Sku,
        at: Timestamp,
        known: Seq,
    ) -> Result<Verdict, UnknownId> {
        self.judge(store, sku, None, View { at, known }, None)
    }

    fn judge(
        &self,
        store_id: &StoreId,
        sku: &Sku,
        sale_region: Option<&Region>,
        view: View,
        sale_seq: Option<Seq>,
    ) -> Result<Verdict, UnknownId> {
        let store = self
            .store(store_id)
            .filter(|s| s.opened.seq <= view.known)
            .ok_or_else(|| UnknownId(format!("store {store_id} is not known as of seq {}", view.known)))?;
        let product = self
            .product(sku)
            .filter(|p| p.registered.seq <= view.known)
            .ok_or_else(|| UnknownId(format!("sku {sku} is not known as of seq {}", view.known)))?;
        let brand = self.brand(&product.brand).expect("a product's brand exists");
        let owner = &brand.owner;
        let region = sale_region.or(store.region.as_ref());
        let mut reasons = BTreeSet::new();
        let mut evidence: BTreeSet<Seq> =
            [store.opened.seq, product.registered.seq, brand.registered.seq].into_iter().collect();

        match self.supplier(owner).and_then(|s| s.status(view)) {
            Some((stamp, SupplierStatus::Active)) => {
                evidence.insert(stamp.seq);
            }
            Some((stamp, _)) => {
                reasons.insert(Reason::BrandOwnerInactive);
                evidence.insert(stamp.seq);
            }
            None => {
                reasons.insert(Reason::BrandOwnerInactive);
            }
        }
        let open = view.sees(store.opened) && !view.sees_end(store.closed);
        if !open {
            reasons.insert(Reason::StoreClosed);
            if let Some(closed) = store.closed.filter(|c| view.sees(*c)) {
                evidence.insert(closed.seq);
            }
        }

        if store.operator == *owner {
            // The brand owner's own store needs neither grant nor agreement.
            let verdict = if reasons.is_empty() { VerdictKind::Authentic } else { VerdictKind::Unauthorized };
            return Ok(Verdict {
                verdict,
                reasons: reasons.into_iter().collect(),
                warnings: Vec::new(),
                grant_chain: Vec::new(),
                agreement: None,
                evidence: evidence.into_iter().collect(),
            });
        }

        let candidates = self.chains(
            &product.brand,
            owner,
            &store.operator,
            sku,
            &product.category,
            store.channel,
            region,
            view,
            sale_seq,
        );
        if candidates.is_empty() {
            reasons.insert(Reason::NoGrant);
        }
        for candidate in &candidates {
            reasons.extend(candidate.failures.iter().copied());
        }
        let holding = candidates
            .iter()
            .filter(|c| c.failures.is_empty())
            .min_by_key(|c| (c.warnings.len(), c.links.len(), c.links.iter().map(|(_, s)| s.seq).max()));
        let Some(chain) = holding else {
            // No chain holds: name the one that came closest, and rest on every chain tried.
            let closest = candidates.iter().min_by_key(|c| (c.failures.len(), c.links.len()));
            for candidate in &candidates {
                evidence.extend(candidate.evidence.iter().copied());
            }
            return Ok(Verdict {
                verdict: VerdictKind::Unauthorized,
                reasons: reasons.into_iter().collect(),
                warnings: closest.map(|c| c.warnings.iter().copied().collect()).unwrap_or_default(),
                grant_chain: closest.map(chain_links).unwrap_or_default(),
                agreement: None,
                evidence: evidence.into_iter().collect(),
            });
        };
        // The chain holds: the reasons gathered from other chains do not count against it,
        // but the owner's and the store's standing do.
        reasons.retain(|r| matches!(r, Reason::BrandOwnerInactive | Reason::StoreClosed));
        evidence.extend(chain.evidence.iter().copied());
        let agreement = self.covering_agreement(
            &product.brand,
            owner,
            &store.operator,
            sku,
            &product.category,
            view,
            sale_seq,
        );
        let kind = if !reasons.is_empty() {
            VerdictKind::Unauthorized
        } else if agreement.is_some() {
            VerdictKind::Authentic
        } else {
            VerdictKind::UnverifiedSource
        };
        let mut warnings = chain.warnings.clone();
        if let Some(sourcing) = &agreement {
            evidence.insert(sourcing.agreement.seq);
            evidence.extend(sourcing.evidence.iter().copied());
            warnings.extend(sourcing.warnings.iter().copied());
        }
        Ok(Verdict {
            verdict: kind,
            reasons: reasons.into_iter().collect(),
            warnings: warnings.into_iter().collect(),
            grant_chain: chain_links(chain),
            agreement: agreement.map(|s| s.agreement),
            evidence: evidence.into_iter().collect(),
        })
    }

    /// Every grant chain from a grant to `operator` up to its root, judged in `view`.
    #[allow(clippy::too_many_arguments)]
    fn chains(
        &self,
        brand: &chl_model::BrandId,
        owner: &chl_model::PartyId,
        operator: &chl_model::PartyId,
        sku: &Sku,
        category: &chl_model::Category,
        channel: chl_model::event::Channel,
        region: Option<&Region>,
        view: View,
        sale_seq: Option<Seq>,
    ) -> Vec<Candidate> {
        let leaves = self.grants_held(operator, brand).filter(|(_, g)| g.issued.seq <= view.known);
        let mut out = Vec::new();
        for (leaf_id, _) in leaves {
            let mut candidate = Candidate {
                links: Vec::new(),
                failures: BTreeSet::new(),
                warnings: BTreeSet::new(),
                evidence: BTreeSet::new(),
            };
            let mut next = Some(leaf_id.clone());
            let mut child_needs_sublicense = false;
            while let Some(id) = next.take() {
                let Some(grant) = self.grant(&id).filter(|g| g.issued.seq <= view.known) else {
                    candidate.failures.insert(Reason::ChainBroken);
                    break;
                };
                let g = &grant.data;
                candidate.links.push((id.clone(), grant.issued));
                candidate.evidence.insert(grant.issued.seq);
                if child_needs_sublicense && !g.sublicensable {
                    candidate.failures.insert(Reason::ChainBroken);
                }
                let starts = grant.issued.effective_at.max(g.valid_from);
                if view.at < starts || !view.sees(grant.issued) {
                    candidate.failures.insert(Reason::GrantNotYetValid);
                } else if view.at >= g.valid_until {
                    candidate.failures.insert(Reason::GrantExpired);
                }
                match self.revocation(&id, view.known) {
                    Some((stamp, _)) if stamp.effective_at <= view.at => {
                        candidate.failures.insert(Reason::GrantRevoked);
                        candidate.evidence.insert(stamp.seq);
                    }
                    Some((stamp, _)) => {
                        candidate.warnings.insert(Warning::RevokedLater);
                        candidate.evidence.insert(stamp.seq);
                    }
                    None => {}
                }
                if !scope::covers(&g.scope, sku, category) {
                    candidate.failures.insert(Reason::OutOfScopeSku);
                }
                if !g.channels.contains(&channel) {
                    candidate.failures.insert(Reason::OutOfScopeChannel);
                }
                if !scope::covers_region(&g.regions, region) {
                    candidate.failures.insert(Reason::OutOfScopeRegion);
                }
                if sale_seq.is_some_and(|sale| grant.issued.seq > sale) {
                    candidate.warnings.insert(Warning::GrantRecordedAfterSale);
                }
                match &g.parent {
                    Some(parent) => {
                        child_needs_sublicense = true;
                        next = Some(parent.clone());
                    }
                    None if g.grantor != *owner => {
                        candidate.failures.insert(Reason::ChainBroken);
                    }
                    None => {}
                }
            }
            candidate.links.reverse();
            out.push(candidate);
        }
        out
    }

    /// An agreement with `distributor` for `brand` active in `view` and covering the sku,
    /// whose supplier is active and is `owner` or holds a grant of the brand valid then
    /// covering the sku. The one with the fewest warnings (from the supplier's grant), then the
    /// earliest recorded, with the seqs it rests on and its warnings.
    #[allow(clippy::too_many_arguments)]
    fn covering_agreement(
        &self,
        brand: &chl_model::BrandId,
        owner: &chl_model::PartyId,
        distributor: &chl_model::PartyId,
        sku: &Sku,
        category: &chl_model::Category,
        view: View,
        sale_seq: Option<Seq>,
    ) -> Option<Sourcing> {
        let mut found: Vec<Sourcing> = self
            .agreements_by_distributor
            .get(distributor)
            .into_iter()
            .flatten()
            .filter_map(|id| self.agreements.get_key_value(id))
            .filter(|(_, a)| a.data.brand == *brand)
            .filter(|(_, a)| {
                window_covers(a.signed, a.data.valid_from, a.data.valid_until, view)
                    && !view.sees_end(a.terminated)
            })
            .filter(|(_, a)| scope::covers(&a.data.scope, sku, category))
            .filter_map(|(id, a)| {
                let supplier = &a.data.supplier;
                let (status_stamp, status) = self.supplier(supplier)?.status(view)?;
                if status != SupplierStatus::Active {
                    return None;
                }
                let mut evidence = vec![status_stamp.seq];
                let mut warnings = BTreeSet::new();
                if supplier != owner {
                    // The verdict relies on the supplier's grant too: its warnings count.
                    let (grant, grant_warnings, revocation) = self
                        .grants_held(supplier, brand)
                        .filter(|(gid, g)| {
                            self.grant_holds(gid, view) && scope::covers(&g.data.scope, sku, category)
                        })
                        .map(|(gid, g)| {
                            let mut w = BTreeSet::new();
                            let revocation = self.revocation(gid, view.known).map(|(stamp, _)| stamp);
                            if revocation.is_some() {
                                w.insert(Warning::RevokedLater);
                            }
                            if sale_seq.is_some_and(|sale| g.issued.seq > sale) {
                                w.insert(Warning::GrantRecordedAfterSale);
                            }
                            (g, w, revocation)
                        })
                        .min_by_key(|(g, w, _)| (w.len(), g.issued.seq))?;
                    evidence.push(grant.issued.seq);
                    evidence.extend(revocation.map(|r| r.seq));
                    warnings = grant_warnings;
                }
                let agreement = AgreementRef { agreement: id.clone(), seq: a.signed.seq };
                Some(Sourcing { agreement, evidence, warnings })
            })
            .collect();
        found.sort_by_key(|s| (s.warnings.len(), s.agreement.seq));
        found.into_iter().next()
    }
}
