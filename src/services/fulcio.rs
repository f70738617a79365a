//! Fulcio client: exchange an ID token and a proof of possession for a short-lived
//! certificate. Speaks the v2 API (`/api/v2/signingCert`) and falls back to the legacy v1
//! API (`/api/v1/signingCert`, what gitsign uses) when v2 is not served.
use crate::services::http::error_chain;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// Errors from Fulcio.
#[derive(Debug, thiserror::Error)]
pub enum FulcioError {
    /// Transport failure.
    #[error("cannot reach Fulcio at {url}: {reason}")]
    Unreachable {
        /// URL requested.
        url: String,
        /// Transport error.
        reason: String,
    },
    /// Fulcio refused the request.
    #[error("Fulcio at {url} refused to issue a certificate (HTTP {status}): {message}")]
    Refused {
        /// URL requested.
        url: String,
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
    },
    /// The answer is malformed.
    #[error("Fulcio at {url} sent a malformed answer: {reason}")]
    Malformed {
        /// URL requested.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// A certificate chain from Fulcio: the leaf first, then intermediates and root (DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertChain {
    /// The leaf certificate (DER).
    pub leaf: Vec<u8>,
    /// The rest of the chain (DER), leaf-most first.
    pub chain: Vec<Vec<u8>>,
}

/// Largest answer accepted from Fulcio (a certificate chain is a few KiB).
const MAX_BODY: u64 = 1 << 20;

/// A Fulcio client.
#[derive(Debug, Clone)]
pub struct FulcioClient {
    base: String,
    http: reqwest::blocking::Client,
}

/// Decode every PEM block of a text leniently (any line width, one-line base64, CRLF),
/// returning the DER of each `CERTIFICATE` block in order.
pub fn pem_certificates(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let after = &rest[start + "-----BEGIN CERTIFICATE-----".len()..];
        let end = after.find("-----END CERTIFICATE-----").ok_or("PEM block without END line")?;
        let b64: String = after[..end].chars().filter(|c| !c.is_ascii_whitespace()).collect();
        out.push(STANDARD.decode(b64.as_bytes()).map_err(|e| format!("bad base64 in PEM: {e}"))?);
        rest = &after[end + "-----END CERTIFICATE-----".len()..];
    }
    Ok(out)
}

/// Canonical PEM of a certificate (64-column lines, trailing newline): what Rekor stores.
pub use crate::services::rekor::body::certificate_pem;

