//! A brand's channel as it stood at a time, as the ledger knew it at a seq: the owner, its
//! hosts, every grant with its status, the stores by tier with whether each was authorized,
//! the agreements, and each store's sales in a window. Two views give the difference.

use crate::facts::*;
use crate::scope;
use crate::state::State;
use chl_model::event::{AgreementMode, Channel, HostPower};
use chl_model::{AgreementId, BrandId, GrantId, PartyId, Region, Seq, Sku, StoreId, Text, Timestamp};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A brand's channel as it stood at `as_of`, as the ledger knew it after record
/// `known_at_seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ChannelView<'a> {
    pub brand: &'a BrandId,
    /// The brand's name.
    pub name: &'a Text,
    /// The time the view is of.
    pub as_of: Timestamp,
    /// The last record the view takes into account.
    pub known_at_seq: Seq,
    pub owner: OwnerView<'a>,
    /// Every appointment of a channel host for the brand known.
    pub hosts: Vec<HostView<'a>>,
    /// Every grant of the brand known, with its status.
    pub grants: Vec<GrantView<'a>>,
    /// Stores by tier (channel), each tier's stores by id: those of the brand owner, of every
    /// grantee, and any with sales of the brand. A tier with no store is absent.
    pub stores: BTreeMap<Channel, Vec<StoreView<'a>>>,
    /// Every agreement for the brand known, in the order recorded.
    pub agreements: Vec<AgreementView<'a>>,
    /// The window the sales totals cover: `[from, until)`.
    pub sales_window: SalesWindow,
}

/// A window of time, `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SalesWindow {
    pub from: Timestamp,
    pub until: Timestamp,
}

/// The brand owner and its standing as a supplier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct OwnerView<'a> {
    pub party: &'a PartyId,
    /// `active`, `suspended`, `expelled`, or `not_admitted`.
    #[schemars(extend("enum" = ["active", "suspended", "expelled", "not_admitted"]))]
    pub status: &'static str,
}

/// Where a host appointment, grant or agreement stood at the time of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In force.
    Active,
    /// Not started yet (before `valid_from` or its effective time).
    NotYetValid,
    /// Past its `valid_until`.
    Expired,
    /// A grant revoked (itself or an ancestor) with effect at or before the time.
    Revoked,
    /// A host appointment ended by a dismissal.
    Dismissed,
    /// An agreement ended by a termination.
    Terminated,
}

/// A channel host's appointment for the brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct HostView<'a> {
    pub host: &'a PartyId,
    /// What the host may do for the brand: a non-empty set.
    #[schemars(extend("minItems" = 1, "uniqueItems" = true))]
    pub powers: &'a [HostPower],
    /// The start of the appointment's window (included).
    pub valid_from: Timestamp,
    /// The end of the appointment's window (excluded).
    pub valid_until: Timestamp,
    /// `active`, `not_yet_valid`, `expired` or `dismissed`.
    pub status: Status,
    /// The seq of the record that appointed the host.
    pub seq: Seq,
}

/// A grant of the brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct GrantView<'a> {
    pub grant: &'a GrantId,
    pub grantor: &'a PartyId,
    pub grantee: &'a PartyId,
    /// The grant this one sublicenses; null for a grant from the brand owner.
    pub parent: Option<&'a GrantId>,
    /// The channels the grant covers: a non-empty set.
    #[schemars(extend("minItems" = 1, "uniqueItems" = true))]
    pub channels: &'a [Channel],
    /// The regions covered, a non-empty set; null for every region.
    #[schemars(extend("minItems" = 1, "uniqueItems" = true))]
    pub regions: Option<&'a [Region]>,
    pub exclusive: bool,
    /// Whether the grantee may issue grants under this one.
    pub sublicensable: bool,
    /// The start of the grant's window (included).
    pub valid_from: Timestamp,
    /// The end of the grant's window (excluded).
    pub valid_until: Timestamp,
    /// `active`, `not_yet_valid`, `expired` or `revoked`.
    pub status: Status,
    /// The seq of the record that issued the grant.
    pub seq: Seq,
    /// The revocation that ended it (its own or an ancestor's), if it counts.
    pub revoked_seq: Option<Seq>,
}

