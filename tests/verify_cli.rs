//! `gitsign verify` / `verify-tag` with identity policy, ranges and JSON output, against
//! commits signed through git with the local stack.
mod common;
use common::{Repo, Sandbox, bin};

fn run(repo: &Repo, args: &[&str]) -> (i32, String, String) {
    let out = repo.cmd(&bin("gitsign")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn policy_ranges_tags_and_json() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, "alice@example.test");
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let first = repo.signed_commit("a", "1\n", "one");
    repo.signed_commit("b", "2\n", "two");
    repo.signed_commit("c", "3\n", "three");
    repo.git_ok(&["tag", "-s", "v1", "-m", "v1"]);
    let id = ["--certificate-identity", "alice@example.test", "--certificate-oidc-issuer", issuer.as_str()];

    // a range in one process: three commits
    let range = format!("{first}~0..HEAD");
    let mut args = vec!["verify", range.as_str()];
    args.extend(id);
    let (code, out, err) = run(&repo, &args);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches(": VERIFIED").count(), 2, "{out}"); // first..HEAD excludes first
    assert!(out.contains("2 of 2 objects verified"), "{out}");
    assert!(out.contains("identity: alice@example.test"), "{out}");
    assert!(out.contains("(embedded)"), "{out}");

    // default HEAD, JSON
    let mut args = vec!["verify", "--json"];
    args.extend(id);
    let (code, out, _) = run(&repo, &args);
    assert_eq!(code, 0);
    let rec: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(rec["verified"], true);
    assert_eq!(rec["identity"], "alice@example.test");
    assert_eq!(rec["issuer"], issuer.as_str());
    assert!(rec["logIndex"].as_i64().is_some());

    // tags
    let mut args = vec!["verify-tag", "v1"];
    args.extend(id);
    let (code, out, err) = run(&repo, &args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" tag: VERIFIED"), "{out}");

    // the wrong identity, issuer, regexp: exit 1 with the reason
    for bad in [
        vec!["verify", "--certificate-identity", "mallory@example.test", "--certificate-oidc-issuer", issuer.as_str()],
        vec![
            "verify",
            "--certificate-identity",
            "alice@example.test",
            "--certificate-oidc-issuer",
            "https://accounts.google.com",
        ],
        vec![
            "verify",
            "--certificate-identity-regexp",
            "^alice@example\\.org$",
            "--certificate-oidc-issuer-regexp",
            ".",
        ],
    ] {
        let (code, out, _) = run(&repo, &bad);
        assert_eq!(code, 1, "{bad:?}: {out}");
        assert!(out.contains("FAILED") && out.contains("does not match"), "{out}");
    }
    // unanchored regexps match substrings, as in cosign
    let (code, out, _) = run(
        &repo,
        &["verify", "--certificate-identity-regexp", "alice", "--certificate-oidc-issuer-regexp", "127\\.0\\.0\\.1"],
    );
    assert_eq!(code, 0, "{out}");

    // identity and issuer are required
    let (code, _, err) = run(&repo, &["verify"]);
    assert_eq!(code, 2);
    assert!(err.contains("--certificate-identity or --certificate-identity-regexp is required"), "{err}");
    let (code, _, _) = run(&repo, &["verify", "--insecure-no-identity"]);
    assert_eq!(code, 0);

    // --match-committer: a commit whose committer email is not the certificate's
    repo.git_ok(&["config", "user.email", "bob@example.test"]);
    repo.signed_commit("d", "4\n", "committed as bob, signed as alice");
    let mut args = vec!["verify", "--match-committer"];
    args.extend(id);
    let (code, out, _) = run(&repo, &args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("committer email \"bob@example.test\""), "{out}");

    // a lightweight tag is refused for verify-tag
    repo.git_ok(&["tag", "light"]);
    let mut args = vec!["verify-tag", "light"];
    args.extend(id);
    let (code, _, err) = run(&repo, &args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not an annotated tag"), "{err}");
}
