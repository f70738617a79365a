//! ID token verification against the issuer's published keys (JWKS).
//!
//! Hand-written over `ring` (already in the tree through rustls) rather than `openidconnect`:
//! the checks an OIDC client needs for an ID token are few (signature with a key from the
//! JWKS, `iss`, `aud`/`azp`, `exp`/`nbf`, `nonce`, `at_hash`), and doing them here keeps one
//! RustCrypto generation and one `reqwest` in the build, gives typed errors that say what to
//! do, and lets the flows run over our own blocking client.
//!
//! Rules: only asymmetric algorithms are accepted (`RS256/384/512`, `PS256/384/512`,
//! `ES256`, `ES384`, `EdDSA`); `none` and HMAC are refused. The key is chosen by `kid`
//! (when the token names one) and must match the algorithm's key type and curve; a key that
//! declares `use` must be for signatures and one that declares `alg` must declare this one.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// Clock skew tolerated on `exp`, `nbf` and `iat` (seconds).
pub const LEEWAY: i64 = 60;

/// Why an ID token was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// Not a compact JWS.
    #[error("the ID token is not a compact JWT (three base64url parts)")]
    Malformed,
    /// The header cannot be read.
    #[error("the ID token's header cannot be read: {0}")]
    BadHeader(String),
    /// The algorithm is not an accepted asymmetric one.
    #[error("the ID token is signed with {0:?}, which is not accepted (only RS*, PS*, ES256, ES384, EdDSA)")]
    Algorithm(String),
    /// No JWKS key fits the token.
    #[error(
        "the ID token was signed by a key the issuer does not publish (key id {}, alg {alg}); \
         the token may be forged or from another issuer",
        kid.as_deref().unwrap_or("(none)")
    )]
    UnknownKey {
        /// The token's `kid`.
        kid: Option<String>,
        /// The token's `alg`.
        alg: String,
    },
    /// The signature does not verify.
    #[error(
        "the ID token's signature does not verify with the issuer's key {}",
        kid.as_deref().unwrap_or("(without a key id)")
    )]
    BadSignature {
        /// The key tried.
        kid: Option<String>,
    },
    /// The JWKS cannot be used.
    #[error("the issuer's key set (JWKS) cannot be used: {0}")]
    BadJwks(String),
    /// Claims unreadable.
    #[error("the ID token's claims cannot be read: {0}")]
    BadClaims(String),
    /// Wrong issuer.
    #[error("the ID token was issued by {got:?}, not by the configured issuer {want:?}")]
    Issuer {
        /// The `iss` claim.
        got: String,
        /// The configured issuer.
        want: String,
    },
    /// Wrong audience.
    #[error("the ID token is for audience {got}, not for client id {want:?}; check gitsign.clientID")]
    Audience {
        /// The `aud` claim.
        got: String,
        /// The client id.
        want: String,
    },
    /// `azp` names another party.
    #[error("the ID token's authorized party (azp) is {got:?}, not client id {want:?}")]
    AuthorizedParty {
        /// The `azp` claim.
        got: String,
        /// The client id.
        want: String,
    },
    /// Expired or missing `exp`.
    #[error("the ID token expired at {}; log in again", crate::encoding::timefmt::describe(*exp, *now))]
    Expired {
        /// The `exp` claim (0 when missing).
        exp: i64,
        /// Now.
        now: i64,
    },
    /// Not yet valid.
    #[error(
        "the ID token is not valid before {}; check the system clock",
        crate::encoding::timefmt::describe(*nbf, *now)
    )]
    NotYetValid {
        /// The `nbf` claim.
        nbf: i64,
        /// Now.
        now: i64,
    },
    /// Nonce missing or different.
    #[error("the ID token's nonce does not match this login (replayed or injected token); log in again")]
    Nonce,
    /// `at_hash` does not match the access token.
    #[error("the ID token's at_hash does not match the access token")]
    AccessTokenHash,
}

/// What the token must satisfy.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// The issuer (exactly as in discovery).
    pub issuer: &'a str,
    /// The client id (the audience).
    pub client_id: &'a str,
    /// The nonce sent with the authorization request, if any.
    pub nonce: Option<&'a str>,
    /// The access token issued with it, to check `at_hash` when present.
    pub access_token: Option<&'a str>,
    /// Current unix time.
    pub now: i64,
}

