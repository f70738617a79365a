//! Ambient token providers (CI): `SIGSTORE_ID_TOKEN` (also GitLab CI's `id_tokens`), GitHub
//! Actions, Buildkite, the filesystem token. Each is enabled by its environment; the first
//! enabled one in [`ALL`] is used.
use super::OidcError;
use crate::http::error_chain;

/// An ambient provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// `SIGSTORE_ID_TOKEN` (GitLab `id_tokens`, or any static token).
    EnvVar,
    /// GitHub Actions' OIDC token endpoint.
    GitHubActions,
    /// The Buildkite agent's OIDC token API (`BUILDKITE_AGENT_ACCESS_TOKEN`).
    Buildkite,
    /// `/var/run/sigstore/cosign/oidc-token`.
    Filesystem,
}

/// Providers in the order they are tried.
pub const ALL: &[Provider] = &[Provider::EnvVar, Provider::GitHubActions, Provider::Buildkite, Provider::Filesystem];

/// Buildkite's agent API when `BUILDKITE_AGENT_ENDPOINT` is unset.
pub const BUILDKITE_DEFAULT_ENDPOINT: &str = "https://agent.buildkite.com/v3";

/// Where the filesystem provider reads.
pub const FILESYSTEM_TOKEN: &str = "/var/run/sigstore/cosign/oidc-token";

/// Look a provider up by its gitsign/cosign name.
pub fn by_name(name: &str) -> Option<Provider> {
    match name {
        "envvar" => Some(Provider::EnvVar),
        "github-actions" => Some(Provider::GitHubActions),
        "buildkite-agent" => Some(Provider::Buildkite),
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
            Provider::Buildkite => "buildkite-agent",
            Provider::Filesystem => "filesystem",
        }
    }

    /// A token, `None` when this provider is not enabled here.
    pub fn fetch(self, audience: &str, http: &reqwest::blocking::Client) -> Result<Option<String>, OidcError> {
        match self {
            Provider::EnvVar => {
                Ok(std::env::var("SIGSTORE_ID_TOKEN").ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()))
            }
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
            Provider::Buildkite => {
                let Some(tok) = std::env::var("BUILDKITE_AGENT_ACCESS_TOKEN").ok().filter(|t| !t.is_empty()) else {
                    return Ok(None);
                };
                let endpoint = std::env::var("BUILDKITE_AGENT_ENDPOINT")
                    .ok()
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| BUILDKITE_DEFAULT_ENDPOINT.to_string());
                let job =
                    std::env::var("BUILDKITE_JOB_ID").ok().filter(|j| !j.is_empty()).ok_or(OidcError::Provider {
                        provider: "buildkite-agent",
                        reason: "BUILDKITE_AGENT_ACCESS_TOKEN is set but BUILDKITE_JOB_ID is not".into(),
                    })?;
                buildkite(&endpoint, &job, &tok, audience, http).map(Some)
            }
        }
    }
}

fn github_actions(
    url: &str,
    bearer: &str,
    audience: &str,
    http: &reqwest::blocking::Client,
) -> Result<String, OidcError> {
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

/// `POST {endpoint}/jobs/{job}/oidc/tokens` with `Authorization: Token …` and
/// `{"audience": …}`; the answer is `{"token": JWT}` (what `buildkite-agent oidc
/// request-token` does).
fn buildkite(
    endpoint: &str,
    job: &str,
    agent_token: &str,
    audience: &str,
    http: &reqwest::blocking::Client,
) -> Result<String, OidcError> {
    #[derive(serde::Deserialize)]
    struct Resp {
        token: String,
    }
    let url = format!("{}/jobs/{job}/oidc/tokens", endpoint.trim_end_matches('/'));
    let fail = |reason: String| OidcError::Provider { provider: "buildkite-agent", reason };
    let resp = http
        .post(&url)
        .header("Authorization", format!("Token {agent_token}"))
        .header("Content-Type", "application/json")
        .body(serde_json::json!({ "audience": audience }).to_string())
        .send()
        .map_err(|e| fail(error_chain(&e)))?;
    if !resp.status().is_success() {
        return Err(fail(format!("POST {url} answered HTTP {}", resp.status().as_u16())));
    }
    resp.json::<Resp>().map(|r| r.token).map_err(|e| fail(format!("malformed answer: {e}")))
}
