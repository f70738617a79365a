//! Ambient token providers (CI): `SIGSTORE_ID_TOKEN`, GitHub Actions, the filesystem token.
use super::OidcError;
use crate::http::error_chain;

/// An ambient provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// `SIGSTORE_ID_TOKEN` (GitLab `id_tokens`, or any static token).
    EnvVar,
    /// GitHub Actions' OIDC token endpoint.
    GitHubActions,
    /// `/var/run/sigstore/cosign/oidc-token`.
    Filesystem,
}

/// Providers in the order they are tried.
pub const ALL: &[Provider] = &[Provider::EnvVar, Provider::GitHubActions, Provider::Filesystem];

/// Where the filesystem provider reads.
pub const FILESYSTEM_TOKEN: &str = "/var/run/sigstore/cosign/oidc-token";

/// Look a provider up by its gitsign/cosign name.
pub fn by_name(name: &str) -> Option<Provider> {
    match name {
        "envvar" => Some(Provider::EnvVar),
        "github-actions" => Some(Provider::GitHubActions),
        "filesystem" => Some(Provider::Filesystem),
        _ => None,
    }
}

impl Provider {
    /// The provider's name.
    pub fn name(self) -> &'static str {
        match self {
            Provider::EnvVar => "envvar",
            Provider::GitHubActions => "github-actions",
            Provider::Filesystem => "filesystem",
        }
    }

    /// A token, `None` when this provider is not enabled here.
    pub fn fetch(self, audience: &str, http: &reqwest::blocking::Client) -> Result<Option<String>, OidcError> {
        match self {
            Provider::EnvVar => Ok(std::env::var("SIGSTORE_ID_TOKEN").ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty())),
            Provider::Filesystem => match std::fs::read_to_string(FILESYSTEM_TOKEN) {
                Ok(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_string())),
                _ => Ok(None),
            },
            Provider::GitHubActions => {
                let (Ok(tok), Ok(url)) =
                    (std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"), std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL"))
                else {
                    return Ok(None);
                };
                github_actions(&url, &tok, audience, http).map(Some)
            }
        }
    }
}

fn github_actions(url: &str, bearer: &str, audience: &str, http: &reqwest::blocking::Client) -> Result<String, OidcError> {
    #[derive(serde::Deserialize)]
    struct Resp {
        value: String,
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}audience={audience}");
    let mut last = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        match http.get(&full).header("Authorization", format!("bearer {bearer}")).send() {
            Ok(r) if r.status().is_success() => match r.json::<Resp>() {
                Ok(v) => return Ok(v.value),
                Err(e) => last = format!("malformed answer: {e}"),
            },
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            Err(e) => last = error_chain(&e),
        }
    }
    Err(OidcError::Provider { provider: "github-actions", reason: last })
}
