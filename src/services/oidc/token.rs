//! Reading the claims of an ID token (without verifying it: Fulcio does) to pick the subject
//! for the proof of possession and give clear errors before a round trip.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The claims gitsign reads.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    #[serde(default)]
    pub sub: String,
    /// Email, if the issuer gives one.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the email is verified (bool, or the string "true" some issuers send).
    #[serde(default, deserialize_with = "bool_or_string")]
    pub email_verified: Option<bool>,
    /// Expiry (unix seconds).
    #[serde(default)]
    pub exp: Option<i64>,
    /// Audience (string or array).
    #[serde(default)]
    pub aud: Option<serde_json::Value>,
}

fn bool_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Bool(b)) => Some(b),
        Some(serde_json::Value::String(s)) => Some(s == "true"),
        _ => None,
    })
}

/// Problems with a token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not a JWT.
    #[error("the ID token is not a JWT (expected three base64url parts separated by dots)")]
    NotJwt,
    /// Claims unreadable.
    #[error("the ID token's claims cannot be read: {0}")]
    BadClaims(String),
    /// Expired.
    #[error(
        "the ID token {origin} expired at {}; get a fresh token and try again",
        crate::encoding::timefmt::describe(*exp, *now)
    )]
    Expired {
        /// Where the token came from, as a phrase: `from SIGSTORE_ID_TOKEN`, `given`.
        origin: String,
        /// exp claim
        exp: i64,
        /// current time
        now: i64,
    },
    /// email present but not verified.
    #[error("the ID token's email {0:?} is not verified (email_verified is not true); Fulcio will refuse it")]
    EmailNotVerified(String),
    /// Neither email nor sub.
    #[error("the ID token has neither an email nor a sub claim")]
    NoSubject,
}

impl Claims {
    /// Parse the payload of a compact JWT.
    pub fn parse(jwt: &str) -> Result<Claims, TokenError> {
        let mut parts = jwt.trim().split('.');
        let (Some(_), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::NotJwt);
        };
        let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).map_err(|_| TokenError::NotJwt)?;
        serde_json::from_slice(&bytes).map_err(|e| TokenError::BadClaims(e.to_string()))
    }

    /// The subject to prove possession over (sigstore's rule): the email when there is one
    /// (then it must be verified), else `sub`.
    pub fn challenge_subject(&self) -> Result<String, TokenError> {
        match &self.email {
            Some(e) if !e.is_empty() => {
                if self.email_verified != Some(true) {
                    return Err(TokenError::EmailNotVerified(e.clone()));
                }
                Ok(e.clone())
            }
            _ if !self.sub.is_empty() => Ok(self.sub.clone()),
            _ => Err(TokenError::NoSubject),
        }
    }

    /// Fail early on an expired token.
    pub fn check_fresh(&self, now: i64) -> Result<(), TokenError> {
        self.check_fresh_from(now, "given")
    }

    /// Fail early on an expired token whose source `origin` the message names (a phrase such
    /// as `from SIGSTORE_ID_TOKEN`).
    pub fn check_fresh_from(&self, now: i64, origin: &str) -> Result<(), TokenError> {
        match self.exp {
            Some(exp) if exp <= now => Err(TokenError::Expired { origin: origin.to_string(), exp, now }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn subject_rule() {
        let c = Claims::parse(&jwt(r#"{"iss":"i","sub":"s","email":"a@b","email_verified":true}"#)).unwrap();
        assert_eq!(c.challenge_subject().unwrap(), "a@b");
        let c = Claims::parse(&jwt(r#"{"iss":"i","sub":"s","email":"a@b","email_verified":false}"#)).unwrap();
        assert_eq!(c.challenge_subject(), Err(TokenError::EmailNotVerified("a@b".into())));
        let c = Claims::parse(&jwt(r#"{"iss":"i","sub":"repo:x","email_verified":"true"}"#)).unwrap();
        assert_eq!(c.challenge_subject().unwrap(), "repo:x");
        let c = Claims::parse(&jwt(r#"{"iss":"i","exp":10}"#)).unwrap();
        assert_eq!(c.challenge_subject(), Err(TokenError::NoSubject));
        assert_eq!(c.check_fresh(11), Err(TokenError::Expired { origin: "given".into(), exp: 10, now: 11 }));
        let e = c.check_fresh_from(10 + 12 * 60, "from SIGSTORE_ID_TOKEN").unwrap_err().to_string();
        assert_eq!(
            e,
            "the ID token from SIGSTORE_ID_TOKEN expired at 1970-01-01T00:00:10Z (12 min ago); \
             get a fresh token and try again"
        );
        assert_eq!(Claims::parse("abc"), Err(TokenError::NotJwt));
    }
}
