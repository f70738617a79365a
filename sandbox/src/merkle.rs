//! RFC 6962 / RFC 9162 Merkle tree over leaf hashes.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

pub fn node_hash(l: &Hash, r: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// Largest power of two strictly smaller than `n` (n >= 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH(D[0:n]) over leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[0:n]): audit path for leaf `m`, leaf-to-root order.
pub fn inclusion_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
    fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
        let n = d.len();
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            path(m, &d[..k], out);
            out.push(root(&d[k..]));
        } else {
            path(m - k, &d[k..], out);
            out.push(root(&d[..k]));
        }
    }
    let mut out = Vec::new();
    if m < leaves.len() {
        path(m, leaves, &mut out);
    }
    out
}

/// RFC 9162 §2.1.3.2 verification: recompute the root from a leaf and its path.
pub fn root_from_proof(index: u64, size: u64, leaf: &Hash, proof: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 { None } else { Some(r) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent root: pair up level by level, promoting an odd last node unchanged.
    fn naive_root(leaves: &[Hash]) -> Hash {
        let mut level = leaves.to_vec();
        while level.len() > 1 {
            let mut next = Vec::new();
            for pair in level.chunks(2) {
                if pair.len() == 2 {
                    next.push(node_hash(&pair[0], &pair[1]));
                } else {
                    next.push(pair[0]);
                }
            }
            level = next;
        }
        level[0]
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("entry {i}").as_bytes())).collect()
    }

    #[test]
    fn roots_match_naive() {
        for n in 1..=70 {
            let l = leaves(n);
            assert_eq!(root(&l), naive_root(&l), "size {n}");
        }
    }

    #[test]
    fn empty_tree_root() {
        assert_eq!(hex::encode(root(&[])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn proofs_verify_for_all_sizes_and_indices() {
        for n in 1..=70usize {
            let l = leaves(n);
            let want = naive_root(&l);
            for m in 0..n {
                let p = inclusion_proof(&l, m);
                // Proof length is bounded by ceil(log2 n).
                assert!(p.len() <= (usize::BITS - (n - 1).leading_zeros()) as usize);
                assert_eq!(root_from_proof(m as u64, n as u64, &l[m], &p), Some(want), "n={n} m={m}");
                // Wrong leaf, wrong index, truncated or extended proofs fail.
                let other = leaf_hash(b"other");
                assert_ne!(root_from_proof(m as u64, n as u64, &other, &p), Some(want));
                if n > 1 {
                    assert_ne!(root_from_proof(((m + 1) % n) as u64, n as u64, &l[m], &p), Some(want));
                    assert_ne!(root_from_proof(m as u64, n as u64, &l[m], &p[..p.len() - 1]), Some(want));
                }
                let mut longer = p.clone();
                longer.push(other);
                assert_eq!(root_from_proof(m as u64, n as u64, &l[m], &longer), None);
            }
        }
    }

    #[test]
    fn known_vector_two_leaves() {
        let a = leaf_hash(b"");
        let b = leaf_hash(&[0u8]);
        let r = root(&[a, b]);
        assert_eq!(inclusion_proof(&[a, b], 0), vec![b]);
        assert_eq!(r, node_hash(&a, &b));
        // RFC 6962 test vector: leaf hash of the empty string.
        assert_eq!(hex::encode(a), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    }
}
