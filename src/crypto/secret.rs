//! Memory for key material: locked into RAM, left out of core dumps, zeroized on drop.
//!
//! [`SecretBytes`] keeps its bytes in an anonymous private memory mapping of its own (whole
//! pages shared with nothing else, so unlocking one secret never unlocks another), which is
//! `mlock`ed (never written to swap) and marked `MADV_DONTDUMP` (left out of core dumps) where
//! the platform allows. On drop the bytes are overwritten with zeros before the mapping goes.
//! Failing to lock (a low `RLIMIT_MEMLOCK`) is not an error: it is noted in the debug log
//! (`GITSIGN_LOG`) and the buffer still works and is still zeroized. If no mapping can be made
//! at all, the bytes live on the heap, zeroized on drop.
//!
//! [`SecretKey`] is the ephemeral P-256 signing key held that way: only its 32-byte scalar is
//! kept (with the public key); each signature works on a scalar copy that zeroizes itself when
//! dropped.
//!
//! Everything here is safe code: `memmap2` does the system calls.
use std::sync::Once;
use zeroize::{Zeroize, Zeroizing};

enum Buf {
    Mapped(memmap2::MmapMut),
    Heap(Zeroizing<Vec<u8>>),
}

/// Bytes in locked, non-dumpable memory, zeroized on drop.
pub struct SecretBytes {
    buf: Buf,
    len: usize,
    locked: bool,
}

/// Note (once per process) that secrets could not be locked.
fn note_unlocked(why: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        crate::app::runlog::debug(&format!("key material is not locked in memory ({why}); it may be swapped out"));
    });
}

impl SecretBytes {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> SecretBytes {
        // A zero-length mapping is an error; keep at least one byte mapped.
        let buf = match memmap2::MmapMut::map_anon(len.max(1)) {
            Ok(m) => Buf::Mapped(m),
            Err(e) => {
                note_unlocked(&format!("anonymous mapping failed: {e}"));
                return SecretBytes { buf: Buf::Heap(Zeroizing::new(vec![0; len])), len, locked: false };
            }
        };
        let mut s = SecretBytes { buf, len, locked: false };
        if let Buf::Mapped(m) = &s.buf {
            #[cfg(target_os = "linux")]
            if let Err(e) = m.advise(memmap2::Advice::DontDump) {
                crate::app::runlog::debug(&format!("MADV_DONTDUMP on key material failed: {e}"));
            }
            #[cfg(unix)]
            match m.lock() {
                Ok(()) => s.locked = true,
                Err(e) => note_unlocked(&format!("mlock: {e}")),
            }
        }
        s
    }

    /// A locked copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> SecretBytes {
        let mut s = SecretBytes::zeroed(bytes.len());
        s.copy_from_slice(bytes);
        s
    }

    /// Whether the bytes are locked into RAM.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// Overwrite the bytes (the whole mapping) with zeros.
    pub fn wipe(&mut self) {
        match &mut self.buf {
            Buf::Mapped(m) => m[..].zeroize(),
            Buf::Heap(v) => v[..].zeroize(),
        }
    }

    /// The address of the first byte (for tests that look at the mapping from outside).
    pub fn addr(&self) -> usize {
        self.as_ref().as_ptr() as usize
    }
}

impl std::ops::Deref for SecretBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.buf {
            Buf::Mapped(m) => &m[..self.len],
            Buf::Heap(v) => &v[..],
        }
    }
}

impl std::ops::DerefMut for SecretBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        match &mut self.buf {
            Buf::Mapped(m) => &mut m[..len],
            Buf::Heap(v) => &mut v[..],
        }
    }
}

impl AsRef<[u8]> for SecretBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Clone for SecretBytes {
    fn clone(&self) -> SecretBytes {
        SecretBytes::from_slice(self)
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &SecretBytes) -> bool {
        self[..] == other[..]
    }
}

impl Eq for SecretBytes {}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes({} bytes, redacted)", self.len)
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.wipe();
        // The mapping itself is unmapped (and so unlocked) when `buf` drops.
    }
}

/// Errors making or using a [`SecretKey`].
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No random bytes.
    #[error("cannot generate a signing key: {0}")]
    Random(String),
    /// Not a P-256 private key.
    #[error("not a P-256 private key: {0}")]
    Invalid(String),
}

