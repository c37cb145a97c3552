//! The event catalogue of spec/events.md: one struct per event type, holding exactly the
//! fields of its `data`, in types that can hold only well-formed values.
//!
//! Field order in each struct is the order of the fields in the canonical record bytes
//! (docs/format.md): reordering fields changes every hash, so it needs a new type version.

use crate::codes::{CreditCode, Region};
use crate::digest::Digest;
use crate::id::{AgreementId, BrandId, Category, DisputeId, GrantId, OrderId, PartyId, Sku, StoreId};
use crate::money::Money;
use crate::text::Text;
use crate::time::Timestamp;
use bincode::{Decode, Encode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::hash::Hash;

/// A field that is well formed on its own but not together with the rest of the submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Where, as a path into the submission (`data.valid_until`, `data.channels[1]`).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// Form rules that span fields of one event (rule 1 of spec/events.md). Checks that need the
/// ledger's state live in the state crate.
pub trait CheckForm {
    fn check_form(&self) -> Result<(), FieldError> {
        Ok(())
    }
}

fn check_window(valid_from: Timestamp, valid_until: Timestamp) -> Result<(), FieldError> {
    if valid_until <= valid_from {
        return Err(FieldError::new(
            "data.valid_until",
            format!("the window is empty: valid_until {valid_until} is not after valid_from {valid_from}"),
        ));
    }
    Ok(())
}

/// Lists in the catalogue are sets: a listed value once, and an empty list is refused because
/// leaving the field out already means "all" where that is allowed.
fn check_list<T: Eq + Hash + Serialize>(field: &str, items: &[T]) -> Result<(), FieldError> {
    if items.is_empty() {
        return Err(FieldError::new(format!("data.{field}"), "may not be an empty list"));
    }
    let mut seen = HashSet::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if !seen.insert(item) {
            let shown = serde_json::to_string(item).unwrap_or_default();
            return Err(FieldError::new(format!("data.{field}[{i}]"), format!("{shown} is listed twice")));
        }
    }
    Ok(())
}

fn check_optional_list<T: Eq + Hash + Serialize>(
    field: &str,
    items: &Option<Vec<T>>,
) -> Result<(), FieldError> {
    items.as_deref().map_or(Ok(()), |items| check_list(field, items))
}

// ---- value enums ---------------------------------------------------------------------------
// Variant order is part of the canonical bytes (bincode writes the variant index): append
// new variants at the end only.

/// Where a store sells: the tiers of the 1 + N + n model.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Encode,
    Decode,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    TmallFlagship,
    TmallFranchise,
    TmallSpecialty,
    Taobao,
    Offline,
}

/// What a supplier's qualification document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QualificationKind {
    BusinessLicense,
    TrademarkCertificate,
    BrandAuthorization,
    QualityReport,
    Other,
}

/// What a channel host may do for a brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostPower {
    Grants,
    Agreements,
}

/// How a distributor sources goods under an agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgreementMode {
    Consignment,
    Wholesale,
}

/// What a dispute claims about a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisputeClaim {
    Counterfeit,
    UnauthorizedSeller,
    PriceViolation,
}

/// What a dispute found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisputeFinding {
    Authentic,
    Counterfeit,
    Unauthorized,
    Inconclusive,
}

// ---- composite values ------------------------------------------------------------------------

/// The products a grant or agreement covers: listed skus, listed categories, or (neither
/// listed) every product of the brand.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Products covered by sku: a non-empty set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minItems" = 1, "uniqueItems" = true))]
    pub skus: Option<Vec<Sku>>,
    /// Categories whose products are covered: a non-empty set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minItems" = 1, "uniqueItems" = true))]
    pub categories: Option<Vec<Category>>,
}

impl Scope {
    fn check_form(&self) -> Result<(), FieldError> {
        check_optional_list("scope.skus", &self.skus)?;
        check_optional_list("scope.categories", &self.categories)
    }
}

/// One enterprise qualification a supplier was admitted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Qualification {
    pub kind: QualificationKind,
    pub reference: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_hash: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
}

/// A quantity of goods: at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Encode)]
#[serde(try_from = "u32")]
pub struct Quantity(u32);

impl TryFrom<u32> for Quantity {
    type Error = String;
    fn try_from(value: u32) -> Result<Quantity, String> {
        if value == 0 { Err("a quantity must be at least 1".into()) } else { Ok(Quantity(value)) }
    }
}

