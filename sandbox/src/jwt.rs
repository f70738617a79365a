//! JSON Web Tokens (RFC 7515/7519), compact serialization: ES256 signing and
//! verification for the sandbox's own issuer, and RS256/ES256 verification against
//! a JWKS (RFC 7517) for trusted external issuers.

use crate::util;
use p256::ecdsa::signature::{Signer, Verifier};
use serde_json::{Value, json};
use sha2::Sha256;

/// Smallest and largest RSA modulus accepted from a JWKS, in bits.
pub(crate) const RSA_MIN_BITS: usize = 2048;
pub(crate) const RSA_MAX_BITS: usize = 8192;

/// Key id for a P-256 key: hex of the first 8 bytes of SHA-256(SPKI DER).
pub(crate) fn kid(spki_der: &[u8]) -> String {
    hex::encode(&util::sha256(spki_der)[..8])
}

pub(crate) fn sign(key: &p256::ecdsa::SigningKey, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "ES256", "kid": kid, "typ": "JWT"});
    let input =
        format!("{}.{}", util::b64url(header.to_string().as_bytes()), util::b64url(claims.to_string().as_bytes()));
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", util::b64url(&sig.to_bytes()))
}

#[derive(Debug, PartialEq)]
pub(crate) enum JwtError {
    Malformed(&'static str),
    /// The header's `alg` is not one the verifier accepts.
    Algorithm {
        got: String,
        expected: &'static str,
    },
    /// The header's `alg` does not fit the key selected by `kid`.
    AlgorithmMismatch {
        alg: String,
        key: &'static str,
    },
    /// No key with the token's `kid`.
    UnknownKey,
    /// The token has no `kid` and the issuer publishes several keys.
    AmbiguousKey,
    Signature,
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtError::Malformed(m) => write!(f, "malformed token: {m}"),
            JwtError::Algorithm { got, expected } => {
                write!(f, "unsupported token algorithm {got:?}: expected {expected}")
            }
            JwtError::AlgorithmMismatch { alg, key } => {
                write!(f, "token algorithm {alg:?} does not match the issuer's {key} key")
            }
            JwtError::UnknownKey => write!(f, "token was not signed by this issuer's key (kid mismatch)"),
            JwtError::AmbiguousKey => write!(f, "token has no kid and the issuer publishes more than one key"),
            JwtError::Signature => write!(f, "token signature verification failed"),
        }
    }
}

impl std::error::Error for JwtError {}

/// A compact JWS split into its parts (nothing verified yet).
struct Parts<'a> {
    header: Value,
    /// `BASE64URL(header) "." BASE64URL(payload)`: the signed bytes.
    signing_input: &'a str,
    payload_b64: &'a str,
    sig: Vec<u8>,
}

fn split(token: &str) -> Result<Parts<'_>, JwtError> {
    let token = token.trim();
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(JwtError::Malformed("expected three dot-separated parts"));
    }
    let header: Value = util::b64url_decode(parts[0])
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed("header is not base64url JSON"))?;
    if !header.is_object() {
        return Err(JwtError::Malformed("header is not a JSON object"));
    }
    let sig = util::b64url_decode(parts[2]).ok_or(JwtError::Malformed("signature is not base64url"))?;
    let signing_input = &token[..parts[0].len() + 1 + parts[1].len()];
    Ok(Parts { header, signing_input, payload_b64: parts[1], sig })
}

impl Parts<'_> {
    fn alg(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }

    fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    fn claims(&self) -> Result<Value, JwtError> {
        let claims: Value = util::b64url_decode(self.payload_b64)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwtError::Malformed("payload is not base64url JSON"))?;
        if !claims.is_object() {
            return Err(JwtError::Malformed("payload is not a JSON object"));
        }
        Ok(claims)
    }
}

/// The claims of a token, WITHOUT checking its signature: only to pick the verifier
/// (by `iss`), never to trust.
pub(crate) fn unverified_claims(token: &str) -> Result<Value, JwtError> {
    split(token)?.claims()
}

fn verify_es256(key: &p256::ecdsa::VerifyingKey, input: &str, sig: &[u8]) -> Result<(), JwtError> {
    let sig = p256::ecdsa::Signature::from_slice(sig).map_err(|_| JwtError::Signature)?;
    key.verify(input.as_bytes(), &sig).map_err(|_| JwtError::Signature)
}

