//! Who may sign (#17): the allowed-signers policy (`gitsign.allowedSignersFile` and the
//! `gitsign.verify.*` keys) as git's own verification (`%G?`, `verify-commit`,
//! `merge`/`pull --verify-signatures`, `gpg.minTrustLevel`) and `gitsign verify` see it, with two
//! identities signing through the local stack.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Repo, Sandbox, bin};
use std::path::Path;

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";

/// Make a signed commit as `email` (its token and its committer address) on the current branch.
fn commit_as(sb: &Sandbox, repo: &Repo, email: &str, file: &str) -> String {
    std::fs::write(repo.path().join(file), format!("{file}\n")).unwrap();
    repo.git_ok(&["add", file]);
    let out = repo
        .cmd(Path::new("git"))
        .env("SIGSTORE_ID_TOKEN", sb.token(email))
        .args(["-c", &format!("user.email={email}"), "commit", "-q", "-S", "-m", file])
        .output()
        .unwrap();
    assert!(out.status.success(), "commit as {email}: {}", String::from_utf8_lossy(&out.stderr));
    repo.git_ok(&["rev-parse", "HEAD"]).trim().to_string()
}

/// `%G?` of a revision.
fn trust(repo: &Repo, rev: &str) -> String {
    repo.git_ok(&["log", "-1", "--format=%G?", rev]).trim().to_string()
}

