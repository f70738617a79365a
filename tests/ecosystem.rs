//! The commands that fit gitsign into its ecosystem: `show`, `completion`, `man`, `setup`,
//! `doctor`, `version`, and the per-run debug log (`GITSIGN_LOG` / `gitsign.logPath`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Repo, Sandbox, TempDir, bin, shared};
use std::path::Path;
use std::process::Output;

const ALICE: &str = "alice@example.test";

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A repository with no sandbox behind it (nothing here signs).
fn plain_repo() -> Repo {
    Repo::with_env(Vec::new(), ALICE)
}

fn gitsign(repo: &Repo, args: &[&str]) -> Output {
    repo.cmd(&bin("gitsign")).args(args).output().expect("run gitsign")
}

fn golden(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)).unwrap()
}

#[test]
fn show_prints_gitsigns_statement_for_real_commit_and_tag() {
    let repo = plain_repo();
    repo.git_ok(&["remote", "add", "origin", "https://github.com/sigstore/gitsign.git"]);
    let real = shared().join("fixtures/real");
    let commit = std::fs::read(real.join("sigstore_gitsign__9d6c4c63e05b62088998795e483cd6c8b33c29cb.commit")).unwrap();
    let id = repo.hash_object("commit", &commit);
    assert_eq!(id, "9d6c4c63e05b62088998795e483cd6c8b33c29cb");
    let tag = std::fs::read(real.join("sigstore_gitsign__00143a3f81805e3a3566e7a7c6edf4c94780794a.tag")).unwrap();
    let tag_id = repo.hash_object("tag", &tag);
    repo.git_ok(&["update-ref", "refs/tags/v0.15.0", &tag_id]);

    let o = gitsign(&repo, &["show", &id]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), golden("show-commit-9d6c4c63.json"));
    let o = gitsign(&repo, &["show", "v0.15.0"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), golden("show-tag-00143a3f.json"));

    // Another remote names the subject; no such remote leaves the name out.
    repo.git_ok(&["remote", "add", "up", "git@example.test:x/y.git"]);
    let o = gitsign(&repo, &["show", "-r", "up", &id]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["subject"][0]["name"], "git@example.test:x/y.git");
    let o = gitsign(&repo, &["show", "--remote", "nope", &id]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["subject"][0].get("name").is_none());

    // An unsigned commit (HEAD by default) has no signature fields; a tree is refused.
    std::fs::write(repo.path().join("f"), "x").unwrap();
    repo.git_ok(&["add", "f"]);
    repo.git_ok(&["-c", "commit.gpgsign=false", "commit", "-q", "-m", "unsigned"]);
    let o = gitsign(&repo, &["show"]);
    assert!(o.status.success(), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["predicate"]["source"]["message"], "unsigned\n");
    assert!(v["predicate"].get("signature").is_none() && v["predicate"].get("signer_info").is_none());
    let o = gitsign(&repo, &["show", "HEAD^{tree}"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("not a commit or an annotated tag"), "{}", err(&o));
    assert!(o.stdout.is_empty());
}

