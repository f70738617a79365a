//! OIDC issuer: discovery, JWKS, authorization code + PKCE, device flow (RFC 8628).

use crate::http::{Req, Resp};
use crate::{jwt, keys, util};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// Path prefix of the issuer under the base URL.
pub(crate) const PREFIX: &str = "/oauth2";
const CODE_TTL: i64 = 60;
const DEVICE_TTL: i64 = 300;
const DEVICE_INTERVAL: u64 = 1;
pub(crate) const DEFAULT_TOKEN_TTL: i64 = 3600;
const GRANT_DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";
const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";

/// Claims of an ID token to mint.
pub(crate) struct TokenSpec {
    pub email: Option<String>,
    pub sub: Option<String>,
    pub aud: String,
    pub nonce: Option<String>,
    pub email_verified: bool,
    pub iat: i64,
    pub ttl: i64,
}

impl TokenSpec {
    pub(crate) fn for_email(email: &str, aud: &str) -> TokenSpec {
        TokenSpec {
            email: Some(email.to_string()),
            sub: None,
            aud: aud.to_string(),
            nonce: None,
            email_verified: true,
            iat: util::now_unix(),
            ttl: DEFAULT_TOKEN_TTL,
        }
    }
}

/// Opaque, stable subject for an email identity.
pub(crate) fn subject_for(email: &str) -> String {
    format!("sandbox-{}", hex::encode(&util::sha256(email.as_bytes())[..10]))
}

/// Sign an ID token with the issuer key.
pub(crate) fn mint(key: &p256::ecdsa::SigningKey, issuer: &str, spec: &TokenSpec) -> String {
    let kid = jwt::kid(&keys::p256_spki_der(key.verifying_key()));
    let mut c = serde_json::Map::new();
    c.insert("iss".into(), json!(issuer));
    let sub = spec
        .sub
        .clone()
        .or_else(|| spec.email.as_deref().map(subject_for))
        .unwrap_or_else(|| "sandbox-anonymous".into());
    c.insert("sub".into(), json!(sub));
    c.insert("aud".into(), json!(spec.aud));
    c.insert("iat".into(), json!(spec.iat));
    c.insert("nbf".into(), json!(spec.iat));
    c.insert("exp".into(), json!(spec.iat + spec.ttl));
    if let Some(e) = &spec.email {
        c.insert("email".into(), json!(e));
        c.insert("email_verified".into(), json!(spec.email_verified));
    }
    if let Some(n) = &spec.nonce {
        c.insert("nonce".into(), json!(n));
    }
    jwt::sign(key, &kid, &Value::Object(c))
}

struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    email: String,
    expires: i64,
}

struct DeviceGrant {
    client_id: String,
    user_code: String,
    challenge: Option<String>,
    approved: Option<String>,
    expires: i64,
    /// The polling interval in seconds; RFC 8628 §3.5: each `slow_down` adds 5 seconds.
    interval: u64,
    last_poll: Option<std::time::Instant>,
}

pub(crate) struct Oidc {
    pub issuer: String,
    key: p256::ecdsa::SigningKey,
    kid: String,
    identity: String,
    login_form: bool,
    codes: Mutex<HashMap<String, CodeGrant>>,
    devices: Mutex<HashMap<String, DeviceGrant>>,
}

/// RFC 8252 loopback redirect (`http://127.0.0.1:*`, `http://[::1]:*`, `http://localhost:*`) or OOB.
pub(crate) fn redirect_allowed(uri: &str) -> bool {
    if uri == OOB {
        return true;
    }
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, port)) if port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok()) => {
                return h == "::1";
            }
            _ => return false,
        }
    } else {
        let (h, port) = authority.split_once(':').unwrap_or((authority, ""));
        if !port.is_empty() && port.parse::<u16>().is_err() {
            return false;
        }
        h
    };
    host == "127.0.0.1" || host.eq_ignore_ascii_case("localhost")
}

fn pkce_s256(verifier: &str) -> String {
    util::b64url(&util::sha256(verifier.as_bytes()))
}

fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn user_code() -> String {
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let r = util::random_bytes(8);
    let s: String = r.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    format!("{}-{}", &s[..4], &s[4..])
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = util::html_escape(title)
    )
}

