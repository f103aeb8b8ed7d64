//! RFC 6962 / RFC 9162 Merkle tree hashing and inclusion proofs (draw-spec §4).

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::encode::{Hash, sha256};

/// Levels at least this long are hashed on all cores; below it threads cost more than they save.
const PARALLEL_MIN: usize = 1 << 14;

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut block = [0u8; 65];
    block[0] = 1;
    block[1..33].copy_from_slice(left);
    block[33..].copy_from_slice(right);
    sha256(&block)
}

/// Hash of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    sha256(&[])
}

fn next_level(level: &[Hash]) -> Vec<Hash> {
    let pair = |c: &[Hash]| {
        if c.len() == 2 {
            node_hash(&c[0], &c[1])
        } else {
            c[0]
        }
    };
    if level.len() >= PARALLEL_MIN {
        level.par_chunks(2).map(pair).collect()
    } else {
        level.chunks(2).map(pair).collect()
    }
}

/// Root of the tree over these leaf hashes. Pairing bottom-up and carrying an odd last node
/// up unchanged gives exactly RFC 6962's MTH (split at the largest power of two below n).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        _ => {
            let mut level = next_level(leaves);
            while level.len() > 1 {
                level = next_level(&level);
            }
            level[0]
        }
    }
}

/// A tree with every level kept, for producing inclusion proofs.
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    pub fn new(leaves: Vec<Hash>) -> Self {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let next = next_level(levels.last().expect("non-empty"));
            levels.push(next);
        }
        Self { levels }
    }

    pub fn size(&self) -> usize {
        self.levels[0].len()
    }

    pub fn leaves(&self) -> &[Hash] {
        &self.levels[0]
    }

    pub fn root(&self) -> Hash {
        match self.levels.last() {
            Some(top) if top.len() == 1 => top[0],
            _ => empty_root(),
        }
    }

    /// The audit path (RFC 6962 PATH) of leaf `index`, leaf side first.
    pub fn proof(&self, index: usize) -> Vec<Hash> {
        assert!(index < self.size(), "leaf index out of range");
        let mut path = Vec::new();
        let mut i = index;
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = i ^ 1;
            // A carried odd last node has no sibling at this level.
            if sibling < level.len() {
                path.push(level[sibling]);
            }
            i /= 2;
        }
        path
    }
}

/// RFC 9162 §2.1.3.2 inclusion proof verification.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// RFC 6962 §2.1.2 consistency proof PROOF(m, D[n]) that the tree of the first `m` leaves is a
/// prefix of the tree of all of `leaves` (0 < m ≤ n).
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
    assert!(
        m > 0 && m <= leaves.len(),
        "consistency proof sizes out of range"
    );
    let mut proof = Vec::new();
    subproof(m, leaves, true, &mut proof);
    proof
}

