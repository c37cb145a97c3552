//! The rules of spec/events.md, judged before anything is appended, against the state as it
//! stood at the submission's `effective_at` with everything recorded so far.
//!
//! Order of judgement: idempotency first (an exact repeat is accepted as a no-op before
//! anything else). Then, per event type, the most basic refusal first: for types only the
//! platform submits, the actor; then whether a new id is free (a conflict is reported under
//! idempotency, rule 8); then references, authority, suppliers, grants, agreements and sales.
//! Every refusal names its rule, the field and the ids involved.

use crate::facts::*;
use crate::scope;
use crate::state::{Fingerprint, State};
use chl_model::event::*;
use chl_model::{
    AgreementId, BrandId, DisputeId, Event, EventType, GrantId, OrderId, PartyId, Refusal, Rule, Seq, Sku,
    StoreId, Timestamp,
};

/// What the ledger should do with a submission that breaks no rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Append it; `Fingerprint` goes to `State::apply`.
    Append(Fingerprint),
    /// It repeats the record at this seq exactly: accept it, append nothing.
    Repeat(Seq),
}

/// A submission with its effective time resolved.
#[derive(Debug, Clone, Copy)]
pub struct Submitted<'a> {
    pub actor: &'a PartyId,
    pub effective_at: Timestamp,
    pub event: &'a Event,
}

/// Judges `submission`, whose fingerprint is `fingerprint`, against `state`.
pub fn check(
    state: &State,
    submission: Submitted<'_>,
    fingerprint: Fingerprint,
) -> Result<Decision, Refusal> {
    if let Some(seq) = state.repeat_of(fingerprint) {
        return Ok(Decision::Repeat(seq));
    }
    let judge = Judge {
        state,
        actor: submission.actor,
        t: submission.effective_at,
        view: View::at(submission.effective_at),
        event_type: submission.event.event_type(),
    };
    judge.event(submission.event)?;
    Ok(Decision::Append(fingerprint))
}

struct Judge<'a> {
    state: &'a State,
    actor: &'a PartyId,
    t: Timestamp,
    view: View,
    event_type: EventType,
}

type Verdict = Result<(), Refusal>;

fn refuse(rule: Rule, field: &str, message: String) -> Refusal {
    Refusal::new(rule, field, message)
}

impl<'a> Judge<'a> {
    fn event(&self, event: &'a Event) -> Verdict {
        match event {
            Event::LedgerCreated(_) => Err(refuse(
                Rule::Authority,
                "type",
                "ledger_created is written only by chl init, as record 0".into(),
            )),
            Event::PartyRegistered(e) => self.party_registered(e),
            Event::SupplierAdmitted(e) => self.supplier_admitted(e),
            Event::SupplierSuspended(e) => self.supplier_change(&e.supplier, SupplierStatus::Suspended),
            Event::SupplierReinstated(e) => self.supplier_change(&e.supplier, SupplierStatus::Active),
            Event::SupplierExpelled(e) => self.supplier_change(&e.supplier, SupplierStatus::Expelled),
            Event::MarginDeposited(e) => self.margin(&e.supplier, &e.amount, false),
            Event::MarginDeducted(e) => self.margin(&e.supplier, &e.amount, true),
            Event::MarginRefunded(e) => self.margin(&e.supplier, &e.amount, true),
            Event::PolicySet(_) => self.platform_only(),
            Event::BrandRegistered(e) => self.brand_registered(e),
            Event::ProductRegistered(e) => self.product_registered(e),
            Event::ChannelHostAppointed(e) => self.host_appointed(e),
            Event::ChannelHostDismissed(e) => self.host_dismissed(e),
            Event::GrantIssued(e) => self.grant_issued(e),
            Event::GrantRevoked(e) => self.grant_revoked(e),
            Event::StoreOpened(e) => self.store_opened(e),
            Event::StoreClosed(e) => self.store_closed(e),
            Event::AgreementSigned(e) => self.agreement_signed(e),
            Event::AgreementTerminated(e) => self.agreement_terminated(e),
            Event::SaleRecorded(e) => self.sale_recorded(e),
            Event::SaleRefunded(e) => self.sale_refunded(e),
            Event::DisputeOpened(e) => self.dispute_opened(e),
            Event::DisputeClosed(e) => self.dispute_closed(e),
        }
    }

