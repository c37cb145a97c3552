//! The answer each sale was built to have: verdict, reasons and warnings, named and ordered
//! exactly as `chl check --order --json` prints them (the declaration order of
//! `chl_state::verdict::{Reason, Warning}`, in snake_case).
//!
//! Nothing here judges a history. A sale's answer is composed from how its case was built:
//! the store's designed situation at the sale's time gives one of three phases (the owner's
//! own store; a grant chain that holds, with the warnings its construction gives it and
//! whether an agreement covers the sale; or no holding chain, with the failures its
//! construction gives it), then the designed owner suspension and store closure add their
//! reasons, and the sale's own price, refund and dispute add their warnings.

/// The verdicts a generated sale can have (never `unknown_order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Authentic,
    UnverifiedSource,
    Unauthorized,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Verdict::Authentic, Verdict::UnverifiedSource, Verdict::Unauthorized];

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Authentic => "authentic",
            Verdict::UnverifiedSource => "unverified_source",
            Verdict::Unauthorized => "unauthorized",
        }
    }
}

/// A set of reasons, one bit each, in the checker's order.
pub type Reasons = u16;
/// A set of warnings, one bit each, in the checker's order.
pub type Warnings = u8;

pub const BRAND_OWNER_INACTIVE: Reasons = 1 << 0;
pub const STORE_CLOSED: Reasons = 1 << 1;
pub const NO_GRANT: Reasons = 1 << 2;
pub const GRANT_NOT_YET_VALID: Reasons = 1 << 3;
pub const GRANT_EXPIRED: Reasons = 1 << 4;
pub const GRANT_REVOKED: Reasons = 1 << 5;
pub const OUT_OF_SCOPE_SKU: Reasons = 1 << 6;
pub const OUT_OF_SCOPE_CHANNEL: Reasons = 1 << 7;
pub const OUT_OF_SCOPE_REGION: Reasons = 1 << 8;
/// Listed for completeness: no history the rules accept can give it (replay/ has the story).
pub const CHAIN_BROKEN: Reasons = 1 << 9;

pub const REASON_NAMES: [&str; 10] = [
    "brand_owner_inactive",
    "store_closed",
    "no_grant",
    "grant_not_yet_valid",
    "grant_expired",
    "grant_revoked",
    "out_of_scope_sku",
    "out_of_scope_channel",
    "out_of_scope_region",
    "chain_broken",
];

pub const PRICE_BELOW_FLOOR: Warnings = 1 << 0;
pub const GRANT_RECORDED_AFTER_SALE: Warnings = 1 << 1;
pub const REVOKED_LATER: Warnings = 1 << 2;
pub const REFUNDED: Warnings = 1 << 3;
pub const DISPUTED: Warnings = 1 << 4;

pub const WARNING_NAMES: [&str; 5] =
    ["price_below_floor", "grant_recorded_after_sale", "revoked_later", "refunded", "disputed"];

/// Where the authorization of a sale stands at its time, as its case was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The brand owner's own store: no grant or agreement needed.
    OwnStore,
    /// The operator's one grant chain holds. `chain`: the warnings it carries (a revocation
    /// recorded with a later effect, a grant recorded after the sale); `agreement`: `None`
    /// when no agreement covers the sale, else the warnings of the supplier's grant.
    Chain { chain: Warnings, agreement: Option<Warnings> },
    /// The operator's grant chain (if any) fails: the failures it was built with, and the
    /// warnings it carries all the same.
    NoChain { failures: Reasons, warnings: Warnings },
}

/// A sale's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truth {
    pub verdict: Verdict,
    pub reasons: Reasons,
    pub warnings: Warnings,
}