fn public_key_pem(spki_der: &[u8]) -> String {
    crate::encoding::armor::pem_block("PUBLIC KEY", spki_der)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V2Response {
    signed_certificate_embedded_sct: Option<V2Chain>,
    signed_certificate_detached_sct: Option<V2Chain>,
}

#[derive(Deserialize)]
struct V2Chain {
    chain: V2Certs,
}

#[derive(Deserialize)]
struct V2Certs {
    certificates: Vec<String>,
}

impl FulcioClient {
    /// A client for the Fulcio at `base_url`.
    pub fn new(base_url: &str, http: reqwest::blocking::Client) -> Self {
        FulcioClient { base: base_url.trim_end_matches('/').to_string(), http }
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Request a certificate for `spki_der`, proving possession with `proof` (a DER ECDSA
    /// signature over SHA-256 of the token's subject). Tries v2, then v1 when v2 is absent.
    pub fn signing_cert(&self, token: &str, spki_der: &[u8], proof: &[u8]) -> Result<CertChain, FulcioError> {
        match self.signing_cert_v2(token, spki_der, proof) {
            Err(FulcioError::Refused { status: 404 | 405, .. }) => self.signing_cert_v1(token, spki_der, proof),
            other => other,
        }
    }

    /// The v2 API.
    pub fn signing_cert_v2(&self, token: &str, spki_der: &[u8], proof: &[u8]) -> Result<CertChain, FulcioError> {
        let url = format!("{}/api/v2/signingCert", self.base);
        let body = serde_json::json!({
            "credentials": {"oidcIdentityToken": token},
            "publicKeyRequest": {
                "publicKey": {"algorithm": "ECDSA", "content": public_key_pem(spki_der)},
                "proofOfPossession": STANDARD.encode(proof),
            }
        });
        let (status, bytes) = self.post(&url, token, &body)?;
        if status != 200 && status != 201 {
            return Err(FulcioError::Refused {
                url,
                status,
                message: crate::services::rekor::client::api_message(&bytes),
            });
        }
        match v2_chain(&bytes) {
            Ok(ders) => split_chain(url, ders),
            Err(reason) => Err(FulcioError::Malformed { url, reason }),
        }
    }

    /// The legacy v1 API gitsign uses.
    pub fn signing_cert_v1(&self, token: &str, spki_der: &[u8], proof: &[u8]) -> Result<CertChain, FulcioError> {
        let url = format!("{}/api/v1/signingCert", self.base);
        let body = serde_json::json!({
            "publicKey": {"content": STANDARD.encode(spki_der), "algorithm": "ecdsa"},
            "signedEmailAddress": STANDARD.encode(proof),
        });
        let (status, bytes) = self.post(&url, token, &body)?;
        if status != 201 && status != 200 {
            return Err(FulcioError::Refused {
                url,
                status,
                message: crate::services::rekor::client::api_message(&bytes),
            });
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| FulcioError::Malformed { url: url.clone(), reason: "the PEM chain is not text".into() })?;
        let ders = pem_certificates(&text).map_err(|reason| FulcioError::Malformed { url: url.clone(), reason })?;
        split_chain(url, ders)
    }

    fn post(&self, url: &str, token: &str, body: &serde_json::Value) -> Result<(u16, Vec<u8>), FulcioError> {
        let resp = self
            .http
            .post(url)
            .bearer_auth(token)
            .json(body)
            .send()
            .map_err(|e| FulcioError::Unreachable { url: url.to_string(), reason: error_chain(&e) })?;
        let status = resp.status().as_u16();
        let bytes = crate::services::http::read_limited(resp, MAX_BODY).map_err(|e| match e {
            crate::services::http::BodyError::TooLarge(limit) => {
                FulcioError::Malformed { url: url.to_string(), reason: format!("answer larger than {limit} bytes") }
            }
            crate::services::http::BodyError::Read(reason) => FulcioError::Unreachable { url: url.to_string(), reason },
        })?;
        Ok((status, bytes))
    }
}

/// The certificate chain (DER, leaf first) of a v2 `signingCert` answer (JSON, embedded or
/// detached SCT form; one PEM certificate per chain entry).
pub fn v2_chain(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let resp: V2Response = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let certs = resp
        .signed_certificate_embedded_sct
        .or(resp.signed_certificate_detached_sct)
        .ok_or("no certificate chain in the answer")?
        .chain
        .certificates;
    let mut ders = Vec::new();
    for pem in &certs {
        let mut one = pem_certificates(pem)?;
        if one.len() != 1 {
            return Err("each chain entry must hold one certificate".into());
        }
        ders.push(one.remove(0));
    }
    Ok(ders)
}

fn split_chain(url: String, mut ders: Vec<Vec<u8>>) -> Result<CertChain, FulcioError> {
    if ders.is_empty() {
        return Err(FulcioError::Malformed { url, reason: "the answer holds no certificate".into() });
    }
    let leaf = ders.remove(0);
    Ok(CertChain { leaf, chain: ders })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_pem_and_canonical_pem() {
        let der = (0..100u8).collect::<Vec<_>>();
        let canonical = certificate_pem(&der);
        assert!(canonical.lines().all(|l| l.len() <= 64));
        let one_line = format!("-----BEGIN CERTIFICATE-----\r\n{}\r\n-----END CERTIFICATE-----", STANDARD.encode(&der));
        let both = format!("{canonical}{one_line}\n");
        assert_eq!(pem_certificates(&both).unwrap(), vec![der.clone(), der]);
        assert!(pem_certificates("-----BEGIN CERTIFICATE-----\nAAAA").is_err());
    }
}
