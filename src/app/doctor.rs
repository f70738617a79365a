//! `gitsign doctor`: checks of everything signing and verifying depend on, each with a verdict
//! and, when it is not OK, what to do about it.
//!
//! The checks are functions of their inputs (configuration, git settings, an HTTP client), so
//! each can be tested alone; [`Report::blocking`] says whether anything stops signing or
//! verifying.
use crate::app::config::{Config, ConfigError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Fine.
    Ok,
    /// Worth knowing; does not block signing or verifying.
    Warn,
    /// Blocks signing or verifying.
    Fail,
}

impl Verdict {
    /// `OK`, `WARN` or `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What to do (for WARN and FAIL).
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &str, detail: impl Into<String>) -> Check {
        Check { name: name.into(), verdict: Verdict::Ok, detail: detail.into(), fix: None }
    }
    fn bad(name: &str, verdict: Verdict, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name: name.into(), verdict, detail: detail.into(), fix: Some(fix.into()) }
    }
}

/// All checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// In the order run.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether any check failed.
    pub fn blocking(&self) -> bool {
        self.checks.iter().any(|c| c.verdict == Verdict::Fail)
    }

    /// Human text: one line per check, a `fix:` line under each that is not OK, a summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            out.push_str(&format!("{:<4}  {}: {}\n", c.verdict.label(), c.name, c.detail));
            if let Some(f) = &c.fix {
                out.push_str(&format!("      fix: {f}\n"));
            }
        }
        let fails = self.checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
        let warns = self.checks.iter().filter(|c| c.verdict == Verdict::Warn).count();
        if fails == 0 {
            out.push_str(&format!("nothing blocks signing or verifying ({warns} warning(s))\n"));
        } else {
            out.push_str(&format!("{fails} problem(s) block signing or verifying; fix the FAIL lines above\n"));
        }
        out
    }
}

/// What git is told about its signing program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitSigning {
    /// `gpg.format`.
    pub format: Option<String>,
    /// `gpg.x509.program`.
    pub program: Option<String>,
}

/// The configuration checks: it parsed, and which variables are set (names only); when it
/// did not, one failed check per problem, so that one run shows everything to fix.
pub fn check_config(cfg: &Result<Config, ConfigError>, env_names: &[String]) -> Vec<Check> {
    match cfg {
        Ok(_) => {
            let vars = if env_names.is_empty() { "none".to_string() } else { env_names.join(", ") };
            vec![Check::ok("configuration", format!("git config and environment read (variables set: {vars})"))]
        }
        Err(e) => e
            .problems()
            .into_iter()
            .map(|p| {
                Check::bad(
                    "configuration",
                    Verdict::Fail,
                    p.to_string(),
                    "correct the value named above (git config --unset KEY, or unset the variable)",
                )
            })
            .collect(),
    }
}

/// Tokens this close to their expiry get a warning: signing takes a few seconds.
pub const TOKEN_MARGIN: i64 = 60;

/// The ID token in `SIGSTORE_ID_TOKEN`, when set (`token`): it is a JWT, and it has not
/// expired at `now` (nor is about to). Signing would use it before any other source.
pub fn check_token(token: Option<&str>, now: i64) -> Option<Check> {
    let name = "ID token";
    let origin = crate::services::oidc::ambient::Provider::EnvVar.origin();
    let token = token.map(str::trim).filter(|t| !t.is_empty())?;
    let fix = "put a fresh ID token in SIGSTORE_ID_TOKEN, or unset it to log in with a browser";
    let claims = match crate::services::oidc::Claims::parse(token) {
        Ok(c) => c,
        Err(e) => return Some(Check::bad(name, Verdict::Fail, format!("{e} (SIGSTORE_ID_TOKEN)"), fix)),
    };
    if let Err(e) = claims.check_fresh_from(now, origin) {
        return Some(Check::bad(name, Verdict::Fail, e.to_string(), fix));
    }
    let who = claims.challenge_subject().unwrap_or_else(|_| "an unknown subject".into());
    let Some(exp) = claims.exp else {
        return Some(Check::ok(
            name,
            format!("the ID token {origin} is for {who} (issuer {}), with no expiry", claims.iss),
        ));
    };
    let until = crate::encoding::timefmt::describe(exp, now);
    let detail = format!("the ID token {origin} is for {who} (issuer {}), valid until {until}", claims.iss);
    Some(if exp - now < TOKEN_MARGIN {
        Check::bad(name, Verdict::Warn, format!("{detail}: about to expire"), fix)
    } else {
        Check::ok(name, detail)
    })
}

