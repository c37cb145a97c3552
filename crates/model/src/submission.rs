//! The submission form: what a client sends to have one event recorded.
//!
//! `{"type": "...", "actor": "...", "effective_at": "..."?, "data": {...}}`, one JSON object
//! per line of an import or per element of an API batch.

use crate::event::{Event, EventType, strip_position};
use crate::id::PartyId;
use crate::refusal::{Refusal, Rule};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A parsed submission whose form (rule 1) holds. Whether the ledger accepts it depends on
/// its state; see the state crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub actor: PartyId,
    /// When the fact took effect; the ledger uses its own clock when absent.
    pub effective_at: Option<Timestamp>,
    pub event: Event,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmissionForm<'a> {
    #[serde(rename = "type", borrow)]
    event_type: std::borrow::Cow<'a, str>,
    actor: PartyId,
    #[serde(default)]
    effective_at: Option<Timestamp>,
    #[serde(borrow)]
    data: &'a serde_json::value::RawValue,
}

#[derive(Serialize)]
struct SubmissionOut<'a> {
    #[serde(rename = "type")]
    event_type: &'static str,
    actor: &'a PartyId,
    #[serde(skip_serializing_if = "Option::is_none")]
    effective_at: Option<Timestamp>,
    data: crate::event::EventData<'a>,
}

impl Submission {
    /// Parses one submission and checks its form: known type, every required field, no
    /// unknown field, well-formed ids, codes, money, windows and lists.
    pub fn parse_json(text: &str) -> Result<Submission, Refusal> {
        let mut json = serde_json::Deserializer::from_str(text);
        let form: SubmissionForm = serde_path_to_error::deserialize(&mut json).map_err(|e| {
            let path = e.path().to_string();
            let message = strip_position(&e.into_inner().to_string());
            if path == "." || path == "?" {
                Refusal { rule: Rule::Form, field: None, message }
            } else {
                Refusal::form(path, message)
            }
        })?;
        json.end().map_err(|e| Refusal {
            rule: Rule::Form,
            field: None,
            message: strip_position(&e.to_string()),
        })?;
        let event_type = EventType::from_name(&form.event_type)
            .ok_or_else(|| Refusal::form("type", format!("unknown event type {:?}", form.event_type)))?;
        if event_type == EventType::LedgerCreated {
            return Err(Refusal::new(
                Rule::Authority,
                "type",
                "ledger_created is written only by chl init, as record 0",
            ));
        }
        let event = Event::from_json_data(event_type, form.data.get())?;
        event.check_form()?;
        // Only once it parsed, so that a field's own error (unknown, wrong type) comes first.
        crate::shape::check_arrays(text, "")?;
        Ok(Submission { actor: form.actor, effective_at: form.effective_at, event })
    }

    /// Writes the submission form as one line of JSON (no newline).
    pub fn write_json<W: std::io::Write>(&self, out: W) -> serde_json::Result<()> {
        serde_json::to_writer(
            out,
            &SubmissionOut {
                event_type: self.event.event_type().name(),
                actor: &self.actor,
                effective_at: self.effective_at,
                data: self.event.data(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(line: &str) -> String {
        Submission::parse_json(line).unwrap_err().to_string()
    }

    const GRANT: &str = r#"{"type":"grant_issued","actor":"acme","effective_at":"2013-03-29T00:00:00Z","data":{"grant":"g1","brand":"acme-beauty","grantor":"acme","grantee":"agent-east","scope":{},"channels":["taobao"],"exclusive":false,"sublicensable":true,"valid_from":"2013-03-29T00:00:00Z","valid_until":"2014-03-29T00:00:00Z"}}"#;

    #[test]
    fn a_well_formed_submission_parses_and_writes_back_the_same() {
        let submission = Submission::parse_json(GRANT).unwrap();
        assert_eq!(submission.event.event_type(), EventType::GrantIssued);
        let mut out = Vec::new();
        submission.write_json(&mut out).unwrap();
        assert_eq!(Submission::parse_json(std::str::from_utf8(&out).unwrap()).unwrap(), submission);
    }

    #[test]
    fn form_refusals_name_the_field() {
        let cases = [
            (
                GRANT.replace(r#""grantee":"agent-east""#, r#""grantee":"agent east""#),
                "form: data.grantee: invalid party id",
            ),
            (GRANT.replace(r#""exclusive":false,"#, ""), "form: data: missing field `exclusive`"),
            (
                GRANT.replace(r#""scope":{}"#, r#""scope":{},"color":"red""#),
                "form: data.color: unknown field `color`",
            ),
            (
                GRANT.replace(r#""scope":{}"#, r#""scope":{"brands":[]}"#),
                "form: data.scope.brands: unknown field `brands`",
            ),
            (
                GRANT.replace(r#""channels":["taobao"]"#, r#""channels":["tmall"]"#),
                "form: data.channels[0]: unknown variant `tmall`",
            ),
            (
                GRANT.replace(r#""channels":["taobao"]"#, r#""channels":[]"#),
                "form: data.channels: may not be an empty list",
            ),
            (
                GRANT.replace(r#""channels":["taobao"]"#, r#""channels":["taobao","taobao"]"#),
                "form: data.channels[1]: \"taobao\" is listed twice",
            ),
            (GRANT.replace("2014-03-29", "2013-03-29"), "form: data.valid_until: the window is empty"),
            (GRANT.replace("grant_issued", "grant_given"), "form: type: unknown event type \"grant_given\""),
            (
                GRANT
                    .replace(r#""actor":"acme","#, r#""actor":"acme","recorded_at":"2013-03-29T00:00:00Z","#),
                "form: recorded_at: unknown field `recorded_at`",
            ),
            (
                GRANT.replace(r#""effective_at":"2013-03-29T00:00:00Z""#, r#""effective_at":"2013-03-29""#),
                "form: effective_at: invalid time",
            ),
            (
                GRANT.replace("grant_issued", "ledger_created"),
                "authority: type: ledger_created is written only by chl init",
            ),
            (GRANT[..40].to_owned(), "form: EOF while parsing"),
            (format!("{GRANT} {{}}"), "form: trailing characters"),
        ];
        for (line, expected) in cases {
            let got = refusal(&line);
            assert!(got.starts_with(expected), "{line}\n  expected {expected}\n  got      {got}");
        }
    }

    #[test]
    fn money_and_quantities_must_be_positive() {
        let sale = r#"{"type":"sale_recorded","actor":"platform","data":{"order":"o1","store":"s1","sku":"k1","quantity":1,"unit_price":{"value":100,"currency":"CNY"}}}"#;
        assert!(Submission::parse_json(sale).is_ok());
        let zero = sale.replace(r#""quantity":1"#, r#""quantity":0"#);
        assert!(
            refusal(&zero).starts_with("form: data.quantity: a quantity must be at least 1"),
            "{}",
            refusal(&zero)
        );
        let free = sale.replace(r#""value":100"#, r#""value":0"#);
        assert!(
            refusal(&free).starts_with("form: data.unit_price: money must be positive"),
            "{}",
            refusal(&free)
        );
        let huge = sale.replace(r#""value":100"#, r#""value":99999999999999999999"#);
        assert!(refusal(&huge).starts_with("form: data.unit_price"), "{}", refusal(&huge));
        let currency = sale.replace("CNY", "yuan");
        assert!(
            refusal(&currency).starts_with("form: data.unit_price.currency: invalid currency"),
            "{}",
            refusal(&currency)
        );
    }
}
