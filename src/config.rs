//! gitsign configuration: git config (`gitsign.*`, `user.*`) overlaid by environment variables.
//!
//! Precedence, as in gitsign: `GITSIGN_*` > `SIGSTORE_*` > git config > default. Git config
//! keys compare case-insensitively and the last occurrence wins. Loading is split into a pure
//! [`Config::from_sources`] and the I/O in [`Config::load`].
use std::collections::HashMap;

/// Production Fulcio.
pub const DEFAULT_FULCIO: &str = "https://fulcio.sigstore.dev";
/// Production Rekor.
pub const DEFAULT_REKOR: &str = "https://rekor.sigstore.dev";
/// Production OIDC issuer (Dex).
pub const DEFAULT_ISSUER: &str = "https://oauth2.sigstore.dev/auth";
/// Default OIDC client id (and token audience).
pub const DEFAULT_CLIENT_ID: &str = "sigstore";

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

/// Configuration errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A value that is not allowed.
    #[error("invalid value {value:?} for {key}: {expected}")]
    Invalid {
        /// The key or variable.
        key: String,
        /// The value.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// `git config` could not be run.
    #[error("cannot read git config: {0}")]
    Git(String),
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
    /// Build the configuration from `git config --get-regexp` pairs and an environment lookup.
    pub fn from_sources(git: &[(String, String)], env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut g: HashMap<String, String> = HashMap::new();
        for (k, v) in git {
            g.insert(k.to_ascii_lowercase(), v.clone());
        }
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        // GITSIGN_x > SIGSTORE_x > git key
        let both = |suffix: &str, key: &str| -> Option<String> {
            nonempty(env(&format!("GITSIGN_{suffix}")))
                .or_else(|| nonempty(env(&format!("SIGSTORE_{suffix}"))))
                .or_else(|| nonempty(g.get(key).cloned()))
        };
        let mut c = Config::default();
        if let Some(v) = both("FULCIO_URL", "gitsign.fulcio") {
            c.fulcio = v;
        }
        c.fulcio_root = nonempty(env("GITSIGN_FULCIO_ROOT"))
            .or_else(|| nonempty(env("SIGSTORE_FULCIO_ROOT")))
            .or_else(|| nonempty(env("SIGSTORE_ROOT_FILE")))
            .or_else(|| nonempty(g.get("gitsign.fulcioroot").cloned()));
        if let Some(v) = both("REKOR_URL", "gitsign.rekor") {
            c.rekor = v;
        }
        let mode = nonempty(env("GITSIGN_REKOR_MODE"))
            .map(|v| ("GITSIGN_REKOR_MODE", v))
            .or_else(|| nonempty(g.get("gitsign.rekormode").cloned()).map(|v| ("gitsign.rekorMode", v)));
        if let Some((key, v)) = mode {
            c.rekor_mode = match v.to_ascii_lowercase().as_str() {
                "offline" => RekorMode::Offline,
                "online" => RekorMode::Online,
                _ => {
                    return Err(ConfigError::Invalid { key: key.into(), value: v, expected: "'offline' or 'online'" });
                }
            };
        }
        if let Some(v) = both("OIDC_CLIENT_ID", "gitsign.clientid") {
            c.client_id = v;
        }
        c.client_secret_file = both("OIDC_CLIENT_SECRET_FILE", "gitsign.clientsecretfile");
        c.redirect_url = both("OIDC_REDIRECT_URL", "gitsign.redirecturl");
        if let Some(v) = both("OIDC_ISSUER", "gitsign.issuer") {
            c.issuer = v;
        }
        c.connector_id = both("CONNECTOR_ID", "gitsign.connectorid");
        c.token_provider = both("TOKEN_PROVIDER", "gitsign.tokenprovider");
        c.timestamp_server_url = both("TIMESTAMP_SERVER_URL", "gitsign.timestampserverurl");
        c.timestamp_cert_chain = both("TIMESTAMP_CERT_CHAIN", "gitsign.timestampcertchain");
        c.log_path = nonempty(env("GITSIGN_LOG")).or_else(|| nonempty(g.get("gitsign.logpath").cloned()));
        c.match_committer = g.get("gitsign.matchcommitter").is_some_and(|v| git_true(v));
        if let Some(v) = nonempty(env("GITSIGN_AUTOCLOSE")).or_else(|| nonempty(env("SIGSTORE_AUTOCLOSE"))) {
            c.autoclose = v == "true";
        } else if let Some(v) = g.get("gitsign.autoclose") {
            c.autoclose = git_true(v);
        }
        if let Some(v) = both("AUTOCLOSE_TIMEOUT", "gitsign.autoclosetimeout") {
            c.autoclose_timeout = match v.trim().parse::<i64>() {
                Ok(n) if n > 0 => n.min(3600) as u32,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "autocloseTimeout".into(),
                        value: v,
                        expected: "a positive number of seconds",
                    });
                }
            };
        }
        c.url_opener = nonempty(env("GITSIGN_URL_OPENER")).or_else(|| nonempty(g.get("gitsign.urlopener").cloned()));
        c.credential_cache = nonempty(env("GITSIGN_CREDENTIAL_CACHE"));
        let cache_mode =
            nonempty(env("GITSIGN_CREDENTIAL_CACHE_MODE")).map(|v| ("GITSIGN_CREDENTIAL_CACHE_MODE", v)).or_else(
                || nonempty(g.get("gitsign.credentialcachemode").cloned()).map(|v| ("gitsign.credentialCacheMode", v)),
            );
        if let Some((key, v)) = cache_mode {
            c.credential_cache_mode = Some(match v.trim().to_ascii_lowercase().as_str() {
                "socket" => CredentialCacheMode::Socket,
                "system" => CredentialCacheMode::System,
                "secret-service" => CredentialCacheMode::SecretService,
                "keyutils" => CredentialCacheMode::Keyutils,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: key.into(),
                        value: v,
                        expected: "'socket', 'system', 'secret-service' or 'keyutils'",
                    });
                }
            });
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
        c.http_timeout =
            seconds("GITSIGN_HTTP_TIMEOUT", "gitsign.httptimeout", "GITSIGN_HTTP_TIMEOUT / gitsign.httpTimeout")?;
        c.connect_timeout = seconds(
            "GITSIGN_CONNECT_TIMEOUT",
            "gitsign.connecttimeout",
            "GITSIGN_CONNECT_TIMEOUT / gitsign.connectTimeout",
        )?;
        c.rekor_lookup_timeout = seconds(
            "GITSIGN_REKOR_LOOKUP_TIMEOUT",
            "gitsign.rekorlookuptimeout",
            "GITSIGN_REKOR_LOOKUP_TIMEOUT / gitsign.rekorLookupTimeout",
        )?;
        if let Some(v) = nonempty(g.get("extensions.objectformat").cloned()) {
            c.object_format = v.to_ascii_lowercase();
        }
        Ok(c)
    }

    /// Load from `git config --get-regexp '.*'` in the current directory and the process
    /// environment. Outside a repository (or without git) the git part is empty.
    pub fn load() -> Result<Config, ConfigError> {
        let pairs = git_config_in_process().map_or_else(|_| git_config_pairs(), Ok)?;
        Config::from_sources(&pairs, &|k| std::env::var(k).ok())
    }
}

/// Read git's configuration without a git process ([`crate::gitconfig`]), for the layouts that
/// reader models exactly; `GITSIGN_GIT_CONFIG=process` forces the `git config` path.
fn git_config_in_process() -> Result<Vec<(String, String)>, crate::gitconfig::Fallback> {
    if std::env::var_os("GITSIGN_GIT_CONFIG").is_some_and(|v| v == "process") {
        return Err(crate::gitconfig::Fallback("GITSIGN_GIT_CONFIG=process".into()));
    }
    let cwd = std::env::current_dir().map_err(|e| crate::gitconfig::Fallback(e.to_string()))?;
    let entries = crate::gitconfig::read(&|k| std::env::var(k).ok(), &cwd)?;
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
    fn null_output_parsing() {
        let pairs = parse_null_config(b"user.name\nJane Doe\0core.bare\nfalse\0flagonly\0");
        assert_eq!(pairs[0], ("user.name".into(), "Jane Doe".into()));
        assert_eq!(pairs[2], ("flagonly".into(), "true".into()));
    }
}
