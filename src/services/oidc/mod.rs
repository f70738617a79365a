//! Obtaining an OIDC ID token for Fulcio: ambient CI tokens, the interactive browser login,
//! and the device flow.
//!
//! Which source is used ([`get_token`], gitsign's rules with the order made explicit):
//! 1. `gitsign.tokenProvider` unset: the ambient providers, in this order, the first that is
//!    enabled wins: `SIGSTORE_ID_TOKEN` (`envvar`; also GitLab CI's `id_tokens`), GitHub
//!    Actions (`github-actions`), Buildkite (`buildkite-agent`), the token file
//!    (`filesystem`), Google Compute Engine's metadata server (`google-workload-identity`).
//!    None enabled: the browser login.
//! 2. `device`: the device flow ([`device`]).
//! 3. `interactive`: the browser login ([`browser`]), without trying ambient providers.
//! 4. Any other ambient provider's name: that provider only; an unknown name is an error, and so
//!    is one of cosign's providers that is not implemented here (`google-impersonate`, `spiffe`).
//!
//! Ambient tokens are passed on unverified (Fulcio verifies them); tokens from the browser
//! and device flows are verified here against the issuer's keys ([`jwt`]) before use.
pub mod ambient;
pub mod browser;
pub mod device;
pub mod flow;
pub mod jwt;
pub mod opener;
pub mod token;

pub use token::{Claims, TokenError};

use crate::app::config::Config;

/// What to do when a login needs a terminal and gitsign has none (under git without a
/// terminal, or in a script): shared by every such error so they all say the same.
pub const NO_TERMINAL_REMEDY: &str = "run the command from a terminal (where the login can show its \
     link and read a code), or provide an ID token in SIGSTORE_ID_TOKEN";

/// Errors obtaining a token.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// No provider could give a token.
    #[error(
        "no OIDC identity token is available from the {provider} provider: set SIGSTORE_ID_TOKEN to an ID token \
         for audience '{audience}', or unset gitsign.tokenProvider to log in with a browser"
    )]
    NoToken {
        /// The provider asked.
        provider: &'static str,
        /// The audience a token needs.
        audience: String,
    },
    /// The configured provider is unknown.
    #[error(
        "unknown token provider {0:?} in gitsign.tokenProvider / GITSIGN_TOKEN_PROVIDER \
         (known: interactive, device, envvar, github-actions, buildkite-agent, filesystem, \
         google-workload-identity)"
    )]
    UnknownProvider(String),
    /// The configured provider is one of cosign's that this implementation does not have.
    #[error(
        "the {name} token provider (gitsign.tokenProvider / GITSIGN_TOKEN_PROVIDER) is not supported by this gitsign; {todo}"
    )]
    UnsupportedProvider {
        /// Provider name.
        name: &'static str,
        /// What to do instead.
        todo: &'static str,
    },
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
    /// The issuer cannot be discovered or its keys fetched.
    #[error(
        "cannot use the OIDC issuer {issuer}: {reason}; check gitsign.issuer / GITSIGN_OIDC_ISSUER and the network"
    )]
    Discovery {
        /// The configured issuer.
        issuer: String,
        /// What failed.
        reason: String,
    },
    /// The discovery document (or a callback's `iss`) names another issuer.
    #[error(
        "the OIDC issuer configured as {configured:?} identifies itself as {discovered:?}; \
         refusing to log in (set gitsign.issuer to the exact issuer URL)"
    )]
    IssuerMismatch {
        /// Configured issuer.
        configured: String,
        /// What the provider says.
        discovered: String,
    },
    /// The issuer does not offer PKCE S256.
    #[error(
        "the OIDC issuer {issuer} does not offer PKCE with S256 (code_challenge_methods_supported), which gitsign requires"
    )]
    NoPkce {
        /// The issuer.
        issuer: String,
    },
    /// No randomness.
    #[error("cannot get random bytes from the system: {0}")]
    Random(String),
    /// The client secret file is unusable.
    #[error("cannot read the client secret file {path} (gitsign.clientSecretFile): {reason}")]
    ClientSecret {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
    /// A setting has a bad value.
    #[error("invalid value {value:?} for {key}: expected {expected}")]
    BadSetting {
        /// Key or variable.
        key: &'static str,
        /// The value.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// The URL opener setting is unusable.
    #[error(transparent)]
    Opener(#[from] opener::OpenerError),
    /// The redirect listener cannot be set up.
    #[error("cannot start the login redirect listener: {reason}")]
    Listener {
        /// What failed.
        reason: String,
    },
    /// The callback's state is not ours.
    #[error(
        "the login redirect carried a state that does not belong to this login (a stale or forged link); \
         nothing was signed, run the command again"
    )]
    StateMismatch,
    /// The identity provider reported an error (or the user refused).
    #[error("the identity provider refused the login: {error}{}", if description.is_empty() { String::new() } else { format!(": {description}") })]
    Denied {
        /// OAuth error code.
        error: String,
        /// Description.
        description: String,
    },
    /// The callback or code cannot be used.
    #[error("the login did not complete: {0}")]
    Callback(String),
    /// No callback in time and no terminal for the out-of-band code.
    #[error(
        "no login came back within {secs} s and there is no terminal to paste a code into; \
         {remedy}, or set {env} for a longer wait",
        remedy = NO_TERMINAL_REMEDY,
        env = browser::TIMEOUT_ENV
    )]
    Timeout {
        /// Seconds waited.
        secs: u64,
    },
    /// The browser could not be opened and there is no terminal.
    #[error(
        "cannot open a browser for the login and there is no terminal to paste a code into; \
         {remedy}, or set gitsign.urlOpener to a command that opens one",
        remedy = NO_TERMINAL_REMEDY
    )]
    NoBrowser,
    /// The out-of-band code was not entered in time.
    #[error(
        "no verification code was entered within {secs} s; run the command again and paste the code \
         sooner, set {env} for a longer wait, or provide an ID token in SIGSTORE_ID_TOKEN",
        env = browser::TIMEOUT_ENV
    )]
    CodeTimeout {
        /// Seconds waited.
        secs: u64,
    },
    /// The device flow has no terminal to show its code on.
    #[error(
        "the device login needs a terminal to show its code and there is none (git shows gitsign's \
         messages only after it ends); {remedy}",
        remedy = NO_TERMINAL_REMEDY
    )]
    DeviceNoTerminal,
    /// The token endpoint failed.
    #[error("the code exchange with the identity provider failed: {reason}")]
    Exchange {
        /// What happened.
        reason: String,
    },
    /// The ID token did not verify.
    #[error("the identity provider's ID token was refused: {0}")]
    Verify(#[from] jwt::VerifyError),
    /// The device flow cannot run.
    #[error("device login failed: {reason}")]
    Device {
        /// What happened.
        reason: String,
    },
    /// The device code expired before approval.
    #[error("the device code expired before the login was approved; run the command again and approve sooner")]
    DeviceExpired,
}

