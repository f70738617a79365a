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
pub mod error;
pub mod flow;
pub mod jwt;
pub mod opener;
pub mod source;
pub mod token;

pub use error::{NO_TERMINAL_REMEDY, OidcError};
pub use source::{IdToken, get_token};
pub use token::{Claims, TokenError};