impl Quantity {
    pub fn get(self) -> u32 {
        self.0
    }
}

impl<C> Decode<C> for Quantity {
    fn decode<D: bincode::de::Decoder<Context = C>>(d: &mut D) -> Result<Self, bincode::error::DecodeError> {
        Quantity::try_from(u32::decode(d)?).map_err(bincode::error::DecodeError::OtherString)
    }
}
bincode::impl_borrow_decode!(Quantity);

impl JsonSchema for Quantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::Quantity").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "minimum": 1,
            "maximum": u32::MAX,
            "description": "A quantity of goods: at least 1.",
        })
    }
}

/// Nice classes: integers 1 to 45, a non-empty set (`BrandRegistered::check_form`).
fn nice_classes_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": ["array", "null"],
        "items": { "type": "integer", "minimum": 1, "maximum": 45 },
        "minItems": 1,
        "uniqueItems": true,
    })
}

/// The ledger's own name in its checkpoints (the C2SP tlog-checkpoint origin line and the
/// signed-note key name): printable ASCII without spaces or `+`, at most 255 bytes.
pub fn check_origin(value: &str) -> Result<(), &'static str> {
    if value.is_empty() || value.len() > 255 {
        return Err("an origin has 1 to 255 characters");
    }
    if !value.bytes().all(|c| c.is_ascii_graphic() && c != b'+') {
        return Err("an origin holds printable ASCII without spaces or '+' (it names the signing key)");
    }
    Ok(())
}

crate::validated::validated_string!(
    OriginName,
    "origin",
    check_origin,
    schema = schemars::json_schema!({
        "type": "string",
        "pattern": "^[\\x21-\\x2A\\x2C-\\x7E]{1,255}$",
        "description": "The ledger's own name in its checkpoints (the C2SP tlog-checkpoint origin \
            line and the signed-note key name): 1 to 255 printable ASCII characters, no spaces, \
            no '+'.",
    })
);

/// An Ed25519 public key, shown as base64 of its 32 bytes.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct PublicKey(pub [u8; 32]);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use base64::Engine;
        f.write_str(&base64::engine::general_purpose::STANDARD.encode(self.0))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{self:?}"))
    }
}

impl JsonSchema for PublicKey {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PublicKey".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::PublicKey").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // 32 bytes are 43 base64 characters and one '='; the last character before it carries
        // 4 bits and two zero bits, which the decoder requires to be zero.
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$",
            "description": "An Ed25519 public key: standard base64 (with padding) of its 32 bytes.",
        })
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let text = String::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&text)
            .map_err(|e| serde::de::Error::custom(format!("public key is not base64: {e}")))?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            serde::de::Error::custom(format!("an Ed25519 public key has 32 bytes, not {}", b.len()))
        })?;
        Ok(PublicKey(key))
    }
}

// ---- the event types ---------------------------------------------------------------------

/// Record 0 of every ledger, written by `chl init`: the ledger commits to its own name and to
/// the key that signs its checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LedgerCreated {
    pub origin: OriginName,
    pub public_key: PublicKey,
}
impl CheckForm for LedgerCreated {}

/// The platform registers a party: a company, agent, store operator or channel host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyRegistered {
    pub party: PartyId,
    pub legal_name: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_code: Option<CreditCode>,
}
impl CheckForm for PartyRegistered {}

/// The platform admits a registered party as a supplier, on its enterprise qualifications (at
/// least one business licence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierAdmitted {
    pub supplier: PartyId,
    /// At least one of kind `business_license`.
    #[schemars(extend("contains" = {
        "type": "object",
        "properties": { "kind": { "const": "business_license" } },
        "required": ["kind"],
    }))]
    pub qualifications: Vec<Qualification>,
}
impl CheckForm for SupplierAdmitted {
    fn check_form(&self) -> Result<(), FieldError> {
        if !self.qualifications.iter().any(|q| q.kind == QualificationKind::BusinessLicense) {
            return Err(FieldError::new(
                "data.qualifications",
                "at least one qualification of kind business_license is required",
            ));
        }
        Ok(())
    }
}

