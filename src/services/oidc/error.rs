//! What can go wrong obtaining an ID token, in words that say what to do.
use super::token::TokenError;
use super::{jwt, opener};

/// Environment variable overriding the browser login's wait for the callback (whole seconds,
/// 1..=3600; see [`super::browser`]).
pub const TIMEOUT_ENV: &str = "GITSIGN_OIDC_TIMEOUT";

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
        env = TIMEOUT_ENV
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
        env = TIMEOUT_ENV
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