/// Check the compact JWT's ES256 signature; return the claims.
pub(crate) fn verify(token: &str, key: &p256::ecdsa::VerifyingKey, kid: &str) -> Result<Value, JwtError> {
    let p = split(token)?;
    if p.alg() != "ES256" {
        return Err(JwtError::Algorithm { got: p.alg().to_string(), expected: "ES256" });
    }
    if p.kid().is_some_and(|k| k != kid) {
        return Err(JwtError::UnknownKey);
    }
    verify_es256(key, p.signing_input, &p.sig)?;
    p.claims()
}

// ---------------------------------------------------------------- JWKS

/// A signature verification key taken from a JWKS.
#[derive(Clone, Debug)]
pub(crate) enum JwkKey {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RS256).
    Rsa(Box<rsa::pkcs1v15::VerifyingKey<Sha256>>),
    /// ECDSA P-256 with SHA-256 (ES256).
    P256(p256::ecdsa::VerifyingKey),
}

impl JwkKey {
    /// The JWS algorithm this key verifies.
    pub(crate) fn alg(&self) -> &'static str {
        match self {
            JwkKey::Rsa(_) => "RS256",
            JwkKey::P256(_) => "ES256",
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            JwkKey::Rsa(_) => "RSA",
            JwkKey::P256(_) => "EC P-256",
        }
    }

    fn verify(&self, input: &str, sig: &[u8]) -> Result<(), JwtError> {
        match self {
            JwkKey::Rsa(k) => {
                let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(|_| JwtError::Signature)?;
                k.verify(input.as_bytes(), &sig).map_err(|_| JwtError::Signature)
            }
            JwkKey::P256(k) => verify_es256(k, input, sig),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Jwk {
    pub kid: Option<String>,
    pub key: JwkKey,
}

#[derive(Debug, PartialEq)]
pub(crate) enum JwkError {
    /// Not a JSON object, or a required member is missing or mistyped.
    Malformed(&'static str),
    /// A well-formed key this verifier does not use (other kty/crv/alg, `use` other than sig).
    Unsupported(String),
    /// The key material is invalid (bad point, modulus out of range, ...).
    InvalidKey(String),
}

impl std::fmt::Display for JwkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwkError::Malformed(m) => write!(f, "malformed JWK: {m}"),
            JwkError::Unsupported(m) => write!(f, "unsupported JWK: {m}"),
            JwkError::InvalidKey(m) => write!(f, "invalid JWK: {m}"),
        }
    }
}

impl std::error::Error for JwkError {}

fn b64url_member(v: &Value, name: &'static str) -> Result<Vec<u8>, JwkError> {
    let s = v.get(name).and_then(Value::as_str).ok_or(JwkError::Malformed(name))?;
    util::b64url_decode(s).ok_or(JwkError::Malformed(name))
}

fn rsa_uint(bytes: &[u8], name: &'static str) -> Result<rsa::BoxedUint, JwkError> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    if bytes.is_empty() {
        return Err(JwkError::InvalidKey(format!("RSA {name} is zero")));
    }
    if bytes.len() > RSA_MAX_BITS / 8 {
        return Err(JwkError::InvalidKey(format!("RSA {name} is too large")));
    }
    let bits = u32::try_from(bytes.len() * 8).map_err(|_| JwkError::InvalidKey(format!("RSA {name} is too large")))?;
    rsa::BoxedUint::from_be_slice(bytes, bits).map_err(|_| JwkError::InvalidKey(format!("RSA {name} does not decode")))
}

