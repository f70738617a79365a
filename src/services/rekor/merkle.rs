//! RFC 6962 / RFC 9162 Merkle tree hashing and inclusion proof verification (§2.1.3.2).
use sha2::{Digest, Sha256};

/// Why an inclusion proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is not inside a tree of size {tree_size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        tree_size: u64,
    },
    /// A hash in the proof (or the root, or the leaf) is not 32 bytes long.
    #[error("{what} is {len} bytes long, not 32")]
    BadHashLength {
        /// Which hash.
        what: String,
        /// Its length.
        len: usize,
    },
    /// The proof has more or fewer hashes than the path from this leaf to the root needs.
    #[error("the proof has {got} hashes but a leaf at index {index} of a tree of size {tree_size} needs {expected}")]
    WrongProofLength {
        /// The leaf index.
        index: u64,
        /// The tree size.
        tree_size: u64,
        /// Hashes in the proof.
        got: usize,
        /// Hashes needed.
        expected: usize,
    },
    /// The root computed from the leaf and the proof is not the expected root.
    #[error("the root computed from the proof ({computed}) is not the expected root ({expected})")]
    RootMismatch {
        /// Computed root, hex.
        computed: String,
        /// Expected root, hex.
        expected: String,
    },
}

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The number of hashes an inclusion proof for leaf `index` of a tree of `tree_size` leaves has
/// (requires `index < tree_size`).
pub fn proof_length(index: u64, tree_size: u64) -> usize {
    // Inner part: levels where the paths to `index` and to the last leaf diverge; border part:
    // the remaining levels on the right border of the tree (RFC 9162 §2.1.3.2, transparency-dev).
    let last = tree_size.saturating_sub(1);
    let inner = (64 - (index ^ last).leading_zeros()) as usize;
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    inner + border
}

fn hash32(what: impl FnOnce() -> String, h: &[u8]) -> Result<[u8; 32], MerkleError> {
    h.try_into().map_err(|_| MerkleError::BadHashLength { what: what(), len: h.len() })
}

