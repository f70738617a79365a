//! Fulcio-compatible certificate endpoints (v1 legacy and v2).

use crate::ca::{Ca, San};
use crate::http::{Req, Resp};
use crate::issuers::{self, TrustedIssuer};
use crate::oidc::Oidc;
use crate::{derw, jwt, keys, util};
use der::Decode;
use serde_json::{Value, json};

/// The audience Fulcio requires.
pub(crate) const AUDIENCE: &str = "sigstore";
/// Allowed clock skew for iat/nbf.
const LEEWAY: i64 = 60;

/// Identity established from a verified ID token.
#[derive(Debug, PartialEq)]
pub(crate) struct Identity {
    /// The string the proof of possession signs (email, else sub).
    pub subject: String,
    pub san: San,
    /// The token's `iss`, recorded in the certificate's issuer extensions.
    pub issuer: String,
}

/// Why an ID token was refused (all answered with 401).
#[derive(Debug)]
pub(crate) enum TokenError {
    Jwt(jwt::JwtError),
    /// `iss` is neither the sandbox's issuer nor a `--trust-issuer`.
    UntrustedIssuer(String),
    /// A trusted issuer's keys could not be used.
    Issuer(issuers::VerifyError),
    /// A claim check failed (audience, times, identity).
    Claims(String),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Jwt(e) => write!(f, "{e}"),
            TokenError::UntrustedIssuer(i) => {
                write!(f, "token issuer {i:?} is not the configured issuer nor a trusted issuer")
            }
            TokenError::Issuer(e) => write!(f, "{e}"),
            TokenError::Claims(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for TokenError {}

impl From<jwt::JwtError> for TokenError {
    fn from(e: jwt::JwtError) -> Self {
        TokenError::Jwt(e)
    }
}

/// Verify an ID token from our issuer or a trusted one and derive the identity (§4.1).
///
/// The unverified `iss` only selects the verifier: our own ES256 key, or the JWKS of
/// the trusted issuer whose URL equals it exactly. The claim checks are the same for all.
pub(crate) fn verify_token(
    oidc: &Oidc,
    trusted: &[TrustedIssuer],
    token: &str,
    now: i64,
) -> Result<Identity, TokenError> {
    let peek = jwt::unverified_claims(token)?;
    let iss = peek.get("iss").and_then(Value::as_str).unwrap_or("");
    let claims = if iss == oidc.issuer {
        jwt::verify(token, oidc.verifying_key(), oidc.kid())?
    } else if let Some(t) = trusted.iter().find(|t| t.url == iss) {
        t.verify(token).map_err(TokenError::Issuer)?
    } else {
        return Err(TokenError::UntrustedIssuer(iss.to_string()));
    };
    check_claims(&claims, iss, now).map_err(TokenError::Claims)
}

/// Claim checks shared by all issuers, on signature-verified claims.
fn check_claims(claims: &Value, issuer: &str, now: i64) -> Result<Identity, String> {
    let s = |k: &str| claims.get(k).and_then(Value::as_str);
    if s("iss") != Some(issuer) {
        return Err(format!("token issuer {:?} is not the expected issuer {issuer}", s("iss").unwrap_or("")));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == AUDIENCE,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(AUDIENCE)),
        _ => false,
    };
    if !aud_ok {
        return Err(format!("token audience does not include {AUDIENCE:?}"));
    }
    let Some(exp) = claims.get("exp").and_then(Value::as_i64) else {
        return Err("token has no exp claim".into());
    };
    if exp <= now {
        return Err("token has expired".into());
    }
    match claims.get("iat").and_then(Value::as_i64) {
        Some(iat) if iat <= now + LEEWAY => {}
        Some(_) => return Err("token iat is in the future".into()),
        None => return Err("token has no iat claim".into()),
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64)
        && nbf > now + LEEWAY
    {
        return Err("token is not valid yet (nbf)".into());
    }
    let issuer = issuer.to_string();
    match s("email").filter(|e| !e.is_empty()) {
        Some(email) => {
            if claims.get("email_verified").and_then(Value::as_bool) != Some(true) {
                return Err("email_verified claim is not true".into());
            }
            Ok(Identity { subject: email.to_string(), san: San::Email(email.to_string()), issuer })
        }
        None => match s("sub").filter(|x| !x.is_empty()) {
            Some(sub) => Ok(Identity { subject: sub.to_string(), san: San::Uri(sub.to_string()), issuer }),
            None => Err("token has neither email nor sub".into()),
        },
    }
}

/// Decode a public key given as PEM, base64 of PEM, or base64 of DER SPKI; P-256 only.
fn parse_public_key(content: &str) -> Result<Vec<u8>, String> {
    let der = if content.trim_start().starts_with("-----BEGIN") {
        pem_first(content)?
    } else {
        let raw = util::b64_decode(content).ok_or("public key content is neither PEM nor base64")?;
        match std::str::from_utf8(&raw) {
            Ok(t) if t.trim_start().starts_with("-----BEGIN") => pem_first(t)?,
            _ => raw,
        }
    };
    let key = keys::p256_from_spki(&der)
        .ok_or("unsupported or malformed public key: an ECDSA P-256 SubjectPublicKeyInfo is required")?;
    Ok(keys::p256_spki_der(&key))
}

fn pem_first(t: &str) -> Result<Vec<u8>, String> {
    util::pem_decode_all(t).into_iter().next().map(|(_, d)| d).ok_or_else(|| "malformed PEM".to_string())
}

const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

/// Decode and verify a PKCS#10 CSR (base64 of PEM, base64 of DER, or PEM); returns the SPKI DER.
fn parse_csr(content: &str) -> Result<Vec<u8>, String> {
    let der = if content.trim_start().starts_with("-----BEGIN") {
        pem_first(content)?
    } else {
        let raw = util::b64_decode(content).ok_or("certificateSigningRequest is not base64")?;
        match std::str::from_utf8(&raw) {
            Ok(t) if t.trim_start().starts_with("-----BEGIN") => pem_first(t)?,
            _ => raw,
        }
    };
    let csr = x509_cert::request::CertReq::from_der(&der).map_err(|e| format!("malformed CSR: {e}"))?;
    if csr.algorithm.oid != const_oid::ObjectIdentifier::new_unwrap(OID_ECDSA_SHA256) {
        return Err("unsupported CSR signature algorithm: ecdsa-with-SHA256 required".into());
    }
    use der::Encode;
    let spki = csr.info.public_key.to_der().map_err(|e| e.to_string())?;
    let key = keys::p256_from_spki(&spki).ok_or("unsupported CSR key: ECDSA P-256 required")?;
    // The signed bytes are the encoded CertificationRequestInfo exactly as sent.
    let outer = derw::read_tlv(&der).ok_or("malformed CSR")?;
    let info = derw::read_tlv(outer.content).ok_or("malformed CSR")?.whole;
    let sig = csr.signature.as_bytes().ok_or("malformed CSR signature")?;
    if !keys::verify_p256_der(&key, info, sig) {
        return Err("CSR signature (proof of possession) does not verify".into());
    }
    Ok(keys::p256_spki_der(&key))
}

/// What the client asked for, after parsing.
enum KeyRequest {
    Key { spki: Vec<u8>, proof: Vec<u8> },
    Csr(Vec<u8>),
}

pub(crate) fn handle(req: &Req, oidc: &Oidc, trusted: &[TrustedIssuer], ca: &Ca) -> Resp {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api/v1/signingCert") => signing_cert(req, oidc, trusted, ca, false),
        ("POST", "/api/v2/signingCert") => signing_cert(req, oidc, trusted, ca, true),
        ("GET", "/api/v2/trustBundle") => Resp::json(
            200,
            &json!({"chains": [{"certificates": [
                util::pem_encode("CERTIFICATE", &ca.inter_der),
                util::pem_encode("CERTIFICATE", &ca.root_der),
            ]}]}),
        ),
        ("GET", "/api/v2/configuration") => {
            let issuers: Vec<Value> = std::iter::once(oidc.issuer.as_str())
                .chain(trusted.iter().map(|t| t.url.as_str()).filter(|u| *u != oidc.issuer))
                .map(|url| {
                    json!({
                        "issuerUrl": url,
                        "audience": AUDIENCE,
                        "challengeClaim": "email",
                    })
                })
                .collect();
            Resp::json(200, &json!({ "issuers": issuers }))
        }
        ("GET", "/api/v1/rootCert") => Resp::text(
            200,
            "application/pem-certificate-chain",
            format!(
                "{}{}",
                util::pem_encode("CERTIFICATE", &ca.inter_der),
                util::pem_encode("CERTIFICATE", &ca.root_der)
            ),
        ),
        _ => Resp::grpc_error(404, "not found"),
    }
}