/// Find a program as `git` would run it: a path with a `/` as is, else through `$PATH`.
pub fn resolve_program(program: &str, path_var: Option<&str>) -> Option<PathBuf> {
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    std::env::split_paths(path_var.unwrap_or("")).map(|d| d.join(program)).find(|p| executable(p))
}

/// Whether git is configured to call gitsign.
pub fn check_git(git: &GitSigning, path_var: Option<&str>) -> Check {
    let name = "git uses gitsign";
    let fix = "run `gitsign setup` (or: git config gpg.format x509; git config gpg.x509.program gitsign)";
    match git.format.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("x509") => {}
        Some(other) => {
            return Check::bad(
                name,
                Verdict::Fail,
                format!("gpg.format is {other:?}, so git signs with another program"),
                fix,
            );
        }
        None => return Check::bad(name, Verdict::Fail, "gpg.format is not set, so git signs with gpg", fix),
    }
    let Some(program) = git.program.as_deref().filter(|p| !p.is_empty()) else {
        return Check::bad(name, Verdict::Fail, "gpg.x509.program is not set, so git runs gpgsm", fix);
    };
    match resolve_program(program, path_var) {
        Some(p) => {
            let looks_right = p.file_name().is_some_and(|n| n.to_string_lossy().contains("gitsign"));
            if looks_right {
                Check::ok(name, format!("gpg.format=x509, gpg.x509.program={program} ({})", p.display()))
            } else {
                Check::bad(
                    name,
                    Verdict::Warn,
                    format!("gpg.x509.program={program} ({}) does not look like gitsign", p.display()),
                    fix,
                )
            }
        }
        None => Check::bad(
            name,
            Verdict::Fail,
            format!("gpg.x509.program={program} is not an executable file (nor found on PATH)"),
            "install gitsign there, or run `gitsign setup` to point git at this gitsign",
        ),
    }
}

/// The trusted root loads (and which one it is).
pub fn check_trust(cfg: &Config) -> Check {
    let which = match &cfg.trusted_root {
        Some(p) => format!("{p} (gitsign.trustedRoot / GITSIGN_TRUSTED_ROOT)"),
        None => "the embedded Sigstore production root".into(),
    };
    match crate::app::setup::trusted_root_for(cfg) {
        Ok(_) => Check::ok("trust root", format!("{which} loads")),
        Err(e) => Check::bad(
            "trust root",
            Verdict::Fail,
            format!("{which}: {e}"),
            "point gitsign.trustedRoot / GITSIGN_TRUSTED_ROOT at a readable Sigstore trusted_root.json \
             (or unset it to use the embedded production root); check gitsign.fulcioRoot and \
             SIGSTORE_REKOR_PUBLIC_KEY too",
        ),
    }
}

/// The credential cache, when configured: the socket answers (a cache that is down is a
/// warning: gitsign then logs in as usual).
#[cfg(unix)]
pub fn check_cache(cfg: &Config) -> Check {
    use crate::credentials::cache::{self, Backend};
    match cache::backend(cfg) {
        None => Check::ok("credential cache", "not configured (each signature logs in)"),
        Some(Backend::System(choice)) => match crate::credentials::keyring::select(choice) {
            Ok(k) => Check::ok("credential cache", format!("OS keyring: {} (gitsign.credentialCacheMode)", k.name())),
            Err(e) => Check::bad(
                "credential cache",
                Verdict::Warn,
                e.to_string(),
                "signing still works, with a login each time",
            ),
        },
        Some(Backend::Socket(path)) => {
            match crate::credentials::client::Client::connect(&path, Duration::from_secs(2))
                .and_then(|mut c| c.list().map(|l| l.len()))
            {
                Ok(n) => Check::ok("credential cache", format!("{} answers ({n} entries)", path.display())),
                Err(e) => Check::bad(
                    "credential cache",
                    Verdict::Warn,
                    format!("{}: {e}", path.display()),
                    "start `gitsign-credential-cache` (or unset GITSIGN_CREDENTIAL_CACHE / gitsign.credentialCacheMode); \
                     signing still works, with a login each time",
                ),
            }
        }
    }
}

/// GET `url` with `client`; 2xx is reachable.
pub fn check_http(client: &reqwest::blocking::Client, name: &str, url: &str, setting: &str) -> Check {
    match client.get(url).send() {
        Ok(r) if r.status().is_success() => Check::ok(name, format!("{url} answers ({})", r.status().as_u16())),
        Ok(r) => Check::bad(
            name,
            Verdict::Fail,
            format!("{url} answers HTTP {}", r.status().as_u16()),
            format!("check {setting}: it does not look like the right service"),
        ),
        Err(e) => Check::bad(
            name,
            Verdict::Fail,
            format!("{url} is unreachable: {}", crate::services::http::error_chain(&e)),
            format!("start the service or fix {setting}; for HTTPS with a private CA set gitsign.caBundle"),
        ),
    }
}

fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// Reachability of Fulcio, Rekor and the OIDC issuer (discovery), with short timeouts.
pub fn check_services(cfg: &Config) -> Vec<Check> {
    let mut opts = cfg.http_options();
    opts.timeout = Some(opts.timeout.unwrap_or(Duration::from_secs(5)).min(Duration::from_secs(5)));
    opts.connect_timeout = Some(opts.connect_timeout.unwrap_or(Duration::from_secs(3)).min(Duration::from_secs(3)));
    let client = match crate::services::http::client(&opts) {
        Ok(c) => c,
        Err(e) => {
            return vec![Check::bad(
                "HTTPS client",
                Verdict::Fail,
                e.to_string(),
                "fix gitsign.caBundle / GITSIGN_CA_BUNDLE (a readable PEM file)",
            )];
        }
    };
    let mut out = vec![
        check_http(&client, "fulcio", &join(&cfg.fulcio, "/api/v2/trustBundle"), "gitsign.fulcio / GITSIGN_FULCIO_URL"),
        check_http(&client, "rekor", &join(&cfg.rekor, "/api/v1/log"), "gitsign.rekor / GITSIGN_REKOR_URL"),
        check_http(
            &client,
            "OIDC issuer",
            &join(&cfg.issuer, "/.well-known/openid-configuration"),
            "gitsign.issuer / GITSIGN_OIDC_ISSUER",
        ),
    ];
    if let Some(tsa) = &cfg.timestamp_server_url {
        // A TSA answers POSTs only; any HTTP answer shows it is there.
        out.push(match client.get(tsa).send() {
            Ok(_) => Check::ok("timestamp authority", format!("{tsa} answers")),
            Err(e) => Check::bad(
                "timestamp authority",
                Verdict::Fail,
                format!("{tsa} is unreachable: {}", crate::services::http::error_chain(&e)),
                "start it or unset gitsign.timestampServerURL / GITSIGN_TIMESTAMP_SERVER_URL",
            ),
        });
    }
    out
}

/// The committer settings the signature will be checked against.
pub fn check_identity(cfg: &Config) -> Check {
    match (&cfg.user_email, cfg.match_committer) {
        (None, true) => Check::bad(
            "committer",
            Verdict::Fail,
            "gitsign.matchCommitter is on but user.email is not set",
            "git config user.email you@example.com",
        ),
        (None, false) => {
            Check::bad("committer", Verdict::Warn, "user.email is not set", "git config user.email you@example.com")
        }
        (Some(e), _) => Check::ok("committer", format!("user.email={e}")),
    }
}

/// The allowed-signers policy loads (a broken one makes git report every signature `E`).
pub fn check_policy(cfg: &Config) -> Check {
    match crate::app::allowed::load_policy(cfg) {
        Ok(None) => Check::ok(
            "allowed signers",
            "none: git trusts any valid signer (set gitsign.allowedSignersFile to say who may sign)",
        ),
        Ok(Some(p)) => {
            Check::ok("allowed signers", format!("{} rule(s) from {}", p.rules.len(), p.sources.join(" and ")))
        }
        Err(e) => Check::bad(
            "allowed signers",
            Verdict::Fail,
            e.to_string(),
            "fix the rule or the path; until then git reports every valid signature as unverifiable",
        ),
    }
}

