//! DSSE envelopes (Dead Simple Signing Envelope): signing with the Fulcio-certified P-256 key,
//! the JSON form gitsign stores, parsing and signature checks, and the Rekor intoto v0.0.1
//! entry that logs an envelope.
//!
//! The envelope JSON is laid out as Go's `encoding/json` writes go-securesystemslib's
//! `dsse.Envelope`: `{"payloadType":…,"payload":<base64>,"signatures":[{"keyid":"","sig":<base64>}]}`
//! (standard base64 with padding, no whitespace). The signature is ECDSA P-256 / SHA-256 (DER)
//! over the pre-authentication encoding [`pae`].
//!
//! Rekor's intoto v0.0.1 entry: the proposed entry carries the envelope text and the signer's
//! PEM certificate; the log verifies the envelope signature and records only the SHA-256 of the
//! envelope text and of the decoded payload ([`intoto_v001_body`]), so a verifier rebuilds the
//! body from the envelope it holds and the certificate.
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Payload type of an in-toto statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Largest envelope accepted by [`Envelope::parse`].
pub const MAX_ENVELOPE_LEN: usize = 16 << 20;

/// Why an envelope could not be read or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsseError {
    /// Not a DSSE envelope.
    #[error("not a DSSE envelope: {0}")]
    Malformed(String),
    /// No signature verifies with the signer's key.
    #[error(
        "no signature of the DSSE envelope verifies with the signer's key: the envelope was altered or signed by someone else"
    )]
    BadSignature,
}

/// One envelope signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Key id hint (gitsign leaves it empty).
    pub keyid: String,
    /// DER ECDSA signature.
    pub sig: Vec<u8>,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// e.g. [`INTOTO_PAYLOAD_TYPE`].
    pub payload_type: String,
    /// The decoded payload.
    pub payload: Vec<u8>,
    /// The signatures.
    pub signatures: Vec<Signature>,
}

/// DSSE pre-authentication encoding: `DSSEv1 <len> <type> <len> <payload>` (lengths in ASCII
/// decimal bytes).
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    crate::pipelines::verify::bundle::dsse_pae(payload_type, payload)
}

/// Append `s` as a JSON string literal escaped as Go's `encoding/json` does (HTML-safe:
/// `<`, `>`, `&` as `\u003c` …; `\b`, `\f` as Go 1.22+ writes them).
pub(crate) fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            // Invalid UTF-8 arrives here as U+FFFD (lossy decoding); Go writes it as `\ufffd`.
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{fffd}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// [`go_json_string`] into a new string.
fn go_json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    go_json_string(s, &mut out);
    out
}

/// Standard or URL-safe base64, padded or not (DSSE allows either).
fn b64_any(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).or_else(|_| URL_SAFE_NO_PAD.decode(s)).ok()
}

impl Envelope {
    /// Sign `payload` with `key` (one signature, empty key id). Fails only when the key's
    /// holder (the credential-cache daemon) gives no signature.
    pub fn sign(
        key: &impl p256::ecdsa::signature::Signer<p256::ecdsa::DerSignature>,
        payload_type: &str,
        payload: &[u8],
    ) -> Result<Envelope, p256::ecdsa::signature::Error> {
        let sig: p256::ecdsa::DerSignature = key.try_sign(&pae(payload_type, payload))?;
        Ok(Envelope {
            payload_type: payload_type.to_string(),
            payload: payload.to_vec(),
            signatures: vec![Signature { keyid: String::new(), sig: sig.as_bytes().to_vec() }],
        })
    }

    /// The JSON text (Go `encoding/json` layout of go-securesystemslib's envelope).
    pub fn to_json(&self) -> String {
        let sigs: Vec<String> = self
            .signatures
            .iter()
            .map(|s| {
                format!(r#"{{"keyid":{},"sig":{}}}"#, go_json_str(&s.keyid), go_json_str(&STANDARD.encode(&s.sig)))
            })
            .collect();
        format!(
            r#"{{"payloadType":{},"payload":{},"signatures":[{}]}}"#,
            go_json_str(&self.payload_type),
            go_json_str(&STANDARD.encode(&self.payload)),
            sigs.join(",")
        )
    }

    /// Parse an envelope (JSON); base64 may be standard or URL-safe.
    pub fn parse(json: &[u8]) -> Result<Envelope, DsseError> {
        let bad = |m: &str| DsseError::Malformed(m.to_string());
        if json.len() > MAX_ENVELOPE_LEN {
            return Err(bad("larger than 16 MiB"));
        }
        let v: Value = serde_json::from_slice(json).map_err(|e| DsseError::Malformed(format!("not JSON ({e})")))?;
        let payload_type = v.get("payloadType").and_then(Value::as_str).ok_or_else(|| bad("no payloadType"))?;
        let payload = v
            .get("payload")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no payload"))
            .and_then(|p| b64_any(p).ok_or_else(|| bad("payload is not base64")))?;
        let sigs = v.get("signatures").and_then(Value::as_array).ok_or_else(|| bad("no signatures array"))?;
        let signatures = sigs
            .iter()
            .map(|s| {
                let sig = s
                    .get("sig")
                    .and_then(Value::as_str)
                    .and_then(b64_any)
                    .ok_or_else(|| bad("a signature has no base64 \"sig\""))?;
                let keyid = s.get("keyid").and_then(Value::as_str).unwrap_or_default().to_string();
                Ok(Signature { keyid, sig })
            })
            .collect::<Result<Vec<_>, DsseError>>()?;
        if signatures.is_empty() {
            return Err(bad("no signatures"));
        }
        Ok(Envelope { payload_type: payload_type.to_string(), payload, signatures })
    }

    /// Succeeds when at least one signature verifies over the PAE with `spki_der` (ECDSA, SHA-256).
    pub fn verify(&self, spki_der: &[u8]) -> Result<(), DsseError> {
        let msg = pae(&self.payload_type, &self.payload);
        if self.signatures.iter().any(|s| {
            crate::crypto::pubkey::verify(spki_der, crate::crypto::pubkey::HashAlg::Sha256, &msg, &s.sig).is_ok()
        }) {
            Ok(())
        } else {
            Err(DsseError::BadSignature)
        }
    }
}

/// The intoto v0.0.1 proposed entry (upload request) for an envelope's JSON text and the signer's
/// DER certificate.
pub fn intoto_v001_proposed(envelope_json: &str, cert_der: &[u8]) -> Value {
    serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "intoto",
        "spec": {
            "content": {
                "envelope": envelope_json,
                "hash": { "algorithm": "sha256", "value": hex::encode(Sha256::digest(envelope_json.as_bytes())) },
            },
            "publicKey": STANDARD.encode(crate::services::rekor::body::certificate_pem(cert_der)),
        }
    })
}

