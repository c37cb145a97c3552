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
        json.end().map_err(|e| Refusal { rule: Rule::Form, field: None, message: strip_position(&e.to_string()) })?;
        let event_type = EventType::from_name(&form.event_type).ok_or_else(|| {
            Refusal::form("type", format!("unknown event type {:?}", form.event_type))
        })?;
        if event_type == EventType::LedgerCreated {
            return Err(Refusal::new(
                Rule::Authority,
                "type",
                "ledger_created is written only by chl init, as record 0",
            ));
        }
        let event = Event::from_json_data(event_type, form.data.get())?;
        event.check_form()?;
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