/// The platform suspends a supplier: it may not own a new brand, issue grants or sign
/// agreements until reinstated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierSuspended {
    pub supplier: PartyId,
    pub reason: Text,
}
impl CheckForm for SupplierSuspended {}

/// The platform lifts a supplier's suspension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierReinstated {
    pub supplier: PartyId,
}
impl CheckForm for SupplierReinstated {}

/// The platform expels a supplier, for good: an expelled supplier is never reinstated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierExpelled {
    pub supplier: PartyId,
    pub reason: Text,
}
impl CheckForm for SupplierExpelled {}

/// A supplier pays into its margin deposit with the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarginDeposited {
    pub supplier: PartyId,
    pub amount: Money,
}
impl CheckForm for MarginDeposited {}

/// The platform deducts from a supplier's margin deposit (the balance may not go below zero).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarginDeducted {
    pub supplier: PartyId,
    pub amount: Money,
    pub reason: Text,
}
impl CheckForm for MarginDeducted {}

/// The platform refunds part of a supplier's margin deposit (the balance may not go below zero).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarginRefunded {
    pub supplier: PartyId,
    pub amount: Money,
}
impl CheckForm for MarginRefunded {}

/// The platform sets the minimum margin: from this record's effective_at, a supplier whose
/// balance is below it may not issue grants or sign agreements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySet {
    pub min_margin: Money,
}
impl CheckForm for PolicySet {}

/// The platform registers a brand and its trademark, owned by an admitted supplier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandRegistered {
    pub brand: BrandId,
    pub name: Text,
    pub owner: PartyId,
    pub trademark_no: Text,
    /// Nice classification classes (1 to 45) the trademark is registered in: a non-empty set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "nice_classes_schema")]
    pub classes: Option<Vec<u8>>,
}
impl CheckForm for BrandRegistered {
    fn check_form(&self) -> Result<(), FieldError> {
        check_optional_list("classes", &self.classes)?;
        for (i, class) in self.classes.iter().flatten().enumerate() {
            if !(1..=45).contains(class) {
                return Err(FieldError::new(
                    format!("data.classes[{i}]"),
                    format!("Nice classes run from 1 to 45, not {class}"),
                ));
            }
        }
        Ok(())
    }
}

/// A product (sku) of a brand, registered by the brand owner or a channel host with power
/// `grants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductRegistered {
    pub sku: Sku,
    pub brand: BrandId,
    pub name: Text,
    pub category: Category,
    /// The minimum retail price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_floor: Option<Money>,
}
impl CheckForm for ProductRegistered {}

/// A brand owner appoints a registered party as channel host of the brand, with powers to
/// issue grants and/or sign agreements for it within a validity window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelHostAppointed {
    pub brand: BrandId,
    pub host: PartyId,
    /// What the host may do for the brand: a non-empty set.
    #[schemars(extend("minItems" = 1, "uniqueItems" = true))]
    pub powers: Vec<HostPower>,
    /// The start of the validity window (included).
    pub valid_from: Timestamp,
    /// The end of the validity window (excluded); after valid_from.
    pub valid_until: Timestamp,
}
impl CheckForm for ChannelHostAppointed {
    fn check_form(&self) -> Result<(), FieldError> {
        check_list("powers", &self.powers)?;
        check_window(self.valid_from, self.valid_until)
    }
}

/// A brand owner dismisses a channel host of the brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelHostDismissed {
    pub brand: BrandId,
    pub host: PartyId,
}
impl CheckForm for ChannelHostDismissed {}

/// An authorization grant (the "authorized" mark): the grantor authorizes the grantee to sell
/// the brand's products in scope, on the listed channels and in the listed regions, within a
/// validity window. Issued by the brand owner (or its host) at the root of a chain, or under a
/// sublicensable `parent` grant by that grant's grantee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantIssued {
    pub grant: GrantId,
    pub brand: BrandId,
    pub grantor: PartyId,
    pub grantee: PartyId,
    /// The sublicensable grant this one is issued under, whose grantee is this grant's grantor;
    /// absent for a grant issued by the brand owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<GrantId>,
    pub scope: Scope,
    /// The channels the grant covers: a non-empty set.
    #[schemars(extend("minItems" = 1, "uniqueItems" = true))]
    pub channels: Vec<Channel>,
    /// Where the grant holds; none listed means everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minItems" = 1, "uniqueItems" = true))]
    pub regions: Option<Vec<Region>>,
    /// No two exclusive grants of a brand for one channel may overlap in time.
    pub exclusive: bool,
    /// Whether the grantee may issue grants under this one.
    pub sublicensable: bool,
    /// The start of the validity window (included).
    pub valid_from: Timestamp,
    /// The end of the validity window (excluded); after valid_from.
    pub valid_until: Timestamp,
}
impl CheckForm for GrantIssued {
    fn check_form(&self) -> Result<(), FieldError> {
        if self.grantor == self.grantee {
            return Err(FieldError::new("data.grantee", format!("{} cannot grant to itself", self.grantor)));
        }
        self.scope.check_form()?;
        check_list("channels", &self.channels)?;
        check_optional_list("regions", &self.regions)?;
        check_window(self.valid_from, self.valid_until)
    }
}