/// Parse one JWK (RFC 7517/7518) usable for RS256 or ES256 signature verification.
pub(crate) fn parse_jwk(v: &Value) -> Result<Jwk, JwkError> {
    if !v.is_object() {
        return Err(JwkError::Malformed("not a JSON object"));
    }
    let kty = v.get("kty").and_then(Value::as_str).ok_or(JwkError::Malformed("kty"))?;
    let kid = match v.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(JwkError::Malformed("kid")),
    };
    if let Some(u) = v.get("use").and_then(Value::as_str)
        && u != "sig"
    {
        return Err(JwkError::Unsupported(format!("use {u:?}")));
    }
    if let Some(ops) = v.get("key_ops").and_then(Value::as_array)
        && !ops.iter().any(|o| o.as_str() == Some("verify"))
    {
        return Err(JwkError::Unsupported("key_ops without \"verify\"".into()));
    }
    let alg = v.get("alg").and_then(Value::as_str);
    let key = match kty {
        "RSA" => {
            if alg.is_some_and(|a| a != "RS256") {
                return Err(JwkError::Unsupported(format!("RSA alg {:?}", alg.unwrap_or(""))));
            }
            let n = rsa_uint(&b64url_member(v, "n")?, "n")?;
            let e = rsa_uint(&b64url_member(v, "e")?, "e")?;
            let pk = rsa::RsaPublicKey::new_with_size_limits(n, e, RSA_MIN_BITS..=RSA_MAX_BITS)
                .map_err(|e| JwkError::InvalidKey(format!("RSA key: {e}")))?;
            JwkKey::Rsa(Box::new(rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk)))
        }
        "EC" => {
            let crv = v.get("crv").and_then(Value::as_str).unwrap_or("");
            if crv != "P-256" {
                return Err(JwkError::Unsupported(format!("EC curve {crv:?}")));
            }
            if alg.is_some_and(|a| a != "ES256") {
                return Err(JwkError::Unsupported(format!("EC alg {:?}", alg.unwrap_or(""))));
            }
            let x = b64url_member(v, "x")?;
            let y = b64url_member(v, "y")?;
            if x.len() != 32 || y.len() != 32 {
                return Err(JwkError::InvalidKey("P-256 coordinates must be 32 bytes".into()));
            }
            let mut sec1 = Vec::with_capacity(65);
            sec1.push(4);
            sec1.extend_from_slice(&x);
            sec1.extend_from_slice(&y);
            let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                .map_err(|_| JwkError::InvalidKey("P-256 point is not on the curve".into()))?;
            JwkKey::P256(k)
        }
        other => return Err(JwkError::Unsupported(format!("kty {other:?}"))),
    };
    Ok(Jwk { kid, key })
}

/// Parse a JWK Set: the usable keys, and one message per key that was skipped.
pub(crate) fn parse_jwks(v: &Value) -> Result<(Vec<Jwk>, Vec<String>), JwkError> {
    let keys = v.get("keys").and_then(Value::as_array).ok_or(JwkError::Malformed("JWK Set has no \"keys\" array"))?;
    let mut ok = Vec::new();
    let mut skipped = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        match parse_jwk(k) {
            Ok(j) => ok.push(j),
            Err(e) => {
                let kid = k.get("kid").and_then(Value::as_str).unwrap_or("");
                skipped.push(format!("key #{i} (kid {kid:?}): {e}"));
            }
        }
    }
    Ok((ok, skipped))
}

/// Verify an RS256/ES256 token against a JWK Set; return the claims.
///
/// The key is the one whose `kid` equals the token's; a token without `kid` uses the
/// only key of the set, and a set whose only key has no `kid` is used for any token.
/// The token's `alg` must fit that key (no algorithm confusion).
pub(crate) fn verify_jwks(token: &str, keys: &[Jwk]) -> Result<Value, JwtError> {
    let p = split(token)?;
    let alg = p.alg();
    if alg != "RS256" && alg != "ES256" {
        return Err(JwtError::Algorithm { got: alg.to_string(), expected: "RS256 or ES256" });
    }
    let candidates: Vec<&Jwk> = match p.kid() {
        Some(kid) => {
            let by_kid: Vec<&Jwk> = keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).collect();
            match (by_kid.is_empty(), keys) {
                (false, _) => by_kid,
                (true, [only]) if only.kid.is_none() => vec![only],
                (true, _) => return Err(JwtError::UnknownKey),
            }
        }
        None => match keys {
            [only] => vec![only],
            [] => return Err(JwtError::UnknownKey),
            _ => return Err(JwtError::AmbiguousKey),
        },
    };
    let fitting: Vec<&Jwk> = candidates.iter().copied().filter(|k| k.key.alg() == alg).collect();
    if fitting.is_empty() {
        return Err(JwtError::AlgorithmMismatch {
            alg: alg.to_string(),
            key: candidates.first().map(|k| k.key.kind()).unwrap_or("unknown"),
        });
    }
    // Several keys may share a kid (e.g. mid-rotation): any of them may have signed.
    if fitting.iter().any(|k| k.key.verify(p.signing_input, &p.sig).is_ok()) {
        p.claims()
    } else {
        Err(JwtError::Signature)
    }
}