impl Oidc {
    pub(crate) fn new(issuer: String, key: p256::ecdsa::SigningKey, identity: String, login_form: bool) -> Oidc {
        let kid = jwt::kid(&keys::p256_spki_der(key.verifying_key()));
        Oidc {
            issuer,
            key,
            kid,
            identity,
            login_form,
            codes: Mutex::new(HashMap::new()),
            devices: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn verifying_key(&self) -> &p256::ecdsa::VerifyingKey {
        self.key.verifying_key()
    }

    pub(crate) fn handle(&self, req: &Req, sub_path: &str) -> Resp {
        match (req.method.as_str(), sub_path) {
            ("GET", "/.well-known/openid-configuration") => self.discovery(),
            ("GET", "/keys") => self.jwks(),
            ("GET", "/auth") => self.authorize(req, &req.query, false),
            ("POST", "/auth") => self.authorize(req, &req.form(), true),
            ("POST", "/token") => self.token(req),
            ("POST", "/device/code") => self.device_authorization(req),
            ("GET", "/device") => self.device_verify(&req.query, false),
            ("POST", "/device") => self.device_verify(&req.form(), true),
            _ => Resp::error(404, "not found"),
        }
    }

    fn discovery(&self) -> Resp {
        let i = &self.issuer;
        Resp::json(
            200,
            &json!({
                "issuer": i,
                "authorization_endpoint": format!("{i}/auth"),
                "token_endpoint": format!("{i}/token"),
                "jwks_uri": format!("{i}/keys"),
                "device_authorization_endpoint": format!("{i}/device/code"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "email"],
                "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
                "grant_types_supported": ["authorization_code", GRANT_DEVICE],
                "claims_supported": ["iss", "sub", "aud", "iat", "exp", "email", "email_verified", "nonce"],
            }),
        )
    }

    fn jwks(&self) -> Resp {
        let point = self.key.verifying_key().to_sec1_point(false);
        let b = point.as_bytes();
        let (x, y) = if b.len() == 65 { (&b[1..33], &b[33..65]) } else { (&b[..0], &b[..0]) };
        Resp::json(
            200,
            &json!({"keys": [{
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
                "x": util::b64url(x), "y": util::b64url(y),
            }]}),
        )
    }

    fn authorize(&self, _req: &Req, p: &std::collections::BTreeMap<String, String>, posted: bool) -> Resp {
        let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
        let redirect_uri = get("redirect_uri");
        if !redirect_allowed(redirect_uri) {
            return Resp::html(
                400,
                &page(
                    "Invalid redirect_uri",
                    "<p>redirect_uri must be a loopback http URL or urn:ietf:wg:oauth:2.0:oob.</p>",
                ),
            );
        }
        let err = |code: &str, desc: &str| -> Resp {
            if redirect_uri == OOB {
                return Resp::html(
                    400,
                    &page("Authorization error", &format!("<p>{}: {}</p>", code, util::html_escape(desc))),
                );
            }
            let sep = if redirect_uri.contains('?') { '&' } else { '?' };
            let mut loc = format!("{redirect_uri}{sep}error={code}&error_description={}", util::url_encode(desc));
            if !get("state").is_empty() {
                loc.push_str(&format!("&state={}", util::url_encode(get("state"))));
            }
            Resp::redirect(&loc)
        };
        if get("response_type") != "code" {
            return err("unsupported_response_type", "response_type must be code");
        }
        if get("client_id").is_empty() {
            return err("invalid_request", "client_id is required");
        }
        if !get("scope").split(' ').any(|s| s == "openid") {
            return err("invalid_scope", "scope must include openid");
        }
        if get("code_challenge_method") != "S256" || get("code_challenge").len() != 43 {
            return err(
                "invalid_request",
                "PKCE is required: code_challenge (43 chars) with code_challenge_method=S256",
            );
        }
        let email = if self.login_form {
            if !posted {
                return self.login_page(p, "/auth", "Sign in to the gitsign sandbox");
            }
            match get("email").trim() {
                e if e.contains('@') && !e.chars().any(char::is_whitespace) => e.to_string(),
                _ => return self.login_page(p, "/auth", "Enter a valid email address"),
            }
        } else {
            self.identity.clone()
        };
        let code = util::random_token(24);
        let grant = CodeGrant {
            client_id: get("client_id").to_string(),
            redirect_uri: redirect_uri.to_string(),
            challenge: get("code_challenge").to_string(),
            nonce: p.get("nonce").filter(|n| !n.is_empty()).cloned(),
            email,
            expires: util::now_unix() + CODE_TTL,
        };
        if let Ok(mut codes) = self.codes.lock() {
            codes.retain(|_, g| g.expires > util::now_unix());
            codes.insert(code.clone(), grant);
        } else {
            return Resp::error(500, "state poisoned");
        }
        if redirect_uri == OOB {
            return Resp::html(
                200,
                &page(
                    "Authorization code",
                    &format!(
                        "<p>Copy this code into your terminal:</p>\n<pre id=\"code\">{}</pre>",
                        util::html_escape(&code)
                    ),
                ),
            );
        }
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        let mut loc = format!("{redirect_uri}{sep}code={}", util::url_encode(&code));
        if !get("state").is_empty() {
            loc.push_str(&format!("&state={}", util::url_encode(get("state"))));
        }
        Resp::redirect(&loc)
    }

    fn login_page(&self, p: &std::collections::BTreeMap<String, String>, action: &str, title: &str) -> Resp {
        let hidden: String = p
            .iter()
            .filter(|(k, _)| k.as_str() != "email")
            .map(|(k, v)| {
                format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                    util::html_escape(k),
                    util::html_escape(v)
                )
            })
            .collect();
        let form = format!(
            "<form method=\"post\" action=\"{}{action}\">\n{hidden}<label>Email <input type=\"email\" name=\"email\" value=\"{}\" required></label>\n<button type=\"submit\">Sign in</button>\n</form>",
            util::html_escape(&self.issuer),
            util::html_escape(&self.identity)
        );
        Resp::html(200, &page(title, &form))
    }

    fn id_token(&self, client_id: &str, email: &str, nonce: Option<String>) -> Resp {
        let mut spec = TokenSpec::for_email(email, client_id);
        spec.nonce = nonce;
        let id_token = mint(&self.key, &self.issuer, &spec);
        Resp::json(
            200,
            &json!({
                "access_token": util::random_token(24),
                "token_type": "Bearer",
                "expires_in": spec.ttl,
                "id_token": id_token,
                "scope": "openid email",
            }),
        )
        .with_header("Cache-Control", "no-store")
    }

    fn token(&self, req: &Req) -> Resp {
        let f = req.form();
        let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
        match get("grant_type") {
            "authorization_code" => {
                let grant = match self.codes.lock() {
                    Ok(mut codes) => codes.remove(get("code")),
                    Err(_) => return Resp::error(500, "state poisoned"),
                };
                let Some(g) = grant else {
                    return Resp::oauth_error(400, "invalid_grant", "unknown, used or expired authorization code");
                };
                if g.expires < util::now_unix() {
                    return Resp::oauth_error(400, "invalid_grant", "authorization code expired");
                }
                if g.redirect_uri != get("redirect_uri") {
                    return Resp::oauth_error(
                        400,
                        "invalid_grant",
                        "redirect_uri does not match the authorization request",
                    );
                }
                if g.client_id != get("client_id") {
                    return Resp::oauth_error(
                        400,
                        "invalid_client",
                        "client_id does not match the authorization request",
                    );
                }
                let v = get("code_verifier");
                if !valid_verifier(v) || pkce_s256(v) != g.challenge {
                    return Resp::oauth_error(400, "invalid_grant", "PKCE verification failed");
                }
                self.id_token(&g.client_id, &g.email, g.nonce)
            }
            GRANT_DEVICE => {
                let mut devices = match self.devices.lock() {
                    Ok(d) => d,
                    Err(_) => return Resp::error(500, "state poisoned"),
                };
                let dc = get("device_code");
                let Some(g) = devices.get_mut(dc) else {
                    return Resp::oauth_error(400, "invalid_grant", "unknown device_code");
                };
                if g.expires < util::now_unix() {
                    devices.remove(dc);
                    return Resp::oauth_error(400, "expired_token", "the device code has expired");
                }
                if g.client_id != get("client_id") {
                    return Resp::oauth_error(400, "invalid_client", "client_id does not match the device request");
                }
                let Some(email) = g.approved.clone() else {
                    // A client that polls a pending grant sooner than the interval is told to slow
                    // down (with 200 ms of slack for scheduling), and the interval grows by 5 s.
                    let now = std::time::Instant::now();
                    let min_gap = std::time::Duration::from_millis((g.interval * 1000).saturating_sub(200));
                    let too_fast = g.last_poll.is_some_and(|t| now.duration_since(t) < min_gap);
                    g.last_poll = Some(now);
                    if too_fast {
                        g.interval += 5;
                        return Resp::oauth_error(
                            400,
                            "slow_down",
                            &format!("poll at most every {} seconds", g.interval),
                        );
                    }
                    return Resp::oauth_error(
                        400,
                        "authorization_pending",
                        "the user has not yet approved the request",
                    );
                };
                if let Some(ch) = &g.challenge {
                    let v = get("code_verifier");
                    if !valid_verifier(v) || &pkce_s256(v) != ch {
                        return Resp::oauth_error(400, "invalid_grant", "PKCE verification failed");
                    }
                }
                let client_id = g.client_id.clone();
                devices.remove(dc);
                self.id_token(&client_id, &email, None)
            }
            "" => Resp::oauth_error(400, "invalid_request", "grant_type is required"),
            other => Resp::oauth_error(400, "unsupported_grant_type", &format!("grant_type {other} is not supported")),
        }
    }

    fn device_authorization(&self, req: &Req) -> Resp {
        let f = req.form();
        let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
        if get("client_id").is_empty() {
            return Resp::oauth_error(400, "invalid_request", "client_id is required");
        }
        let challenge = match (get("code_challenge"), get("code_challenge_method")) {
            ("", _) => None,
            (c, "S256") if c.len() == 43 => Some(c.to_string()),
            _ => {
                return Resp::oauth_error(400, "invalid_request", "code_challenge requires code_challenge_method=S256");
            }
        };
        let device_code = util::random_token(24);
        let user_code = user_code();
        let grant = DeviceGrant {
            client_id: get("client_id").to_string(),
            user_code: user_code.clone(),
            challenge,
            approved: None,
            expires: util::now_unix() + DEVICE_TTL,
            interval: DEVICE_INTERVAL,
            last_poll: None,
        };
        match self.devices.lock() {
            Ok(mut d) => {
                d.retain(|_, g| g.expires > util::now_unix());
                d.insert(device_code.clone(), grant);
            }
            Err(_) => return Resp::error(500, "state poisoned"),
        }
        let uri = format!("{}/device", self.issuer);
        Resp::json(
            200,
            &json!({
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": uri,
                "verification_uri_complete": format!("{uri}?user_code={user_code}"),
                "expires_in": DEVICE_TTL,
                "interval": DEVICE_INTERVAL,
            }),
        )
        .with_header("Cache-Control", "no-store")
    }

    fn device_verify(&self, p: &std::collections::BTreeMap<String, String>, posted: bool) -> Resp {
        let code = p.get("user_code").map(|s| s.trim().to_ascii_uppercase()).unwrap_or_default();
        if code.is_empty() {
            let form = format!(
                "<form method=\"get\" action=\"{}/device\">\n<label>Code <input name=\"user_code\" required></label>\n<button type=\"submit\">Continue</button>\n</form>",
                util::html_escape(&self.issuer)
            );
            return Resp::html(200, &page("Enter the code shown in your terminal", &form));
        }
        let email = if self.login_form {
            if !posted {
                return self.login_page(p, "/device", "Sign in to approve the device");
            }
            match p.get("email").map(|s| s.trim()) {
                Some(e) if e.contains('@') && !e.chars().any(char::is_whitespace) => e.to_string(),
                _ => return self.login_page(p, "/device", "Enter a valid email address"),
            }
        } else {
            self.identity.clone()
        };
        let mut devices = match self.devices.lock() {
            Ok(d) => d,
            Err(_) => return Resp::error(500, "state poisoned"),
        };
        let now = util::now_unix();
        match devices.values_mut().find(|g| g.user_code == code && g.expires > now) {
            Some(g) => {
                g.approved = Some(email.clone());
                Resp::html(
                    200,
                    &page(
                        "Device approved",
                        &format!("<p>Signed in as {}. You can close this window.</p>", util::html_escape(&email)),
                    ),
                )
            }
            None => Resp::html(400, &page("Unknown or expired code", "<p>Start the device login again.</p>")),
        }
    }
}

/// Mint a default token with the issuer's own key (unit tests of other modules).
#[cfg(test)]
pub(crate) fn mint_for_test(oidc: &Oidc, email: &str) -> String {
    mint(&oidc.key, &oidc.issuer, &TokenSpec::for_email(email, "sigstore"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects() {
        for ok in [
            "http://127.0.0.1:5555/auth/callback",
            "http://localhost:1/cb",
            "http://localhost/cb",
            "http://[::1]:80/x",
            "urn:ietf:wg:oauth:2.0:oob",
        ] {
            assert!(redirect_allowed(ok), "{ok}");
        }
        for bad in [
            "https://127.0.0.1/cb",
            "http://example.com/cb",
            "http://127.0.0.1.evil.com/cb",
            "http://localhost:x/cb",
            "http://user@127.0.0.1/",
            "http://[::2]:1/",
            "http://[::1]\u{e9}/",
            "http://[::1]:99999/",
            "",
        ] {
            assert!(!redirect_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn pkce() {
        // RFC 7636 Appendix B.
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
