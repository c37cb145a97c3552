//! One mechanism for every string that may hold only valid values: ids, codes, free text.
//!
//! `validated_string!` defines a newtype whose constructor checks the value, and whose serde
//! and bincode impls go through that constructor, so a value read from JSON, from a record on
//! disk or built in code is valid by construction. Each also names its JSON Schema (`schema =`,
//! a `schemars::Schema` of the string), which states as much of the check as JSON Schema can;
//! schemas/README.md lists what only the check itself sees.

/// Why a string was refused, as a phrase that completes "invalid <what> "<value>": ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {why}")]
pub struct ValueError {
    pub what: &'static str,
    pub value: String,
    pub why: String,
}

macro_rules! validated_string {
    ($(#[$meta:meta])* $name:ident, $what:literal, $check:path, schema = $schema:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Box<str>);

        impl $name {
            /// What this value is called in messages.
            pub const WHAT: &'static str = $what;

            pub fn parse(value: &str) -> Result<Self, $crate::validated::ValueError> {
                match $check(value) {
                    Ok(()) => Ok($name(value.into())),
                    Err(why) => Err($crate::validated::ValueError {
                        what: $what,
                        value: value.to_owned(),
                        why: why.into(),
                    }),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::validated::ValueError;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                $name::parse(value)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "a {} string", $what)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::parse(v).map_err(E::custom)
                    }
                }
                d.deserialize_str(Visitor)
            }
        }

        impl bincode::Encode for $name {
            fn encode<E: bincode::enc::Encoder>(
                &self,
                e: &mut E,
            ) -> Result<(), bincode::error::EncodeError> {
                self.as_str().encode(e)
            }
        }

        impl<C> bincode::Decode<C> for $name {
            fn decode<D: bincode::de::Decoder<Context = C>>(
                d: &mut D,
            ) -> Result<Self, bincode::error::DecodeError> {
                let value = String::decode(d)?;
                $name::parse(&value)
                    .map_err(|e| bincode::error::DecodeError::OtherString(e.to_string()))
            }
        }
        bincode::impl_borrow_decode!($name);

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn schema_id() -> std::borrow::Cow<'static, str> {
                concat!(module_path!(), "::", stringify!($name)).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                $schema
            }
        }
    };
}
pub(crate) use validated_string;