/// A store of the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StoreView<'a> {
    pub store: &'a StoreId,
    pub operator: &'a PartyId,
    pub name: &'a Text,
    /// Where the store is; null if it did not say.
    pub region: Option<&'a Region>,
    /// Opened and not closed at the time.
    pub open: bool,
    /// Open, the brand owner active, and the store the owner's own or its operator holding a
    /// grant chain valid for its channel and region and at least one of the brand's products.
    pub authorized: bool,
    /// The seq of the record that opened the store.
    pub seq: Seq,
    /// The store's sales of the brand in `sales_window`, as known.
    pub sales: SalesTotals,
}

/// Sums by currency (a store sells in one or two), serialized as `{"CNY": 12345}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Amounts(pub Vec<([u8; 3], i64)>);

impl Serialize for Amounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (currency, sum) in &self.0 {
            map.serialize_entry(std::str::from_utf8(currency).unwrap_or("???"), sum)?;
        }
        map.end()
    }
}

/// What `Amounts` serializes: an object from currency code to sum. The codes come from sales'
/// `Currency` values, so they always have its form (`???`, the fallback for bytes that are not
/// UTF-8, cannot occur).
impl JsonSchema for Amounts {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Amounts".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::Amounts").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "Sums in minor units (fen for CNY) by ISO 4217 currency code, e.g. \
                {\"CNY\": 12345}. Only currencies with sales appear; no sales is {}.",
            "patternProperties": {
                "^[A-Z]{3}$": {
                    "type": "integer",
                    "format": "int64",
                },
            },
            "additionalProperties": false,
        })
    }
}

/// Sales of the brand in a store in a window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SalesTotals {
    /// Sales (orders) recorded.
    pub orders: u64,
    /// Items sold.
    pub quantity: u64,
    /// Minor units by currency.
    pub amount: Amounts,
}

/// An agreement for the brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AgreementView<'a> {
    pub agreement: &'a AgreementId,
    pub supplier: &'a PartyId,
    pub distributor: &'a PartyId,
    pub mode: AgreementMode,
    /// `active`, `not_yet_valid`, `expired` or `terminated`.
    pub status: Status,
    /// The seq of the record that signed the agreement.
    pub seq: Seq,
}

/// What changed in a brand's channel between two views.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ChannelDiff {
    /// The time of the earlier view.
    pub from: Option<Timestamp>,
    /// The time of the later view.
    pub to: Option<Timestamp>,
    /// Stores open in the later view that were not (unknown, not opened yet, or closed) in the
    /// earlier one.
    pub joined: Vec<StoreId>,
    /// Stores open in the earlier view and closed in the later one.
    pub left: Vec<StoreId>,
    /// Stores authorized in the earlier view and not in the later one.
    pub lost_authorization: Vec<StoreId>,
    /// Stores authorized in the later view and not in the earlier one.
    pub gained_authorization: Vec<StoreId>,
}

impl<'a> ChannelView<'a> {
    fn store_map(&self) -> BTreeMap<&'a StoreId, &StoreView<'a>> {
        self.stores.values().flatten().map(|s| (s.store, s)).collect()
    }

    /// The difference from `earlier` to this view: stores that joined (in this view, not
    /// that one, or reopened), left (closed since), and lost or gained authorization.
    pub fn diff_since(&self, earlier: &ChannelView<'_>) -> ChannelDiff {
        let before = earlier.store_map();
        let after = self.store_map();
        let mut diff =
            ChannelDiff { from: Some(earlier.as_of), to: Some(self.as_of), ..ChannelDiff::default() };
        for (id, now) in &after {
            match before.get(id) {
                None if now.open => diff.joined.push((**id).clone()),
                Some(then) if !then.open && now.open => diff.joined.push((**id).clone()),
                Some(then) if then.open && !now.open => diff.left.push((**id).clone()),
                _ => {}
            }
            let was = before.get(id).is_some_and(|s| s.authorized);
            if was && !now.authorized {
                diff.lost_authorization.push((**id).clone());
            }
            if !was && now.authorized {
                diff.gained_authorization.push((**id).clone());
            }
        }
        diff
    }
}