/// A P-256 signing key whose scalar lives in a [`SecretBytes`].
pub struct SecretKey {
    scalar: SecretBytes,
    public: p256::ecdsa::VerifyingKey,
}

impl SecretKey {
    /// A fresh random key, generated straight into locked memory.
    pub fn generate() -> Result<SecretKey, KeyError> {
        let mut scalar = SecretBytes::zeroed(32);
        loop {
            getrandom::fill(&mut scalar).map_err(|e| KeyError::Random(e.to_string()))?;
            // Rejection sampling: almost every 32-byte string is a valid scalar.
            if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&scalar) {
                let public = *k.verifying_key();
                return Ok(SecretKey { scalar, public });
            }
        }
    }

    /// The key of a PKCS#8 DER document (RFC 5958 with an RFC 5915 `ECPrivateKey` on P-256).
    ///
    /// The public key is taken from the document when it carries one, as [`Self::to_pkcs8_der`]
    /// writes it, after checking that it is a point on the curve: deriving it from the scalar
    /// again would cost a scalar multiplication on every cached signature. (A public key that
    /// does not belong to the scalar gives signatures that neither Rekor nor any verifier
    /// accepts, and the certificate's key is compared with it before signing.)
    pub fn from_pkcs8_der(der: &[u8]) -> Result<SecretKey, KeyError> {
        use p256::pkcs8::der::Decode;
        let invalid = |e: &dyn std::fmt::Display| KeyError::Invalid(e.to_string());
        let info = p256::pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|e| invalid(&e))?;
        info.algorithm
            .assert_oids(p256::elliptic_curve::ALGORITHM_OID, P256_OID)
            .map_err(|e| invalid(&format!("not an EC key on P-256 ({e})")))?;
        let ec = sec1::EcPrivateKey::from_der(info.private_key.as_bytes()).map_err(|e| invalid(&e))?;
        if ec.parameters.and_then(|p| p.named_curve()).is_some_and(|c| c != P256_OID) {
            return Err(KeyError::Invalid("the ECPrivateKey names another curve".into()));
        }
        if ec.private_key.len() != 32 {
            return Err(KeyError::Invalid(format!("a {}-byte private key", ec.private_key.len())));
        }
        let scalar = SecretBytes::from_slice(ec.private_key);
        if p256::NonZeroScalar::try_from(&scalar[..]).is_err() {
            return Err(KeyError::Invalid("the private key is not a scalar of P-256".into()));
        }
        let public = match ec.public_key {
            Some(point) => p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|e| invalid(&e))?,
            None => *Self::signing_key_of(&scalar).verifying_key(),
        };
        Ok(SecretKey { scalar, public })
    }

    /// A locked copy of `k`.
    pub fn from_signing_key(k: &p256::ecdsa::SigningKey) -> SecretKey {
        let bytes = Zeroizing::new(k.to_bytes());
        SecretKey { scalar: SecretBytes::from_slice(&bytes[..]), public: *k.verifying_key() }
    }

    /// The public key.
    pub fn verifying_key(&self) -> &p256::ecdsa::VerifyingKey {
        &self.public
    }

    /// A short-lived `SigningKey` (it zeroizes itself on drop). Making one derives the public
    /// key (a scalar multiplication); signing through [`SecretKey`] itself does not.
    pub fn signing_key(&self) -> p256::ecdsa::SigningKey {
        Self::signing_key_of(&self.scalar)
    }

    fn signing_key_of(scalar: &SecretBytes) -> p256::ecdsa::SigningKey {
        match p256::ecdsa::SigningKey::from_slice(scalar) {
            Ok(k) => k,
            // The scalar was validated when the key was made and is never changed.
            Err(_) => unreachable!("a SecretKey holds a valid scalar"),
        }
    }

    /// The scalar as a `NonZeroScalar` that is zeroized on drop.
    fn nonzero_scalar(&self) -> Zeroizing<p256::NonZeroScalar> {
        match p256::NonZeroScalar::try_from(&self.scalar[..]).ok() {
            Some(d) => Zeroizing::new(d),
            // The scalar was validated when the key was made and is never changed.
            None => unreachable!("a SecretKey holds a valid scalar"),
        }
    }

    /// The key as a PKCS#8 DER document (with its public key), in locked memory.
    pub fn to_pkcs8_der(&self) -> Result<SecretBytes, KeyError> {
        use p256::pkcs8::EncodePrivateKey;
        let doc = self.signing_key().to_pkcs8_der().map_err(|e| KeyError::Invalid(e.to_string()))?;
        Ok(SecretBytes::from_slice(doc.as_bytes()))
    }

    /// Whether the scalar is locked into RAM.
    pub fn is_locked(&self) -> bool {
        self.scalar.is_locked()
    }

    /// The ECDSA signature (RFC 6979 nonce, DER) over a SHA-256 `digest` computed elsewhere:
    /// what [`Signer::try_sign`](p256::ecdsa::signature::Signer) makes of the message the
    /// digest was taken of. This is how the credential-cache daemon signs for a client.
    pub fn sign_digest(&self, digest: &[u8; 32]) -> p256::ecdsa::DerSignature {
        let d = self.nonzero_scalar();
        let (sig, _) = ecdsa::hazmat::sign_prehashed_rfc6979::<p256::NistP256, sha2::Sha256>(&d, digest, &[]);
        sig.to_der()
    }
}