/// A raw ID token and where it came from.
#[derive(Clone)]
pub struct IdToken {
    /// The compact JWT.
    pub raw: String,
    /// Its source as a phrase for messages: `from SIGSTORE_ID_TOKEN`, `from the browser login`.
    pub origin: &'static str,
}

impl std::fmt::Debug for IdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdToken").field("origin", &self.origin).finish_non_exhaustive()
    }
}

/// Get a raw ID token according to the configuration (see the module documentation for
/// the order).
pub fn get_token(cfg: &Config, http: &reqwest::blocking::Client) -> Result<IdToken, OidcError> {
    let browser = |raw: String| IdToken { raw, origin: "from the browser login" };
    match cfg.token_provider.as_deref().unwrap_or("") {
        "" => {
            for p in ambient::ALL {
                match p.fetch(&cfg.client_id, http) {
                    Ok(Some(raw)) => return Ok(IdToken { raw, origin: p.origin() }),
                    Ok(None) => {}
                    Err(e) if p.failure_means_absent() => {
                        crate::app::runlog::debug(&format!("{e}; trying the next token source"));
                    }
                    Err(e) => return Err(e),
                }
            }
            for hint in ambient::unsupported_hints() {
                eprintln!("gitsign: warning: {hint}");
            }
            browser::login(cfg, http).map(browser)
        }
        "interactive" => browser::login(cfg, http).map(browser),
        "device" => device::login(cfg, http).map(|raw| IdToken { raw, origin: "from the device login" }),
        name => {
            if let Some(&(name, todo)) = ambient::UNSUPPORTED.iter().find(|(n, _)| *n == name) {
                return Err(OidcError::UnsupportedProvider { name, todo });
            }
            let p = ambient::by_name(name).ok_or_else(|| OidcError::UnknownProvider(name.to_string()))?;
            let raw = p
                .fetch(&cfg.client_id, http)?
                .ok_or(OidcError::NoToken { provider: p.name(), audience: cfg.client_id.clone() })?;
            Ok(IdToken { raw, origin: p.origin() })
        }
    }
}
