//! gitsign configuration: git config (`gitsign.*`, `user.*`) overlaid by environment variables.
//!
//! Precedence, as in gitsign: `GITSIGN_*` > `SIGSTORE_*` > git config > default. Git config
//! keys compare case-insensitively and the last occurrence wins. Loading is split into a pure
//! [`Config::from_sources`] and the I/O in [`Config::load`]. Every service URL is checked
//! there ([`url_problem`]), before anything logs in, and every problem found is reported
//! ([`ConfigError::Several`]), not only the first.
use crate::services::http::HttpOptions;
use std::collections::HashMap;
use std::time::Duration;

/// Production Fulcio.
pub const DEFAULT_FULCIO: &str = "https://fulcio.sigstore.dev";
/// Production Rekor.
pub const DEFAULT_REKOR: &str = "https://rekor.sigstore.dev";
/// Production OIDC issuer (Dex).
pub const DEFAULT_ISSUER: &str = "https://oauth2.sigstore.dev/auth";
/// Default OIDC client id (and token audience).
pub const DEFAULT_CLIENT_ID: &str = "sigstore";

/// One configuration setting as users see it: the git config key, the environment variables
/// that override it (highest precedence first), the default and a one-line meaning. The man
/// page's CONFIGURATION section is generated from [`SETTINGS`]; a test checks that every key
/// and variable [`Config::from_sources`] reads is listed, and that each listed one takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The git config key (`gitsign.*`), if the setting has one.
    pub git_key: Option<&'static str>,
    /// Environment variables, highest precedence first.
    pub env: &'static [&'static str],
    /// The value used when nothing is set.
    pub default: &'static str,
    /// What it does.
    pub about: &'static str,
}

const fn setting(
    git_key: Option<&'static str>,
    env: &'static [&'static str],
    default: &'static str,
    about: &'static str,
) -> Setting {
    Setting { git_key, env, default, about }
}

