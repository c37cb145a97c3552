//! Why the ledger refused a submission: the rule, the field and a sentence naming the ids.

use std::fmt;

/// The groups of rules of spec/events.md, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    Form,
    References,
    Authority,
    Suppliers,
    Grants,
    Agreements,
    Sales,
    Idempotency,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Form => "form",
            Rule::References => "references",
            Rule::Authority => "authority",
            Rule::Suppliers => "suppliers",
            Rule::Grants => "grants",
            Rule::Agreements => "agreements",
            Rule::Sales => "sales",
            Rule::Idempotency => "idempotency",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A refused submission. Displays as `<rule>: <field>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Refusal {
    pub rule: Rule,
    /// The submission field at fault (`data.grantee`), where one is.
    pub field: Option<String>,
    pub message: String,
}

impl Refusal {
    pub fn new(rule: Rule, field: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal { rule, field: Some(field.into()), message: message.into() }
    }

    pub fn form(field: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal::new(Rule::Form, field, message)
    }
}

impl From<crate::event::FieldError> for Refusal {
    fn from(e: crate::event::FieldError) -> Refusal {
        Refusal::form(e.field, e.message)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: {}: {}", self.rule, field, self.message),
            None => write!(f, "{}: {}", self.rule, self.message),
        }
    }
}