#[test]
fn completions_man_page_and_help_come_from_one_definition() {
    let repo = plain_repo();
    for shell in ["bash", "zsh", "fish"] {
        let o = gitsign(&repo, &["completion", shell]);
        assert!(o.status.success(), "{shell}: {}", err(&o));
        let text = out(&o);
        for sub in ["show", "setup", "doctor", "verify", "verify-tag", "completion", "man", "certificate-identity"] {
            assert!(text.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let o = gitsign(&repo, &["completion", "tcsh"]);
    assert_eq!(o.status.code(), Some(2), "unknown shell is a usage error");
    let o = gitsign(&repo, &["man"]);
    assert!(o.status.success(), "{}", err(&o));
    let man = out(&o);
    assert!(man.contains(".TH gitsign 1"), "{man}");
    for section in ["GITSIGN SHOW", "GITSIGN SETUP", "GITSIGN DOCTOR", "GITSIGN VERIFY", "GITSIGN COMPLETION"] {
        assert!(man.contains(section), "man page lacks {section}");
    }
    assert!(man.contains("certificate\\-oidc\\-issuer"), "verify's options are documented");
    // --help: the commands and examples.
    let o = gitsign(&repo, &["--help"]);
    let help = out(&o);
    assert!(o.status.success() && help.contains("Examples:") && help.contains("gitsign doctor"), "{help}");
    for sub in ["show", "setup", "doctor", "completion", "man", "version"] {
        let o = gitsign(&repo, &[sub, "--help"]);
        assert!(o.status.success(), "{sub} --help: {}", err(&o));
        assert!(out(&o).contains(&format!("Usage: gitsign {sub}")), "{sub}: {}", out(&o));
        assert!(out(&o).contains("Example"), "{sub} --help has no example");
    }
}

/// A directory that looks like a served sandbox (`sandbox.json`, `trusted_root.json`).
fn fake_sandbox_dir(tls: bool) -> TempDir {
    let d = TempDir::new("fake-sandbox");
    let mut info = serde_json::json!({
        "fulcio_url": "http://127.0.0.1:1/", "rekor_url": "http://127.0.0.1:1/",
        "issuer": "http://127.0.0.1:1/oauth2",
    });
    if tls {
        info["tls_ca"] = serde_json::json!("/tmp/sandbox-ca.pem");
    }
    std::fs::write(d.path().join("sandbox.json"), info.to_string()).unwrap();
    std::fs::write(d.path().join("trusted_root.json"), "{}").unwrap();
    d
}

#[test]
fn setup_writes_git_and_sandbox_config() {
    let repo = plain_repo();
    repo.git_ok(&["config", "--unset", "gpg.format"]);
    repo.git_ok(&["config", "--unset", "gpg.x509.program"]);
    let sb = fake_sandbox_dir(true);
    let o = gitsign(&repo, &["setup", "--sandbox", sb.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", err(&o));
    let get = |k: &str| repo.git_ok(&["config", "--local", "--get", k]).trim().to_string();
    assert_eq!(get("gpg.format"), "x509");
    let program = std::fs::canonicalize(bin("gitsign")).unwrap();
    assert_eq!(get("gpg.x509.program"), program.display().to_string());
    assert_eq!(get("gitsign.fulcio"), "http://127.0.0.1:1/");
    assert_eq!(get("gitsign.rekor"), "http://127.0.0.1:1/");
    assert_eq!(get("gitsign.issuer"), "http://127.0.0.1:1/oauth2");
    assert_eq!(get("gitsign.clientID"), "sigstore");
    let root = std::fs::canonicalize(sb.path().join("trusted_root.json")).unwrap();
    assert_eq!(get("gitsign.trustedRoot"), root.display().to_string());
    assert_eq!(get("gitsign.caBundle"), "/tmp/sandbox-ca.pem");

    // --global writes the user's file and not the repository's.
    let o = gitsign(&repo, &["setup", "--global", "--program", "/opt/gitsign"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(repo.git_ok(&["config", "--global", "--get", "gpg.x509.program"]).trim(), "/opt/gitsign");
    assert_eq!(get("gpg.x509.program"), program.display().to_string());
    assert_eq!(gitsign(&repo, &["setup", "--global", "--local"]).status.code(), Some(2), "conflicting scopes");

    // A directory where no sandbox ran: a clear error, nothing written.
    let empty = TempDir::new("no-sandbox");
    let o = gitsign(&repo, &["setup", "--global", "--sandbox", empty.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("gitsign-sandbox serve --dir"), "{}", err(&o));
    assert!(repo.git(&["config", "--global", "--get", "gitsign.fulcio"]).stdout.is_empty());
}

#[test]
fn version_names_variables_but_never_their_values() {
    let repo = plain_repo();
    for args in [&["version"][..], &["--version"][..]] {
        let o = repo
            .cmd(&bin("gitsign"))
            .args(args)
            .env("SIGSTORE_ID_TOKEN", "eyJsecret-token-value.eyJ.sig")
            .env("GITSIGN_FULCIO_URL", "https://fulcio.example.test")
            .env("TUF_ROOT", "/some/tuf/dir-value")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", err(&o));
        let text = out(&o);
        assert!(text.starts_with("gitsign-rs version "), "{text}");
        assert!(text.contains("build: commit "), "{text}");
        for name in ["SIGSTORE_ID_TOKEN", "GITSIGN_FULCIO_URL", "TUF_ROOT"] {
            assert!(text.contains(&format!("  {name}\n")), "{name} not listed: {text}");
        }
        assert!(!text.contains("secret-token-value"), "token value printed: {text}");
        assert!(!text.contains("dir-value"), "a variable's value printed: {text}");
        assert!(text.contains("SIGSTORE_ID_TOKEN: set (redacted)"), "{text}");
        // The effective configuration shows the value gitsign will use.
        assert!(text.contains("  fulcio: https://fulcio.example.test\n"), "{text}");
    }
}

#[test]
fn log_file_is_written_and_truncated_per_run() {
    let repo = plain_repo();
    let log = repo.path().join("gitsign.log");
    let logged = |args: &[&str], level: &str| {
        repo.cmd(&bin("gitsign"))
            .args(args)
            .env("GITSIGN_LOG", &log)
            .env("GITSIGN_LOG_LEVEL", level)
            .env("SIGSTORE_ID_TOKEN", "eyJtop.eyJsecret.sig")
            .output()
            .unwrap()
    };
    let o = logged(&["show", "no-such-rev"], "debug");
    assert_eq!(o.status.code(), Some(1), "the child's exit status is ours");
    assert!(
        err(&o).contains("gitsign: error: cannot show no-such-rev"),
        "stderr still reaches the caller: {}",
        err(&o)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("run: gitsign show no-such-rev"), "{text}");
    assert!(text.contains("config: fulcio="), "debug level logs the configuration: {text}");
    assert!(text.contains("SIGSTORE_ID_TOKEN"), "{text}");
    assert!(!text.contains("eyJsecret"), "token value in the log: {text}");
    assert!(text.contains("stderr: gitsign: error: cannot show no-such-rev"), "{text}");
    assert!(text.contains("exit status 1"), "{text}");

    // The next run truncates; at info level the configuration is not logged.
    let o = logged(&["version"], "info");
    assert!(o.status.success());
    assert!(out(&o).starts_with("gitsign-rs version"), "stdout passes through: {}", out(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("no-such-rev"), "not truncated: {text}");
    assert_eq!(text.matches(" run: ").count(), 1, "{text}");
    assert!(!text.contains("config: fulcio="), "{text}");
    assert!(text.contains("exit status 0"), "{text}");

    // gitsign.logPath works the same way.
    let other = repo.path().join("other.log");
    repo.git_ok(&["config", "gitsign.logPath", other.to_str().unwrap()]);
    let o = gitsign(&repo, &["show", "--remote", "x", "HEAD"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(std::fs::read_to_string(&other).unwrap().contains("run: gitsign show --remote x HEAD"));
}

#[test]
fn doctor_ok_against_the_sandbox_and_fails_with_reasons() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    let o = gitsign(&repo, &["doctor"]);
    let text = out(&o);
    assert!(o.status.success(), "doctor failed against a running sandbox:\n{text}{}", err(&o));
    for check in [
        "OK    configuration",
        "OK    git uses gitsign",
        "OK    trust root",
        "OK    fulcio",
        "OK    rekor",
        "OK    OIDC issuer",
    ] {
        assert!(text.contains(check), "missing {check:?}:\n{text}");
    }
    assert!(!text.contains(&sb.token(ALICE)), "doctor printed a token");

    // Fulcio down: a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let o = repo
        .cmd(&bin("gitsign"))
        .arg("doctor")
        .env("GITSIGN_FULCIO_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("FAIL  fulcio: http://127.0.0.1:{port}/api/v2/trustBundle is unreachable")),
        "{text}"
    );
    assert!(text.contains("fix: start the service or fix gitsign.fulcio"), "{text}");
    assert!(text.contains("OK    rekor"), "{text}");

    // An unreadable trust root.
    let o = repo
        .cmd(&bin("gitsign"))
        .arg("doctor")
        .env("GITSIGN_TRUSTED_ROOT", "/nonexistent/trusted_root.json")
        .output()
        .unwrap();
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  trust root: /nonexistent/trusted_root.json"), "{text}");

    // git not wired to gitsign.
    repo.git_ok(&["config", "gpg.format", "openpgp"]);
    let o = gitsign(&repo, &["doctor"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("FAIL  git uses gitsign"), "{}", out(&o));
    assert!(out(&o).contains("gitsign setup"), "{}", out(&o));
    repo.git_ok(&["config", "gpg.format", "x509"]);

    // A dead credential cache socket is a warning only.
    let o = repo
        .cmd(&bin("gitsign"))
        .arg("doctor")
        .env("GITSIGN_CREDENTIAL_CACHE", repo.path().join("no.sock"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("WARN  credential cache"), "{}", out(&o));

    // Signing through git still works with the log on (the logged child's stdout is the
    // signature, its status lines reach git through the tee).
    let log = repo.path().join("sign.log");
    repo.git_ok(&["config", "gitsign.logPath", log.to_str().unwrap()]);
    let id = repo.signed_commit("a.txt", "x\n", "signed with a log");
    let v = repo.git(&["verify-commit", &id]);
    assert!(v.status.success(), "{}", err(&v));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("--verify"), "the last run (verify-commit) is logged: {text}");
    assert!(text.contains("stderr: [GNUPG:] GOODSIG") || text.contains("Good signature"), "{text}");
}