fn subproof(m: usize, leaves: &[Hash], whole: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], whole, proof);
        proof.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// RFC 9162 §2.1.4.2 consistency proof verification.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &Hash,
    root2: &Hash,
    proof: &[Hash],
) -> bool {
    if size1 > size2 {
        return false;
    }
    if size1 == size2 {
        return proof.is_empty() && root1 == root2;
    }
    if size1 == 0 {
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(*root1);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fnode, mut snode) = (size1 - 1, size2 - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *root1 && sr == *root2 && snode == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        leaves_hex: Vec<String>,
        roots: Vec<RootCase>,
        inclusion_proofs: Vec<InclusionCase>,
        consistency_proofs: Vec<ConsistencyCase>,
    }
    #[derive(Deserialize)]
    struct ConsistencyCase {
        size1: usize,
        size2: usize,
        path_hex: Vec<String>,
    }
    #[derive(Deserialize)]
    struct RootCase {
        size: usize,
        root_hex: String,
    }
    #[derive(Deserialize)]
    struct InclusionCase {
        leaf_index: u64,
        tree_size: u64,
        path_hex: Vec<String>,
    }

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    fn vectors() -> Vectors {
        let text = include_str!("../../tests/vectors/rfc6962.json");
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn roots_match_rfc6962_vectors() {
        let v = vectors();
        let leaves: Vec<Hash> = v
            .leaves_hex
            .iter()
            .map(|l| leaf_hash(&hex::decode(l).unwrap()))
            .collect();
        assert!(v.roots.len() >= 8);
        for case in &v.roots {
            assert_eq!(
                root(&leaves[..case.size]),
                h(&case.root_hex),
                "size {}",
                case.size
            );
            assert_eq!(
                Tree::new(leaves[..case.size].to_vec()).root(),
                h(&case.root_hex)
            );
        }
    }

    #[test]
    fn inclusion_proofs_match_rfc6962_vectors() {
        let v = vectors();
        let leaves: Vec<Hash> = v
            .leaves_hex
            .iter()
            .map(|l| leaf_hash(&hex::decode(l).unwrap()))
            .collect();
        assert!(!v.inclusion_proofs.is_empty());
        for case in &v.inclusion_proofs {
            let n = case.tree_size as usize;
            let i = case.leaf_index as usize;
            let tree = Tree::new(leaves[..n].to_vec());
            let want: Vec<Hash> = case.path_hex.iter().map(|p| h(p)).collect();
            assert_eq!(tree.proof(i), want, "leaf {i} of {n}");
            assert!(verify_inclusion(
                i as u64,
                n as u64,
                &leaves[i],
                &want,
                &tree.root()
            ));
        }
    }

    #[test]
    fn consistency_proofs_match_rfc6962_vectors() {
        let v = vectors();
        let leaves: Vec<Hash> = v
            .leaves_hex
            .iter()
            .map(|l| leaf_hash(&hex::decode(l).unwrap()))
            .collect();
        let cases: Vec<_> = v
            .consistency_proofs
            .iter()
            .filter(|c| c.size1 > 0)
            .collect();
        assert!(cases.len() >= 5);
        for c in cases {
            let want: Vec<Hash> = c.path_hex.iter().map(|p| h(p)).collect();
            let (r1, r2) = (root(&leaves[..c.size1]), root(&leaves[..c.size2]));
            if c.size1 < c.size2 {
                assert_eq!(
                    consistency_proof(&leaves[..c.size2], c.size1),
                    want,
                    "{} → {}",
                    c.size1,
                    c.size2
                );
            }
            assert!(verify_consistency(
                c.size1 as u64,
                c.size2 as u64,
                &r1,
                &r2,
                &want
            ));
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_rewrite_fails() {
        let leaves: Vec<Hash> = (0..33u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for n in 1..=leaves.len() {
            for m in 1..=n {
                let p = consistency_proof(&leaves[..n], m);
                let (r1, r2) = (root(&leaves[..m]), root(&leaves[..n]));
                assert!(
                    verify_consistency(m as u64, n as u64, &r1, &r2, &p),
                    "{m} → {n}"
                );
                if m < n {
                    let mut forked = leaves[..n].to_vec();
                    forked[m - 1] = leaf_hash(b"rewritten");
                    assert!(!verify_consistency(
                        m as u64,
                        n as u64,
                        &r1,
                        &root(&forked),
                        &p
                    ));
                    assert!(!verify_consistency(m as u64, n as u64, &r2, &r1, &p));
                }
            }
        }
    }

    #[test]
    fn every_proof_verifies_and_tampering_fails() {
        for n in 1..40usize {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let tree = Tree::new(leaves.clone());
            assert_eq!(tree.root(), root(&leaves));
            for (i, leaf) in leaves.iter().enumerate() {
                let p = tree.proof(i);
                assert!(verify_inclusion(i as u64, n as u64, leaf, &p, &tree.root()));
                if (i ^ 1) < n {
                    assert!(!verify_inclusion(
                        (i ^ 1) as u64,
                        n as u64,
                        leaf,
                        &p,
                        &tree.root()
                    ));
                }
                assert!(!verify_inclusion(
                    i as u64,
                    n as u64,
                    &leaf_hash(b"x"),
                    &p,
                    &tree.root()
                ));
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    bad[0] = node_hash(first, first);
                    assert!(!verify_inclusion(
                        i as u64,
                        n as u64,
                        leaf,
                        &bad,
                        &tree.root()
                    ));
                }
            }
        }
    }

    /// RFC 6962 §2.1 MTH, written as the RFC defines it.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn bottom_up_root_is_the_rfc_definition() {
        let leaves: Vec<Hash> = (0..PARALLEL_MIN * 2 + 3)
            .map(|i| leaf_hash(&i.to_be_bytes()))
            .collect();
        for n in (0..70).chain([PARALLEL_MIN + 1, leaves.len()]) {
            assert_eq!(root(&leaves[..n]), mth(&leaves[..n]), "size {n}");
        }
    }
}
