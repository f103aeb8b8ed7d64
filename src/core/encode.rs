//! Canonical byte encoding (draw-spec §2): big-endian integers, u32-length-prefixed
//! byte strings, u32-count-prefixed lists. Every hash input in the protocol is built here.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// Where encoded bytes go: a buffer, or straight into a hash without building one.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for &mut Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

#[derive(Default)]
pub struct Encoder<S: Sink = Vec<u8>> {
    sink: S,
}

impl Encoder<Vec<u8>> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Self {
            sink: Vec::with_capacity(n),
        }
    }

    /// Starts with a length-prefixed domain label, so no two kinds of message share an encoding.
    pub fn with_domain(domain: &str) -> Self {
        let mut e = Self::new();
        e.str(domain);
        e
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.sink
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.sink
    }

    pub fn sha256(&self) -> Hash {
        sha256(&self.sink)
    }
}

impl<'b> Encoder<&'b mut Vec<u8>> {
    /// Appends to a caller's buffer (reused across records on hot paths).
    pub fn over(buf: &'b mut Vec<u8>) -> Self {
        Self { sink: buf }
    }
}

impl Encoder<Sha256> {
    /// Encodes into a hasher that may already hold a prefix.
    pub fn hashing(hasher: Sha256) -> Self {
        Self { sink: hasher }
    }

    pub fn finish(self) -> Hash {
        self.sink.finalize().into()
    }

    /// The hasher, to go on feeding it.
    pub fn into_hasher(self) -> Sha256 {
        self.sink
    }
}

impl<S: Sink> Encoder<S> {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.sink.put(&[v]);
        self
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.sink.put(&v.to_be_bytes());
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.sink.put(&v.to_be_bytes());
        self
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(u32::try_from(v.len()).expect("field longer than 4 GiB"));
        self.sink.put(v);
        self
    }

    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }

    /// Fixed-size hashes go in raw: their length is part of the format.
    pub fn hash(&mut self, v: &Hash) -> &mut Self {
        self.sink.put(v);
        self
    }

    pub fn opt_str(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            None => self.u8(0),
            Some(s) => self.u8(1).str(s),
        }
    }

    pub fn strs<T: AsRef<str>>(&mut self, items: &[T]) -> &mut Self {
        self.count(items.len());
        for s in items {
            self.str(s.as_ref());
        }
        self
    }

    pub fn count(&mut self, n: usize) -> &mut Self {
        self.u32(u32::try_from(n).expect("list longer than u32"))
    }
}

pub fn sha256(data: &[u8]) -> Hash {
    Sha256::digest(data).into()
}

/// A JSON object of strings read as a map, refusing a repeated key (draw-spec §16 reading
/// rules): serde already refuses a repeated named field; data keys (`attributes`) likewise.
pub fn unique_keys<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = std::collections::BTreeMap<String, String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of strings")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Self::Value::new();
            while let Some((k, v)) = m.next_entry::<String, String>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!("repeated key {k:?}")));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Visitor)
}

pub mod hex32 {
    //! serde helper: 32-byte hashes as lowercase hex strings.
    use super::Hash;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(D::Error::custom)
    }

    pub fn parse(s: &str) -> Result<Hash, String> {
        let v = hex::decode(s).map_err(|e| format!("bad hex {s:?}: {e}"))?;
        v.try_into()
            .map_err(|_| format!("expected 32 bytes of hex, got {s:?}"))
    }
}

pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(h: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(&s).map_err(|e| D::Error::custom(format!("bad hex {s:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_big_endian_and_length_prefixed() {
        let mut e = Encoder::with_domain("d");
        e.u8(7).u32(1).u64(2).str("ab").opt_str(None).strs(&["x"]);
        assert_eq!(
            hex::encode(e.as_bytes()),
            "0000000164\
             07\
             00000001\
             0000000000000002\
             000000026162\
             00\
             000000010000000178"
        );
    }
}