impl Truth {
    /// Composes the answer: the owner's standing and the store's closure (both as designed)
    /// are reasons whatever the chain; a holding chain gives authentic with an agreement,
    /// unverified_source without; a failing chain gives its failures; the sale's own warnings
    /// (price floor, refund, dispute) are added to any verdict.
    pub fn compose(phase: Phase, owner_active: bool, store_closed: bool, sale_warnings: Warnings) -> Truth {
        let mut reasons = 0;
        if !owner_active {
            reasons |= BRAND_OWNER_INACTIVE;
        }
        if store_closed {
            reasons |= STORE_CLOSED;
        }
        let mut warnings = sale_warnings;
        let verdict = match phase {
            Phase::OwnStore if reasons == 0 => Verdict::Authentic,
            Phase::OwnStore => Verdict::Unauthorized,
            Phase::Chain { chain, agreement } => {
                warnings |= chain | agreement.unwrap_or(0);
                match (reasons, agreement) {
                    (0, Some(_)) => Verdict::Authentic,
                    (0, None) => Verdict::UnverifiedSource,
                    _ => Verdict::Unauthorized,
                }
            }
            Phase::NoChain { failures, warnings: chain } => {
                reasons |= failures;
                warnings |= chain;
                Verdict::Unauthorized
            }
        };
        Truth { verdict, reasons, warnings }
    }

    /// Authentic with no warning at all.
    pub fn is_clean(&self) -> bool {
        self.verdict == Verdict::Authentic && self.warnings == 0
    }

    /// Appends `,"verdict":"...","reasons":[...],"warnings":[...]`.
    pub fn write_fields(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b",\"verdict\":\"");
        out.extend_from_slice(self.verdict.name().as_bytes());
        out.extend_from_slice(b"\",\"reasons\":[");
        write_names(out, u32::from(self.reasons), &REASON_NAMES);
        out.extend_from_slice(b"],\"warnings\":[");
        write_names(out, u32::from(self.warnings), &WARNING_NAMES);
        out.push(b']');
    }

    pub fn reason_names(&self) -> Vec<&'static str> {
        names(u32::from(self.reasons), &REASON_NAMES)
    }

    pub fn warning_names(&self) -> Vec<&'static str> {
        names(u32::from(self.warnings), &WARNING_NAMES)
    }
}

fn names(bits: u32, all: &[&'static str]) -> Vec<&'static str> {
    all.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, n)| *n).collect()
}

fn write_names(out: &mut Vec<u8>, bits: u32, all: &[&str]) {
    let mut first = true;
    for (i, name) in all.iter().enumerate() {
        if bits & (1 << i) != 0 {
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.push(b'"');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composition_follows_the_cases() {
        let clean = Phase::Chain { chain: 0, agreement: Some(0) };
        assert_eq!(Truth::compose(clean, true, false, 0).verdict, Verdict::Authentic);
        let no_source = Phase::Chain { chain: 0, agreement: None };
        assert_eq!(Truth::compose(no_source, true, false, 0).verdict, Verdict::UnverifiedSource);
        let t = Truth::compose(clean, false, true, REFUNDED);
        assert_eq!(t.verdict, Verdict::Unauthorized);
        assert_eq!(t.reason_names(), ["brand_owner_inactive", "store_closed"]);
        assert_eq!(t.warning_names(), ["refunded"]);
        let late = Phase::NoChain { failures: GRANT_NOT_YET_VALID, warnings: GRANT_RECORDED_AFTER_SALE };
        let t = Truth::compose(late, true, false, PRICE_BELOW_FLOOR | DISPUTED);
        assert_eq!(t.reason_names(), ["grant_not_yet_valid"]);
        assert_eq!(t.warning_names(), ["price_below_floor", "grant_recorded_after_sale", "disputed"]);
        let mut out = Vec::new();
        t.write_fields(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#","verdict":"unauthorized","reasons":["grant_not_yet_valid"],"warnings":["price_below_floor","grant_recorded_after_sale","disputed"]"#
        );
        let own = Truth::compose(Phase::OwnStore, true, false, 0);
        assert!(own.is_clean());
    }
}
