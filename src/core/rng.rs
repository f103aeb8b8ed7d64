//! The only randomness of a draw: SHA-256 and the raw ChaCha20 keystream (draw-spec §6).
//! rand's helpers (`gen_range`, `shuffle`, …) are deliberately not used: their outputs are not
//! promised stable across versions, and a draw must verify in ten years.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use super::Protocol;
use super::encode::{Encoder, Hash};

/// A ChaCha20 keystream (256-bit key, zero nonce, block counter from 0) read 8 bytes at a time.
pub struct Stream {
    rng: ChaCha20Rng,
}

impl Stream {
    /// Stream for one purpose of one draw: key = SHA-256(lp(protocol label) ‖ lp(purpose) ‖ seed ‖ u32 index).
    pub fn new(protocol: Protocol, seed: &Hash, purpose: &str, index: u32) -> Self {
        let mut e = Encoder::with_domain(&protocol.label("stream"));
        e.str(purpose).hash(seed).u32(index);
        Self::from_key(e.sha256())
    }

    /// v2 stream fixed by what it is for rather than by when it was asked for (draw-spec §6.3):
    /// key = SHA-256(lp(label) ‖ lp(purpose) ‖ seed ‖ lp(object id) ‖ u32 slot ‖ u32 number).
    pub fn for_object(seed: &Hash, purpose: &str, object: &str, slot: u32, number: u32) -> Self {
        let mut e = Encoder::with_domain(&Protocol::V2.label("stream"));
        e.str(purpose).hash(seed).str(object).u32(slot).u32(number);
        Self::from_key(e.sha256())
    }

    pub fn from_key(key: Hash) -> Self {
        Self {
            rng: ChaCha20Rng::from_seed(key),
        }
    }

    /// Next 8 keystream bytes as a little-endian u64.
    pub fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.rng.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    /// Uniform integer in [0, n) by rejection: values below 2^64 mod n are discarded, so every
    /// residue is equally likely.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "uniform draw from an empty range");
        let reject_under = n.wrapping_neg() % n;
        loop {
            let x = self.next_u64();
            if x >= reject_under {
                return x % n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystream_is_plain_chacha20() {
        // RFC 7539 §2.3.2 / djb test vector: all-zero key and nonce, block 0.
        let mut s = Stream::from_key([0; 32]);
        let mut got = Vec::new();
        for _ in 0..4 {
            got.extend_from_slice(&s.next_u64().to_le_bytes());
        }
        assert_eq!(
            hex::encode(got),
            "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
        );
    }

    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut s = Stream::from_key([7; 32]);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            seen[s.below(7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (850..1150).contains(&c)), "{seen:?}");
        assert_eq!(s.below(1), 0);
    }

    #[test]
    fn rejection_zone_is_skipped() {
        // n = 2^63 + 1: 2^64 mod n = 2^63 - 1, so about half the words are rejected; result stays < n.
        let mut s = Stream::from_key([9; 32]);
        let n = (1u64 << 63) + 1;
        for _ in 0..100 {
            assert!(s.below(n) < n);
        }
    }
}