    // ---- shared judgements ----------------------------------------------------------------

    fn platform_only(&self) -> Verdict {
        if self.actor.is_platform() {
            return Ok(());
        }
        Err(refuse(
            Rule::Authority,
            "actor",
            format!("only platform may submit {}; the actor is {}", self.event_type, self.actor),
        ))
    }

    /// A thing referred to must exist as of `t`.
    fn exists(&self, field: &str, what: &str, id: &dyn std::fmt::Display, stamp: Option<Stamp>) -> Verdict {
        match stamp {
            None => Err(refuse(Rule::References, field, format!("{what} {id} does not exist"))),
            Some(stamp) if !self.view.sees(stamp) => Err(refuse(
                Rule::References,
                field,
                format!(
                    "{what} {id} exists only from {} (seq {}), after this submission's effective_at {}",
                    stamp.effective_at, stamp.seq, self.t
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    /// A new id must never have been used, at any time.
    fn new_id(&self, field: &str, what: &str, id: &dyn std::fmt::Display, taken: Option<Stamp>) -> Verdict {
        match taken {
            None => Ok(()),
            Some(stamp) => Err(refuse(
                Rule::Idempotency,
                field,
                format!("{what} id {id} is already taken by seq {} with different content", stamp.seq),
            )),
        }
    }

    fn party(&self, field: &str, id: &PartyId) -> Verdict {
        self.exists(field, "party", id, self.state.party(id).map(|p| p.registered))
    }

    fn brand(&self, field: &str, id: &BrandId) -> Result<&'a Brand, Refusal> {
        let brand = self.state.brand(id);
        self.exists(field, "brand", id, brand.map(|b| b.registered))?;
        Ok(brand.expect("exists"))
    }

    fn product_of_brand(&self, field: &str, sku: &Sku, brand: &BrandId) -> Result<&'a Product, Refusal> {
        let product = self.state.product(sku);
        self.exists(field, "sku", sku, product.map(|p| p.registered))?;
        let product = product.expect("exists");
        if product.brand != *brand {
            return Err(refuse(
                Rule::References,
                field,
                format!("sku {sku} is a product of brand {}, not of brand {brand}", product.brand),
            ));
        }
        Ok(product)
    }

    fn scope_skus(&self, scope: &Scope, brand: &BrandId) -> Verdict {
        for (i, sku) in scope.skus.iter().flatten().enumerate() {
            self.product_of_brand(&format!("data.scope.skus[{i}]"), sku, brand)?;
        }
        Ok(())
    }

    fn grant(&self, field: &str, id: &GrantId) -> Result<&'a Grant, Refusal> {
        let grant = self.state.grant(id);
        self.exists(field, "grant", id, grant.map(|g| g.issued))?;
        Ok(grant.expect("exists"))
    }

    /// The supplier's standing at `t`, refusing if it is not an admitted supplier.
    fn admitted(&self, field: &str, id: &PartyId, role: &str) -> Result<(Stamp, SupplierStatus), Refusal> {
        let status = self.state.supplier(id).and_then(|s| s.status(self.view));
        status.ok_or_else(|| {
            refuse(Rule::Suppliers, field, format!("{role} {id} is not an admitted supplier at {}", self.t))
        })
    }

    /// Rule 4: a suspended or expelled supplier may not `act`.
    fn active(&self, field: &str, id: &PartyId, role: &str, act: &str) -> Verdict {
        let (since, status) = self.admitted(field, id, role)?;
        if status == SupplierStatus::Active {
            return Ok(());
        }
        Err(refuse(
            Rule::Suppliers,
            field,
            format!(
                "{role} {id} is {} (since {}, seq {}) and may not {act}",
                status.describe(),
                since.effective_at,
                since.seq
            ),
        ))
    }

    /// Rule 4: under a minimum margin, a supplier below it may not `act`.
    fn margin_meets_policy(&self, field: &str, id: &PartyId, act: &str) -> Verdict {
        let Some(policy) = self.state.min_margin(self.view) else { return Ok(()) };
        let Some(supplier) = self.state.supplier(id) else { return Ok(()) };
        let minimum = &policy.min_margin;
        let balance = supplier.balance(minimum.currency(), self.view);
        if balance >= minimum.value() {
            return Ok(());
        }
        Err(refuse(
            Rule::Suppliers,
            field,
            format!(
                "supplier {id} holds a margin of {balance} {} at {}, below the minimum of {} {} set at seq {}, and may not {act}",
                minimum.currency(),
                self.t,
                minimum.value(),
                minimum.currency(),
                policy.set.seq
            ),
        ))
    }

    fn host_may(&self, brand: &BrandId, power: HostPower) -> bool {
        self.state.host_may(brand, self.actor, power, self.view)
    }

    /// Why the actor, if it was ever a channel host of `brand`, cannot act with `power` at
    /// `t`, as a clause to append to an authority refusal ("" if it never was one).
    fn host_note(&self, brand: &BrandId, power: HostPower) -> String {
        let power_name = match power {
            HostPower::Grants => "grants",
            HostPower::Agreements => "agreements",
        };
        let Some(appointments) = self.state.hosts.get(brand) else { return String::new() };
        let mine: Vec<&Appointment> =
            appointments.iter().filter(|a| a.host == *self.actor && self.view.sees(a.appointed)).collect();
        let Some(last) = mine.last() else { return String::new() };
        let why = if !last.powers.contains(&power) {
            format!("its appointment gives no power {power_name}")
        } else if let Some(dismissed) = last.dismissed.filter(|d| self.view.sees(*d)) {
            format!("it was dismissed at {} (seq {})", dismissed.effective_at, dismissed.seq)
        } else if self.t >= last.valid_until {
            format!("its appointment ended at {}", last.valid_until)
        } else {
            format!("its appointment starts at {}", last.appointed.effective_at.max(last.valid_from))
        };
        format!(
            " ({} was appointed channel host of brand {brand} at seq {}, but {why})",
            self.actor, last.appointed.seq
        )
    }

    // ---- parties and suppliers ------------------------------------------------------------

    fn party_registered(&self, e: &PartyRegistered) -> Verdict {
        self.platform_only()?;
        if e.party.is_platform() {
            return Err(refuse(
                Rule::References,
                "data.party",
                "platform is the reserved id of the platform operator".into(),
            ));
        }
        self.new_id("data.party", "party", &e.party, self.state.party(&e.party).map(|p| p.registered))
    }

    fn supplier_admitted(&self, e: &SupplierAdmitted) -> Verdict {
        self.platform_only()?;
        self.party("data.supplier", &e.supplier)?;
        if let Some(supplier) = self.state.supplier(&e.supplier) {
            let admitted = supplier.admitted();
            return Err(refuse(
                Rule::Suppliers,
                "data.supplier",
                format!(
                    "supplier {} was already admitted at {} (seq {})",
                    e.supplier, admitted.effective_at, admitted.seq
                ),
            ));
        }
        Ok(())
    }

    fn supplier_change(&self, id: &PartyId, to: SupplierStatus) -> Verdict {
        self.platform_only()?;
        let (since, now) = self.admitted("data.supplier", id, "supplier")?;
        let at = format!("since {}, seq {}", since.effective_at, since.seq);
        let problem = match (now, to) {
            (SupplierStatus::Expelled, SupplierStatus::Active) => {
                Some(format!("supplier {id} was expelled ({at}); expulsion is final and cannot be undone"))
            }
            (SupplierStatus::Expelled, _) => Some(format!("supplier {id} is already expelled ({at})")),
            (SupplierStatus::Suspended, SupplierStatus::Suspended) => {
                Some(format!("supplier {id} is already suspended ({at})"))
            }
            (SupplierStatus::Active, SupplierStatus::Active) => {
                Some(format!("supplier {id} is not suspended at {} (active {at})", self.t))
            }
            (_, SupplierStatus::Expelled) => self.later_status_change(id).map(|(stamp, _)| {
                format!(
                    "supplier {id} has a status change recorded at seq {} effective {}, after {}; expulsion is final, so it cannot be backdated before another change",
                    stamp.seq, stamp.effective_at, self.t
                )
            }),
            _ => None,
        };
        match problem {
            Some(message) => Err(refuse(Rule::Suppliers, "data.supplier", message)),
            None => Ok(()),
        }
    }

    /// The first status change of `id` effective after `t`, if any.
    fn later_status_change(&self, id: &PartyId) -> Option<(Stamp, SupplierStatus)> {
        let supplier = self.state.supplier(id)?;
        supplier.statuses.iter().find(|(stamp, _)| stamp.effective_at > self.t).copied()
    }

    /// Deposits need an admitted supplier that is not expelled; deductions and refunds may
    /// never take the balance below zero, at `t` or at any later movement.
    fn margin(&self, id: &PartyId, amount: &chl_model::Money, withdrawal: bool) -> Verdict {
        self.platform_only()?;
        let (since, status) = self.admitted("data.supplier", id, "supplier")?;
        if !withdrawal {
            if status == SupplierStatus::Expelled {
                return Err(refuse(
                    Rule::Suppliers,
                    "data.supplier",
                    format!(
                        "supplier {id} is expelled (since {}, seq {}) and takes no deposits",
                        since.effective_at, since.seq
                    ),
                ));
            }
            return Ok(());
        }
        let supplier = self.state.supplier(id).expect("admitted");
        let currency = amount.currency();
        let mut balance = supplier.balance(currency, self.view) - amount.value();
        if balance < 0 {
            return Err(refuse(
                Rule::Suppliers,
                "data.amount",
                format!(
                    "the margin of supplier {id} would go below zero at {}: balance {} {currency}, withdrawal {} {currency}",
                    self.t,
                    balance + amount.value(),
                    amount.value()
                ),
            ));
        }
        // A backdated withdrawal also lowers every later balance.
        for (stamp, delta, c) in &supplier.margins {
            if stamp.effective_at > self.t && c == currency {
                balance += delta;
                if balance < 0 {
                    return Err(refuse(
                        Rule::Suppliers,
                        "data.amount",
                        format!(
                            "the margin of supplier {id} would go below zero at {} (after seq {})",
                            stamp.effective_at, stamp.seq
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    // ---- brands, products, hosts ----------------------------------------------------------

    fn brand_registered(&self, e: &BrandRegistered) -> Verdict {
        self.platform_only()?;
        self.new_id("data.brand", "brand", &e.brand, self.state.brand(&e.brand).map(|b| b.registered))?;
        self.party("data.owner", &e.owner)?;
        self.active("data.owner", &e.owner, "owner", "own a new brand")
    }

    fn product_registered(&self, e: &ProductRegistered) -> Verdict {
        self.new_id("data.sku", "sku", &e.sku, self.state.product(&e.sku).map(|p| p.registered))?;
        let brand = self.brand("data.brand", &e.brand)?;
        if *self.actor == brand.owner || self.host_may(&e.brand, HostPower::Grants) {
            return Ok(());
        }
        Err(refuse(
            Rule::Authority,
            "actor",
            format!(
                "{} is neither the owner of brand {} ({}) nor its channel host with power grants at {}{}",
                self.actor,
                e.brand,
                brand.owner,
                self.t,
                self.host_note(&e.brand, HostPower::Grants)
            ),
        ))
    }

    fn owner_only(&self, brand_id: &BrandId, brand: &Brand) -> Verdict {
        if *self.actor == brand.owner {
            return Ok(());
        }
        Err(refuse(
            Rule::Authority,
            "actor",
            format!(
                "only the owner of brand {brand_id} ({}) may submit {}; the actor is {}",
                brand.owner, self.event_type, self.actor
            ),
        ))
    }

    fn host_appointed(&self, e: &ChannelHostAppointed) -> Verdict {
        let brand = self.brand("data.brand", &e.brand)?;
        self.party("data.host", &e.host)?;
        self.owner_only(&e.brand, brand)
    }

    fn host_dismissed(&self, e: &ChannelHostDismissed) -> Verdict {
        let brand = self.brand("data.brand", &e.brand)?;
        self.party("data.host", &e.host)?;
        self.owner_only(&e.brand, brand)?;
        let appointed = self.state.hosts.get(&e.brand).is_some_and(|list| {
            list.iter()
                .any(|a| a.host == e.host && self.view.sees(a.appointed) && !self.view.sees_end(a.dismissed))
        });
        if appointed {
            return Ok(());
        }
        Err(refuse(
            Rule::References,
            "data.host",
            format!("{} is not an appointed channel host of brand {} at {}", e.host, e.brand, self.t),
        ))
    }

    // ---- grants -----------------------------------------------------------------------------

    fn grant_issued(&self, e: &GrantIssued) -> Verdict {
        self.new_id("data.grant", "grant", &e.grant, self.state.grant(&e.grant).map(|g| g.issued))?;
        let brand = self.brand("data.brand", &e.brand)?;
        self.party("data.grantor", &e.grantor)?;
        self.party("data.grantee", &e.grantee)?;
        self.scope_skus(&e.scope, &e.brand)?;
        let parent = match &e.parent {
            Some(id) => Some(self.grant("data.parent", id)?),
            None => None,
        };
        // Authority: the grantor itself, or for a root grant a host of the brand acting for
        // its owner.
        let acting_host =
            parent.is_none() && e.grantor == brand.owner && self.host_may(&e.brand, HostPower::Grants);
        if *self.actor != e.grantor && !acting_host {
            return Err(refuse(
                Rule::Authority,
                "actor",
                format!(
                    "{} may not issue grant {} for grantor {}: only the grantor, or for a grant without parent a channel host of brand {} with power grants, may{}",
                    self.actor,
                    e.grant,
                    e.grantor,
                    e.brand,
                    self.host_note(&e.brand, HostPower::Grants)
                ),
            ));
        }
        if e.parent.is_none() && e.grantor != brand.owner {
            return Err(refuse(
                Rule::Grants,
                "data.grantor",
                format!(
                    "a grant with no parent is issued by the brand owner; {} is not the owner of brand {} ({})",
                    e.grantor, e.brand, brand.owner
                ),
            ));
        }
        if self.state.supplier(&e.grantor).is_some() || parent.is_none() {
            self.active("data.grantor", &e.grantor, "grantor", "issue grants")?;
            self.margin_meets_policy("data.grantor", &e.grantor, "issue grants")?;
        }
        if let (Some(parent_id), Some(parent)) = (&e.parent, parent) {
            self.sub_grant(e, parent_id, parent)?;
        }
        self.exclusive(e)
    }

    fn sub_grant(&self, e: &GrantIssued, parent_id: &GrantId, parent: &Grant) -> Verdict {
        let p = &parent.data;
        let fail = |field: &str, message: String| Err(refuse(Rule::Grants, field, message));
        if p.brand != e.brand {
            return fail(
                "data.parent",
                format!("parent {parent_id} is a grant of brand {}, not of brand {}", p.brand, e.brand),
            );
        }
        if p.grantee != e.grantor {
            return fail(
                "data.grantor",
                format!(
                    "a sub-grant is issued by its parent's grantee: parent {parent_id} was granted to {}, not to {}",
                    p.grantee, e.grantor
                ),
            );
        }
        if !p.sublicensable {
            return fail("data.parent", format!("parent {parent_id} is not sublicensable"));
        }
        if !self.state.grant_holds(parent_id, self.view) {
            return fail("data.parent", self.why_grant_does_not_hold(parent_id, parent, "parent"));
        }
        if let Err(why) = scope::within(&e.scope, &p.scope, |sku| self.state.category_of(sku)) {
            return fail(
                "data.scope",
                format!("the scope of grant {} does not lie within its parent {parent_id}'s: {why}", e.grant),
            );
        }
        if let Some(channel) = e.channels.iter().find(|c| !p.channels.contains(c)) {
            return fail(
                "data.channels",
                format!("channel {} is not granted by parent {parent_id}", channel_name(*channel)),
            );
        }
        if let Err(why) = scope::regions_within(&e.regions, &p.regions) {
            return fail(
                "data.regions",
                format!("the regions of grant {} do not lie within its parent {parent_id}'s: {why}", e.grant),
            );
        }
        if e.valid_from < p.valid_from {
            return fail(
                "data.valid_from",
                format!(
                    "grant {} starts at {}, before its parent {parent_id} ({})",
                    e.grant, e.valid_from, p.valid_from
                ),
            );
        }
        if e.valid_until > p.valid_until {
            return fail(
                "data.valid_until",
                format!(
                    "grant {} would outlive its parent {parent_id}: until {}, the parent until {}",
                    e.grant, e.valid_until, p.valid_until
                ),
            );
        }
        Ok(())
    }

    /// Why a grant does not hold at `t`: not yet valid, expired or revoked.
    fn why_grant_does_not_hold(&self, id: &GrantId, grant: &Grant, role: &str) -> String {
        let g = &grant.data;
        let starts = grant.issued.effective_at.max(g.valid_from);
        if self.t < starts {
            return format!("{role} {id} is not valid yet at {}: it holds from {starts}", self.t);
        }
        if self.t >= g.valid_until {
            return format!("{role} {id} expired at {}, before {}", g.valid_until, self.t);
        }
        match self.state.revocation(id, self.view.known) {
            Some((stamp, by)) if by == *id => {
                format!("{role} {id} was revoked at {} (seq {})", stamp.effective_at, stamp.seq)
            }
            Some((stamp, by)) => format!(
                "{role} {id} is revoked from {} by the revocation of its ancestor {by} (seq {})",
                stamp.effective_at, stamp.seq
            ),
            None => format!("{role} {id} does not hold at {}", self.t),
        }
    }

    /// Two exclusive grants of a brand may not overlap in time on a channel. A grant's time is
    /// its effective window, cut short by a revocation (its own or an ancestor's).
    fn exclusive(&self, e: &GrantIssued) -> Verdict {
        if !e.exclusive {
            return Ok(());
        }
        let from = self.t.max(e.valid_from);
        // Like every other grant's, the new grant's time is cut short by a recorded
        // revocation of an ancestor, so the judgement does not depend on recording order.
        let until = match e.parent.as_ref().and_then(|p| self.state.revocation(p, self.view.known)) {
            Some((stamp, _)) => e.valid_until.min(stamp.effective_at),
            None => e.valid_until,
        };
        for (other_id, other) in self.state.grants_of_brand(&e.brand) {
            if !other.data.exclusive {
                continue;
            }
            let other_from = other.issued.effective_at.max(other.data.valid_from);
            let other_until = match self.state.revocation(other_id, self.view.known) {
                Some((stamp, _)) => other.data.valid_until.min(stamp.effective_at),
                None => other.data.valid_until,
            };
            if from >= other_until || other_from >= until {
                continue;
            }
            if let Some(channel) = e.channels.iter().find(|c| other.data.channels.contains(c)) {
                return Err(refuse(
                    Rule::Grants,
                    "data.exclusive",
                    format!(
                        "exclusive grant {} ({from} to {until}) overlaps exclusive grant {other_id} ({other_from} to {other_until}, seq {}) of brand {} on channel {}",
                        e.grant,
                        other.issued.seq,
                        e.brand,
                        channel_name(*channel)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn grant_revoked(&self, e: &GrantRevoked) -> Verdict {
        let grant = self.grant("data.grant", &e.grant)?;
        let g = &grant.data;
        let owner = self.state.brand(&g.brand).map(|b| &b.owner);
        let acting_host = owner == Some(&g.grantor) && self.host_may(&g.brand, HostPower::Grants);
        if *self.actor != g.grantor && !self.actor.is_platform() && !acting_host {
            return Err(refuse(
                Rule::Authority,
                "actor",
                format!(
                    "{} may not revoke grant {}: only its grantor {}, a channel host acting for it, or platform may{}",
                    self.actor,
                    e.grant,
                    g.grantor,
                    self.host_note(&g.brand, HostPower::Grants)
                ),
            ));
        }
        if let Some(revoked) = grant.revoked {
            return Err(refuse(
                Rule::Grants,
                "data.grant",
                format!(
                    "grant {} was already revoked at {} (seq {})",
                    e.grant, revoked.effective_at, revoked.seq
                ),
            ));
        }
        if let Some((stamp, by)) = self.state.revocation(&e.grant, self.view.known)
            && stamp.effective_at <= self.t
        {
            return Err(refuse(
                Rule::Grants,
                "data.grant",
                format!(
                    "grant {} is already revoked from {} by the revocation of its ancestor {by} (seq {})",
                    e.grant, stamp.effective_at, stamp.seq
                ),
            ));
        }
        Ok(())
    }

    // ---- stores ---------------------------------------------------------------------------

    fn store(&self, field: &str, id: &StoreId) -> Result<&'a Store, Refusal> {
        let store = self.state.store(id);
        self.exists(field, "store", id, store.map(|s| s.opened))?;
        Ok(store.expect("exists"))
    }

    fn store_opened(&self, e: &StoreOpened) -> Verdict {
        self.platform_only()?;
        self.new_id("data.store", "store", &e.store, self.state.store(&e.store).map(|s| s.opened))?;
        self.party("data.operator", &e.operator)
    }

    fn store_closed(&self, e: &StoreClosed) -> Verdict {
        self.platform_only()?;
        let store = self.store("data.store", &e.store)?;
        if let Some(closed) = store.closed {
            return Err(refuse(
                Rule::References,
                "data.store",
                format!(
                    "store {} was already closed at {} (seq {})",
                    e.store, closed.effective_at, closed.seq
                ),
            ));
        }
        Ok(())
    }

    // ---- agreements -----------------------------------------------------------------------

    fn agreement(&self, field: &str, id: &AgreementId) -> Result<&'a Agreement, Refusal> {
        let agreement = self.state.agreement(id);
        self.exists(field, "agreement", id, agreement.map(|a| a.signed))?;
        Ok(agreement.expect("exists"))
    }

    fn agreement_signed(&self, e: &AgreementSigned) -> Verdict {
        self.new_id(
            "data.agreement",
            "agreement",
            &e.agreement,
            self.state.agreement(&e.agreement).map(|a| a.signed),
        )?;
        self.party("data.supplier", &e.supplier)?;
        self.party("data.distributor", &e.distributor)?;
        let brand = self.brand("data.brand", &e.brand)?;
        self.scope_skus(&e.scope, &e.brand)?;
        let acting_host = e.supplier == brand.owner && self.host_may(&e.brand, HostPower::Agreements);
        if *self.actor != e.supplier && !acting_host {
            return Err(refuse(
                Rule::Authority,
                "actor",
                format!(
                    "{} may not sign agreement {} for supplier {}: only the supplier, or a channel host of brand {} with power agreements when the supplier is its owner, may{}",
                    self.actor,
                    e.agreement,
                    e.supplier,
                    e.brand,
                    self.host_note(&e.brand, HostPower::Agreements)
                ),
            ));
        }
        self.active("data.supplier", &e.supplier, "supplier", "sign agreements")?;
        self.margin_meets_policy("data.supplier", &e.supplier, "sign agreements")?;
        if e.supplier == brand.owner {
            return Ok(());
        }
        let covering = self.state.grants_held(&e.supplier, &e.brand).any(|(id, g)| {
            self.state.grant_holds(id, self.view)
                && scope::within(&e.scope, &g.data.scope, |sku| self.state.category_of(sku)).is_ok()
        });
        if covering {
            return Ok(());
        }
        Err(refuse(
            Rule::Agreements,
            "data.supplier",
            format!(
                "supplier {} is not the owner of brand {} and holds no grant of it valid at {} whose scope covers the agreement's",
                e.supplier, e.brand, self.t
            ),
        ))
    }

    fn agreement_terminated(&self, e: &AgreementTerminated) -> Verdict {
        let agreement = self.agreement("data.agreement", &e.agreement)?;
        let a = &agreement.data;
        if *self.actor != a.supplier && *self.actor != a.distributor && !self.actor.is_platform() {
            return Err(refuse(
                Rule::Authority,
                "actor",
                format!(
                    "{} may not terminate agreement {}: only its supplier {}, its distributor {} or platform may",
                    self.actor, e.agreement, a.supplier, a.distributor
                ),
            ));
        }
        if let Some(ended) = agreement.terminated {
            return Err(refuse(
                Rule::Agreements,
                "data.agreement",
                format!(
                    "agreement {} was already terminated at {} (seq {})",
                    e.agreement, ended.effective_at, ended.seq
                ),
            ));
        }
        Ok(())
    }

    // ---- sales and disputes ---------------------------------------------------------------

    fn order(&self, field: &str, id: &OrderId) -> Result<&'a Order, Refusal> {
        let order = self.state.order(id);
        self.exists(field, "order", id, order.map(|o| o.recorded))?;
        Ok(order.expect("exists"))
    }

    fn sale_recorded(&self, e: &SaleRecorded) -> Verdict {
        self.platform_only()?;
        self.new_id("data.order", "order", &e.order, self.state.order(&e.order).map(|o| o.recorded))?;
        self.store("data.store", &e.store)?;
        let product = self.state.product(&e.sku);
        self.exists("data.sku", "sku", &e.sku, product.map(|p| p.registered))
    }

    fn sale_refunded(&self, e: &SaleRefunded) -> Verdict {
        self.platform_only()?;
        let order = self.order("data.order", &e.order)?;
        if let Some(refunded) = order.refunded {
            return Err(refuse(
                Rule::Sales,
                "data.order",
                format!(
                    "order {} was already refunded at {} (seq {})",
                    e.order, refunded.effective_at, refunded.seq
                ),
            ));
        }
        Ok(())
    }

    fn dispute(&self, field: &str, id: &DisputeId) -> Result<&'a Dispute, Refusal> {
        let dispute = self.state.dispute(id);
        self.exists(field, "dispute", id, dispute.map(|d| d.opened))?;
        Ok(dispute.expect("exists"))
    }

    fn dispute_opened(&self, e: &DisputeOpened) -> Verdict {
        self.platform_only()?;
        self.new_id("data.dispute", "dispute", &e.dispute, self.state.dispute(&e.dispute).map(|d| d.opened))?;
        self.order("data.order", &e.order).map(drop)
    }

    fn dispute_closed(&self, e: &DisputeClosed) -> Verdict {
        self.platform_only()?;
        let dispute = self.dispute("data.dispute", &e.dispute)?;
        if let Some(closed) = dispute.closed {
            return Err(refuse(
                Rule::Sales,
                "data.dispute",
                format!(
                    "dispute {} was already closed at {} (seq {})",
                    e.dispute, closed.effective_at, closed.seq
                ),
            ));
        }
        Ok(())
    }
}

/// The channel's name as submissions spell it.
pub fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::TmallFlagship => "tmall_flagship",
        Channel::TmallFranchise => "tmall_franchise",
        Channel::TmallSpecialty => "tmall_specialty",
        Channel::Taobao => "taobao",
        Channel::Offline => "offline",
    }
}