/// Every setting [`Config`] reads, in the order of the README's table.
pub const SETTINGS: &[Setting] = &[
    setting(
        Some("gitsign.fulcio"),
        &["GITSIGN_FULCIO_URL", "SIGSTORE_FULCIO_URL"],
        DEFAULT_FULCIO,
        "Fulcio (certificate authority) URL",
    ),
    setting(
        Some("gitsign.fulcioRoot"),
        &["GITSIGN_FULCIO_ROOT", "SIGSTORE_FULCIO_ROOT", "SIGSTORE_ROOT_FILE"],
        "(the trusted root's CAs)",
        "PEM file of Fulcio root and intermediate certificates to trust",
    ),
    setting(
        Some("gitsign.rekor"),
        &["GITSIGN_REKOR_URL", "SIGSTORE_REKOR_URL"],
        DEFAULT_REKOR,
        "Rekor (transparency log) URL",
    ),
    setting(
        Some("gitsign.rekorMode"),
        &["GITSIGN_REKOR_MODE"],
        "offline",
        "offline: the log entry is embedded in the signature; online: gitsign's legacy layout, looked up in Rekor",
    ),
    setting(
        Some("gitsign.clientID"),
        &["GITSIGN_OIDC_CLIENT_ID", "SIGSTORE_OIDC_CLIENT_ID"],
        DEFAULT_CLIENT_ID,
        "OIDC client id (and token audience)",
    ),
    setting(
        Some("gitsign.clientSecretFile"),
        &["GITSIGN_OIDC_CLIENT_SECRET_FILE", "SIGSTORE_OIDC_CLIENT_SECRET_FILE"],
        "(none)",
        "File holding the OIDC client secret",
    ),
    setting(
        Some("gitsign.redirectURL"),
        &["GITSIGN_OIDC_REDIRECT_URL", "SIGSTORE_OIDC_REDIRECT_URL"],
        "(a loopback port)",
        "OIDC redirect URL for the browser login",
    ),
    setting(
        Some("gitsign.issuer"),
        &["GITSIGN_OIDC_ISSUER", "SIGSTORE_OIDC_ISSUER"],
        DEFAULT_ISSUER,
        "OIDC issuer to log in with",
    ),
    setting(
        Some("gitsign.connectorID"),
        &["GITSIGN_CONNECTOR_ID", "SIGSTORE_CONNECTOR_ID"],
        "(none)",
        "Dex connector to skip the provider choice",
    ),
    setting(
        Some("gitsign.tokenProvider"),
        &["GITSIGN_TOKEN_PROVIDER", "SIGSTORE_TOKEN_PROVIDER"],
        "(detected)",
        "Ambient token provider to use (for CI)",
    ),
    setting(
        Some("gitsign.timestampServerURL"),
        &["GITSIGN_TIMESTAMP_SERVER_URL", "SIGSTORE_TIMESTAMP_SERVER_URL"],
        "(none)",
        "RFC 3161 timestamp authority to timestamp signatures with",
    ),
    setting(
        Some("gitsign.timestampCertChain"),
        &["GITSIGN_TIMESTAMP_CERT_CHAIN", "SIGSTORE_TIMESTAMP_CERT_CHAIN"],
        "(none)",
        "PEM certificate chain of the timestamp authority (then the only one trusted)",
    ),
    setting(Some("gitsign.logPath"), &["GITSIGN_LOG"], "(none)", "Debug log file, truncated on every run"),
    setting(
        Some("gitsign.matchCommitter"),
        &[],
        "false",
        "At signing, require the certificate email to be the committer's",
    ),
    setting(
        Some("gitsign.autoclose"),
        &["GITSIGN_AUTOCLOSE", "SIGSTORE_AUTOCLOSE"],
        "true",
        "Close the browser tab after login",
    ),
    setting(
        Some("gitsign.autocloseTimeout"),
        &["GITSIGN_AUTOCLOSE_TIMEOUT", "SIGSTORE_AUTOCLOSE_TIMEOUT"],
        "6",
        "Seconds before the login tab closes",
    ),
    setting(
        Some("gitsign.urlOpener"),
        &["GITSIGN_URL_OPENER"],
        "(the desktop's opener)",
        "Command that opens the login URL",
    ),
    setting(None, &["GITSIGN_CREDENTIAL_CACHE"], "(none)", "Socket of the gitsign-credential-cache daemon"),
    setting(
        Some("gitsign.credentialCacheMode"),
        &["GITSIGN_CREDENTIAL_CACHE_MODE"],
        "(no cache)",
        "Credential cache: socket, system, secret-service or keyutils",
    ),
    setting(
        Some("gitsign.trustedRoot"),
        &["GITSIGN_TRUSTED_ROOT", "SIGSTORE_TRUSTED_ROOT"],
        "(the TUF cache, else the embedded production root)",
        "Sigstore trusted_root.json for signing and verifying",
    ),
    setting(
        None,
        &["SIGSTORE_REKOR_PUBLIC_KEY"],
        "(the trusted root's logs)",
        "PEM file of an extra Rekor public key to trust",
    ),
    setting(
        Some("gitsign.caBundle"),
        &["GITSIGN_CA_BUNDLE", "SIGSTORE_CA_BUNDLE"],
        "(the system's CAs)",
        "Extra CA bundle for HTTPS to the services",
    ),
    setting(Some("gitsign.httpTimeout"), &["GITSIGN_HTTP_TIMEOUT"], "30", "Whole-request HTTP timeout, in seconds"),
    setting(Some("gitsign.connectTimeout"), &["GITSIGN_CONNECT_TIMEOUT"], "10", "TCP/TLS connect timeout, in seconds"),
    setting(
        Some("gitsign.rekorLookupTimeout"),
        &["GITSIGN_REKOR_LOOKUP_TIMEOUT"],
        "60",
        "Total time for the Rekor lookup of one online-mode signature, in seconds",
    ),
    setting(
        Some("gitsign.allowedSignersFile"),
        &["GITSIGN_ALLOWED_SIGNERS"],
        "(none: any valid signer)",
        "File of rules saying whose signatures git trusts (%G? G) and `gitsign verify` accepts",
    ),
    setting(
        Some("gitsign.verify.certificateIdentity"),
        &[],
        "(none)",
        "Single-signer policy: the identity git trusts, exactly (with an issuer key)",
    ),
    setting(
        Some("gitsign.verify.certificateIdentityRegexp"),
        &[],
        "(none)",
        "Single-signer policy: an anchored regular expression for the identity",
    ),
    setting(
        Some("gitsign.verify.certificateOidcIssuer"),
        &[],
        "(none)",
        "Single-signer policy: the OIDC issuer git trusts, exactly",
    ),
    setting(
        Some("gitsign.verify.certificateOidcIssuerRegexp"),
        &[],
        "(none)",
        "Single-signer policy: an anchored regular expression for the OIDC issuer",
    ),
];

/// Environment variables read outside [`Config`]: name, default, meaning.
pub const OTHER_ENVIRONMENT: &[(&str, &str, &str)] = &[
    ("SIGSTORE_ID_TOKEN", "(none)", "An OIDC ID token to sign with instead of logging in"),
    ("GITSIGN_LOG_LEVEL", "info", "Debug log verbosity: error, warn, info, debug or trace (else RUST_LOG)"),
    ("GITSIGN_OIDC_TIMEOUT", "120", "Seconds to wait for the browser login"),
    ("GITSIGN_GIT_CONFIG", "(unset)", "process: read git config through `git config` instead of in-process"),
    ("TUF_ROOT", "~/.sigstore/root", "Directory of the TUF cache written by `gitsign initialize`"),
    ("TUF_MIRROR", "(the one `gitsign initialize` used)", "TUF mirror for trusted root updates"),
];

/// Rekor mode: where the log entry lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekorMode {
    /// The entry is embedded in the signature (our default): verifiable offline.
    Offline,
    /// gitsign's legacy layout: the entry is over the object id and lives only in the log.
    Online,
}

/// Where the credential cache lives (`gitsign.credentialCacheMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialCacheMode {
    /// The `gitsign-credential-cache` daemon behind a Unix socket.
    Socket,
    /// The OS keyring: the Secret Service when a session bus offers one, else kernel keyutils.
    System,
    /// The OS keyring, forced to the Secret Service (D-Bus `org.freedesktop.secrets`).
    SecretService,
    /// The OS keyring, forced to the kernel keyutils keyring (Linux).
    Keyutils,
}