/// Revokes a grant, and from the same moment every grant issued under it. Submitted by the
/// grant's grantor, a host acting for it, or the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRevoked {
    pub grant: GrantId,
    pub reason: Text,
}
impl CheckForm for GrantRevoked {}

/// The platform opens a store: a Tmall or Taobao shop, or an offline outlet, run by an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreOpened {
    pub store: StoreId,
    pub operator: PartyId,
    pub channel: Channel,
    pub name: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    /// The shop's own id on its platform (a Tmall or Taobao shop number), so that platform
    /// data can be matched to the store. Added in version 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_shop_id: Option<Text>,
}
impl CheckForm for StoreOpened {}

/// The platform closes a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreClosed {
    pub store: StoreId,
    pub reason: Text,
}
impl CheckForm for StoreClosed {}

/// A supplier signs a distribution agreement (consignment or wholesale) with a distributor for
/// a brand's products in scope, within a validity window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementSigned {
    pub agreement: AgreementId,
    pub supplier: PartyId,
    pub distributor: PartyId,
    pub brand: BrandId,
    pub mode: AgreementMode,
    pub scope: Scope,
    /// The start of the validity window (included).
    pub valid_from: Timestamp,
    /// The end of the validity window (excluded); after valid_from.
    pub valid_until: Timestamp,
}
impl CheckForm for AgreementSigned {
    fn check_form(&self) -> Result<(), FieldError> {
        if self.supplier == self.distributor {
            return Err(FieldError::new(
                "data.distributor",
                format!("{} cannot sign an agreement with itself", self.supplier),
            ));
        }
        self.scope.check_form()?;
        check_window(self.valid_from, self.valid_until)
    }
}

/// Ends an agreement, by its supplier, its distributor or the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementTerminated {
    pub agreement: AgreementId,
    pub reason: Text,
}
impl CheckForm for AgreementTerminated {}

/// The platform records a sale: a fact, recorded whether or not the seller was authorized
/// (that is what the authenticity check finds out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleRecorded {
    pub order: OrderId,
    pub store: StoreId,
    pub sku: Sku,
    pub quantity: Quantity,
    pub unit_price: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_ref: Option<Text>,
}
impl CheckForm for SaleRecorded {}

/// The platform records that a sale was refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleRefunded {
    pub order: OrderId,
    pub reason: Text,
}
impl CheckForm for SaleRefunded {}

/// The platform opens a dispute about a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeOpened {
    pub dispute: DisputeId,
    pub order: OrderId,
    pub claim: DisputeClaim,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimant: Option<Text>,
}
impl CheckForm for DisputeOpened {}

/// The platform closes a dispute with its finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeClosed {
    pub dispute: DisputeId,
    pub finding: DisputeFinding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Text>,
}
impl CheckForm for DisputeClosed {}

// ---- the catalogue ---------------------------------------------------------------------------