/// Test helpers: RSA keys and RS256 tokens.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use rsa::rand_core::{Infallible, TryCryptoRng, TryRng};
    use rsa::signature::SignatureEncoding;
    use rsa::traits::PublicKeyParts;

    /// The OS random number generator for the `rsa` crate.
    pub(crate) struct OsRng;

    impl TryRng for OsRng {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            let mut b = [0u8; 4];
            self.try_fill_bytes(&mut b)?;
            Ok(u32::from_le_bytes(b))
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            let mut b = [0u8; 8];
            self.try_fill_bytes(&mut b)?;
            Ok(u64::from_le_bytes(b))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            dst.copy_from_slice(&util::random_bytes(dst.len()));
            Ok(())
        }
    }

    impl TryCryptoRng for OsRng {}

    pub(crate) fn rsa_key(bits: usize) -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::new(&mut OsRng, bits).expect("RSA key generation")
    }

    pub(crate) fn rsa_jwk(key: &rsa::RsaPrivateKey, kid: Option<&str>) -> Value {
        let mut j = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256",
            "n": util::b64url(&key.n().to_be_bytes()),
            "e": util::b64url(&key.e().to_be_bytes()),
        });
        if let Some(k) = kid {
            j["kid"] = json!(k);
        }
        j
    }

    /// Sign `claims` as an RS256 JWT with the given header fields.
    pub(crate) fn sign_rs256(key: &rsa::RsaPrivateKey, header: &Value, claims: &Value) -> String {
        let input =
            format!("{}.{}", util::b64url(header.to_string().as_bytes()), util::b64url(claims.to_string().as_bytes()));
        let sk = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone());
        let sig = rsa::signature::Signer::sign(&sk, input.as_bytes());
        format!("{input}.{}", util::b64url(&sig.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn roundtrip_and_tamper() {
        let k = crate::keys::gen_p256();
        let other = crate::keys::gen_p256();
        let t = sign(&k, "k1", &json!({"sub": "a"}));
        assert_eq!(verify(&t, k.verifying_key(), "k1").unwrap()["sub"], "a");
        assert_eq!(verify(&t, other.verifying_key(), "k1"), Err(JwtError::Signature));
        assert_eq!(verify(&t, k.verifying_key(), "k2"), Err(JwtError::UnknownKey));
        let mut p: Vec<&str> = t.split('.').collect();
        let forged = util::b64url(br#"{"sub":"b"}"#);
        p[1] = &forged;
        assert_eq!(verify(&p.join("."), k.verifying_key(), "k1"), Err(JwtError::Signature));
        let none = format!("{}.{}.", util::b64url(br#"{"alg":"none"}"#), forged);
        assert!(matches!(verify(&none, k.verifying_key(), "k1"), Err(JwtError::Algorithm { .. })));
        assert!(verify("garbage", k.verifying_key(), "k1").is_err());
        assert_eq!(unverified_claims(&p.join(".")).unwrap()["sub"], "b");
    }

    fn ec_jwk(k: &p256::ecdsa::SigningKey, kid: &str) -> Value {
        let point = k.verifying_key().to_sec1_point(false);
        let b = point.as_bytes();
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": util::b64url(&b[1..33]), "y": util::b64url(&b[33..65])})
    }

    #[test]
    fn rs256_jwks() {
        let rk = rsa_key(2048);
        let rk2 = rsa_key(2048);
        let ek = crate::keys::gen_p256();
        let jwks = json!({"keys": [
            rsa_jwk(&rk, Some("r1")),
            rsa_jwk(&rk2, Some("r2")),
            ec_jwk(&ek, "e1"),
            {"kty": "oct", "kid": "s", "k": "AAAA"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
        ]});
        let (keys, skipped) = parse_jwks(&jwks).unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        let claims = json!({"iss": "http://127.0.0.1:1", "sub": "u"});
        let hdr = |alg: &str, kid: &str| json!({"alg": alg, "kid": kid, "typ": "JWT"});

        // Good RS256 tokens, selected by kid.
        let t1 = sign_rs256(&rk, &hdr("RS256", "r1"), &claims);
        assert_eq!(verify_jwks(&t1, &keys).unwrap()["sub"], "u");
        let t2 = sign_rs256(&rk2, &hdr("RS256", "r2"), &claims);
        assert_eq!(verify_jwks(&t2, &keys).unwrap()["sub"], "u");
        // ES256 from the same set.
        let te = sign(&ek, "e1", &claims);
        assert_eq!(verify_jwks(&te, &keys).unwrap()["sub"], "u");

        // Tampered signature and tampered payload.
        let mut parts: Vec<String> = t1.split('.').map(str::to_string).collect();
        let mut sig = util::b64url_decode(&parts[2]).unwrap();
        sig[10] ^= 1;
        parts[2] = util::b64url(&sig);
        assert_eq!(verify_jwks(&parts.join("."), &keys), Err(JwtError::Signature));
        let mut parts: Vec<String> = t1.split('.').map(str::to_string).collect();
        parts[1] = util::b64url(br#"{"iss":"http://127.0.0.1:1","sub":"mallory"}"#);
        assert_eq!(verify_jwks(&parts.join("."), &keys), Err(JwtError::Signature));
        // Truncated signature.
        let mut parts: Vec<&str> = t1.split('.').collect();
        parts[2] = "AAAA";
        assert_eq!(verify_jwks(&parts.join("."), &keys), Err(JwtError::Signature));

        // Signed by r2's key but claiming kid r1; unknown kid.
        let wrong = sign_rs256(&rk2, &hdr("RS256", "r1"), &claims);
        assert_eq!(verify_jwks(&wrong, &keys), Err(JwtError::Signature));
        let unknown = sign_rs256(&rk, &hdr("RS256", "nope"), &claims);
        assert_eq!(verify_jwks(&unknown, &keys), Err(JwtError::UnknownKey));

        // Wrong algorithms: unsupported, none, and algorithm confusion with the key type.
        for alg in ["HS256", "none", "RS384", "PS256", ""] {
            let t = sign_rs256(&rk, &hdr(alg, "r1"), &claims);
            assert!(matches!(verify_jwks(&t, &keys), Err(JwtError::Algorithm { .. })), "{alg}");
        }
        let confused = sign_rs256(&rk, &hdr("ES256", "r1"), &claims);
        assert!(matches!(verify_jwks(&confused, &keys), Err(JwtError::AlgorithmMismatch { .. })));
        let confused = sign(&ek, "r1", &claims);
        assert!(matches!(verify_jwks(&confused, &keys), Err(JwtError::AlgorithmMismatch { .. })));

        // No kid: ambiguous with several keys, fine with one.
        let nokid = sign_rs256(&rk, &json!({"alg": "RS256"}), &claims);
        assert_eq!(verify_jwks(&nokid, &keys), Err(JwtError::AmbiguousKey));
        let (one, _) = parse_jwks(&json!({"keys": [rsa_jwk(&rk, Some("r1"))]})).unwrap();
        assert_eq!(verify_jwks(&nokid, &one).unwrap()["sub"], "u");
        let (one_nokid, _) = parse_jwks(&json!({"keys": [rsa_jwk(&rk, None)]})).unwrap();
        assert_eq!(verify_jwks(&t1, &one_nokid).unwrap()["sub"], "u");
        assert_eq!(verify_jwks(&t2, &one_nokid), Err(JwtError::Signature));
        assert_eq!(verify_jwks(&t1, &[]), Err(JwtError::UnknownKey));
    }

    #[test]
    fn jwk_parsing_rejections() {
        let rk = rsa_key(2048);
        let good = rsa_jwk(&rk, Some("r1"));
        let jwk = parse_jwk(&good).unwrap();
        assert_eq!(jwk.kid.as_deref(), Some("r1"));
        assert_eq!(jwk.key.alg(), "RS256");
        // Leading zero bytes in n are tolerated.
        let mut padded = good.clone();
        let mut n = util::b64url_decode(good["n"].as_str().unwrap()).unwrap();
        n.insert(0, 0);
        padded["n"] = json!(util::b64url(&n));
        assert!(parse_jwk(&padded).is_ok());

        let with = |k: &str, v: Value| {
            let mut j = good.clone();
            j[k] = v;
            parse_jwk(&j)
        };
        assert!(matches!(with("alg", json!("RS512")), Err(JwkError::Unsupported(_))));
        assert!(matches!(with("use", json!("enc")), Err(JwkError::Unsupported(_))));
        assert!(matches!(with("n", json!("!!")), Err(JwkError::Malformed(_))));
        assert!(matches!(with("n", json!(5)), Err(JwkError::Malformed(_))));
        assert!(matches!(with("kid", json!(5)), Err(JwkError::Malformed(_))));
        assert!(matches!(with("e", json!("AA")), Err(JwkError::InvalidKey(_))));
        // Even modulus; too small a modulus.
        assert!(matches!(with("n", json!(util::b64url(&[0xc0; 256]))), Err(JwkError::InvalidKey(_))));
        let small = rsa_key(1024);
        assert!(matches!(parse_jwk(&rsa_jwk(&small, None)), Err(JwkError::InvalidKey(_))));
        assert!(matches!(
            parse_jwk(&json!({"kty": "EC", "crv": "P-256", "x": util::b64url(&[1; 32]), "y": util::b64url(&[2; 32])})),
            Err(JwkError::InvalidKey(_))
        ));
        assert!(matches!(
            parse_jwk(&json!({"kty": "EC", "crv": "P-384", "x": "", "y": ""})),
            Err(JwkError::Unsupported(_))
        ));
        assert!(matches!(parse_jwk(&json!([])), Err(JwkError::Malformed(_))));
        assert!(parse_jwks(&json!({"nokeys": []})).is_err());
    }
}
