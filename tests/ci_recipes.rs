//! The CI recipes in README.md: every `gitsign verify` / `gitsign verify-tag` line of the
//! "CI recipes" section is run as written (through `sh -c`, after the `git show` line before it
//! that fetches the allowed-signers policy from the base branch, with the CI variables they use
//! set) against commits and tags signed with the local stack: it passes on a range of good
//! signatures and fails on an unsigned commit, a stranger's signature (even when the stranger's
//! commit adds itself to the policy file) and a stranger's tag.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Repo, Sandbox, bin};

const ALICE: &str = "alice@example.test";
const MALLORY: &str = "mallory@evil.test";

/// The verification commands of the README's "CI recipes" section, each joined (`&&`) to the
/// policy-fetching line (`git show …`) before it.
fn recipe_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("\n## CI recipes").expect("README has a '## CI recipes' section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut setup: Option<String> = None;
    let mut out = Vec::new();
    for l in section.lines().map(|l| l.trim().trim_start_matches("- run:").trim_start_matches("- ").trim()) {
        if l.starts_with("git show") || l.starts_with("git fetch") {
            setup = Some(l.to_string());
        } else if l.starts_with("gitsign verify") || l.starts_with("GITSIGN_ALLOWED_SIGNERS=") {
            let setup = setup.take().unwrap_or_else(|| panic!("{l}: no `git show` of the policy before it"));
            out.push(format!("{setup} && {l}"));
        }
    }
    out
}

struct Ci<'a> {
    repo: &'a Repo,
}

impl Ci<'_> {
    /// Run one recipe line as the CI would, with its variables for `base..head` and `tag`.
    fn run(&self, command: &str, base: &str, head: &str, tag: &str) -> std::process::Output {
        let gitsign_dir = bin("gitsign").parent().unwrap().to_path_buf();
        let path = format!("{}:{}", gitsign_dir.display(), std::env::var("PATH").unwrap_or_default());
        let temp = self.repo.path().join("home");
        self.repo
            .cmd(std::path::Path::new("sh"))
            .args(["-c", command])
            .env("PATH", path)
            .env_remove("SIGSTORE_ID_TOKEN")
            .env("RUNNER_TEMP", &temp)
            .env("CI_BUILDS_DIR", &temp)
            .env("CI_DEFAULT_BRANCH", "main")
            // GitHub Actions
            .env("BASE_SHA", base)
            .env("HEAD_SHA", head)
            .env("GITHUB_REF_NAME", tag)
            // GitLab CI
            .env("CI_MERGE_REQUEST_DIFF_BASE_SHA", base)
            .env("CI_COMMIT_SHA", head)
            .env("CI_COMMIT_TAG", tag)
            .output()
            .unwrap()
    }
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn readme_ci_verify_commands_pass_and_fail_as_they_should() {
    let commands = recipe_commands();
    let ranges: Vec<&String> = commands.iter().filter(|c| c.contains("gitsign verify ")).collect();
    let tags: Vec<&String> = commands.iter().filter(|c| c.contains("gitsign verify-tag ")).collect();
    assert!(ranges.len() >= 2 && tags.len() >= 2, "expected GitHub and GitLab PR and tag jobs: {commands:#?}");
    for c in &commands {
        assert!(c.contains("GITSIGN_ALLOWED_SIGNERS="), "{c}: no allowed-signers policy");
        assert!(!c.contains("--insecure-no-identity"), "{c}: accepts anyone");
    }

    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let ci = Ci { repo: &repo };
    // The policies, on the protected default branch; "origin" is the repository itself.
    std::fs::create_dir_all(repo.path().join(".gitsign")).unwrap();
    let signers = format!("/[a-z]+@example\\.test/ {issuer}\n");
    std::fs::write(repo.path().join(".gitsign/allowed_signers"), &signers).unwrap();
    std::fs::write(repo.path().join(".gitsign/release_signers"), format!("{ALICE} {issuer} committer-must-match\n"))
        .unwrap();
    repo.git_ok(&["add", ".gitsign"]);
    let base = repo.signed_commit("a", "1\n", "base");
    repo.git_ok(&["remote", "add", "origin", &repo.path().display().to_string()]);
    repo.git_ok(&["fetch", "-q", "origin"]);
    repo.signed_commit("b", "2\n", "pr one");
    let head = repo.signed_commit("c", "3\n", "pr two");
    repo.git_ok(&["tag", "-s", "v1.0.0", "-m", "release 1.0.0"]);

    for c in &ranges {
        let o = ci.run(c, &base, &head, "v1.0.0");
        assert!(o.status.success(), "{c}\n{}", text(&o));
        assert!(text(&o).contains("2 of 2 objects verified"), "{c}\n{}", text(&o));
    }
    for c in &tags {
        let o = ci.run(c, &base, &head, "v1.0.0");
        assert!(o.status.success(), "{c}\n{}", text(&o));
        assert!(text(&o).contains("tag: VERIFIED"), "{c}\n{}", text(&o));
    }

    // An unsigned commit in the pull request fails the job and is named.
    std::fs::write(repo.path().join("d"), "4\n").unwrap();
    repo.git_ok(&["add", "d"]);
    repo.git_ok(&["-c", "commit.gpgsign=false", "commit", "-q", "-m", "unsigned"]);
    let unsigned = repo.git_ok(&["rev-parse", "HEAD"]).trim().to_string();
    for c in &ranges {
        let o = ci.run(c, &base, &unsigned, "v1.0.0");
        assert_eq!(o.status.code(), Some(1), "{c}\n{}", text(&o));
        assert!(text(&o).contains(&format!("{unsigned} commit: FAILED")), "{c}\n{}", text(&o));
    }

    // A commit and a tag signed by someone the policy does not name.
    let mallory = sb.token(MALLORY);
    let git_as_mallory = |args: &[&str]| {
        let o = repo.cmd(std::path::Path::new("git")).args(args).env("SIGSTORE_ID_TOKEN", &mallory).output().unwrap();
        assert!(o.status.success(), "git {args:?}: {}", text(&o));
    };
    // mallory also adds themself to the policy in the same commit: the recipes read the base's.
    std::fs::write(repo.path().join("e"), "5\n").unwrap();
    std::fs::write(repo.path().join(".gitsign/allowed_signers"), format!("{signers}{MALLORY} {issuer}\n")).unwrap();
    repo.git_ok(&["add", "e", ".gitsign"]);
    git_as_mallory(&["commit", "-q", "-S", "-m", "by mallory"]);
    let strange = repo.git_ok(&["rev-parse", "HEAD"]).trim().to_string();
    git_as_mallory(&["tag", "-s", "v1.0.1", "-m", "release 1.0.1"]);
    for c in &ranges {
        let o = ci.run(c, &unsigned, &strange, "v1.0.1");
        assert_eq!(o.status.code(), Some(1), "{c}\n{}", text(&o));
        assert!(text(&o).contains(MALLORY) && text(&o).contains("no rule in"), "{c}\n{}", text(&o));
    }
    for c in &tags {
        let o = ci.run(c, &unsigned, &strange, "v1.0.1");
        assert_eq!(o.status.code(), Some(1), "{c}\n{}", text(&o));
        assert!(text(&o).contains("no rule in"), "{c}\n{}", text(&o));
    }
}