fn gitsign(repo: &Repo, args: &[&str]) -> (i32, String, String) {
    let out = repo.cmd(&bin("gitsign")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn stderr_of(repo: &Repo, args: &[&str]) -> (bool, String) {
    let out = repo.git(args);
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Write the policy file outside the working tree and name it in git config.
fn set_policy(repo: &Repo, text: &str) -> String {
    let path = repo.path().join("home").join("allowed_signers");
    std::fs::write(&path, text).unwrap();
    let shown = path.display().to_string();
    repo.git_ok(&["config", "gitsign.allowedSignersFile", &shown]);
    shown
}

#[test]
fn git_trusts_the_allowed_signer_and_refuses_the_other() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    commit_as(&sb, &repo, ALICE, "base");
    repo.git_ok(&["checkout", "-q", "-b", "bob-work"]);
    let bob_tip = commit_as(&sb, &repo, BOB, "bob");
    repo.git_ok(&["checkout", "-q", "main"]);
    repo.git_ok(&["checkout", "-q", "-b", "alice-work"]);
    let alice_tip = commit_as(&sb, &repo, ALICE, "alice");
    repo.git_ok(&["checkout", "-q", "main"]);
    repo.git_ok(&["tag", "-s", "v1", "-m", "release", "alice-work"]);

    // No policy: any valid signer is good, and the warning says how to configure one.
    assert_eq!(trust(&repo, "bob-work"), "G");
    let (ok, err) = stderr_of(&repo, &["verify-commit", "bob-work"]);
    assert!(ok, "{err}");
    assert!(err.contains("Validated Certificate claims: false") && err.contains("gitsign.allowedSignersFile"), "{err}");

    let policy = set_policy(&repo, &format!("# the team\n{ALICE} {issuer}\n"));
    assert_eq!(trust(&repo, "alice-work"), "G");
    assert_eq!(trust(&repo, "bob-work"), "U");
    let (ok, err) = stderr_of(&repo, &["verify-commit", "alice-work"]);
    assert!(ok, "{err}");
    assert!(err.contains("Validated Certificate claims: true"), "{err}");
    assert!(err.contains(&format!("allowed by {policy}:2")), "{err}");
    // Valid but untrusted: git's default minimum trust still exits 0, and says who was seen.
    let (ok, err) = stderr_of(&repo, &["verify-commit", "bob-work"]);
    assert!(ok, "{err}");
    assert!(err.contains(&format!("no rule in {policy} allows the signer \"{BOB}\" (issuer \"{issuer}\")")), "{err}");
    assert!(err.contains("Validated Certificate claims: false"), "{err}");

    // gpg.minTrustLevel behaves as with GnuPG: `marginal` refuses undefined trust.
    let (ok, _) = stderr_of(&repo, &["-c", "gpg.minTrustLevel=marginal", "verify-commit", "bob-work"]);
    assert!(!ok, "minTrustLevel=marginal accepted an untrusted signer");
    let (ok, err) = stderr_of(&repo, &["-c", "gpg.minTrustLevel=fully", "verify-commit", "alice-work"]);
    assert!(ok, "{err}");

    // merge/pull --verify-signatures refuse bob's branch and take alice's.
    let (ok, err) = stderr_of(&repo, &["merge", "--verify-signatures", "--no-edit", "bob-work"]);
    assert!(!ok, "merged an untrusted branch");
    assert!(err.contains("untrusted"), "{err}");
    let (ok, err) = stderr_of(&repo, &["pull", "--verify-signatures", "--no-rebase", "--no-edit", ".", "bob-work"]);
    assert!(!ok && err.contains("untrusted"), "{err}");
    assert_ne!(repo.git_ok(&["rev-parse", "HEAD"]).trim(), bob_tip);
    repo.git_ok(&["merge", "--verify-signatures", "--no-edit", "alice-work"]);
    assert_eq!(repo.git_ok(&["rev-parse", "HEAD"]).trim(), alice_tip);

    // gitsign verify without identity flags follows the same policy; --json names the rule.
    let (code, out, err) = gitsign(&repo, &["verify", "--json", "alice-work"]);
    assert_eq!(code, 0, "{out}{err}");
    let rec: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(rec["rule"], format!("{policy}:2"));
    assert_eq!(rec["certificateClaimsChecked"], true);
    let (code, out, _) = gitsign(&repo, &["verify", "bob-work"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAILED") && out.contains(&format!("no rule in {policy} allows the signer \"{BOB}\"")),
        "{out}"
    );
    let range = "main~1..bob-work".to_string();
    let (code, out, _) = gitsign(&repo, &["verify", &range]);
    assert_eq!(code, 1, "{out}");
    let (code, out, err) = gitsign(&repo, &["verify-tag", "v1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("allowed by: {policy}:2")), "{out}");
    // Identity flags, when given, replace the policy.
    let (code, out, err) =
        gitsign(&repo, &["verify", "bob-work", "--certificate-identity", BOB, "--certificate-oidc-issuer", &issuer]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn rule_options_regexps_single_signer_keys_and_broken_files() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    commit_as(&sb, &repo, ALICE, "mine");
    // alice signs, carol is the committer
    std::fs::write(repo.path().join("theirs"), "x\n").unwrap();
    repo.git_ok(&["add", "theirs"]);
    repo.git_ok(&["-c", "user.email=carol@example.test", "commit", "-q", "-S", "-m", "theirs"]);
    repo.git_ok(&["branch", "carol-committed"]);
    repo.git_ok(&["reset", "-q", "--hard", "HEAD~1"]);

    // valid-before / valid-after against the log's time.
    let policy = set_policy(&repo, &format!("{ALICE} {issuer} valid-before=2000-01-01T00:00:00Z\n"));
    assert_eq!(trust(&repo, "HEAD"), "U");
    let (_, err) = stderr_of(&repo, &["verify-commit", "HEAD"]);
    assert!(err.contains(&format!("{policy}:1 allows it only before 2000-01-01T00:00:00Z")), "{err}");
    let (code, out, _) = gitsign(&repo, &["verify", "HEAD"]);
    assert_eq!(code, 1, "{out}");
    set_policy(&repo, &format!("{ALICE} {issuer} valid-after=2999-01-01T00:00:00Z\n"));
    assert_eq!(trust(&repo, "HEAD"), "U");
    set_policy(
        &repo,
        &format!("{ALICE} {issuer} valid-after=2000-01-01T00:00:00Z valid-before=2999-01-01T00:00:00Z\n"),
    );
    assert_eq!(trust(&repo, "HEAD"), "G");

    // committer-must-match
    set_policy(&repo, &format!("{ALICE} {issuer} committer-must-match\n"));
    assert_eq!(trust(&repo, "HEAD"), "G");
    assert_eq!(trust(&repo, "carol-committed"), "U");
    let (code, out, _) = gitsign(&repo, &["verify", "carol-committed"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the committer is \"carol@example.test\""), "{out}");

    // Regular expressions are anchored.
    let iss_re = regex::escape(&issuer);
    set_policy(&repo, &format!("/alice@example/ /{iss_re}/\n"));
    assert_eq!(trust(&repo, "HEAD"), "U");
    set_policy(&repo, &format!("/[a-z]+@example\\.test/ /{}/\n", &iss_re[..iss_re.len() / 2]));
    assert_eq!(trust(&repo, "HEAD"), "U");
    set_policy(&repo, &format!("/[a-z]+@example\\.test/ /{iss_re}/\n"));
    assert_eq!(trust(&repo, "HEAD"), "G");

    // A broken file fails closed, naming the file and line: no good signature at all.
    let policy = set_policy(&repo, &format!("{ALICE} {issuer}\n{ALICE}\n"));
    assert_eq!(trust(&repo, "HEAD"), "E");
    let (ok, err) = stderr_of(&repo, &["verify-commit", "HEAD"]);
    assert!(!ok);
    assert!(err.contains(&format!("{policy}:2: the rule for {ALICE} names no issuer")), "{err}");
    // ...and a tampered commit is still reported bad, not hidden behind the policy error.
    let head = repo.git_ok(&["rev-parse", "HEAD"]).trim().to_string();
    let raw = String::from_utf8(repo.cat_file("commit", &head)).unwrap();
    let forged = repo.hash_object("commit", raw.replace("\nmine\n", "\nm1ne\n").as_bytes());
    assert_ne!(forged, head);
    assert_eq!(trust(&repo, &forged), "B");
    let (code, _, err) = gitsign(&repo, &["verify", "HEAD"]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{policy}:2:")), "{err}");
    repo.git_ok(&["config", "gitsign.allowedSignersFile", "/nonexistent/allowed"]);
    assert_eq!(trust(&repo, "HEAD"), "E");
    let (_, err) = stderr_of(&repo, &["verify-commit", "HEAD"]);
    assert!(err.contains("cannot read the allowed signers file /nonexistent/allowed"), "{err}");

    // A relative path is taken from the top of the working tree; GITSIGN_ALLOWED_SIGNERS wins.
    std::fs::create_dir_all(repo.path().join(".gitsign")).unwrap();
    std::fs::write(repo.path().join(".gitsign/allowed"), format!("{BOB} {issuer}\n")).unwrap();
    repo.git_ok(&["config", "gitsign.allowedSignersFile", ".gitsign/allowed"]);
    assert_eq!(trust(&repo, "HEAD"), "U");
    let out = repo
        .cmd(Path::new("git"))
        .env("GITSIGN_ALLOWED_SIGNERS", repo.path().join("home/allowed_signers"))
        .args(["log", "-1", "--format=%G?"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "E"); // still the broken file

    // The single-signer keys.
    repo.git_ok(&["config", "--unset", "gitsign.allowedSignersFile"]);
    repo.git_ok(&["config", "gitsign.verify.certificateIdentity", BOB]);
    repo.git_ok(&["config", "gitsign.verify.certificateOidcIssuer", &issuer]);
    assert_eq!(trust(&repo, "HEAD"), "U");
    repo.git_ok(&["config", "--unset", "gitsign.verify.certificateIdentity"]);
    repo.git_ok(&["config", "gitsign.verify.certificateIdentityRegexp", ".*@example\\.test"]);
    assert_eq!(trust(&repo, "HEAD"), "G");
    let (code, out, err) = gitsign(&repo, &["verify", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"rule\":\"git config gitsign.verify.*\""), "{out}");
    repo.git_ok(&["config", "--unset", "gitsign.verify.certificateOidcIssuer"]);
    assert_eq!(trust(&repo, "HEAD"), "E");
}