/// ECDSA with SHA-256 and RFC 6979 nonces, the same signatures a `SigningKey` makes, without
/// deriving the public key again first.
impl p256::ecdsa::signature::Signer<p256::ecdsa::DerSignature> for SecretKey {
    fn try_sign(&self, msg: &[u8]) -> Result<p256::ecdsa::DerSignature, p256::ecdsa::signature::Error> {
        use sha2::{Digest, Sha256};
        Ok(self.sign_digest(&Sha256::digest(msg).into()))
    }
}

/// id-ecPublicKey's named curve for P-256 (prime256v1).
const P256_OID: p256::pkcs8::ObjectIdentifier = p256::pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey").field("public", &self.public).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The VmFlags line of the mapping that contains `addr`, from /proc/self/smaps.
    #[cfg(target_os = "linux")]
    fn vm_flags(addr: usize) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((a, b)) = first.split_once('-')
                && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                inside = (a..b).contains(&addr);
            } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
                return Some(flags.trim().to_string());
            }
        }
        None
    }

    #[test]
    fn bytes_are_their_own_locked_undumpable_mapping_and_zeroized() {
        let mut s = SecretBytes::from_slice(b"0123456789abcdef");
        assert_eq!(&s[..], b"0123456789abcdef");
        assert_eq!(format!("{s:?}"), "SecretBytes(16 bytes, redacted)");
        assert_eq!(s.clone(), s);
        #[cfg(target_os = "linux")]
        {
            let addr = s.addr();
            assert_eq!(addr % 4096, 0, "a mapping of its own starts on a page");
            let flags = vm_flags(addr).expect("the buffer's mapping in /proc/self/smaps");
            let flags: Vec<&str> = flags.split_whitespace().collect();
            assert!(flags.contains(&"dd"), "not MADV_DONTDUMP: {flags:?}");
            // mlock may be refused by RLIMIT_MEMLOCK; when it worked, the kernel says so.
            assert_eq!(flags.contains(&"lo"), s.is_locked(), "{flags:?}");
            if !s.is_locked() {
                eprintln!("note: mlock was refused here (RLIMIT_MEMLOCK); the buffer is not locked");
            }
            // Wiping zeroes the bytes in place; dropping also unmaps them, so nothing of the
            // secret is left in the address space.
            s.wipe();
            assert!(s.iter().all(|&b| b == 0));
            let mut pattern = [0u8; 16];
            getrandom::fill(&mut pattern).unwrap();
            s.copy_from_slice(&pattern);
            drop(s);
            // After the drop the bytes are gone from that address: unmapped (the read fails)
            // or, if the address was reused since, holding something else.
            use std::os::unix::fs::FileExt;
            let mem = std::fs::File::open("/proc/self/mem").unwrap();
            let mut after = [0u8; 16];
            if mem.read_exact_at(&mut after, addr as u64).is_ok() {
                assert_ne!(after, pattern, "the secret is still in memory after the drop");
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            s.wipe();
            assert!(s.iter().all(|&b| b == 0));
        }
        assert_eq!(SecretBytes::zeroed(0).len(), 0);
    }

    #[test]
    fn a_secret_key_signs_and_round_trips_through_pkcs8() {
        use p256::ecdsa::signature::{Signer, Verifier};
        let k = SecretKey::generate().unwrap();
        let sig: p256::ecdsa::DerSignature = k.sign(b"payload");
        k.verifying_key().verify(b"payload", &sig).unwrap();
        let der = k.to_pkcs8_der().unwrap();
        let again = SecretKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(again.verifying_key(), k.verifying_key());
        assert!(SecretKey::from_pkcs8_der(b"junk").is_err());
        assert!(!format!("{k:?}").contains(&hex::encode(&k.scalar[..])));
    }

    #[test]
    fn signatures_are_the_signing_keys_and_pkcs8_is_checked() {
        use p256::ecdsa::signature::Signer;
        use p256::pkcs8::der::Encode;
        use p256::pkcs8::{EncodePrivateKey, ObjectIdentifier};
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let k = SecretKey::from_signing_key(&sk);
        // The same deterministic (RFC 6979) signature as the crate's own signer.
        let ours: p256::ecdsa::DerSignature = k.sign(b"message");
        let theirs: p256::ecdsa::DerSignature = sk.sign(b"message");
        assert_eq!(ours.as_bytes(), theirs.as_bytes());
        // Signing the digest (as the cache daemon does for a client) gives the same bytes.
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(b"message").into();
        assert_eq!(k.sign_digest(&digest).as_bytes(), theirs.as_bytes());
        let again = SecretKey::from_pkcs8_der(&k.to_pkcs8_der().unwrap()).unwrap();
        assert_eq!(again.verifying_key(), sk.verifying_key());

        // A PKCS#8 document without the public key: derived from the scalar.
        let pkcs8 = |alg_params: ObjectIdentifier, ec: &sec1::EcPrivateKey<'_>| {
            let ec_der = ec.to_der().unwrap();
            let params = p256::pkcs8::der::asn1::AnyRef::from(&alg_params);
            p256::pkcs8::PrivateKeyInfoRef {
                algorithm: p256::pkcs8::AlgorithmIdentifierRef {
                    oid: p256::elliptic_curve::ALGORITHM_OID,
                    parameters: Some(params),
                },
                private_key: p256::pkcs8::der::asn1::OctetStringRef::new(&ec_der).unwrap(),
                public_key: None,
            }
            .to_der()
            .unwrap()
        };
        let scalar = [7u8; 32];
        let bare = sec1::EcPrivateKey { private_key: &scalar, parameters: None, public_key: None };
        let derived = SecretKey::from_pkcs8_der(&pkcs8(P256_OID, &bare)).unwrap();
        assert_eq!(derived.verifying_key(), sk.verifying_key());
        // Another curve in the algorithm identifier, or in the ECPrivateKey, is refused.
        let p384 = ObjectIdentifier::new_unwrap("1.3.132.0.34");
        assert!(SecretKey::from_pkcs8_der(&pkcs8(p384, &bare)).is_err());
        let named = sec1::EcPrivateKey {
            private_key: &scalar,
            parameters: Some(sec1::EcParameters::NamedCurve(p384)),
            public_key: None,
        };
        assert!(SecretKey::from_pkcs8_der(&pkcs8(P256_OID, &named)).is_err());
        // A P-384 key document.
        let k384 = p384::ecdsa::SigningKey::from_slice(&[9u8; 48]).unwrap();
        assert!(SecretKey::from_pkcs8_der(k384.to_pkcs8_der().unwrap().as_bytes()).is_err());
        // A zero scalar, a short scalar, a public key that is not a curve point.
        let zero = [0u8; 32];
        assert!(
            SecretKey::from_pkcs8_der(&pkcs8(
                P256_OID,
                &sec1::EcPrivateKey { private_key: &zero, parameters: None, public_key: None }
            ))
            .is_err()
        );
        assert!(
            SecretKey::from_pkcs8_der(&pkcs8(
                P256_OID,
                &sec1::EcPrivateKey { private_key: &scalar[..31], parameters: None, public_key: None }
            ))
            .is_err()
        );
        let mut not_a_point = [0u8; 65];
        not_a_point[0] = 4;
        not_a_point[64] = 1;
        assert!(
            SecretKey::from_pkcs8_der(&pkcs8(
                P256_OID,
                &sec1::EcPrivateKey { private_key: &scalar, parameters: None, public_key: Some(&not_a_point) }
            ))
            .is_err()
        );
    }
}
