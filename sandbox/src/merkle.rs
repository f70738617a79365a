//! RFC 6962 / RFC 9162 Merkle tree over leaf hashes.

use sha2::{Digest, Sha256};

pub(crate) type Hash = [u8; 32];

pub(crate) fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

pub(crate) fn node_hash(l: &Hash, r: &Hash) -> Hash {
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

/// An append-only tree that keeps every complete power-of-two subtree's hash, so a root or an
/// inclusion proof costs O(log² n) hashes instead of rehashing all n leaves on every request.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tree {
    /// `levels[k][i]` = hash of leaves `i·2^k .. (i+1)·2^k` (only complete subtrees).
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// A tree over `leaves`, in order.
    pub(crate) fn from_leaves(leaves: Vec<Hash>) -> Tree {
        let mut t = Tree::default();
        for l in leaves {
            t.push(l);
        }
        t
    }

    /// Number of leaves.
    pub(crate) fn len(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    /// Append a leaf hash.
    pub(crate) fn push(&mut self, leaf: Hash) {
        let mut node = leaf;
        let mut k = 0;
        loop {
            if self.levels.len() == k {
                self.levels.push(Vec::new());
            }
            self.levels[k].push(node);
            let n = self.levels[k].len();
            if n % 2 == 1 {
                return;
            }
            node = node_hash(&self.levels[k][n - 2], &self.levels[k][n - 1]);
            k += 1;
        }
    }

    /// Hashes of the complete subtrees of `2^level` leaves number `start .. start + count`
    /// (what a C2SP tlog-tiles tile holds), or `None` when not all of them are complete yet.
    pub(crate) fn complete_nodes(&self, level: usize, start: usize, count: usize) -> Option<&[Hash]> {
        self.levels.get(level)?.get(start..start.checked_add(count)?)
    }

    /// `MTH(D[start:end])`.
    fn subtree(&self, start: usize, end: usize) -> Hash {
        let n = end - start;
        if n == 0 {
            return Sha256::digest([]).into();
        }
        if n.is_power_of_two() && start.is_multiple_of(n) {
            let k = n.trailing_zeros() as usize;
            return self.levels[k][start >> k];
        }
        let k = split(n);
        node_hash(&self.subtree(start, start + k), &self.subtree(start + k, end))
    }

    /// The root over all leaves.
    pub(crate) fn root(&self) -> Hash {
        self.subtree(0, self.len())
    }

    /// `PATH(m, D[0:n])` over all leaves, leaf-to-root order (empty when `m` is out of range).
    pub(crate) fn inclusion_proof(&self, m: usize) -> Vec<Hash> {
        let mut out = Vec::new();
        let (mut start, mut end) = (0, self.len());
        if m >= end {
            return out;
        }
        // Walk down from the root, collecting siblings; then reverse to leaf-to-root order.
        while end - start > 1 {
            let k = split(end - start);
            if m < start + k {
                out.push(self.subtree(start + k, end));
                end = start + k;
            } else {
                out.push(self.subtree(start, start + k));
                start += k;
            }
        }
        out.reverse();
        out
    }
}

/// MTH(D[0:n]) over leaf hashes, straight from the RFC's recursive definition (the reference
/// [`Tree`] is tested against).
#[cfg(test)]
pub(crate) fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[0:n]): audit path for leaf `m`, leaf-to-root order (reference definition).
#[cfg(test)]
pub(crate) fn inclusion_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
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
pub(crate) fn root_from_proof(index: u64, size: u64, leaf: &Hash, proof: &[Hash]) -> Option<Hash> {
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
    fn incremental_tree_matches_the_recursive_definition() {
        let l = leaves(70);
        let mut t = Tree::default();
        assert_eq!(t.root(), root(&[]));
        for n in 1..=70 {
            t.push(l[n - 1]);
            assert_eq!(t.len(), n);
            assert_eq!(t.root(), root(&l[..n]), "size {n}");
            for m in 0..n {
                assert_eq!(t.inclusion_proof(m), inclusion_proof(&l[..n], m), "n={n} m={m}");
            }
            assert!(t.inclusion_proof(n).is_empty());
        }
        assert_eq!(Tree::from_leaves(l.clone()).root(), root(&l));
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