/// Compute the root implied by a leaf hash and its inclusion proof (RFC 9162 §2.1.3.2).
/// The proof must be exactly as long as the path; every hash must be 32 bytes.
pub fn root_from_inclusion_proof(
    index: u64,
    tree_size: u64,
    leaf_hash: &[u8; 32],
    proof_hashes: &[Vec<u8>],
) -> Result<[u8; 32], MerkleError> {
    if index >= tree_size {
        return Err(MerkleError::IndexOutOfRange { index, tree_size });
    }
    let expected = proof_length(index, tree_size);
    if proof_hashes.len() != expected {
        return Err(MerkleError::WrongProofLength { index, tree_size, got: proof_hashes.len(), expected });
    }
    let mut f_n = index;
    let mut s_n = tree_size - 1;
    let mut r = *leaf_hash;
    for (i, p) in proof_hashes.iter().enumerate() {
        let p = hash32(|| format!("proof hash #{i}"), p)?;
        if s_n == 0 {
            // Unreachable with the length check above; kept so the loop never misbehaves.
            return Err(MerkleError::WrongProofLength { index, tree_size, got: proof_hashes.len(), expected });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(&p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, &p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(MerkleError::WrongProofLength { index, tree_size, got: proof_hashes.len(), expected });
    }
    Ok(r)
}

/// Verify that `leaf_hash` is the leaf at `index` of the tree of `tree_size` leaves with root
/// `root`, using the audit path `proof_hashes` (fully consumed; wrong length rejected).
pub fn verify_inclusion(
    index: u64,
    tree_size: u64,
    leaf_hash: &[u8; 32],
    proof_hashes: &[Vec<u8>],
    root: &[u8],
) -> Result<(), MerkleError> {
    let root = hash32(|| "the root hash".into(), root)?;
    let computed = root_from_inclusion_proof(index, tree_size, leaf_hash, proof_hashes)?;
    if computed != root {
        return Err(MerkleError::RootMismatch { computed: hex::encode(computed), expected: hex::encode(root) });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Independent reference: RFC 6962 §2.1 MTH and PATH, written recursively from the definitions.
    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    fn mth(leaves: &[Vec<u8>]) -> [u8; 32] {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => leaf_hash(&leaves[0]),
            n => {
                let k = split(n);
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn path(m: usize, leaves: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let n = leaves.len();
        if n <= 1 {
            return vec![];
        }
        let k = split(n);
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]).to_vec());
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]).to_vec());
            p
        }
    }

    fn leaves(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("leaf {i}").into_bytes()).collect()
    }

    #[test]
    fn rfc6962_small_trees_all_indices() {
        for n in 1..=33usize {
            let l = leaves(n);
            let root = mth(&l);
            for m in 0..n {
                let p = path(m, &l);
                let lh = leaf_hash(&l[m]);
                assert_eq!(proof_length(m as u64, n as u64), p.len(), "n={n} m={m}");
                verify_inclusion(m as u64, n as u64, &lh, &p, &root).unwrap();
                // wrong index, wrong size, wrong leaf, flipped proof byte, extra/missing hash
                if n > 1 {
                    let other = (m + 1) % n;
                    assert!(verify_inclusion(other as u64, n as u64, &lh, &p, &root).is_err());
                    assert!(verify_inclusion(m as u64, n as u64, &leaf_hash(&l[other]), &p, &root).is_err());
                    let mut bad = p.clone();
                    bad[0][5] ^= 1;
                    assert!(verify_inclusion(m as u64, n as u64, &lh, &bad, &root).is_err());
                    let mut short = p.clone();
                    short.pop();
                    assert!(verify_inclusion(m as u64, n as u64, &lh, &short, &root).is_err());
                }
                // A larger tree size can be consistent with the same path (the caller must tie the
                // size to a signed checkpoint); a size needing another path length always fails.
                if n > 1 && proof_length(m as u64, n as u64 - 1) != p.len() && m + 1 < n {
                    assert!(verify_inclusion(m as u64, n as u64 - 1, &lh, &p, &root).is_err());
                }
                let mut long = p.clone();
                long.push(vec![0u8; 32]);
                assert!(matches!(
                    verify_inclusion(m as u64, n as u64, &lh, &long, &root),
                    Err(MerkleError::WrongProofLength { .. })
                ));
                let mut bad_root = root;
                bad_root[31] ^= 0x80;
                assert!(matches!(
                    verify_inclusion(m as u64, n as u64, &lh, &p, &bad_root),
                    Err(MerkleError::RootMismatch { .. })
                ));
            }
        }
    }

    #[test]
    fn rfc6962_known_hashes() {
        // RFC 6962 / Certificate Transparency reference vectors (sigstore-rs, transparency-dev):
        // the empty-tree hash and the root of the 8-leaf test tree.
        assert_eq!(hex::encode(Sha256::digest([])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let ct_leaves: Vec<Vec<u8>> =
            ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
                .iter()
                .map(|h| hex::decode(h).unwrap())
                .collect();
        assert_eq!(
            hex::encode(leaf_hash(&ct_leaves[0])),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(hex::encode(mth(&ct_leaves)), "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
        // Known audit path of leaf 0 in the 8-leaf tree.
        let p0 = [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ];
        let p0: Vec<Vec<u8>> = p0.iter().map(|h| hex::decode(h).unwrap()).collect();
        assert_eq!(path(0, &ct_leaves), p0);
        verify_inclusion(0, 8, &leaf_hash(&ct_leaves[0]), &p0, &mth(&ct_leaves)).unwrap();
    }

    #[test]
    fn index_and_lengths_rejected() {
        let lh = leaf_hash(b"x");
        assert_eq!(verify_inclusion(0, 0, &lh, &[], &lh), Err(MerkleError::IndexOutOfRange { index: 0, tree_size: 0 }));
        assert!(matches!(verify_inclusion(5, 5, &lh, &[], &lh), Err(MerkleError::IndexOutOfRange { .. })));
        // single-leaf tree: empty proof, root = leaf hash
        verify_inclusion(0, 1, &lh, &[], &lh).unwrap();
        assert!(matches!(verify_inclusion(0, 1, &lh, &[], &lh[..31]), Err(MerkleError::BadHashLength { .. })));
        assert!(matches!(verify_inclusion(0, 2, &lh, &[vec![0u8; 31]], &lh), Err(MerkleError::BadHashLength { .. })));
        // huge trees do not overflow
        assert_eq!(proof_length(u64::MAX - 1, u64::MAX), 63);
        assert_eq!(proof_length(0, u64::MAX), 64);
        assert_eq!(proof_length(2223533946, 2223533958), 18); // Appendix A
    }
}
