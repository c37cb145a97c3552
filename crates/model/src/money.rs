//! Amounts of money in minor units (fen for CNY).

use crate::codes::Currency;
use std::fmt;

/// A positive amount in minor units of one currency. Every amount in the catalogue (margins,
/// price floors, unit prices) is positive, so a zero or negative amount cannot be built.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, bincode::Encode)]
#[serde(try_from = "MoneyForm", deny_unknown_fields)]
pub struct Money {
    value: i64,
    currency: Currency,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyForm {
    value: i64,
    currency: Currency,
}

impl TryFrom<MoneyForm> for Money {
    type Error = String;
    fn try_from(form: MoneyForm) -> Result<Money, String> {
        Money::new(form.value, form.currency)
    }
}

impl Money {
    pub fn new(value: i64, currency: Currency) -> Result<Money, String> {
        if value <= 0 {
            return Err(format!("money must be positive, got {value} {currency}"));
        }
        Ok(Money { value, currency })
    }

    /// Minor units (fen for CNY).
    pub fn value(&self) -> i64 {
        self.value
    }

    pub fn currency(&self) -> &Currency {
        &self.currency
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.value, self.currency)
    }
}

impl<C> bincode::Decode<C> for Money {
    fn decode<D: bincode::de::Decoder<Context = C>>(d: &mut D) -> Result<Self, bincode::error::DecodeError> {
        let value = i64::decode(d)?;
        let currency = Currency::decode(d)?;
        Money::new(value, currency).map_err(bincode::error::DecodeError::OtherString)
    }
}
bincode::impl_borrow_decode!(Money);

impl schemars::JsonSchema for Money {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Money".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::Money").into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "A positive amount of money in minor units of one currency (fen for CNY).",
            "properties": {
                "value": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": i64::MAX,
                    "description": "Minor units (fen for CNY), at least 1.",
                },
                "currency": generator.subschema_for::<Currency>(),
            },
            "required": ["value", "currency"],
            "additionalProperties": false,
        })
    }
}