/// The canonical intoto v0.0.1 body Rekor logs for an envelope: sorted keys, no whitespace;
/// `hash` is SHA-256 of the envelope text, `payloadHash` SHA-256 of the decoded payload,
/// `publicKey` base64 of the certificate's canonical PEM.
pub fn intoto_v001_body(envelope_json: &[u8], payload: &[u8], cert_der: &[u8]) -> Vec<u8> {
    format!(
        concat!(
            r#"{{"apiVersion":"0.0.1","kind":"intoto","spec":{{"content":{{"hash":{{"algorithm":"sha256","value":"{}"}},"#,
            r#""payloadHash":{{"algorithm":"sha256","value":"{}"}}}},"publicKey":"{}"}}}}"#
        ),
        hex::encode(Sha256::digest(envelope_json)),
        hex::encode(Sha256::digest(payload)),
        STANDARD.encode(crate::services::rekor::body::certificate_pem(cert_der)),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use spki::EncodePublicKey;

    #[test]
    fn sign_serialize_parse_verify() {
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let spki = key.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec();
        let env = Envelope::sign(&key, INTOTO_PAYLOAD_TYPE, br#"{"a":"<b>"}"#).unwrap();
        let json = env.to_json();
        assert!(json.starts_with(r#"{"payloadType":"application/vnd.in-toto+json","payload":"eyJhIjoiPGI+In0=","signatures":[{"keyid":"","sig":""#), "{json}");
        let back = Envelope::parse(json.as_bytes()).unwrap();
        assert_eq!(back, env);
        back.verify(&spki).unwrap();

        let mut t = back.clone();
        t.payload[2] ^= 1;
        assert_eq!(t.verify(&spki), Err(DsseError::BadSignature));
        let mut t = back.clone();
        t.payload_type = "text/plain".into();
        assert_eq!(t.verify(&spki), Err(DsseError::BadSignature));
        let other = p256::ecdsa::SigningKey::from_slice(&[8u8; 32]).unwrap();
        let other_spki = other.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec();
        assert_eq!(back.verify(&other_spki), Err(DsseError::BadSignature));

        for bad in [&b"[]"[..], b"{}", br#"{"payloadType":"x","payload":"!!","signatures":[]}"#, b"\xff"] {
            assert!(matches!(Envelope::parse(bad), Err(DsseError::Malformed(_))), "{bad:?}");
        }
        let no_sigs = br#"{"payloadType":"x","payload":"eA==","signatures":[]}"#;
        assert!(matches!(Envelope::parse(no_sigs), Err(DsseError::Malformed(_))));
        // URL-safe, unpadded base64 is accepted.
        let url = br#"{"payloadType":"x","payload":"-_8","signatures":[{"sig":"AA"}]}"#;
        assert_eq!(Envelope::parse(url).unwrap().payload, vec![0xfb, 0xff]);
    }

    #[test]
    fn pae_layout() {
        assert_eq!(pae("t", b"hello"), b"DSSEv1 1 t 5 hello");
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
    }

    #[test]
    fn intoto_body_matches_the_proposed_entry() {
        let env = r#"{"payloadType":"x","payload":"eA==","signatures":[{"keyid":"","sig":"AA=="}]}"#;
        let body = intoto_v001_body(env.as_bytes(), b"x", b"cert");
        let v: Value = serde_json::from_slice(&body).unwrap();
        let proposed = intoto_v001_proposed(env, b"cert");
        assert_eq!(v["spec"]["content"]["hash"], proposed["spec"]["content"]["hash"]);
        assert_eq!(v["spec"]["publicKey"], proposed["spec"]["publicKey"]);
        assert_eq!(v["spec"]["content"]["payloadHash"]["value"], hex::encode(Sha256::digest(b"x")));
        // canonical: serde's sorted, compact rendering is byte-identical
        assert_eq!(serde_json::to_vec(&v).unwrap(), body);
    }
}
