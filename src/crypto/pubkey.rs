//! ECDSA signature verification against a SubjectPublicKeyInfo (P-256 and P-384), the one
//! primitive every check in the crate (CMS, certificate chains, SCTs, SETs, checkpoints) uses.
use ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::{DecodePublicKey, SubjectPublicKeyInfoRef};

/// Hash function applied to the message before ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256
    Sha256,
    /// SHA-384
    Sha384,
    /// SHA-512
    Sha512,
}

impl HashAlg {
    /// Digest `msg` with this algorithm.
    pub fn digest(self, msg: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => Sha256::digest(msg).to_vec(),
            HashAlg::Sha384 => Sha384::digest(msg).to_vec(),
            HashAlg::Sha512 => Sha512::digest(msg).to_vec(),
        }
    }

    /// The hash of an ECDSA signature algorithm OID (ecdsa-with-SHA256/384/512).
    pub fn from_ecdsa_sig_oid(oid: &const_oid::ObjectIdentifier) -> Option<HashAlg> {
        if *oid == crate::encoding::oids::ECDSA_SHA256 {
            Some(HashAlg::Sha256)
        } else if *oid == crate::encoding::oids::ECDSA_SHA384 {
            Some(HashAlg::Sha384)
        } else if *oid == crate::encoding::oids::ECDSA_SHA512 {
            Some(HashAlg::Sha512)
        } else {
            None
        }
    }
}

/// Why a signature did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PubkeyError {
    /// The key is not an EC key on a supported curve, or is malformed.
    #[error("unsupported or malformed public key: {0}")]
    UnsupportedKey(String),
    /// The signature bytes are not a DER ECDSA-Sig-Value.
    #[error("malformed ECDSA signature")]
    MalformedSignature,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// Curve of an EC SubjectPublicKeyInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256
    P256,
    /// NIST P-384
    P384,
}

/// Identify the curve of an SPKI (DER).
pub fn curve_of(spki_der: &[u8]) -> Result<Curve, PubkeyError> {
    use der::Decode;
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|e| PubkeyError::UnsupportedKey(e.to_string()))?;
    if spki.algorithm.oid != crate::encoding::oids::EC_PUBLIC_KEY {
        return Err(PubkeyError::UnsupportedKey(format!("algorithm {} is not id-ecPublicKey", spki.algorithm.oid)));
    }
    let curve = spki.algorithm.parameters_oid().map_err(|e| PubkeyError::UnsupportedKey(e.to_string()))?;
    if curve == crate::encoding::oids::SECP256R1 {
        Ok(Curve::P256)
    } else if curve == crate::encoding::oids::SECP384R1 {
        Ok(Curve::P384)
    } else {
        Err(PubkeyError::UnsupportedKey(format!("curve {curve}")))
    }
}

/// Verify a DER ECDSA signature over an already computed digest.
pub fn verify_prehash(spki_der: &[u8], digest: &[u8], sig_der: &[u8]) -> Result<(), PubkeyError> {
    match curve_of(spki_der)? {
        Curve::P256 => {
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki_der)
                .map_err(|e| PubkeyError::UnsupportedKey(e.to_string()))?;
            let sig = p256::ecdsa::DerSignature::try_from(sig_der).map_err(|_| PubkeyError::MalformedSignature)?;
            key.verify_prehash(digest, &sig).map_err(|_| PubkeyError::BadSignature)
        }
        Curve::P384 => {
            let key = p384::ecdsa::VerifyingKey::from_public_key_der(spki_der)
                .map_err(|e| PubkeyError::UnsupportedKey(e.to_string()))?;
            let sig = p384::ecdsa::DerSignature::try_from(sig_der).map_err(|_| PubkeyError::MalformedSignature)?;
            key.verify_prehash(digest, &sig).map_err(|_| PubkeyError::BadSignature)
        }
    }
}