impl CredentialCacheMode {
    /// The setting's value for this mode.
    pub fn name(self) -> &'static str {
        match self {
            CredentialCacheMode::Socket => "socket",
            CredentialCacheMode::System => "system",
            CredentialCacheMode::SecretService => "secret-service",
            CredentialCacheMode::Keyutils => "keyutils",
        }
    }
}

/// Configuration errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A value that is not allowed.
    #[error("invalid value \"{value}\" for {key}: {expected}")]
    Invalid {
        /// The key or variable.
        key: String,
        /// The value.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A service URL that cannot be used (found at start-up, before any login).
    #[error("the {setting} \"{value}\" (from {origin}) cannot be used: {reason}; give a full URL such as {example}")]
    BadUrl {
        /// What the URL is for: `Fulcio URL`, `OIDC redirect URL`.
        setting: &'static str,
        /// Where it was set: the variable, or `git config gitsign.fulcio`.
        origin: String,
        /// The value.
        value: String,
        /// What is wrong with it.
        reason: String,
        /// A valid example.
        example: &'static str,
    },
    /// `git config` could not be run.
    #[error("cannot read git config: {0}")]
    Git(String),
    /// More than one problem: each is reported.
    #[error("{} configuration problems:\n  - {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  - "))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    /// Each problem on its own ([`ConfigError::Several`] opened up).
    pub fn problems(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Several(all) => all.iter().flat_map(ConfigError::problems).collect(),
            one => vec![one],
        }
    }
}

/// Why `value` cannot be a service URL, or `None` if it can: absolute, `http` or `https`,
/// with a host. With `redirect`, only `http` (gitsign serves the login redirect itself).
pub fn url_problem(value: &str, redirect: bool) -> Option<String> {
    let url = match reqwest::Url::parse(value.trim()) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Some("it is not an absolute URL (it lacks the http:// or https:// part)".into());
        }
        Err(e) => return Some(format!("it is not a valid URL ({e})")),
    };
    match (url.scheme(), redirect) {
        ("http", _) | ("https", false) => {}
        ("https", true) => {
            return Some(
                "the login redirect is served by gitsign itself over plain http, so it must be http://".into(),
            );
        }
        (other, _) => return Some(format!("its scheme is {other}:, not http: or https:")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Some("it has no host name".into());
    }
    None
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Fulcio URL.
    pub fulcio: String,
    /// PEM file of Fulcio roots/intermediates (gitsign.fulcioRoot).
    pub fulcio_root: Option<String>,
    /// Rekor URL.
    pub rekor: String,
    /// Rekor mode.
    pub rekor_mode: RekorMode,
    /// OIDC client id.
    pub client_id: String,
    /// OIDC client secret file.
    pub client_secret_file: Option<String>,
    /// OIDC redirect URL.
    pub redirect_url: Option<String>,
    /// OIDC issuer.
    pub issuer: String,
    /// Dex connector id.
    pub connector_id: Option<String>,
    /// Token provider name.
    pub token_provider: Option<String>,
    /// RFC 3161 timestamp server.
    pub timestamp_server_url: Option<String>,
    /// TSA certificate chain file.
    pub timestamp_cert_chain: Option<String>,
    /// Tee stderr into this file.
    pub log_path: Option<String>,
    /// Sign-time committer match.
    pub match_committer: bool,
    /// Close the browser tab after login.
    pub autoclose: bool,
    /// Seconds before autoclose.
    pub autoclose_timeout: u32,
    /// Command used to open the login URL.
    pub url_opener: Option<String>,
    /// Credential cache socket.
    pub credential_cache: Option<String>,
    /// Credential cache back end (gitsign.credentialCacheMode / GITSIGN_CREDENTIAL_CACHE_MODE).
    pub credential_cache_mode: Option<CredentialCacheMode>,
    /// A trusted_root.json for verification (our addition: gitsign.trustedRoot).
    pub trusted_root: Option<String>,
    /// Rekor public key PEM file (SIGSTORE_REKOR_PUBLIC_KEY).
    pub rekor_public_key: Option<String>,
    /// Extra CA bundle for HTTPS to Fulcio/Rekor/the issuer (our addition: gitsign.caBundle).
    pub ca_bundle: Option<String>,
    /// user.name
    pub user_name: Option<String>,
    /// user.email
    pub user_email: Option<String>,
    /// Repository object format (extensions.objectformat), "sha1" when unset.
    pub object_format: String,
    /// Whole-request HTTP timeout in seconds (GITSIGN_HTTP_TIMEOUT / gitsign.httpTimeout);
    /// 30 s when unset.
    pub http_timeout: Option<u64>,
    /// TCP/TLS connect timeout in seconds (GITSIGN_CONNECT_TIMEOUT / gitsign.connectTimeout);
    /// 10 s when unset.
    pub connect_timeout: Option<u64>,
    /// Total time in seconds for the Rekor lookup of one online-mode signature, all requests
    /// together (GITSIGN_REKOR_LOOKUP_TIMEOUT / gitsign.rekorLookupTimeout); 60 s when unset.
    pub rekor_lookup_timeout: Option<u64>,
    /// The allowed-signers file (gitsign.allowedSignersFile / GITSIGN_ALLOWED_SIGNERS).
    pub allowed_signers: Option<String>,
    /// gitsign.verify.certificateIdentity
    pub verify_identity: Option<String>,
    /// gitsign.verify.certificateIdentityRegexp
    pub verify_identity_regexp: Option<String>,
    /// gitsign.verify.certificateOidcIssuer
    pub verify_issuer: Option<String>,
    /// gitsign.verify.certificateOidcIssuerRegexp
    pub verify_issuer_regexp: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            fulcio: DEFAULT_FULCIO.into(),
            fulcio_root: None,
            rekor: DEFAULT_REKOR.into(),
            rekor_mode: RekorMode::Offline,
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret_file: None,
            redirect_url: None,
            issuer: DEFAULT_ISSUER.into(),
            connector_id: None,
            token_provider: None,
            timestamp_server_url: None,
            timestamp_cert_chain: None,
            log_path: None,
            match_committer: false,
            autoclose: true,
            autoclose_timeout: 6,
            url_opener: None,
            credential_cache: None,
            credential_cache_mode: None,
            trusted_root: None,
            rekor_public_key: None,
            ca_bundle: None,
            user_name: None,
            user_email: None,
            object_format: "sha1".into(),
            http_timeout: None,
            connect_timeout: None,
            rekor_lookup_timeout: None,
            allowed_signers: None,
            verify_identity: None,
            verify_identity_regexp: None,
            verify_issuer: None,
            verify_issuer_regexp: None,
        }
    }
}

