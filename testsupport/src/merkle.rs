//! RFC 6962 / RFC 9162 Merkle tree hashing, straight from the definitions, to check a log's
//! proofs independently of the code under test.

use sha2::{Digest, Sha256};

/// SHA-256 of `b`.
pub fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// The leaf hash: SHA-256(0x00 || leaf).
pub fn leaf_hash(b: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0]);
    h.update(b);
    h.finalize().into()
}

/// An interior node: SHA-256(0x01 || left || right).
pub fn node(l: &[u8], r: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// `MTH(D[0:n])`, RFC 6962 §2.1, over leaf hashes.
pub fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha256(b""),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// RFC 9162 §2.1.3.2: the root an inclusion proof leads to, `None` if the proof does not fit
/// the index and size.
pub fn proof_root<P: AsRef<[u8]>>(index: u64, size: u64, leaf: [u8; 32], proof: &[P]) -> Option<[u8; 32]> {
    if index >= size {
        return None;
    }
    let (mut fn_, mut sn, mut r) = (index, size - 1, leaf);
    for p in proof {
        let p = p.as_ref();
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some(r)
}
