//! Properties: input order never matters; any changed byte of a bundle fails verification.

use double_random::core::bundle::{FullBundle, PublicBundle, verify_full, verify_public};
use proptest::prelude::*;

use crate::support::*;

fn shuffled<T: Clone>(items: &[T], keys: &[u64]) -> Vec<T> {
    let mut v: Vec<(u64, T)> = items
        .iter()
        .cloned()
        .zip(keys.iter().cycle())
        .map(|(t, k)| (*k, t))
        .collect();
    v.sort_by_key(|(k, _)| *k);
    v.into_iter().map(|(_, t)| t).collect()
}

/// A flipped character that really changes the value: hex digits become another lowercase hex
/// digit, other letters and digits another of their own class (never just a case change).
fn flip(c: u8, r: u8) -> Option<u8> {
    const HEX: &[u8] = b"0123456789abcdef";
    const LOWER: &[u8] = b"ghijklmnopqrstuvwxyz";
    let class: &[u8] = if HEX.contains(&c) {
        HEX
    } else if c.is_ascii_lowercase() {
        LOWER
    } else if c.is_ascii_uppercase() {
        b"GHIJKLMNOPQRSTUVWXYZ"
    } else {
        return None;
    };
    let others: Vec<u8> = class.iter().copied().filter(|&x| x != c).collect();
    Some(others[r as usize % others.len()])
}

fn small_bundle() -> (FullBundle, PublicBundle) {
    let (objects, inspectors) = pool(25, 8, 5);
    let (b, p) = draw(inputs(demo_policy(), objects, inspectors, "prop"));
    let public = PublicBundle::from_full(&b, &p);
    (b, public)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn input_order_does_not_change_the_result(keys in proptest::collection::vec(any::<u64>(), 1..50)) {
        let (objects, inspectors) = pool(40, 10, 3);
        let (a, _) = draw(inputs(demo_policy(), objects.clone(), inspectors.clone(), "order"));
        let (b, _) = draw(inputs(demo_policy(), shuffled(&objects, &keys), shuffled(&inspectors, &keys[1..].iter().chain(&keys[..1]).copied().collect::<Vec<_>>()), "order"));
        prop_assert_eq!(hex::encode(a.result_digest), hex::encode(b.result_digest));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_changed_byte_of_a_full_bundle_fails(at in any::<prop::sample::Index>(), r in any::<u8>()) {
        let (b, _) = small_bundle();
        let mut text = serde_json::to_vec(&b).unwrap();
        let i = at.index(text.len());
        let Some(new) = flip(text[i], r) else { return Ok(()) };
        text[i] = new;
        if let Ok(tampered) = serde_json::from_slice::<FullBundle>(&text) {
            let report = verify_full(&tampered);
            prop_assert!(!report.valid, "byte {} ({:?}) changed but the bundle verifies", i, String::from_utf8_lossy(&text[i.saturating_sub(30)..(i + 30).min(text.len())]));
        }
    }

    #[test]
    fn any_changed_byte_of_a_public_bundle_fails(at in any::<prop::sample::Index>(), r in any::<u8>()) {
        let (_, p) = small_bundle();
        let mut text = serde_json::to_vec(&p).unwrap();
        let i = at.index(text.len());
        let Some(new) = flip(text[i], r) else { return Ok(()) };
        text[i] = new;
        if let Ok(tampered) = serde_json::from_slice::<PublicBundle>(&text) {
            let report = verify_public(&tampered);
            prop_assert!(!report.valid, "byte {} ({:?}) changed but the bundle verifies", i, String::from_utf8_lossy(&text[i.saturating_sub(30)..(i + 30).min(text.len())]));
        }
    }
}