macro_rules! catalogue {
    ($( $variant:ident = $name:literal; )*) => {
        /// One event of the catalogue, with its data in the current version of its type.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Event {
            $( $variant($variant), )*
        }

        /// The name of an event type, without its data.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum EventType {
            $( $variant, )*
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[ $( EventType::$variant, )* ];

            /// The name used in submissions, records and schemas.
            pub fn name(self) -> &'static str {
                match self { $( EventType::$variant => $name, )* }
            }

            pub fn from_name(name: &str) -> Option<EventType> {
                match name { $( $name => Some(EventType::$variant), )* _ => None }
            }

            /// The JSON Schema of this type's `data` object in its current version, inline;
            /// the types it refers to go to `generator`'s definitions (schema.rs).
            pub(crate) fn data_json_schema(self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                match self { $( EventType::$variant => <$variant as JsonSchema>::json_schema(generator), )* }
            }
        }

        impl Event {
            pub fn event_type(&self) -> EventType {
                match self { $( Event::$variant(_) => EventType::$variant, )* }
            }

            /// Parses the `data` object of a submission or record of type `event_type`, with
            /// unknown fields refused and the path of a bad field named.
            pub fn from_json_data(event_type: EventType, data_json: &str) -> Result<Event, FieldError> {
                let mut json = serde_json::Deserializer::from_str(data_json);
                let parsed = match event_type {
                    $( EventType::$variant => serde_path_to_error::deserialize(&mut json).map(Event::$variant), )*
                };
                let event = parsed.map_err(|e| {
                    let path = e.path().to_string();
                    let field = if path == "." || path == "?" { "data".to_owned() } else { format!("data.{path}") };
                    FieldError::new(field, strip_position(&e.into_inner().to_string()))
                })?;
                json.end().map_err(|e| FieldError::new("data", strip_position(&e.to_string())))?;
                Ok(event)
            }

            /// Rule 1 checks that span several fields.
            pub fn check_form(&self) -> Result<(), FieldError> {
                match self { $( Event::$variant(data) => data.check_form(), )* }
            }

            /// Writes the `data` object as JSON.
            pub fn write_json_data<W: std::io::Write>(&self, out: W) -> serde_json::Result<()> {
                match self { $( Event::$variant(data) => serde_json::to_writer(out, data), )* }
            }

            /// The `data` object alone, for serde (records and submissions put it under "data").
            pub fn data(&self) -> EventData<'_> {
                EventData(self)
            }

            pub(crate) fn encode_data<E: bincode::enc::Encoder>(&self, e: &mut E) -> Result<(), bincode::error::EncodeError> {
                match self { $( Event::$variant(data) => data.encode(e), )* }
            }

            pub(crate) fn decode_data<D: bincode::de::Decoder<Context = ()>>(
                event_type: EventType,
                d: &mut D,
            ) -> Result<Event, bincode::error::DecodeError> {
                Ok(match event_type { $( EventType::$variant => Event::$variant(Decode::decode(d)?), )* })
            }
        }

        /// Serializes an event's data object, without its type.
        pub struct EventData<'a>(&'a Event);

        impl Serialize for EventData<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self.0 { $( Event::$variant(data) => data.serialize(s), )* }
            }
        }

        $(
            impl From<$variant> for Event {
                fn from(data: $variant) -> Event {
                    Event::$variant(data)
                }
            }
        )*
    };
}

catalogue! {
    LedgerCreated = "ledger_created";
    PartyRegistered = "party_registered";
    SupplierAdmitted = "supplier_admitted";
    SupplierSuspended = "supplier_suspended";
    SupplierReinstated = "supplier_reinstated";
    SupplierExpelled = "supplier_expelled";
    MarginDeposited = "margin_deposited";
    MarginDeducted = "margin_deducted";
    MarginRefunded = "margin_refunded";
    PolicySet = "policy_set";
    BrandRegistered = "brand_registered";
    ProductRegistered = "product_registered";
    ChannelHostAppointed = "channel_host_appointed";
    ChannelHostDismissed = "channel_host_dismissed";
    GrantIssued = "grant_issued";
    GrantRevoked = "grant_revoked";
    StoreOpened = "store_opened";
    StoreClosed = "store_closed";
    AgreementSigned = "agreement_signed";
    AgreementTerminated = "agreement_terminated";
    SaleRecorded = "sale_recorded";
    SaleRefunded = "sale_refunded";
    DisputeOpened = "dispute_opened";
    DisputeClosed = "dispute_closed";
}

impl EventType {
    /// The version of this type's data that the code writes. Older versions are read and
    /// upcast in versions.rs, the one place that knows them.
    pub fn current_version(self) -> u16 {
        match self {
            EventType::StoreOpened => 2,
            _ => 1,
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// serde_json appends " at line 1 column 17" to its messages; within one submission the
/// field path says more, and the line number is the import's, not the data object's.
pub(crate) fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}
