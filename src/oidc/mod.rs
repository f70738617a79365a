//! Obtaining an OIDC ID token for Fulcio: ambient CI tokens now; browser and device flows
//! come in [`ambient`]'s siblings.
pub mod ambient;
pub mod token;

pub use token::{Claims, TokenError};

use crate::config::Config;

/// Errors obtaining a token.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// No provider could give a token.
    #[error(
        "no OIDC identity token is available: set SIGSTORE_ID_TOKEN to an ID token for audience '{audience}' \
         (for the local stack: export SIGSTORE_ID_TOKEN=\"$(gitsign-sandbox token --dir DIR)\"), \
         or run in a CI system that provides one; the interactive browser login is not available in this build"
    )]
    NoToken {
        /// The audience a token needs.
        audience: String,
    },
    /// The configured provider is unknown.
    #[error("unknown token provider {0:?} (known: envvar, github-actions, filesystem, interactive)")]
    UnknownProvider(String),
    /// A provider failed.
    #[error("the {provider} token provider failed: {reason}")]
    Provider {
        /// Provider name.
        provider: &'static str,
        /// What happened.
        reason: String,
    },
    /// The token is unusable.
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Get a raw ID token according to the configuration (gitsign's order, made explicit:
/// `SIGSTORE_ID_TOKEN`, GitHub Actions, the filesystem token).
pub fn get_token(cfg: &Config, http: &reqwest::blocking::Client) -> Result<String, OidcError> {
    let provider = cfg.token_provider.as_deref().unwrap_or("");
    match provider {
        "" | "interactive" => {}
        name => {
            let p = ambient::by_name(name).ok_or_else(|| OidcError::UnknownProvider(name.to_string()))?;
            return p
                .fetch(&cfg.client_id, http)?
                .ok_or(OidcError::NoToken { audience: cfg.client_id.clone() });
        }
    }
    for p in ambient::ALL {
        if let Some(tok) = p.fetch(&cfg.client_id, http)? {
            return Ok(tok);
        }
    }
    Err(OidcError::NoToken { audience: cfg.client_id.clone() })
}