/// Names of the environment variables that may configure gitsign (for `--version`, which
/// prints names only, never values).
pub const ENV_PREFIXES: &[&str] = &["GITSIGN_", "SIGSTORE_", "TUF_"];

fn git_true(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1")
}

impl Config {
    /// The HTTP client options this configuration asks for: `gitsign.caBundle`, and the
    /// timeouts (`GITSIGN_HTTP_TIMEOUT` / `gitsign.httpTimeout`, `GITSIGN_CONNECT_TIMEOUT` /
    /// `gitsign.connectTimeout`, in seconds).
    pub fn http_options(&self) -> HttpOptions {
        HttpOptions {
            extra_ca_file: self.ca_bundle.clone(),
            timeout: self.http_timeout.map(Duration::from_secs),
            connect_timeout: self.connect_timeout.map(Duration::from_secs),
            // Every service the client may talk to: the configured ones and the ambient token
            // endpoints of CI systems.
            plain_http_only: [Some(self.fulcio.clone()), Some(self.rekor.clone()), Some(self.issuer.clone())]
                .into_iter()
                .chain([self.timestamp_server_url.clone()])
                .chain([std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL").ok()])
                .chain([std::env::var_os("BUILDKITE_AGENT_ACCESS_TOKEN").map(|_| {
                    std::env::var("BUILDKITE_AGENT_ENDPOINT")
                        .unwrap_or_else(|_| crate::services::http::BUILDKITE_DEFAULT_ENDPOINT.to_string())
                })])
                .flatten()
                .all(|u| u.starts_with("http://")),
        }
    }

    /// Build the configuration from `git config --get-regexp` pairs and an environment lookup.
    pub fn from_sources(git: &[(String, String)], env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut g: HashMap<String, String> = HashMap::new();
        for (k, v) in git {
            g.insert(k.to_ascii_lowercase(), v.clone());
        }
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        // GITSIGN_x > SIGSTORE_x > git key, with where the value came from.
        let both_from = |suffix: &str, key: &str| -> Option<(String, String)> {
            let gitsign = format!("GITSIGN_{suffix}");
            let sigstore = format!("SIGSTORE_{suffix}");
            nonempty(env(&gitsign))
                .map(|v| (v, gitsign))
                .or_else(|| nonempty(env(&sigstore)).map(|v| (v, sigstore)))
                .or_else(|| {
                    nonempty(g.get(&key.to_ascii_lowercase()).cloned()).map(|v| (v, format!("git config {key}")))
                })
        };
        let both = |suffix: &str, key: &str| both_from(suffix, key).map(|(v, _)| v);
        let mut errors: Vec<ConfigError> = Vec::new();
        // Every service URL is checked here, before anything logs in or connects.
        let url = |errors: &mut Vec<ConfigError>,
                   found: Option<(String, String)>,
                   setting: &'static str,
                   redirect: bool,
                   example: &'static str|
         -> Option<String> {
            let (value, origin) = found?;
            if let Some(reason) = url_problem(&value, redirect) {
                errors.push(ConfigError::BadUrl { setting, origin, value: value.clone(), reason, example });
            }
            Some(value)
        };
        let mut c = Config::default();
        if let Some(v) =
            url(&mut errors, both_from("FULCIO_URL", "gitsign.fulcio"), "Fulcio URL", false, DEFAULT_FULCIO)
        {
            c.fulcio = v;
        }
        c.fulcio_root = nonempty(env("GITSIGN_FULCIO_ROOT"))
            .or_else(|| nonempty(env("SIGSTORE_FULCIO_ROOT")))
            .or_else(|| nonempty(env("SIGSTORE_ROOT_FILE")))
            .or_else(|| nonempty(g.get("gitsign.fulcioroot").cloned()));
        if let Some(v) = url(&mut errors, both_from("REKOR_URL", "gitsign.rekor"), "Rekor URL", false, DEFAULT_REKOR) {
            c.rekor = v;
        }
        let mode = nonempty(env("GITSIGN_REKOR_MODE"))
            .map(|v| ("GITSIGN_REKOR_MODE", v))
            .or_else(|| nonempty(g.get("gitsign.rekormode").cloned()).map(|v| ("gitsign.rekorMode", v)));
        if let Some((key, v)) = mode {
            match v.to_ascii_lowercase().as_str() {
                "offline" => c.rekor_mode = RekorMode::Offline,
                "online" => c.rekor_mode = RekorMode::Online,
                _ => errors.push(ConfigError::Invalid { key: key.into(), value: v, expected: "'offline' or 'online'" }),
            }
        }
        if let Some(v) = both("OIDC_CLIENT_ID", "gitsign.clientid") {
            c.client_id = v;
        }
        c.client_secret_file = both("OIDC_CLIENT_SECRET_FILE", "gitsign.clientsecretfile");
        c.redirect_url = url(
            &mut errors,
            both_from("OIDC_REDIRECT_URL", "gitsign.redirectURL"),
            "OIDC redirect URL",
            true,
            "http://localhost:8080/auth/callback",
        );
        if let Some(v) =
            url(&mut errors, both_from("OIDC_ISSUER", "gitsign.issuer"), "OIDC issuer URL", false, DEFAULT_ISSUER)
        {
            c.issuer = v;
        }
        c.connector_id = both("CONNECTOR_ID", "gitsign.connectorid");
        c.token_provider = both("TOKEN_PROVIDER", "gitsign.tokenprovider");
        c.timestamp_server_url = url(
            &mut errors,
            both_from("TIMESTAMP_SERVER_URL", "gitsign.timestampServerURL"),
            "timestamp server URL",
            false,
            "https://timestamp.sigstore.dev/api/v1/timestamp",
        );
        // Read by the TUF client at run time (crate::trust::tuf); checked here with the others.
        url(
            &mut errors,
            nonempty(env("TUF_MIRROR")).map(|v| (v, "TUF_MIRROR".to_string())),
            "TUF mirror URL",
            false,
            crate::trust::tuf::DEFAULT_MIRROR,
        );
        c.timestamp_cert_chain = both("TIMESTAMP_CERT_CHAIN", "gitsign.timestampcertchain");
        c.log_path = nonempty(env("GITSIGN_LOG")).or_else(|| nonempty(g.get("gitsign.logpath").cloned()));
        c.match_committer = g.get("gitsign.matchcommitter").is_some_and(|v| git_true(v));
        if let Some(v) = nonempty(env("GITSIGN_AUTOCLOSE")).or_else(|| nonempty(env("SIGSTORE_AUTOCLOSE"))) {
            c.autoclose = v == "true";
        } else if let Some(v) = g.get("gitsign.autoclose") {
            c.autoclose = git_true(v);
        }
        if let Some(v) = both("AUTOCLOSE_TIMEOUT", "gitsign.autoclosetimeout") {
            match v.trim().parse::<i64>() {
                Ok(n) if n > 0 => c.autoclose_timeout = n.min(3600) as u32,
                _ => errors.push(ConfigError::Invalid {
                    key: "autocloseTimeout".into(),
                    value: v,
                    expected: "a positive number of seconds",
                }),
            }
        }
        c.url_opener = nonempty(env("GITSIGN_URL_OPENER")).or_else(|| nonempty(g.get("gitsign.urlopener").cloned()));
        c.credential_cache = nonempty(env("GITSIGN_CREDENTIAL_CACHE"));
        let cache_mode =
            nonempty(env("GITSIGN_CREDENTIAL_CACHE_MODE")).map(|v| ("GITSIGN_CREDENTIAL_CACHE_MODE", v)).or_else(
                || nonempty(g.get("gitsign.credentialcachemode").cloned()).map(|v| ("gitsign.credentialCacheMode", v)),
            );
        if let Some((key, v)) = cache_mode {
            c.credential_cache_mode = match v.trim().to_ascii_lowercase().as_str() {
                "socket" => Some(CredentialCacheMode::Socket),
                "system" => Some(CredentialCacheMode::System),
                "secret-service" => Some(CredentialCacheMode::SecretService),
                "keyutils" => Some(CredentialCacheMode::Keyutils),
                _ => {
                    errors.push(ConfigError::Invalid {
                        key: key.into(),
                        value: v,
                        expected: "'socket', 'system', 'secret-service' or 'keyutils'",
                    });
                    None
                }
            };
        }
        c.trusted_root = both("TRUSTED_ROOT", "gitsign.trustedroot");
        c.rekor_public_key = nonempty(env("SIGSTORE_REKOR_PUBLIC_KEY"));
        c.ca_bundle = both("CA_BUNDLE", "gitsign.cabundle");
        c.user_name = nonempty(g.get("user.name").cloned());
        c.user_email = nonempty(g.get("user.email").cloned());
        let seconds = |env_key: &str, git_key: &str, shown: &str| -> Result<Option<u64>, ConfigError> {
            let Some(v) = nonempty(env(env_key)).or_else(|| nonempty(g.get(git_key).cloned())) else {
                return Ok(None);
            };
            match v.trim().parse::<u64>() {
                Ok(n) if (1..=3600).contains(&n) => Ok(Some(n)),
                _ => Err(ConfigError::Invalid {
                    key: shown.into(),
                    value: v,
                    expected: "a whole number of seconds from 1 to 3600",
                }),
            }
        };
        match seconds("GITSIGN_HTTP_TIMEOUT", "gitsign.httptimeout", "GITSIGN_HTTP_TIMEOUT / gitsign.httpTimeout") {
            Ok(v) => c.http_timeout = v,
            Err(e) => errors.push(e),
        }
        match seconds(
            "GITSIGN_CONNECT_TIMEOUT",
            "gitsign.connecttimeout",
            "GITSIGN_CONNECT_TIMEOUT / gitsign.connectTimeout",
        ) {
            Ok(v) => c.connect_timeout = v,
            Err(e) => errors.push(e),
        }
        match seconds(
            "GITSIGN_REKOR_LOOKUP_TIMEOUT",
            "gitsign.rekorlookuptimeout",
            "GITSIGN_REKOR_LOOKUP_TIMEOUT / gitsign.rekorLookupTimeout",
        ) {
            Ok(v) => c.rekor_lookup_timeout = v,
            Err(e) => errors.push(e),
        }
        c.allowed_signers =
            nonempty(env("GITSIGN_ALLOWED_SIGNERS")).or_else(|| nonempty(g.get("gitsign.allowedsignersfile").cloned()));
        c.verify_identity = nonempty(g.get("gitsign.verify.certificateidentity").cloned());
        c.verify_identity_regexp = nonempty(g.get("gitsign.verify.certificateidentityregexp").cloned());
        c.verify_issuer = nonempty(g.get("gitsign.verify.certificateoidcissuer").cloned());
        c.verify_issuer_regexp = nonempty(g.get("gitsign.verify.certificateoidcissuerregexp").cloned());
        if let Some(v) = nonempty(g.get("extensions.objectformat").cloned()) {
            c.object_format = v.to_ascii_lowercase();
        }
        match errors.len() {
            0 => Ok(c),
            1 => Err(errors.remove(0)),
            _ => Err(ConfigError::Several(errors)),
        }
    }

    /// Load from `git config --get-regexp '.*'` in the current directory and the process
    /// environment. Outside a repository (or without git) the git part is empty.
    pub fn load() -> Result<Config, ConfigError> {
        let pairs = git_config_in_process().map_or_else(|_| git_config_pairs(), Ok)?;
        Config::from_sources(&pairs, &|k| std::env::var(k).ok())
    }
}

/// Read git's configuration without a git process ([`crate::git::config`]), for the layouts that
/// reader models exactly; `GITSIGN_GIT_CONFIG=process` forces the `git config` path.
fn git_config_in_process() -> Result<Vec<(String, String)>, crate::git::config::Fallback> {
    if std::env::var_os("GITSIGN_GIT_CONFIG").is_some_and(|v| v == "process") {
        return Err(crate::git::config::Fallback("GITSIGN_GIT_CONFIG=process".into()));
    }
    let cwd = std::env::current_dir().map_err(|e| crate::git::config::Fallback(e.to_string()))?;
    let entries = crate::git::config::read(&|k| std::env::var(k).ok(), &cwd)?;
    Ok(entries.into_iter().map(|(k, v)| (k, v.unwrap_or_else(|| "true".to_string()))).collect())
}

/// Run `git config --get-regexp '.*'` (NUL-separated) and split it into pairs.
fn git_config_pairs() -> Result<Vec<(String, String)>, ConfigError> {
    let out = match std::process::Command::new("git")
        .args(["config", "--null", "--get-regexp", ".*"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
    {
        Ok(o) => o,
        // No git: nothing configured there.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ConfigError::Git(e.to_string())),
    };
    if !out.status.success() {
        if out.status.code() == Some(1) && out.stderr.is_empty() {
            return Ok(Vec::new());
        }
        return Err(ConfigError::Git(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(parse_null_config(&out.stdout))
}

/// Parse `git config --null --get-regexp` output: records `key\nvalue\0`.
pub fn parse_null_config(bytes: &[u8]) -> Vec<(String, String)> {
    bytes
        .split(|b| *b == 0)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let s = String::from_utf8_lossy(r);
            match s.split_once('\n') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (s.to_string(), "true".to_string()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(git: &[(&str, &str)], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let git: Vec<(String, String)> = git.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_sources(&git, &|k| env.get(k).cloned())
    }

    #[test]
    fn precedence_gitsign_over_sigstore_over_git() {
        let c = cfg(&[("gitsign.fulcio", "https://git")], &[]).unwrap();
        assert_eq!(c.fulcio, "https://git");
        let c = cfg(&[("gitsign.fulcio", "https://git")], &[("SIGSTORE_FULCIO_URL", "https://sig")]).unwrap();
        assert_eq!(c.fulcio, "https://sig");
        let c = cfg(
            &[("gitsign.fulcio", "https://git")],
            &[("SIGSTORE_FULCIO_URL", "https://sig"), ("GITSIGN_FULCIO_URL", "https://gs")],
        )
        .unwrap();
        assert_eq!(c.fulcio, "https://gs");
        assert_eq!(cfg(&[], &[]).unwrap(), Config::default());
    }

    #[test]
    fn keys_case_insensitive_last_wins_and_modes() {
        let c = cfg(&[("gitsign.rekorMode", "online"), ("GITSIGN.REKORMODE", "offline")], &[]).unwrap();
        assert_eq!(c.rekor_mode, RekorMode::Offline);
        let c = cfg(&[("gitsign.rekormode", "offline")], &[("GITSIGN_REKOR_MODE", "online")]).unwrap();
        assert_eq!(c.rekor_mode, RekorMode::Online);
        assert!(cfg(&[("gitsign.rekormode", "sometimes")], &[]).is_err());
        assert!(cfg(&[], &[("GITSIGN_AUTOCLOSE_TIMEOUT", "abc")]).is_err());
        let c = cfg(&[("gitsign.matchCommitter", "TRUE"), ("user.email", "a@b")], &[]).unwrap();
        assert!(c.match_committer);
        assert_eq!(c.user_email.as_deref(), Some("a@b"));
    }

    #[test]
    fn credential_cache_mode() {
        assert_eq!(cfg(&[], &[]).unwrap().credential_cache_mode, None);
        let c = cfg(&[("gitsign.credentialCacheMode", "system")], &[]).unwrap();
        assert_eq!(c.credential_cache_mode, Some(CredentialCacheMode::System));
        let c =
            cfg(&[("gitsign.credentialcachemode", "system")], &[("GITSIGN_CREDENTIAL_CACHE_MODE", "socket")]).unwrap();
        assert_eq!(c.credential_cache_mode, Some(CredentialCacheMode::Socket));
        assert!(cfg(&[("gitsign.credentialCacheMode", "disk")], &[]).is_err());
        let c = cfg(&[], &[("GITSIGN_CREDENTIAL_CACHE_MODE", "Secret-Service")]).unwrap();
        assert_eq!(c.credential_cache_mode, Some(CredentialCacheMode::SecretService));
        let c = cfg(&[("gitsign.credentialCacheMode", "keyutils")], &[]).unwrap();
        assert_eq!(c.credential_cache_mode, Some(CredentialCacheMode::Keyutils));
        // Timeouts: seconds, environment over git config, junk rejected.
        let c = cfg(&[("gitsign.httpTimeout", "5")], &[("GITSIGN_CONNECT_TIMEOUT", "2")]).unwrap();
        assert_eq!((c.http_timeout, c.connect_timeout), (Some(5), Some(2)));
        let c = cfg(&[("gitsign.httpTimeout", "5")], &[("GITSIGN_HTTP_TIMEOUT", "7")]).unwrap();
        assert_eq!(c.http_timeout, Some(7));
        for bad in ["0", "-1", "1.5", "ten", "99999"] {
            assert!(cfg(&[], &[("GITSIGN_HTTP_TIMEOUT", bad)]).is_err(), "{bad}");
            assert!(cfg(&[("gitsign.connectTimeout", bad)], &[]).is_err(), "{bad}");
        }
        let c = cfg(&[], &[("GITSIGN_CREDENTIAL_CACHE", "/run/x.sock")]).unwrap();
        assert_eq!(c.credential_cache.as_deref(), Some("/run/x.sock"));
    }

    #[test]
    fn platform_store_is_skipped_only_when_every_service_is_plain_http() {
        let mut cfg = Config::default();
        assert!(!cfg.http_options().plain_http_only, "production services are https");
        cfg.fulcio = "http://127.0.0.1:1".into();
        cfg.rekor = "http://127.0.0.1:1".into();
        assert!(!cfg.http_options().plain_http_only, "the issuer is still https");
        cfg.issuer = "http://127.0.0.1:1/oauth2".into();
        if std::env::var_os("ACTIONS_ID_TOKEN_REQUEST_URL").is_none()
            && std::env::var_os("BUILDKITE_AGENT_ACCESS_TOKEN").is_none()
        {
            assert!(cfg.http_options().plain_http_only);
        }
        cfg.timestamp_server_url = Some("https://tsa.example".into());
        assert!(!cfg.http_options().plain_http_only);
    }

    /// The documented table and the loader agree: every listed key and variable takes effect,
    /// and every key or variable the loader names is listed.
    #[test]
    fn settings_table_matches_the_loader() {
        let sample = |key: &str| match key.to_ascii_lowercase().as_str() {
            "gitsign.rekormode" => "online",
            "gitsign.autoclose" => "false",
            "gitsign.matchcommitter" => "true",
            "gitsign.autoclosetimeout" => "9",
            "gitsign.httptimeout" | "gitsign.connecttimeout" | "gitsign.rekorlookuptimeout" => "5",
            "gitsign.redirecturl" => "http://localhost:8080/auth/callback",
            "gitsign.credentialcachemode" => "socket",
            _ => "https://x.test/",
        };
        for st in SETTINGS {
            let value = sample(st.git_key.unwrap_or(""));
            if let Some(k) = st.git_key {
                assert_ne!(cfg(&[(k, value)], &[]).unwrap(), Config::default(), "git key {k} has no effect");
            }
            for v in st.env {
                let value = if *v == "GITSIGN_AUTOCLOSE" || *v == "SIGSTORE_AUTOCLOSE" { "false" } else { value };
                assert_ne!(cfg(&[], &[(v, value)]).unwrap(), Config::default(), "{v} has no effect");
            }
        }
        // Every `gitsign.*` key and `GITSIGN_*`/`SIGSTORE_*` variable named in the loader is listed.
        let src = include_str!("config.rs");
        let loader = &src[src.find("pub fn from_sources").unwrap()..src.find("pub fn load()").unwrap()];
        let listed_key = |k: &str| SETTINGS.iter().any(|s| s.git_key.is_some_and(|g| g.eq_ignore_ascii_case(k)));
        let listed_env = |e: &str| SETTINGS.iter().any(|s| s.env.contains(&e));
        for piece in loader.split('"').skip(1).step_by(2) {
            if piece.starts_with("gitsign.") && !piece.contains(' ') {
                assert!(listed_key(piece), "{piece} is read but not in SETTINGS");
            }
            if (piece.starts_with("GITSIGN_") || piece.starts_with("SIGSTORE_")) && !piece.contains(['{', ' ']) {
                assert!(listed_env(piece), "{piece} is read but not in SETTINGS");
            }
        }
        // `both("SUFFIX", ..)` reads GITSIGN_SUFFIX and SIGSTORE_SUFFIX.
        for call in loader.split("both(\"").skip(1) {
            let suffix = &call[..call.find('"').unwrap()];
            for e in [format!("GITSIGN_{suffix}"), format!("SIGSTORE_{suffix}")] {
                assert!(listed_env(&e), "{e} is read but not in SETTINGS");
            }
        }
    }

    #[test]
    fn service_urls_are_checked_naming_the_setting_and_its_source() {
        let e = cfg(&[], &[("GITSIGN_FULCIO_URL", "fulcio.example.test")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the Fulcio URL \"fulcio.example.test\" (from GITSIGN_FULCIO_URL) cannot be used: it is not an absolute \
             URL (it lacks the http:// or https:// part); give a full URL such as https://fulcio.sigstore.dev"
        );
        let e = cfg(&[("gitsign.rekor", "ftp://rekor.example.test")], &[]).unwrap_err().to_string();
        assert!(
            e.contains("Rekor URL") && e.contains("git config gitsign.rekor") && e.contains("scheme is ftp:"),
            "{e}"
        );
        let e = cfg(&[], &[("SIGSTORE_OIDC_ISSUER", "https://")]).unwrap_err().to_string();
        assert!(e.contains("OIDC issuer URL") && e.contains("SIGSTORE_OIDC_ISSUER"), "{e}");
        let e = cfg(&[("gitsign.redirectURL", "https://localhost:1/cb")], &[]).unwrap_err().to_string();
        assert!(e.contains("redirect URL") && e.contains("git config gitsign.redirectURL"), "{e}");
        let e = cfg(&[("gitsign.timestampServerURL", "tsa:80")], &[]).unwrap_err().to_string();
        assert!(e.contains("timestamp server URL") && e.contains("git config gitsign.timestampServerURL"), "{e}");
        let e = cfg(&[], &[("TUF_MIRROR", "/srv/tuf")]).unwrap_err().to_string();
        assert!(e.contains("TUF mirror URL") && e.contains("(from TUF_MIRROR)"), "{e}");
        // Good values pass, environment first.
        let c = cfg(
            &[("gitsign.fulcio", "not a url")],
            &[("GITSIGN_FULCIO_URL", "http://127.0.0.1:5555"), ("GITSIGN_OIDC_REDIRECT_URL", "http://localhost:9/cb")],
        )
        .unwrap();
        assert_eq!(c.fulcio, "http://127.0.0.1:5555");
        assert_eq!(c.redirect_url.as_deref(), Some("http://localhost:9/cb"));
    }

    #[test]
    fn every_problem_is_reported() {
        let e = cfg(
            &[("gitsign.rekorMode", "sometimes"), ("gitsign.rekor", "rekor")],
            &[("GITSIGN_HTTP_TIMEOUT", "ten"), ("GITSIGN_FULCIO_URL", "fulcio")],
        )
        .unwrap_err();
        let all = e.problems();
        assert_eq!(all.len(), 4, "{e}");
        let text = e.to_string();
        assert!(text.starts_with("4 configuration problems:\n  - "), "{text}");
        for part in ["GITSIGN_FULCIO_URL", "git config gitsign.rekor", "\"sometimes\"", "\"ten\""] {
            assert!(text.contains(part), "{part}: {text}");
        }
        assert!(!text.contains("Some("), "{text}");
    }

    #[test]
    fn null_output_parsing() {
        let pairs = parse_null_config(b"user.name\nJane Doe\0core.bare\nfalse\0flagonly\0");
        assert_eq!(pairs[0], ("user.name".into(), "Jane Doe".into()));
        assert_eq!(pairs[2], ("flagonly".into(), "true".into()));
    }
}
