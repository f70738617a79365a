//! ES256 JSON Web Tokens (RFC 7515/7519), compact serialization.

use crate::util;
use p256::ecdsa::signature::{Signer, Verifier};
use serde_json::{Value, json};

/// Key id for a P-256 key: hex of the first 8 bytes of SHA-256(SPKI DER).
pub fn kid(spki_der: &[u8]) -> String {
    hex::encode(&util::sha256(spki_der)[..8])
}

pub fn sign(key: &p256::ecdsa::SigningKey, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "ES256", "kid": kid, "typ": "JWT"});
    let input = format!(
        "{}.{}",
        util::b64url(header.to_string().as_bytes()),
        util::b64url(claims.to_string().as_bytes())
    );
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", util::b64url(&sig.to_bytes()))
}

#[derive(Debug, PartialEq)]
pub enum JwtError {
    Malformed(&'static str),
    Algorithm(String),
    UnknownKey,
    Signature,
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtError::Malformed(m) => write!(f, "malformed token: {m}"),
            JwtError::Algorithm(a) => {
                write!(f, "unsupported token algorithm {a:?}: expected ES256")
            }
            JwtError::UnknownKey => write!(
                f,
                "token was not signed by this issuer's key (kid mismatch)"
            ),
            JwtError::Signature => write!(f, "token signature verification failed"),
        }
    }
}

/// Check the compact JWT's ES256 signature; return the claims.
pub fn verify(token: &str, key: &p256::ecdsa::VerifyingKey, kid: &str) -> Result<Value, JwtError> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    if parts.len() != 3 {
        return Err(JwtError::Malformed("expected three dot-separated parts"));
    }
    let header: Value = util::b64url_decode(parts[0])
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed("header is not base64url JSON"))?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg != "ES256" {
        return Err(JwtError::Algorithm(alg.to_string()));
    }
    if let Some(k) = header.get("kid").and_then(Value::as_str)
        && k != kid
    {
        return Err(JwtError::UnknownKey);
    }
    let sig_bytes =
        util::b64url_decode(parts[2]).ok_or(JwtError::Malformed("signature is not base64url"))?;
    let sig = p256::ecdsa::Signature::from_slice(&sig_bytes).map_err(|_| JwtError::Signature)?;
    let input = format!("{}.{}", parts[0], parts[1]);
    key.verify(input.as_bytes(), &sig)
        .map_err(|_| JwtError::Signature)?;
    let claims: Value = util::b64url_decode(parts[1])
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed("payload is not base64url JSON"))?;
    if !claims.is_object() {
        return Err(JwtError::Malformed("payload is not a JSON object"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_tamper() {
        let k = crate::keys::gen_p256();
        let other = crate::keys::gen_p256();
        let t = sign(&k, "k1", &json!({"sub": "a"}));
        assert_eq!(verify(&t, k.verifying_key(), "k1").unwrap()["sub"], "a");
        assert_eq!(
            verify(&t, other.verifying_key(), "k1"),
            Err(JwtError::Signature)
        );
        assert_eq!(
            verify(&t, k.verifying_key(), "k2"),
            Err(JwtError::UnknownKey)
        );
        let mut p: Vec<&str> = t.split('.').collect();
        let forged = util::b64url(br#"{"sub":"b"}"#);
        p[1] = &forged;
        assert_eq!(
            verify(&p.join("."), k.verifying_key(), "k1"),
            Err(JwtError::Signature)
        );
        let none = format!("{}.{}.", util::b64url(br#"{"alg":"none"}"#), forged);
        assert!(matches!(
            verify(&none, k.verifying_key(), "k1"),
            Err(JwtError::Algorithm(_))
        ));
        assert!(verify("garbage", k.verifying_key(), "k1").is_err());
    }
}
