//! A brand's channel as it stood at a time, as the ledger knew it at a seq: the owner, its
//! hosts, every grant with its status, the stores by tier with whether each was authorized,
//! the agreements, and each store's sales in a window. Two views give the difference.

use crate::facts::*;
use crate::scope;
use crate::state::State;
use chl_model::event::{AgreementMode, Channel, HostPower};
use chl_model::{AgreementId, BrandId, GrantId, PartyId, Region, Seq, Sku, StoreId, Text, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelView {
    pub brand: BrandId,
    pub name: Text,
    pub as_of: Timestamp,
    pub known_at_seq: Seq,
    pub owner: OwnerView,
    pub hosts: Vec<HostView>,
    pub grants: Vec<GrantView>,
    /// Stores by tier, in the order of `Channel`.
    pub stores: BTreeMap<Channel, Vec<StoreView>>,
    pub agreements: Vec<AgreementView>,
    /// The window the sales totals cover: `[from, until)`.
    pub sales_window: SalesWindow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SalesWindow {
    pub from: Timestamp,
    pub until: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerView {
    pub party: PartyId,
    /// `active`, `suspended`, `expelled`, or `not_admitted`.
    pub status: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    NotYetValid,
    Expired,
    Revoked,
    Dismissed,
    Terminated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostView {
    pub host: PartyId,
    pub powers: Vec<HostPower>,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    pub status: Status,
    pub seq: Seq,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantView {
    pub grant: GrantId,
    pub grantor: PartyId,
    pub grantee: PartyId,
    pub parent: Option<GrantId>,
    pub channels: Vec<Channel>,
    pub regions: Option<Vec<Region>>,
    pub exclusive: bool,
    pub sublicensable: bool,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    pub status: Status,
    pub seq: Seq,
    /// The revocation that ended it (its own or an ancestor's), if it counts.
    pub revoked_seq: Option<Seq>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreView {
    pub store: StoreId,
    pub operator: PartyId,
    pub name: Text,
    pub region: Option<Region>,
    pub open: bool,
    pub authorized: bool,
    pub seq: Seq,
    pub sales: SalesTotals,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SalesTotals {
    pub orders: u64,
    pub quantity: u64,
    /// Minor units by currency.
    pub amount: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgreementView {
    pub agreement: AgreementId,
    pub supplier: PartyId,
    pub distributor: PartyId,
    pub mode: AgreementMode,
    pub status: Status,
    pub seq: Seq,
}

/// What changed in a brand's channel between two views.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChannelDiff {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub joined: Vec<StoreId>,
    pub left: Vec<StoreId>,
    pub lost_authorization: Vec<StoreId>,
    pub gained_authorization: Vec<StoreId>,
}

impl ChannelView {
    fn store_map(&self) -> BTreeMap<&StoreId, &StoreView> {
        self.stores.values().flatten().map(|s| (&s.store, s)).collect()
    }

    /// The difference from `earlier` to this view: stores that joined (in this view, not
    /// that one, or reopened), left (closed since), and lost or gained authorization.
    pub fn diff_since(&self, earlier: &ChannelView) -> ChannelDiff {
        let before = earlier.store_map();
        let after = self.store_map();
        let mut diff =
            ChannelDiff { from: Some(earlier.as_of), to: Some(self.as_of), ..ChannelDiff::default() };
        for (id, now) in &after {
            match before.get(id) {
                None if now.open => diff.joined.push((*id).clone()),
                Some(then) if !then.open && now.open => diff.joined.push((*id).clone()),
                Some(then) if then.open && !now.open => diff.left.push((*id).clone()),
                _ => {}
            }
            let was = before.get(id).is_some_and(|s| s.authorized);
            if was && !now.authorized {
                diff.lost_authorization.push((*id).clone());
            }
            if !was && now.authorized {
                diff.gained_authorization.push((*id).clone());
            }
        }
        diff
    }
}

impl State {
    /// The channel of `brand` as of `view.at`, known after `view.known`, with sales summed
    /// over `window`. `None` if the brand is unknown in that view.
    pub fn channel_view(&self, brand_id: &BrandId, view: View, window: SalesWindow) -> Option<ChannelView> {
        let brand = self.brand(brand_id).filter(|b| b.registered.seq <= view.known)?;
        let owner = &brand.owner;
        let owner_status = match self.supplier(owner).and_then(|s| s.status(view)) {
            Some((_, SupplierStatus::Active)) => "active",
            Some((_, SupplierStatus::Suspended)) => "suspended",
            Some((_, SupplierStatus::Expelled)) => "expelled",
            None => "not_admitted",
        };
        let known = |stamp: Stamp| stamp.seq <= view.known;

        let hosts = self
            .hosts
            .get(brand_id)
            .into_iter()
            .flatten()
            .filter(|a| known(a.appointed))
            .map(|a| HostView {
                host: a.host.clone(),
                powers: a.powers.clone(),
                valid_from: a.valid_from,
                valid_until: a.valid_until,
                status: if view.sees_end(a.dismissed) {
                    Status::Dismissed
                } else {
                    window_status(a.appointed, a.valid_from, a.valid_until, view)
                },
                seq: a.appointed.seq,
            })
            .collect();

        let mut grants = Vec::new();
        for (id, grant) in self.grants_of_brand(brand_id).filter(|(_, g)| known(g.issued)) {
            let g = &grant.data;
            let revocation =
                self.revocation(id, view.known).filter(|(stamp, _)| stamp.effective_at <= view.at);
            let status = if revocation.is_some() {
                Status::Revoked
            } else {
                window_status(grant.issued, g.valid_from, g.valid_until, view)
            };
            grants.push(GrantView {
                grant: id.clone(),
                grantor: g.grantor.clone(),
                grantee: g.grantee.clone(),
                parent: g.parent.clone(),
                channels: g.channels.clone(),
                regions: g.regions.clone(),
                exclusive: g.exclusive,
                sublicensable: g.sublicensable,
                valid_from: g.valid_from,
                valid_until: g.valid_until,
                status,
                seq: grant.issued.seq,
                revoked_seq: revocation.map(|(stamp, _)| stamp.seq),
            });
        }

        // The brand's products as known, for "authorized for at least one product".
        let products: Vec<(&Sku, &chl_model::Category)> = self
            .products
            .iter()
            .filter(|(_, p)| p.brand == *brand_id && view.sees(p.registered))
            .map(|(sku, p)| (sku, &p.category))
            .collect();

        // The channel's stores: the owner's, those of every grantee, and any with the brand's sales.
        let mut operators: HashSet<&PartyId> = grants.iter().map(|g| &g.grantee).collect();
        operators.insert(owner);
        let mut store_ids: HashSet<&StoreId> =
            operators.iter().flat_map(|op| self.stores_by_operator.get(*op).into_iter().flatten()).collect();
        let brand_index = self.brand_index.get(brand_id).copied();
        if let Some(index) = brand_index {
            for (store, sales) in &self.store_sales {
                if sales.iter().any(|s| s.brand == index && known(s.stamp)) {
                    store_ids.insert(store);
                }
            }
        }
        let mut stores: BTreeMap<Channel, Vec<StoreView>> = BTreeMap::new();
        let mut authorized_cache: HashMap<(&PartyId, Channel, Option<&Region>), bool> = HashMap::new();
        for id in store_ids {
            let store = &self.stores[id];
            if !view.sees(store.opened) {
                continue;
            }
            let open = !view.sees_end(store.closed);
            let key = (&store.operator, store.channel, store.region.as_ref());
            let authorized = open
                && owner_status == "active"
                && *authorized_cache.entry(key).or_insert_with(|| {
                    store.operator == *owner
                        || self.operator_authorized(
                            brand_id,
                            owner,
                            &store.operator,
                            store.channel,
                            store.region.as_ref(),
                            &products,
                            view,
                        )
                });
            let mut totals = SalesTotals::default();
            if let Some(index) = brand_index {
                let sales = self.store_sales.get(id).map(Vec::as_slice).unwrap_or_default();
                let start = sales.partition_point(|s| s.stamp.effective_at < window.from);
                // Sums by currency in a small list first: a store sells in one or two.
                let mut by_currency: Vec<([u8; 3], i64)> = Vec::new();
                for sale in sales[start..].iter().take_while(|s| s.stamp.effective_at < window.until) {
                    if sale.brand == index && known(sale.stamp) {
                        totals.orders += 1;
                        totals.quantity += u64::from(sale.quantity);
                        match by_currency.iter_mut().find(|(c, _)| *c == sale.currency) {
                            Some((_, sum)) => *sum += sale.amount,
                            None => by_currency.push((sale.currency, sale.amount)),
                        }
                    }
                }
                totals.amount = by_currency
                    .into_iter()
                    .map(|(c, sum)| (String::from_utf8_lossy(&c).into_owned(), sum))
                    .collect();
            }
            stores.entry(store.channel).or_default().push(StoreView {
                store: id.clone(),
                operator: store.operator.clone(),
                name: store.name.clone(),
                region: store.region.clone(),
                open,
                authorized,
                seq: store.opened.seq,
                sales: totals,
            });
        }

        for tier in stores.values_mut() {
            tier.sort_by(|a, b| a.store.cmp(&b.store));
        }
        let mut agreements: Vec<AgreementView> = self
            .agreements
            .iter()
            .filter(|(_, a)| a.data.brand == *brand_id && known(a.signed))
            .map(|(id, a)| AgreementView {
                agreement: id.clone(),
                supplier: a.data.supplier.clone(),
                distributor: a.data.distributor.clone(),
                mode: a.data.mode,
                status: if view.sees_end(a.terminated) {
                    Status::Terminated
                } else {
                    window_status(a.signed, a.data.valid_from, a.data.valid_until, view)
                },
                seq: a.signed.seq,
            })
            .collect();
        agreements.sort_by_key(|a| a.seq);

        Some(ChannelView {
            brand: brand_id.clone(),
            name: brand.name.clone(),
            as_of: view.at,
            known_at_seq: view.known,
            owner: OwnerView { party: owner.clone(), status: owner_status },
            hosts,
            grants,
            stores,
            agreements,
            sales_window: window,
        })
    }

    /// Whether some grant chain to `operator` holds in `view` on `channel` in `region` for
    /// at least one of `products` (the agreement is not needed for this).
    #[allow(clippy::too_many_arguments)]
    fn operator_authorized(
        &self,
        brand: &BrandId,
        owner: &PartyId,
        operator: &PartyId,
        channel: Channel,
        region: Option<&Region>,
        products: &[(&Sku, &chl_model::Category)],
        view: View,
    ) -> bool {
        'leaves: for (leaf, _) in self.grants_held(operator, brand) {
            let mut scopes = Vec::new();
            let mut next = Some(leaf.clone());
            let mut child_needs_sublicense = false;
            while let Some(id) = next.take() {
                let Some(grant) = self.grant(&id).filter(|g| g.issued.seq <= view.known) else {
                    continue 'leaves;
                };
                let g = &grant.data;
                let holds = self.grant_holds(&id, view)
                    && (!child_needs_sublicense || g.sublicensable)
                    && g.channels.contains(&channel)
                    && scope::covers_region(&g.regions, region);
                if !holds {
                    continue 'leaves;
                }
                scopes.push(&g.scope);
                match &g.parent {
                    Some(parent) => {
                        child_needs_sublicense = true;
                        next = Some(parent.clone());
                    }
                    None if g.grantor != *owner => continue 'leaves,
                    None => {}
                }
            }
            if products.iter().any(|(sku, category)| scopes.iter().all(|s| scope::covers(s, sku, category))) {
                return true;
            }
        }
        false
    }
}

/// The status of a window in a view: not yet valid, active or expired.
fn window_status(stamp: Stamp, valid_from: Timestamp, valid_until: Timestamp, view: View) -> Status {
    if view.at >= valid_until {
        Status::Expired
    } else if window_covers(stamp, valid_from, valid_until, view) {
        Status::Active
    } else {
        Status::NotYetValid
    }
}