/// Run every check. `token` is `SIGSTORE_ID_TOKEN`'s value, `now` the current time.
pub fn run(
    cfg: Result<Config, ConfigError>,
    git: &GitSigning,
    env_names: &[String],
    path_var: Option<&str>,
    token: Option<&str>,
    now: i64,
) -> Report {
    let mut checks = check_config(&cfg, env_names);
    checks.push(check_git(git, path_var));
    checks.extend(check_token(token, now));
    if let Ok(cfg) = &cfg {
        checks.push(check_identity(cfg));
        checks.push(check_trust(cfg));
        checks.push(check_policy(cfg));
        #[cfg(unix)]
        checks.push(check_cache(cfg));
        checks.extend(check_services(cfg));
    }
    Report { checks }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_settings() {
        let path = std::env::var("PATH").ok();
        let g = |f: Option<&str>, p: Option<&str>| GitSigning { format: f.map(Into::into), program: p.map(Into::into) };
        assert_eq!(check_git(&g(None, None), path.as_deref()).verdict, Verdict::Fail);
        assert_eq!(check_git(&g(Some("openpgp"), Some("gitsign")), path.as_deref()).verdict, Verdict::Fail);
        assert_eq!(check_git(&g(Some("x509"), None), path.as_deref()).verdict, Verdict::Fail);
        assert_eq!(check_git(&g(Some("x509"), Some("/nonexistent/gitsign")), path.as_deref()).verdict, Verdict::Fail);
        // An executable that is not gitsign: a warning.
        assert_eq!(check_git(&g(Some("x509"), Some("/bin/sh")), path.as_deref()).verdict, Verdict::Warn);
        let me = std::env::current_exe().unwrap();
        let dir = me.parent().unwrap();
        let fake = dir.join("gitsign-doctor-test-prog");
        std::fs::copy("/bin/sh", &fake).unwrap();
        let c = check_git(&g(Some("X509"), Some("gitsign-doctor-test-prog")), Some(&dir.display().to_string()));
        let _ = std::fs::remove_file(&fake);
        assert_eq!(c.verdict, Verdict::Ok, "{c:?}");
    }

    #[test]
    fn trust_config_and_render() {
        let cfg = Config { trusted_root: Some("/nonexistent/trusted_root.json".into()), ..Config::default() };
        let c = check_trust(&cfg);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.detail.contains("/nonexistent/trusted_root.json"), "{c:?}");
        assert_eq!(check_trust(&Config::default()).verdict, Verdict::Ok);
        let bad = Err(ConfigError::Invalid { key: "k".into(), value: "v".into(), expected: "x" });
        assert_eq!(check_config(&bad, &[])[0].verdict, Verdict::Fail);
        let r = Report { checks: [vec![c], check_config(&Ok(Config::default()), &["GITSIGN_X".into()])].concat() };
        assert!(r.blocking());
        let text = r.render();
        assert!(text.contains("FAIL  trust root: "), "{text}");
        assert!(text.contains("      fix: "), "{text}");
        assert!(text.contains("OK    configuration: ") && text.contains("GITSIGN_X"), "{text}");
        let cfg = Config { match_committer: true, ..Config::default() };
        assert_eq!(check_identity(&cfg).verdict, Verdict::Fail);
        let cfg = Config { allowed_signers: Some("/nonexistent/allowed".into()), ..Config::default() };
        let c = check_policy(&cfg);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.detail.contains("/nonexistent/allowed"), "{c:?}");
        let cfg = Config { verify_identity: Some("a@x".into()), ..Config::default() };
        assert_eq!(check_policy(&cfg).verdict, Verdict::Fail, "identity without issuer");
        let cfg = Config { verify_identity: Some("a@x".into()), verify_issuer: Some("https://i".into()), ..cfg };
        assert_eq!(check_policy(&cfg).verdict, Verdict::Ok);
        assert_eq!(check_policy(&Config::default()).verdict, Verdict::Ok);
    }

    #[test]
    fn every_configuration_problem_is_a_check() {
        let two = Err(ConfigError::Several(vec![
            ConfigError::Invalid { key: "a".into(), value: "1".into(), expected: "x" },
            ConfigError::Invalid { key: "b".into(), value: "2".into(), expected: "y" },
        ]));
        let checks = check_config(&two, &[]);
        assert_eq!(checks.len(), 2);
        assert!(checks.iter().all(|c| c.verdict == Verdict::Fail));
        assert!(checks[1].detail.contains("for b"), "{:?}", checks[1]);
    }

    #[test]
    fn token_expiry() {
        use base64::Engine;
        let jwt =
            |claims: &str| format!("e30.{}.c2ln", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims));
        let now = 1_800_000_000;
        let tok = |exp: i64| jwt(&format!(r#"{{"iss":"https://i.test","sub":"s","exp":{exp}}}"#));
        assert_eq!(check_token(None, now), None);
        assert_eq!(check_token(Some(" "), now), None);
        let c = check_token(Some(&tok(now - 720)), now).unwrap();
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(
            c.detail,
            format!(
                "the ID token from SIGSTORE_ID_TOKEN expired at {} (12 min ago); get a fresh token and try again",
                crate::encoding::timefmt::rfc3339(now - 720)
            )
        );
        assert_eq!(check_token(Some(&tok(now + 30)), now).unwrap().verdict, Verdict::Warn);
        let c = check_token(Some(&tok(now + 600)), now).unwrap();
        assert_eq!(c.verdict, Verdict::Ok);
        assert!(c.detail.contains("valid until") && c.detail.contains("(in 10 min)"), "{c:?}");
        assert_eq!(check_token(Some("not-a-jwt"), now).unwrap().verdict, Verdict::Fail);
    }
}
