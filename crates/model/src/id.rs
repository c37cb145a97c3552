//! Ids of the domain's things. Each kind is its own type, so a `GrantId` cannot be passed
//! where a `StoreId` is meant; all share one form (spec/events.md, "Common field forms").

use crate::validated::validated_string;

/// The longest id, in bytes.
pub const ID_MAX_BYTES: usize = 64;

/// `^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`
pub fn check_id(value: &str) -> Result<(), &'static str> {
    let bytes = value.as_bytes();
    let Some(first) = bytes.first() else {
        return Err("an id may not be empty");
    };
    if bytes.len() > ID_MAX_BYTES {
        return Err("an id has at most 64 characters");
    }
    if !first.is_ascii_alphanumeric() {
        return Err("an id starts with a letter or digit");
    }
    if !bytes.iter().all(|c| c.is_ascii_alphanumeric() || b"._:-".contains(c)) {
        return Err("an id holds only ASCII letters, digits and . _ : -");
    }
    Ok(())
}

/// The JSON Schema of an id of one kind: the pattern of `check_id`, which it states exactly.
fn id_schema(description: &str) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
        "description": format!(
            "{description} An id is 1 to 64 ASCII letters, digits and . _ : -, starting with a letter or digit."
        ),
    })
}

validated_string!(
    /// A party: a company, an agent, a store operator, or `platform`, the platform operator.
    PartyId, "party id", check_id,
    schema = id_schema("A party: a company, an agent, a store operator, or `platform`, the platform operator.")
);
validated_string!(BrandId, "brand id", check_id, schema = id_schema("A brand."));
validated_string!(
    /// A product's stock-keeping unit.
    Sku, "sku", check_id,
    schema = id_schema("A product's stock-keeping unit.")
);
validated_string!(GrantId, "grant id", check_id, schema = id_schema("An authorization grant."));
validated_string!(StoreId, "store id", check_id, schema = id_schema("A store."));
validated_string!(AgreementId, "agreement id", check_id, schema = id_schema("A distribution agreement."));
validated_string!(OrderId, "order id", check_id, schema = id_schema("An order (one sale)."));
validated_string!(DisputeId, "dispute id", check_id, schema = id_schema("A dispute."));
validated_string!(
    /// A product category, as brands name them (`skincare`, `bags.leather`).
    Category, "category", check_id,
    schema = id_schema("A product category, as brands name them (`skincare`, `bags.leather`).")
);

impl PartyId {
    /// The reserved id of the platform operator.
    pub const PLATFORM: &'static str = "platform";

    pub fn platform() -> PartyId {
        PartyId(Self::PLATFORM.into())
    }

    pub fn is_platform(&self) -> bool {
        &*self.0 == Self::PLATFORM
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_form() {
        for good in ["a", "acme", "9", "store:tmall.acme-01_x", &"x".repeat(64)] {
            assert!(PartyId::parse(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("-acme", "starts with"),
            (".x", "starts with"),
            ("a b", "only ASCII"),
            ("ａcme", "starts with"),
            ("acmé", "only ASCII"),
            (&"x".repeat(65), "at most 64"),
        ] {
            let err = GrantId::parse(bad).unwrap_err();
            assert!(err.to_string().contains(why), "{bad:?}: {err}");
            assert!(err.to_string().starts_with("invalid grant id"), "{err}");
        }
    }
}
