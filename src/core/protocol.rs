//! Protocol versions (draw-spec §16). A commitment names the rules it was made under; every
//! verifier checks an artefact by the rules of its own version, so v1 bundles stay checkable
//! after the draw moved on.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    V1,
    V2,
}

impl Protocol {
    /// What new draws are made under.
    pub const CURRENT: Protocol = Protocol::V2;
    pub const ALL: [Protocol; 2] = [Protocol::V1, Protocol::V2];

    /// The identifier written in `commitment.protocol`.
    pub fn id(self) -> &'static str {
        match self {
            Self::V1 => "double-random/v1",
            Self::V2 => "double-random/v2",
        }
    }

    /// A domain label of this version (draw-spec §2), e.g. `double-random/v2 seed`.
    pub fn label(self, name: &str) -> String {
        format!("{} {name}", self.id())
    }

    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.id() == id)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        Self::parse(&id).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unsupported protocol {id:?} (this verifier implements {})",
                Self::ALL.map(Self::id).join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_unknown_ids_are_refused() {
        for p in Protocol::ALL {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Protocol>(&json).unwrap(), p);
        }
        assert_eq!(Protocol::V2.label("seed"), "double-random/v2 seed");
        let err = serde_json::from_str::<Protocol>("\"double-random/v3\"").unwrap_err();
        assert!(err.to_string().contains("unsupported protocol"), "{err}");
    }
}