/// Verify a DER ECDSA signature over `msg` hashed with `hash`.
///
/// Successful checks are remembered for the life of the process (keyed by a hash of key,
/// algorithm, message and signature), so a range verification checks a shared intermediate,
/// or a leaf reused from the credential cache, once. Failures are never remembered.
pub fn verify(spki_der: &[u8], hash: HashAlg, msg: &[u8], sig_der: &[u8]) -> Result<(), PubkeyError> {
    let memo_key = {
        let mut h = Sha256::new();
        for part in [spki_der, &[hash as u8][..], msg, sig_der] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        <[u8; 32]>::from(h.finalize())
    };
    if memo().lock().map(|m| m.contains(&memo_key)).unwrap_or(false) {
        return Ok(());
    }
    let curve = curve_of(spki_der)?;
    // ring is about twice as fast as the pure-Rust code on P-256 and several times on P-384
    // (every Fulcio certificate chain is P-384); SHA-512 pairs stay on the pure-Rust path.
    let result = verify_ring(curve, hash, spki_der, msg, sig_der)
        .unwrap_or_else(|| verify_prehash(spki_der, &hash.digest(msg), sig_der));
    if result.is_ok()
        && let Ok(mut m) = memo().lock()
    {
        if m.len() >= MEMO_LIMIT {
            m.clear();
        }
        m.insert(memo_key);
    }
    result
}

/// Most remembered successful checks before the memo starts over.
const MEMO_LIMIT: usize = 65_536;

fn memo() -> &'static std::sync::Mutex<std::collections::HashSet<[u8; 32]>> {
    static MEMO: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<[u8; 32]>>> =
        std::sync::OnceLock::new();
    MEMO.get_or_init(Default::default)
}

/// ECDSA with ring for the curve/hash pairs it implements; `None` when ring cannot take the
/// pair or the key (then the caller uses the pure-Rust path).
fn verify_ring(
    curve: Curve,
    hash: HashAlg,
    spki_der: &[u8],
    msg: &[u8],
    sig_der: &[u8],
) -> Option<Result<(), PubkeyError>> {
    use der::Decode;
    let alg: &'static ring::signature::EcdsaVerificationAlgorithm = match (curve, hash) {
        (Curve::P256, HashAlg::Sha256) => &ring::signature::ECDSA_P256_SHA256_ASN1,
        (Curve::P256, HashAlg::Sha384) => &ring::signature::ECDSA_P256_SHA384_ASN1,
        (Curve::P384, HashAlg::Sha256) => &ring::signature::ECDSA_P384_SHA256_ASN1,
        (Curve::P384, HashAlg::Sha384) => &ring::signature::ECDSA_P384_SHA384_ASN1,
        (_, HashAlg::Sha512) => return None,
    };
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der).ok()?;
    let point = spki.subject_public_key.as_bytes()?;
    if point.first() != Some(&0x04) {
        return None; // compressed points: let the pure-Rust path handle them
    }
    let key = ring::signature::UnparsedPublicKey::new(alg, point);
    Some(key.verify(msg, sig_der).map_err(|_| {
        // ring does not distinguish malformed from wrong; keep the pure-Rust classification.
        let well_formed = match curve {
            Curve::P256 => p256::ecdsa::DerSignature::try_from(sig_der).is_ok(),
            Curve::P384 => p384::ecdsa::DerSignature::try_from(sig_der).is_ok(),
        };
        if well_formed { PubkeyError::BadSignature } else { PubkeyError::MalformedSignature }
    }))
}

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { id-Ed25519 },
/// BIT STRING (32-byte key) }.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// The raw 32-byte key of an Ed25519 SubjectPublicKeyInfo (DER).
pub fn ed25519_raw(spki_der: &[u8]) -> Result<[u8; 32], PubkeyError> {
    spki_der
        .strip_prefix(&ED25519_SPKI_PREFIX[..])
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or_else(|| PubkeyError::UnsupportedKey("not an Ed25519 SubjectPublicKeyInfo".into()))
}

