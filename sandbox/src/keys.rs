//! Key material of the stack, created once and persisted under the state directory.

use crate::error::Error;
use crate::util;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use std::path::Path;

/// Generate a P-256 signing key from the system RNG.
pub(crate) fn gen_p256() -> p256::ecdsa::SigningKey {
    loop {
        if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&util::random_bytes(32)) {
            return k;
        }
    }
}

/// Generate a P-384 signing key from the system RNG.
pub(crate) fn gen_p384() -> p384::ecdsa::SigningKey {
    loop {
        if let Ok(k) = p384::ecdsa::SigningKey::from_slice(&util::random_bytes(48)) {
            return k;
        }
    }
}

/// Load a PKCS#8 PEM P-256 key, or create and store it (mode 0600).
pub(crate) fn load_or_create_p256(path: &Path) -> Result<(p256::ecdsa::SigningKey, bool), Error> {
    if path.exists() {
        let pem = std::fs::read_to_string(path)?;
        let k = p256::ecdsa::SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| Error::State(format!("{}: {e}", path.display())))?;
        return Ok((k, false));
    }
    let k = gen_p256();
    let pem = k.to_pkcs8_pem(LineEnding::LF).map_err(|e| Error::State(format!("encoding key: {e}")))?;
    util::write_private(path, pem.as_bytes())?;
    Ok((k, true))
}

/// Load a PKCS#8 PEM P-384 key, or create and store it (mode 0600).
pub(crate) fn load_or_create_p384(path: &Path) -> Result<(p384::ecdsa::SigningKey, bool), Error> {
    if path.exists() {
        let pem = std::fs::read_to_string(path)?;
        let k = p384::ecdsa::SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| Error::State(format!("{}: {e}", path.display())))?;
        return Ok((k, false));
    }
    let k = gen_p384();
    let pem = k.to_pkcs8_pem(LineEnding::LF).map_err(|e| Error::State(format!("encoding key: {e}")))?;
    util::write_private(path, pem.as_bytes())?;
    Ok((k, true))
}

pub(crate) fn p256_spki_der(k: &p256::ecdsa::VerifyingKey) -> Vec<u8> {
    k.to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default()
}

pub(crate) fn p384_spki_der(k: &p384::ecdsa::VerifyingKey) -> Vec<u8> {
    k.to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default()
}

/// ECDSA P-256 / SHA-256, DER signature.
pub(crate) fn sign_p256_der(k: &p256::ecdsa::SigningKey, msg: &[u8]) -> Vec<u8> {
    use p256::ecdsa::signature::Signer;
    let sig: p256::ecdsa::DerSignature = k.sign(msg);
    sig.as_bytes().to_vec()
}

/// A P-256 key for the signatures the stack makes on every request (Rekor's signed entry
/// timestamps and checkpoints): ring's signer with its precomputed tables. (The workspace builds
/// p256 without its base-point table, which would cost the short-lived `gitsign` process more
/// than it saves.) Signatures use random nonces, as Rekor's do.
pub(crate) struct FastP256 {
    pair: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl FastP256 {
    pub(crate) fn new(k: &p256::ecdsa::SigningKey) -> Result<FastP256, Error> {
        use p256::pkcs8::EncodePrivateKey;
        let der = k.to_pkcs8_der().map_err(|e| Error::State(format!("encoding a key: {e}")))?;
        let rng = ring::rand::SystemRandom::new();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            der.as_bytes(),
            &rng,
        )
        .map_err(|e| Error::State(format!("loading a key: {e}")))?;
        Ok(FastP256 { pair, rng })
    }

    /// ECDSA P-256 / SHA-256, DER signature (empty only if the system RNG fails).
    pub(crate) fn sign_der(&self, msg: &[u8]) -> Vec<u8> {
        self.pair.sign(&self.rng, msg).map(|s| s.as_ref().to_vec()).unwrap_or_default()
    }
}

/// ECDSA P-384 / SHA-384, DER signature.
pub(crate) fn sign_p384_der(k: &p384::ecdsa::SigningKey, msg: &[u8]) -> Vec<u8> {
    use p384::ecdsa::signature::Signer;
    let sig: p384::ecdsa::DerSignature = k.sign(msg);
    sig.as_bytes().to_vec()
}

/// Verify an ECDSA P-256 DER signature over a message (SHA-256 applied here).
pub(crate) fn verify_p256_der(k: &p256::ecdsa::VerifyingKey, msg: &[u8], sig_der: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier;
    match p256::ecdsa::Signature::from_der(sig_der) {
        Ok(sig) => k.verify(msg, &sig).is_ok(),
        Err(_) => false,
    }
}

/// Verify an ECDSA P-256 DER signature over an already computed digest.
pub(crate) fn verify_p256_prehash(k: &p256::ecdsa::VerifyingKey, digest: &[u8], sig_der: &[u8]) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    match p256::ecdsa::Signature::from_der(sig_der) {
        Ok(sig) => k.verify_prehash(digest, &sig).is_ok(),
        Err(_) => false,
    }
}

/// Parse a P-256 public key from SPKI DER.
pub(crate) fn p256_from_spki(der: &[u8]) -> Option<p256::ecdsa::VerifyingKey> {
    use p256::pkcs8::DecodePublicKey;
    p256::ecdsa::VerifyingKey::from_public_key_der(der).ok()
}

/// Load the PKCS#8 PEM Ed25519 key at `path`, or create and store it (mode 0600).
pub(crate) fn load_or_create_ed25519(path: &Path) -> Result<ring::signature::Ed25519KeyPair, Error> {
    let bad = |e: String| Error::State(format!("{}: {e}", path.display()));
    if path.exists() {
        let pem = std::fs::read_to_string(path)?;
        let der = util::pem_decode_all(&pem)
            .into_iter()
            .find(|(label, _)| label == "PRIVATE KEY")
            .map(|(_, der)| der)
            .ok_or_else(|| bad("no PRIVATE KEY block".into()))?;
        return ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|e| bad(format!("not an Ed25519 PKCS#8 key ({e})")));
    }
    let rng = ring::rand::SystemRandom::new();
    let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| Error::State("cannot generate an Ed25519 key: the system RNG failed".into()))?;
    util::write_private(path, util::pem_encode("PRIVATE KEY", doc.as_ref()).as_bytes())?;
    ring::signature::Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|e| bad(format!("{e}")))
}

/// SubjectPublicKeyInfo DER of a 32-byte Ed25519 public key (RFC 8410).
pub(crate) fn ed25519_spki_der(public: &[u8]) -> Vec<u8> {
    let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    der.extend_from_slice(public);
    der
}
