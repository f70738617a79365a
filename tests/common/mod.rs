//! Shared harness for end-to-end tests: temp dirs, the local Sigstore stack as a real
//! process, and git repositories configured to sign with the built `gitsign`.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Path of a binary built by `cargo build --workspace --bins` (beside the test's own gitsign).
pub(crate) fn bin(name: &str) -> PathBuf {
    let gitsign = PathBuf::from(env!("CARGO_BIN_EXE_gitsign"));
    let p = gitsign.parent().unwrap().join(name);
    assert!(p.exists(), "{} is missing: run `cargo build --workspace --bins` first (test.sh does)", p.display());
    p
}

/// The shared reference material beside the checkout.
pub(crate) fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

pub(crate) use testsupport::TempDir;

/// A running `gitsign-sandbox serve`.
pub(crate) struct Sandbox {
    pub dir: TempDir,
    child: Child,
    /// Variables from `gitsign-sandbox env`.
    pub env: Vec<(String, String)>,
}

impl Sandbox {
    pub(crate) fn start() -> Sandbox {
        Sandbox::start_with(&[])
    }

    pub(crate) fn start_with(extra: &[&str]) -> Sandbox {
        let dir = TempDir::new("sandbox");
        let sbdir = dir.path().join("stack");
        let (child, _) = testsupport::process::spawn_until_ready(
            Command::new(bin("gitsign-sandbox"))
                .arg("serve")
                .arg("--dir")
                .arg(&sbdir)
                .args(["--addr", "127.0.0.1:0"])
                .args(extra)
                .stdin(Stdio::null())
                .stderr(Stdio::inherit()),
            Duration::from_secs(30),
        );
        let out = Command::new(bin("gitsign-sandbox")).arg("env").arg("--dir").arg(&sbdir).output().unwrap();
        assert!(out.status.success(), "sandbox env: {}", String::from_utf8_lossy(&out.stderr));
        let env = parse_exports(&String::from_utf8(out.stdout).unwrap());
        assert!(env.iter().any(|(k, _)| k == "GITSIGN_TRUSTED_ROOT"), "env lacks GITSIGN_TRUSTED_ROOT: {env:?}");
        Sandbox { dir, child, env }
    }

    pub(crate) fn stack_dir(&self) -> PathBuf {
        self.dir.path().join("stack")
    }

    pub(crate) fn var(&self, k: &str) -> String {
        self.env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("no {k}"))
    }

    /// An ID token for `email`, minted by the sandbox's issuer.
    pub(crate) fn token(&self, email: &str) -> String {
        let out = Command::new(bin("gitsign-sandbox"))
            .arg("token")
            .arg("--dir")
            .arg(self.stack_dir())
            .args(["--email", email])
            .output()
            .unwrap();
        assert!(out.status.success(), "sandbox token: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parse `export K='V'` lines.
pub(crate) fn parse_exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').trim_matches('"').to_string()))
        .collect()
}

/// A git repository in a temp dir, isolated from the user's configuration, set up to sign
/// with the built gitsign.
pub(crate) struct Repo {
    pub dir: TempDir,
    pub env: Vec<(String, String)>,
}

impl Repo {
    /// A repository whose signing goes to `sandbox` with a token for `email`.
    pub(crate) fn new(sandbox: &Sandbox, email: &str) -> Repo {
        let mut env = sandbox.env.clone();
        env.push(("SIGSTORE_ID_TOKEN".into(), sandbox.token(email)));
        Repo::with_env(env, email)
    }

    pub(crate) fn with_env(mut env: Vec<(String, String)>, email: &str) -> Repo {
        let dir = TempDir::new("repo");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        env.push(("HOME".into(), home.display().to_string()));
        env.push(("GIT_CONFIG_NOSYSTEM".into(), "1".into()));
        env.push(("GIT_CONFIG_GLOBAL".into(), home.join(".gitconfig").display().to_string()));
        env.push(("GIT_TERMINAL_PROMPT".into(), "0".into()));
        let repo = Repo { dir, env };
        repo.git_ok(&["init", "-q", "-b", "main", "."]);
        repo.git_ok(&["config", "user.name", "Test User"]);
        repo.git_ok(&["config", "user.email", email]);
        repo.git_ok(&["config", "gpg.format", "x509"]);
        repo.git_ok(&["config", "gpg.x509.program", bin("gitsign").to_str().unwrap()]);
        repo
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.path());
        c.env_remove("SIGSTORE_ID_TOKEN");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.stdin(Stdio::null());
        c
    }

    pub(crate) fn git(&self, args: &[&str]) -> Output {
        self.cmd(Path::new("git")).args(args).output().expect("run git")
    }

    /// Run git, insist on success, return stdout.
    pub(crate) fn git_ok(&self, args: &[&str]) -> String {
        let out = self.git(args);
        assert!(
            out.status.success(),
            "git {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Write a file and make a signed commit.
    pub(crate) fn signed_commit(&self, file: &str, content: &str, msg: &str) -> String {
        std::fs::write(self.path().join(file), content).unwrap();
        self.git_ok(&["add", file]);
        self.git_ok(&["commit", "-q", "-S", "-m", msg]);
        self.git_ok(&["rev-parse", "HEAD"]).trim().to_string()
    }

    /// Store raw object bytes, returning the id.
    pub(crate) fn hash_object(&self, kind: &str, content: &[u8]) -> String {
        use std::io::Write;
        let mut child = self
            .cmd(Path::new("git"))
            .args(["hash-object", "--literally", "-t", kind, "-w", "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(content).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub(crate) fn cat_file(&self, kind: &str, id: &str) -> Vec<u8> {
        let out = self.git(&["cat-file", kind, id]);
        assert!(out.status.success());
        out.stdout
    }
}