/// One JSON Web Key (the members we use).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Jwk {
    /// Key type: `RSA`, `EC`, `OKP`.
    pub kty: String,
    /// Key id.
    #[serde(default)]
    pub kid: Option<String>,
    /// Intended use (`sig`).
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    /// Algorithm the key is for.
    #[serde(default)]
    pub alg: Option<String>,
    /// Curve (EC, OKP).
    #[serde(default)]
    pub crv: Option<String>,
    /// RSA modulus.
    #[serde(default)]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(default)]
    pub e: Option<String>,
    /// EC x / OKP public key.
    #[serde(default)]
    pub x: Option<String>,
    /// EC y.
    #[serde(default)]
    pub y: Option<String>,
}

/// A JWK Set.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Checked {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    exp: Option<serde_json::Number>,
    #[serde(default)]
    nbf: Option<serde_json::Number>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    at_hash: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Alg {
    Rs(u16),
    Ps(u16),
    Es256,
    Es384,
    EdDsa,
}

impl Alg {
    fn parse(s: &str) -> Option<Alg> {
        Some(match s {
            "RS256" => Alg::Rs(256),
            "RS384" => Alg::Rs(384),
            "RS512" => Alg::Rs(512),
            "PS256" => Alg::Ps(256),
            "PS384" => Alg::Ps(384),
            "PS512" => Alg::Ps(512),
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            "EdDSA" => Alg::EdDsa,
            _ => return None,
        })
    }

    fn fits(self, k: &Jwk) -> bool {
        match self {
            Alg::Rs(_) | Alg::Ps(_) => k.kty == "RSA",
            Alg::Es256 => k.kty == "EC" && k.crv.as_deref() == Some("P-256"),
            Alg::Es384 => k.kty == "EC" && k.crv.as_deref() == Some("P-384"),
            Alg::EdDsa => k.kty == "OKP" && k.crv.as_deref() == Some("Ed25519"),
        }
    }

    /// Hash used by the algorithm (for `at_hash`); EdDSA tokens use SHA-512 by convention.
    fn digest(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            Alg::Rs(384) | Alg::Ps(384) | Alg::Es384 => sha2::Sha384::digest(data).to_vec(),
            Alg::Rs(512) | Alg::Ps(512) | Alg::EdDsa => sha2::Sha512::digest(data).to_vec(),
            _ => sha2::Sha256::digest(data).to_vec(),
        }
    }
}

fn b64(s: &str) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| VerifyError::BadJwks("a key member is not base64url".into()))
}

fn check_signature(alg: Alg, k: &Jwk, msg: &[u8], sig: &[u8]) -> Result<bool, VerifyError> {
    use ring::signature as rs;
    let need = |v: &Option<String>, what: &str| -> Result<Vec<u8>, VerifyError> {
        b64(v.as_deref().ok_or_else(|| VerifyError::BadJwks(format!("{} key without {what}", k.kty)))?)
    };
    let ok = match alg {
        Alg::Rs(bits) | Alg::Ps(bits) => {
            let (n, e) = (need(&k.n, "n")?, need(&k.e, "e")?);
            let params: &rs::RsaParameters = match (alg, bits) {
                (Alg::Rs(_), 256) => &rs::RSA_PKCS1_2048_8192_SHA256,
                (Alg::Rs(_), 384) => &rs::RSA_PKCS1_2048_8192_SHA384,
                (Alg::Rs(_), _) => &rs::RSA_PKCS1_2048_8192_SHA512,
                (_, 256) => &rs::RSA_PSS_2048_8192_SHA256,
                (_, 384) => &rs::RSA_PSS_2048_8192_SHA384,
                _ => &rs::RSA_PSS_2048_8192_SHA512,
            };
            rs::RsaPublicKeyComponents { n: &n, e: &e }.verify(params, msg, sig).is_ok()
        }
        Alg::Es256 | Alg::Es384 => {
            let (x, y) = (need(&k.x, "x")?, need(&k.y, "y")?);
            let (len, params): (usize, &'static rs::EcdsaVerificationAlgorithm) =
                if alg == Alg::Es256 { (32, &rs::ECDSA_P256_SHA256_FIXED) } else { (48, &rs::ECDSA_P384_SHA384_FIXED) };
            if x.len() != len || y.len() != len {
                return Err(VerifyError::BadJwks(format!("EC key coordinates are not {len} bytes")));
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            rs::UnparsedPublicKey::new(params, &point).verify(msg, sig).is_ok()
        }
        Alg::EdDsa => {
            let x = need(&k.x, "x")?;
            rs::UnparsedPublicKey::new(&rs::ED25519, &x).verify(msg, sig).is_ok()
        }
    };
    Ok(ok)
}

fn number(n: &Option<serde_json::Number>) -> Option<i64> {
    n.as_ref().and_then(|n| n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)))
}