impl State {
    /// The channel of `brand` as of `view.at`, known after `view.known`, with sales summed
    /// over `window`. `None` if the brand is unknown in that view.
    pub fn channel_view(
        &self,
        brand_id: &BrandId,
        view: View,
        window: SalesWindow,
    ) -> Option<ChannelView<'_>> {
        let (brand_key, brand) =
            self.brands.get_key_value(brand_id).filter(|(_, b)| b.registered.seq <= view.known)?;
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
                host: &a.host,
                powers: &a.powers,
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
                self.revocation_ref(id, view.known).filter(|(stamp, _)| stamp.effective_at <= view.at);
            let status = if revocation.is_some() {
                Status::Revoked
            } else {
                window_status(grant.issued, g.valid_from, g.valid_until, view)
            };
            grants.push(GrantView {
                grant: id,
                grantor: &g.grantor,
                grantee: &g.grantee,
                parent: g.parent.as_ref(),
                channels: &g.channels,
                regions: g.regions.as_deref(),
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
        let mut operators: HashSet<&PartyId> = grants.iter().map(|g| g.grantee).collect();
        operators.insert(owner);
        let mut store_ids: HashSet<&StoreId> =
            operators.iter().flat_map(|op| self.stores_by_operator.get(*op).into_iter().flatten()).collect();
        let brand_index = self.brand_index.get(brand_id).copied();
        if let Some(index) = brand_index {
            for (store, series) in &self.store_sales {
                if series.iter().any(|(b, s)| *b == index && s.min_seq.is_some_and(|m| m <= view.known)) {
                    store_ids.insert(store);
                }
            }
        }
        let mut stores: BTreeMap<Channel, Vec<StoreView>> = BTreeMap::new();
        let mut holds: HashMap<&GrantId, bool> = HashMap::new();
        for id in store_ids {
            let store = &self.stores[id];
            if !view.sees(store.opened) {
                continue;
            }
            let open = !view.sees_end(store.closed);
            let authorized = open
                && owner_status == "active"
                && (store.operator == *owner
                    || self.operator_authorized(
                        brand_id,
                        owner,
                        &store.operator,
                        store.channel,
                        store.region.as_ref(),
                        &products,
                        view,
                        &mut holds,
                    ));
            let mut totals = SalesTotals::default();
            if let Some(index) = brand_index
                && let Some((_, series)) =
                    self.store_sales.get(id).into_iter().flatten().find(|(b, _)| *b == index)
            {
                let (sum, amounts) = series.totals(window.from, window.until, view.known);
                totals = SalesTotals { orders: sum.orders, quantity: sum.quantity, amount: Amounts(amounts) };
            }
            stores.entry(store.channel).or_default().push(StoreView {
                store: id,
                operator: &store.operator,
                name: &store.name,
                region: store.region.as_ref(),
                open,
                authorized,
                seq: store.opened.seq,
                sales: totals,
            });
        }

        for tier in stores.values_mut() {
            tier.sort_by_key(|s| s.store);
        }
        let mut agreements: Vec<AgreementView> = self
            .agreements
            .iter()
            .filter(|(_, a)| a.data.brand == *brand_id && known(a.signed))
            .map(|(id, a)| AgreementView {
                agreement: id,
                supplier: &a.data.supplier,
                distributor: &a.data.distributor,
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
            brand: brand_key,
            name: &brand.name,
            as_of: view.at,
            known_at_seq: view.known,
            owner: OwnerView { party: owner, status: owner_status },
            hosts,
            grants,
            stores,
            agreements,
            sales_window: window,
        })
    }

    /// Whether some grant chain to `operator` holds in `view` on `channel` in `region` for
    /// at least one of `products` (the agreement is not needed for this). `holds` memoizes
    /// whether each grant holds in `view`.
    #[allow(clippy::too_many_arguments)]
    fn operator_authorized<'a>(
        &'a self,
        brand: &BrandId,
        owner: &PartyId,
        operator: &PartyId,
        channel: Channel,
        region: Option<&Region>,
        products: &[(&Sku, &chl_model::Category)],
        view: View,
        holds: &mut HashMap<&'a GrantId, bool>,
    ) -> bool {
        'leaves: for (leaf, _) in self.grants_held(operator, brand) {
            let mut scopes = Vec::new();
            let mut next = Some(leaf);
            let mut child_needs_sublicense = false;
            while let Some(id) = next.take() {
                let Some((id, grant)) =
                    self.grants.get_key_value(id).filter(|(_, g)| g.issued.seq <= view.known)
                else {
                    continue 'leaves;
                };
                let g = &grant.data;
                // Many stores' chains share their upper grants: judge each grant once per view.
                let grant_holds = *holds.entry(id).or_insert_with(|| self.grant_holds(id, view));
                let fits = grant_holds
                    && (!child_needs_sublicense || g.sublicensable)
                    && g.channels.contains(&channel)
                    && scope::covers_region(&g.regions, region);
                if !fits {
                    continue 'leaves;
                }
                scopes.push(&g.scope);
                match &g.parent {
                    Some(parent) => {
                        child_needs_sublicense = true;
                        next = Some(parent);
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