fn signing_cert(req: &Req, oidc: &Oidc, trusted: &[TrustedIssuer], ca: &Ca, v2: bool) -> Resp {
    let body = match serde_json::from_slice::<Value>(&req.body) {
        Ok(b) => b,
        Err(e) => return Resp::grpc_error(400, &format!("invalid JSON body: {e}")),
    };
    let token = req.bearer().map(str::to_string).or_else(|| {
        v2.then(|| body.pointer("/credentials/oidcIdentityToken").and_then(Value::as_str).map(str::to_string)).flatten()
    });
    let Some(token) = token else {
        return Resp::grpc_error(401, "missing identity token: send Authorization: Bearer <ID token>");
    };
    let identity = match verify_token(oidc, trusted, &token, util::now_unix()) {
        Ok(i) => i,
        Err(e) => {
            return Resp::grpc_error(401, &format!("There was an error processing the identity token: {e}"));
        }
    };
    let request = match parse_request(&body, v2) {
        Ok(r) => r,
        Err(e) => return Resp::grpc_error(400, &e),
    };
    let spki = match request {
        KeyRequest::Csr(content) => match parse_csr(std::str::from_utf8(&content).unwrap_or("")) {
            Ok(s) => s,
            Err(e) => return Resp::grpc_error(400, &e),
        },
        KeyRequest::Key { spki, proof } => {
            let Some(key) = keys::p256_from_spki(&spki) else {
                return Resp::grpc_error(400, "The public key supplied in the request could not be parsed");
            };
            if !keys::verify_p256_der(&key, identity.subject.as_bytes(), &proof) {
                return Resp::grpc_error(
                    400,
                    "The signature supplied in the request could not be verified: proof of possession must sign SHA-256 of the subject",
                );
            }
            spki
        }
    };
    let leaf = ca.issue_leaf(&spki, &identity.san, &identity.issuer);
    let pems = ca.chain_pems(&leaf);
    if v2 {
        // The v2 gRPC-gateway answers 200; only the legacy v1 handler forces 201.
        Resp::json(200, &json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": pems}}}))
    } else {
        Resp::text(201, "application/pem-certificate-chain", pems.join("\n").trim_end().to_string())
    }
}

fn parse_request(body: &Value, v2: bool) -> Result<KeyRequest, String> {
    if let Some(csr) = body.get("certificateSigningRequest").and_then(Value::as_str).filter(|c| !c.is_empty()) {
        return Ok(KeyRequest::Csr(csr.as_bytes().to_vec()));
    }
    let (key_ptr, proof_ptr) = if v2 {
        ("/publicKeyRequest/publicKey/content", "/publicKeyRequest/proofOfPossession")
    } else {
        ("/publicKey/content", "/signedEmailAddress")
    };
    let content = body
        .pointer(key_ptr)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing public key ({key_ptr}) or certificateSigningRequest"))?;
    let spki = parse_public_key(content)?;
    let proof = body
        .pointer(proof_ptr)
        .and_then(Value::as_str)
        .and_then(util::b64_decode)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| format!("missing or malformed proof of possession ({proof_ptr})"))?;
    Ok(KeyRequest::Key { spki, proof })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derw::*;

    fn csr(k: &p256::ecdsa::SigningKey, signer: &p256::ecdsa::SigningKey) -> Vec<u8> {
        let info = seq(&[small_int(0), seq(&[]), keys::p256_spki_der(k.verifying_key()), tlv(0xa0, &[])]);
        let sig = keys::sign_p256_der(signer, &info);
        seq(&[info, alg_id(OID_ECDSA_SHA256), bit_string(&sig)])
    }

    #[test]
    fn csr_forms_and_self_signature() {
        let k = keys::gen_p256();
        let der = csr(&k, &k);
        let spki = keys::p256_spki_der(k.verifying_key());
        let pem = util::pem_encode("CERTIFICATE REQUEST", &der);
        assert_eq!(parse_csr(&util::b64(pem.as_bytes())).unwrap(), spki);
        assert_eq!(parse_csr(&util::b64(&der)).unwrap(), spki);
        assert_eq!(parse_csr(&pem).unwrap(), spki);
        let forged = csr(&k, &keys::gen_p256());
        assert!(parse_csr(&util::b64(&forged)).unwrap_err().contains("does not verify"));
        assert!(parse_csr("AAAA").is_err());
        assert!(parse_csr("%%%").is_err());
    }

    fn setup() -> (Oidc, Ca, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("sandbox-fulcio-{}", util::random_token(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = Ca::load_or_create(&dir, keys::gen_p256(), util::now_unix() - 60).unwrap();
        let oidc = Oidc::new("http://127.0.0.1:1/oauth2".into(), keys::gen_p256(), "a@example.test".into(), false);
        (oidc, ca, dir)
    }

    #[test]
    fn v2_with_csr_and_header_token() {
        let (oidc, ca, dir) = setup();
        let tok = crate::oidc::mint_for_test(&oidc, "a@example.test");
        let k = keys::gen_p256();
        let body = json!({"certificateSigningRequest": util::b64(util::pem_encode("CERTIFICATE REQUEST", &csr(&k, &k)).as_bytes())});
        let auth = format!("Bearer {tok}");
        let req = Req::new("POST", "/api/v2/signingCert", &[("Authorization", &auth)], body.to_string().as_bytes());
        let r = handle(&req, &oidc, &[], &ca);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["signedCertificateEmbeddedSct"]["chain"]["certificates"].as_array().unwrap().len(), 3);
        let forged = json!({"certificateSigningRequest": util::b64(&csr(&k, &keys::gen_p256()))});
        let req = Req::new("POST", "/api/v2/signingCert", &[("Authorization", &auth)], forged.to_string().as_bytes());
        assert_eq!(handle(&req, &oidc, &[], &ca).status, 400);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn token_rules() {
        let (oidc, _ca, dir) = setup();
        let now = util::now_unix();
        let tok = crate::oidc::mint_for_test(&oidc, "a@example.test");
        let id = verify_token(&oidc, &[], &tok, now).unwrap();
        assert_eq!(id.subject, "a@example.test");
        assert_eq!(id.san, San::Email("a@example.test".into()));
        assert!(verify_token(&oidc, &[], &tok, now + 4000).unwrap_err().to_string().contains("expired"));
        assert!(verify_token(&oidc, &[], &tok, now - 3600).unwrap_err().to_string().contains("future"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
