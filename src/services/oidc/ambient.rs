//! Ambient token providers (CI): `SIGSTORE_ID_TOKEN` (also GitLab CI's `id_tokens`), GitHub
//! Actions, Buildkite, the filesystem token, and Google Compute Engine's metadata server. Each is
//! enabled by its environment; the first enabled one in [`ALL`] is used.
//!
//! cosign's `google-impersonate` and `spiffe` providers are known by name but not implemented:
//! naming one is an error that says so, and when the environment suggests one of them the automatic
//! selection warns before it goes on to the next source.
use super::error::OidcError;
use crate::services::http::error_chain;

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
    /// The Google Compute Engine metadata server's identity token for the default service account.
    GoogleWorkload,
}

/// Providers in the order they are tried.
pub const ALL: &[Provider] =
    &[Provider::EnvVar, Provider::GitHubActions, Provider::Buildkite, Provider::Filesystem, Provider::GoogleWorkload];

/// cosign's provider names that this implementation does not provide, with what to do instead.
pub const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "google-impersonate",
        "mint the token with `gcloud auth print-identity-token --impersonate-service-account=SA \
         --audiences=sigstore --include-email` and pass it in SIGSTORE_ID_TOKEN",
    ),
    (
        "spiffe",
        "fetch a JWT-SVID for the audience `sigstore` (e.g. `spire-agent api fetch jwt -audience sigstore`) \
         and pass it in SIGSTORE_ID_TOKEN",
    ),
];

/// The metadata server's address when `GCE_METADATA_HOST` is unset (as Google's client libraries).
pub const GCE_METADATA_DEFAULT_HOST: &str = "169.254.169.254";

/// How long the metadata server may take: it is a link-local service that answers in
/// milliseconds, and where it does not answer at all the login must go on without a long wait.
pub const GCE_METADATA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Buildkite's agent API when `BUILDKITE_AGENT_ENDPOINT` is unset (kept with the transport,
/// whose options must know every endpoint a client may be used for).
pub use crate::services::http::BUILDKITE_DEFAULT_ENDPOINT;

/// Where the filesystem provider reads.
pub const FILESYSTEM_TOKEN: &str = "/var/run/sigstore/cosign/oidc-token";

/// Look a provider up by its gitsign/cosign name.
pub fn by_name(name: &str) -> Option<Provider> {
    match name {
        "envvar" => Some(Provider::EnvVar),
        "github-actions" => Some(Provider::GitHubActions),
        "buildkite-agent" => Some(Provider::Buildkite),
        "filesystem" => Some(Provider::Filesystem),
        "google-workload-identity" => Some(Provider::GoogleWorkload),
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
            Provider::GoogleWorkload => "google-workload-identity",
        }
    }

    /// Where its tokens come from, as a phrase for messages (`from SIGSTORE_ID_TOKEN`).
    pub fn origin(self) -> &'static str {
        match self {
            Provider::EnvVar => "from SIGSTORE_ID_TOKEN",
            Provider::GitHubActions => "from GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL)",
            Provider::Buildkite => "from the Buildkite agent (BUILDKITE_AGENT_ACCESS_TOKEN)",
            Provider::Filesystem => "from the file /var/run/sigstore/cosign/oidc-token",
            Provider::GoogleWorkload => "from the Google Compute Engine metadata server",
        }
    }

    /// Whether a failure of this provider during the automatic selection only means "not here"
    /// (cosign enables the Google provider only when a probe fetch succeeds).
    pub fn failure_means_absent(self) -> bool {
        self == Provider::GoogleWorkload
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
            Provider::GoogleWorkload => {
                let host = std::env::var("GCE_METADATA_HOST").ok().filter(|h| !h.is_empty());
                if host.is_none() && !dmi_says_google() {
                    return Ok(None);
                }
                let host = host.as_deref().unwrap_or(GCE_METADATA_DEFAULT_HOST);
                gce_identity(host, audience, http).map(Some)
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

/// Google's client libraries take a DMI product name that mentions Google as the sign of a GCE VM.
fn dmi_says_google() -> bool {
    std::fs::read_to_string("/sys/class/dmi/id/product_name").is_ok_and(|n| n.contains("Google"))
}

/// `GET http://{host}/computeMetadata/v1/instance/service-accounts/default/identity` with the
/// audience and `format=full`, header `Metadata-Flavor: Google`; the answer is the JWT itself.
fn gce_identity(host: &str, audience: &str, http: &reqwest::blocking::Client) -> Result<String, OidcError> {
    let fail = |reason: String| OidcError::Provider { provider: "google-workload-identity", reason };
    let url = format!(
        "http://{host}/computeMetadata/v1/instance/service-accounts/default/identity?{}",
        super::flow::form_encode(&[("audience", audience), ("format", "full")])
    );
    let resp = http
        .get(&url)
        .header("Metadata-Flavor", "Google")
        .timeout(GCE_METADATA_TIMEOUT)
        .send()
        .map_err(|e| fail(format!("the metadata server {url}: {}", error_chain(&e))))?;
    if !resp.status().is_success() {
        return Err(fail(format!("GET {url} answered HTTP {}", resp.status().as_u16())));
    }
    let body = resp.text().map_err(|e| fail(format!("reading {url}: {}", error_chain(&e))))?;
    let token = body.trim();
    if token.split('.').count() != 3 {
        return Err(fail(format!("GET {url} did not answer with a JWT")));
    }
    Ok(token.to_string())
}

/// What the environment says about providers this implementation does not have, as warnings for
/// the automatic selection.
pub fn unsupported_hints() -> Vec<String> {
    let mut hints = Vec::new();
    let mut hint = |name: &str, why: &str| {
        if let Some((_, todo)) = UNSUPPORTED.iter().find(|(n, _)| *n == name) {
            hints.push(format!("{why}, but the {name} token provider is not supported here; {todo}"));
        }
    };
    if std::env::var_os("GOOGLE_SERVICE_ACCOUNT_NAME").is_some_and(|v| !v.is_empty()) {
        hint("google-impersonate", "GOOGLE_SERVICE_ACCOUNT_NAME is set");
    }
    if std::env::var_os("SPIFFE_ENDPOINT_SOCKET").is_some_and(|v| !v.is_empty()) {
        hint("spiffe", "SPIFFE_ENDPOINT_SOCKET is set");
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unsupported_are_not_providers() {
        for p in ALL {
            assert_eq!(by_name(p.name()), Some(*p));
        }
        for (name, _) in UNSUPPORTED {
            assert_eq!(by_name(name), None);
        }
    }
}