/// Constant-time equality of two strings (lengths may leak).
pub fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verify a compact ID token: signature with a key from `jwks`, then the claims against
/// `expect`. Returns the decoded claims JSON on success.
pub fn verify(token: &str, jwks: &Jwks, expect: &Expect<'_>) -> Result<serde_json::Value, VerifyError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(VerifyError::Malformed);
    };
    let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).map_err(|_| VerifyError::Malformed)?)
        .map_err(|e| VerifyError::BadHeader(e.to_string()))?;
    let alg = Alg::parse(&header.alg).ok_or_else(|| VerifyError::Algorithm(header.alg.clone()))?;
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| VerifyError::Malformed)?;
    let signed = &token.as_bytes()[..h.len() + 1 + p.len()];

    let candidates: Vec<&Jwk> = jwks
        .keys
        .iter()
        .filter(|k| header.kid.is_none() || k.kid == header.kid)
        .filter(|k| alg.fits(k))
        .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == header.alg))
        .collect();
    if candidates.is_empty() {
        return Err(VerifyError::UnknownKey { kid: header.kid, alg: header.alg });
    }
    let mut verified = false;
    for k in &candidates {
        if check_signature(alg, k, signed, &sig)? {
            verified = true;
            break;
        }
    }
    if !verified {
        return Err(VerifyError::BadSignature { kid: header.kid });
    }

    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| VerifyError::Malformed)?;
    let value: serde_json::Value =
        serde_json::from_slice(&payload).map_err(|e| VerifyError::BadClaims(e.to_string()))?;
    let c: Checked = serde_json::from_value(value.clone()).map_err(|e| VerifyError::BadClaims(e.to_string()))?;

    let iss = c.iss.unwrap_or_default();
    if iss != expect.issuer {
        return Err(VerifyError::Issuer { got: iss, want: expect.issuer.to_string() });
    }
    let auds: Vec<String> = match &c.aud {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    };
    if !auds.iter().any(|a| a == expect.client_id) {
        return Err(VerifyError::Audience {
            got: c.aud.map(|a| a.to_string()).unwrap_or_else(|| "(none)".into()),
            want: expect.client_id.to_string(),
        });
    }
    if let Some(azp) = c.azp.filter(|a| auds.len() > 1 && a != expect.client_id) {
        return Err(VerifyError::AuthorizedParty { got: azp, want: expect.client_id.to_string() });
    }
    let exp = number(&c.exp).unwrap_or(0);
    if exp + LEEWAY <= expect.now {
        return Err(VerifyError::Expired { exp, now: expect.now });
    }
    if let Some(nbf) = number(&c.nbf).filter(|nbf| *nbf > expect.now + LEEWAY) {
        return Err(VerifyError::NotYetValid { nbf, now: expect.now });
    }
    if let Some(want) = expect.nonce {
        match &c.nonce {
            Some(got) if ct_eq(got, want) => {}
            _ => return Err(VerifyError::Nonce),
        }
    }
    if let (Some(at_hash), Some(access)) = (&c.at_hash, expect.access_token) {
        let d = alg.digest(access.as_bytes());
        if !ct_eq(at_hash, &URL_SAFE_NO_PAD.encode(&d[..d.len() / 2])) {
            return Err(VerifyError::AccessTokenHash);
        }
    }
    Ok(value)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use serde_json::json;

    /// A test issuer key: ES256 over p256.
    pub(crate) struct TestKey {
        pub key: p256::ecdsa::SigningKey,
        pub kid: String,
    }

    impl TestKey {
        pub(crate) fn new(kid: &str) -> TestKey {
            let mut seed = [0u8; 32];
            loop {
                getrandom::fill(&mut seed).unwrap();
                if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&seed) {
                    return TestKey { key, kid: kid.to_string() };
                }
            }
        }

        pub(crate) fn jwk(&self) -> serde_json::Value {
            let point = self.key.verifying_key().to_sec1_point(false);
            let b = point.as_bytes();
            json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
                   "x": URL_SAFE_NO_PAD.encode(&b[1..33]), "y": URL_SAFE_NO_PAD.encode(&b[33..65])})
        }

        pub(crate) fn jwks(&self) -> Jwks {
            serde_json::from_value(json!({"keys": [self.jwk()]})).unwrap()
        }

        pub(crate) fn sign(&self, claims: &serde_json::Value) -> String {
            let h = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"}).to_string());
            let p = URL_SAFE_NO_PAD.encode(claims.to_string());
            let input = format!("{h}.{p}");
            let sig: p256::ecdsa::Signature = self.key.sign(input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
        }
    }

    const NOW: i64 = 1_800_000_000;

    fn claims() -> serde_json::Value {
        json!({"iss": "https://issuer.test", "sub": "alice", "aud": "sigstore", "exp": NOW + 600,
               "iat": NOW, "nonce": "n0nce", "email": "alice@example.test", "email_verified": true})
    }

    fn expect() -> Expect<'static> {
        Expect {
            issuer: "https://issuer.test",
            client_id: "sigstore",
            nonce: Some("n0nce"),
            access_token: None,
            now: NOW,
        }
    }

    #[test]
    fn good_token_verifies() {
        let k = TestKey::new("k1");
        let v = verify(&k.sign(&claims()), &k.jwks(), &expect()).unwrap();
        assert_eq!(v["email"], "alice@example.test");
        // array audience with a matching azp
        let mut c = claims();
        c["aud"] = json!(["other", "sigstore"]);
        c["azp"] = json!("sigstore");
        verify(&k.sign(&c), &k.jwks(), &expect()).unwrap();
    }

    #[test]
    fn claim_failures() {
        let k = TestKey::new("k1");
        let with = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut c = claims();
            f(&mut c);
            verify(&k.sign(&c), &k.jwks(), &expect()).unwrap_err()
        };
        assert_eq!(with(&|c| c["nonce"] = json!("other")), VerifyError::Nonce);
        assert_eq!(with(&|c| drop(c.as_object_mut().unwrap().remove("nonce"))), VerifyError::Nonce);
        assert!(matches!(with(&|c| c["aud"] = json!("not-sigstore")), VerifyError::Audience { .. }));
        assert!(matches!(with(&|c| c["exp"] = json!(NOW - 61)), VerifyError::Expired { .. }));
        assert!(matches!(with(&|c| drop(c.as_object_mut().unwrap().remove("exp"))), VerifyError::Expired { .. }));
        assert!(matches!(with(&|c| c["nbf"] = json!(NOW + 3600)), VerifyError::NotYetValid { .. }));
        assert!(matches!(with(&|c| c["iss"] = json!("https://evil.test")), VerifyError::Issuer { .. }));
        assert!(matches!(
            with(&|c| {
                c["aud"] = json!(["sigstore", "x"]);
                c["azp"] = json!("x");
            }),
            VerifyError::AuthorizedParty { .. }
        ));
        // at_hash
        let mut c = claims();
        c["at_hash"] = json!("AAAAAAAAAAAAAAAAAAAAAA");
        let e = Expect { access_token: Some("tok"), ..expect() };
        assert_eq!(verify(&k.sign(&c), &k.jwks(), &e).unwrap_err(), VerifyError::AccessTokenHash);
        use sha2::Digest;
        let d = sha2::Sha256::digest(b"tok");
        c["at_hash"] = json!(URL_SAFE_NO_PAD.encode(&d[..16]));
        verify(&k.sign(&c), &k.jwks(), &e).unwrap();
    }

    #[test]
    fn key_and_signature_failures() {
        let k = TestKey::new("k1");
        let other = TestKey::new("k1");
        // same kid, different key: signature fails
        let tok = other.sign(&claims());
        assert_eq!(
            verify(&tok, &k.jwks(), &expect()).unwrap_err(),
            VerifyError::BadSignature { kid: Some("k1".into()) }
        );
        // unknown kid
        let stranger = TestKey::new("k9");
        assert!(matches!(verify(&stranger.sign(&claims()), &k.jwks(), &expect()), Err(VerifyError::UnknownKey { .. })));
        // alg none and HS256 refused, whatever the payload
        let p = URL_SAFE_NO_PAD.encode(claims().to_string());
        for alg in ["none", "HS256"] {
            let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "k1"}).to_string());
            assert_eq!(
                verify(&format!("{h}.{p}."), &k.jwks(), &expect()).unwrap_err(),
                VerifyError::Algorithm(alg.into())
            );
        }
        // tampered payload
        let good = k.sign(&claims());
        let mut c = claims();
        c["sub"] = json!("mallory");
        let parts: Vec<&str> = good.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(c.to_string()), parts[2]);
        assert!(matches!(verify(&forged, &k.jwks(), &expect()), Err(VerifyError::BadSignature { .. })));
        assert_eq!(verify("a.b", &k.jwks(), &expect()).unwrap_err(), VerifyError::Malformed);
        // key declared for another alg is not used
        let mut jwk = k.jwk();
        jwk["alg"] = json!("ES384");
        let jwks: Jwks = serde_json::from_value(json!({"keys": [jwk]})).unwrap();
        assert!(matches!(verify(&good, &jwks, &expect()), Err(VerifyError::UnknownKey { .. })));
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "ab"));
    }
}