/// Verify an Ed25519 signature (64 bytes) over `msg` with an Ed25519 SubjectPublicKeyInfo (DER).
pub fn verify_ed25519(spki_der: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), PubkeyError> {
    let raw = ed25519_raw(spki_der)?;
    if sig.len() != 64 {
        return Err(PubkeyError::MalformedSignature);
    }
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, raw)
        .verify(msg, sig)
        .map_err(|_| PubkeyError::BadSignature)
}

/// SHA-256 of the SPKI DER: the Rekor / CT log id of a key.
pub fn key_id(spki_der: &[u8]) -> [u8; 32] {
    Sha256::digest(spki_der).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecdsa::signature::Signer;
    use spki::EncodePublicKey;

    #[test]
    fn p256_round_trip_and_tamper() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let spki = sk.verifying_key().to_public_key_der().unwrap();
        let sig: p256::ecdsa::DerSignature = sk.sign(b"hello");
        verify(spki.as_bytes(), HashAlg::Sha256, b"hello", sig.as_bytes()).unwrap();
        assert_eq!(verify(spki.as_bytes(), HashAlg::Sha256, b"hellp", sig.as_bytes()), Err(PubkeyError::BadSignature));
        assert_eq!(curve_of(spki.as_bytes()).unwrap(), Curve::P256);
    }

    #[test]
    fn ring_and_pure_rust_paths_agree() {
        use ecdsa::signature::hazmat::PrehashSigner;
        let sk = p256::ecdsa::SigningKey::from_slice(&[11u8; 32]).unwrap();
        let spki = sk.verifying_key().to_public_key_der().unwrap();
        let sk384 = p384::ecdsa::SigningKey::from_slice(&[12u8; 48]).unwrap();
        let spki384 = sk384.verifying_key().to_public_key_der().unwrap();
        for i in 0..10u8 {
            let msg = [i; 40];
            let other = [i ^ 1; 40];
            for hash in [HashAlg::Sha256, HashAlg::Sha384] {
                let digest = hash.digest(&msg);
                let cases: [(Curve, &[u8], Vec<u8>); 2] = [
                    (Curve::P256, spki.as_bytes(), {
                        let s: p256::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
                        s.to_der().as_bytes().to_vec()
                    }),
                    (Curve::P384, spki384.as_bytes(), {
                        let s: p384::ecdsa::Signature = sk384.sign_prehash(&digest).unwrap();
                        s.to_der().as_bytes().to_vec()
                    }),
                ];
                for (curve, key, sig) in cases {
                    let ring = verify_ring(curve, hash, key, &msg, &sig).unwrap();
                    assert_eq!(ring, Ok(()), "{curve:?} {hash:?}");
                    assert_eq!(ring, verify_prehash(key, &digest, &sig));
                    let ring = verify_ring(curve, hash, key, &other, &sig).unwrap();
                    assert_eq!(ring, Err(PubkeyError::BadSignature));
                    assert_eq!(ring, verify_prehash(key, &hash.digest(&other), &sig));
                    let ring = verify_ring(curve, hash, key, &msg, &sig[..sig.len() - 1]).unwrap();
                    assert_eq!(ring, Err(PubkeyError::MalformedSignature));
                }
            }
        }
        // a failure is not remembered as a success after a good check of the same key
        let sig: p256::ecdsa::DerSignature = sk.sign(b"memo");
        verify(spki.as_bytes(), HashAlg::Sha256, b"memo", sig.as_bytes()).unwrap();
        verify(spki.as_bytes(), HashAlg::Sha256, b"memo", sig.as_bytes()).unwrap();
        assert!(verify(spki.as_bytes(), HashAlg::Sha256, b"meme", sig.as_bytes()).is_err());
    }

    #[test]
    fn production_rekor_key_is_p256() {
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/trust/production_rekor_rekor.sigstore.dev.pub.pem"
        ))
        .unwrap();
        let key = p256::ecdsa::VerifyingKey::from_public_key_pem(&pem).unwrap();
        let der = key.to_public_key_der().unwrap();
        assert_eq!(
            hex::encode(key_id(der.as_bytes())),
            "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
        );
    }
}
