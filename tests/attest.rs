//! `gitsign attest` and `gitsign verify-attestation` end to end: real git repositories, the built
//! binary, and the local Sigstore stack (Fulcio, Rekor with intoto v0.0.1) as a real process.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Repo, Sandbox, TempDir, bin};
use gitsign::pipelines::attest::check::{CheckOptions, IntotoLog, verify_attestation};
use gitsign::pipelines::attest::refs::ObjType;
use gitsign::pipelines::attest::sign::AttestationError;
use gitsign::pipelines::verify::policy::{Policy, PolicyFlags};
use gitsign::services::rekor::client::{RekorClient, RekorError};
use gitsign::services::rekor::types::LogEntry;
use gitsign::trust::root::TrustedRoot;
use serde_json::Value;
use std::process::Output;

const ALICE: &str = "alice@example.test";
const SLSA: &str = "https://slsa.dev/provenance/v1";
const PREDICATE: &str = "{\n  \"buildDefinition\": {\"buildType\": \"https://example.test/build\"},\n  \"n\": 2\n}\n";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(repo: &Repo, args: &[&str]) -> Output {
    repo.cmd(&bin("gitsign")).args(args).output().expect("run gitsign")
}

fn run_ok(repo: &Repo, args: &[&str]) -> String {
    let out = run(repo, args);
    assert!(
        out.status.success(),
        "gitsign {args:?} failed:\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn plain_commit(repo: &Repo, file: &str, content: &str) -> String {
    std::fs::write(repo.path().join(file), content).unwrap();
    repo.git_ok(&["add", file]);
    repo.git_ok(&["commit", "-q", "-m", file]);
    repo.git_ok(&["rev-parse", "HEAD"]).trim().to_string()
}

fn verify_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["verify-attestation", "--certificate-identity", ALICE, "--certificate-oidc-issuer"];
    v.push("ISSUER");
    v.extend_from_slice(extra);
    v
}

fn issuer(sb: &Sandbox) -> String {
    sb.var("GITSIGN_OIDC_ISSUER")
}

/// Run verify-attestation with the sandbox issuer and Alice's identity.
fn verify(repo: &Repo, sb: &Sandbox, extra: &[&str]) -> Output {
    let iss = issuer(sb);
    let args: Vec<&str> =
        verify_args(extra).into_iter().map(|a| if a == "ISSUER" { iss.as_str() } else { a }).collect();
    run(repo, &args)
}

/// Replace `<ref>:<path>` with `content` in a new commit on the ref (as someone with push access
/// to the ref could).
fn rewrite(repo: &Repo, ref_name: &str, path: &str, content: &[u8]) {
    let (dir, file) = path.split_once('/').unwrap();
    let blob = repo.hash_object("blob", content);
    let ls = repo.git_ok(&["ls-tree", &format!("{ref_name}:{dir}")]);
    let mut lines: Vec<String> =
        ls.lines().filter(|l| !l.ends_with(&format!("\t{file}"))).map(str::to_string).collect();
    lines.push(format!("100644 blob {blob}\t{file}"));
    let sub = mktree(repo, &lines.join("\n"));
    let top = repo.git_ok(&["ls-tree", &format!("{ref_name}^{{tree}}")]);
    let mut lines: Vec<String> =
        top.lines().filter(|l| !l.ends_with(&format!("\t{dir}"))).map(str::to_string).collect();
    lines.push(format!("040000 tree {sub}\t{dir}"));
    let tree = mktree(repo, &lines.join("\n"));
    let parent = repo.git_ok(&["rev-parse", ref_name]).trim().to_string();
    let c = repo.git_ok(&["commit-tree", &tree, "-p", &parent, "-m", "tamper"]).trim().to_string();
    repo.git_ok(&["update-ref", ref_name, &c]);
}

/// Copy `<ref>:<from>/` to `<ref>:<to>/`.
fn copy_dir(repo: &Repo, ref_name: &str, from: &str, to: &str) {
    let sub = repo.git_ok(&["rev-parse", &format!("{ref_name}:{from}")]).trim().to_string();
    let top = repo.git_ok(&["ls-tree", &format!("{ref_name}^{{tree}}")]);
    let mut lines: Vec<String> = top.lines().map(str::to_string).collect();
    lines.push(format!("040000 tree {sub}\t{to}"));
    let tree = mktree(repo, &lines.join("\n"));
    let parent = repo.git_ok(&["rev-parse", ref_name]).trim().to_string();
    let c = repo.git_ok(&["commit-tree", &tree, "-p", &parent, "-m", "copy"]).trim().to_string();
    repo.git_ok(&["update-ref", ref_name, &c]);
}

fn mktree(repo: &Repo, listing: &str) -> String {
    use std::io::Write;
    let mut child = repo
        .cmd(std::path::Path::new("git"))
        .arg("mktree")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{listing}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    text(&out.stdout).trim().to_string()
}

fn envelope_of(repo: &Repo, ref_name: &str, path: &str) -> (Vec<u8>, Value, Vec<u8>) {
    let raw = repo.cat_file("blob", &format!("{ref_name}:{path}"));
    let env: Value = serde_json::from_slice(&raw).unwrap();
    let payload = STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
    (raw, env, payload)
}

#[test]
fn attest_commit_and_tree_then_verify() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    let head = plain_commit(&repo, "a.txt", "one\n");
    let tree = repo.git_ok(&["rev-parse", "HEAD^{tree}"]).trim().to_string();
    let files = TempDir::new("attest-files");
    let pred = files.path().join("provenance.json");
    std::fs::write(&pred, PREDICATE).unwrap();
    // An untracked and a staged change: attest must leave both, the index and HEAD alone.
    std::fs::write(repo.path().join("untracked.txt"), "u\n").unwrap();
    std::fs::write(repo.path().join("a.txt"), "staged\n").unwrap();
    repo.git_ok(&["add", "a.txt"]);
    let status_before = repo.git_ok(&["status", "--porcelain"]);

    let out = run(&repo, &["attest", "-f", pred.to_str().unwrap(), "--type", SLSA]);
    assert!(out.status.success(), "attest: {}", text(&out.stderr));
    let att_commit = text(&out.stdout).trim().to_string();
    assert_eq!(text(&out.stdout), format!("{att_commit}\n"), "stdout carries only the attestation commit id");
    assert_eq!(repo.git_ok(&["rev-parse", "refs/attestations/commits"]).trim(), att_commit);
    assert_eq!(repo.git_ok(&["rev-parse", "HEAD"]).trim(), head);
    assert_eq!(repo.git_ok(&["status", "--porcelain"]), status_before);

    // Layout: <commit>/provenance.json (verbatim) and <commit>/provenance.json.sig.
    let listing = repo.git_ok(&["ls-tree", "-r", "refs/attestations/commits"]);
    let names: Vec<&str> = listing.lines().map(|l| l.split('\t').nth(1).unwrap()).collect();
    assert_eq!(names, [format!("{head}/provenance.json"), format!("{head}/provenance.json.sig")]);
    assert!(listing.lines().all(|l| l.starts_with("100644 blob ")), "{listing}");
    assert_eq!(text(&repo.cat_file("blob", &format!("refs/attestations/commits:{head}/provenance.json"))), PREDICATE);
    let raw_commit = text(&repo.cat_file("commit", &att_commit));
    assert!(raw_commit.ends_with("\n\nGitsign attest provenance.json"), "{raw_commit}");
    assert!(!raw_commit.contains("\nparent "), "the first attestation commit has no parent: {raw_commit}");
    assert!(raw_commit.contains(&format!("\nauthor Test User <{ALICE}> ")), "{raw_commit}");
    repo.git_ok(&["fsck", "--strict", "--no-dangling"]);

    // The envelope and statement, field by field and byte for byte.
    let (raw_env, env, payload) =
        envelope_of(&repo, "refs/attestations/commits", &format!("{head}/provenance.json.sig"));
    assert!(
        text(&raw_env).starts_with(r#"{"payloadType":"application/vnd.in-toto+json","payload":""#),
        "{}",
        text(&raw_env)
    );
    assert_eq!(env["signatures"].as_array().unwrap().len(), 1);
    assert_eq!(env["signatures"][0]["keyid"], "");
    assert_eq!(
        text(&payload),
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"gitCommit":"{head}"}}}}],"predicateType":"{SLSA}","predicate":{{"buildDefinition":{{"buildType":"https://example.test/build"}},"n":2}}}}"#
        )
    );

    // Verification succeeds with the right identity and type.
    let v = verify(&repo, &sb, &["--type", SLSA]);
    assert!(v.status.success(), "verify-attestation: {}", text(&v.stderr));
    let said = text(&v.stdout);
    assert!(
        said.starts_with(&format!(
            "Verified provenance.json for commit {head}: predicate type \"{SLSA}\", signed by {ALICE}"
        )),
        "{said}"
    );

    // A tree attestation (no --type: predicateType left out, as gitsign does).
    let sbom = files.path().join("sbom.json");
    std::fs::write(&sbom, r#"{"spdxVersion":"SPDX-2.3"}"#).unwrap();
    let tree_commit = run_ok(&repo, &["attest", "-f", sbom.to_str().unwrap(), "--objtype", "tree"]).trim().to_string();
    assert_eq!(repo.git_ok(&["rev-parse", "refs/attestations/trees"]).trim(), tree_commit);
    let (_, _, payload) = envelope_of(&repo, "refs/attestations/trees", &format!("{tree}/sbom.json.sig"));
    assert_eq!(
        text(&payload),
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"gitTree":"{tree}"}}}}],"predicate":{{"spdxVersion":"SPDX-2.3"}}}}"#
        )
    );
    let v = verify(&repo, &sb, &["--objtype", "tree"]);
    assert!(v.status.success(), "tree verify: {}", text(&v.stderr));
    assert!(
        text(&v.stdout).contains(&format!("Verified sbom.json for tree {tree}: predicate type \"\"")),
        "{}",
        text(&v.stdout)
    );

    // A second attestation of the same commit keeps the first: a child commit, both files.
    let second = run_ok(&repo, &["attest", "-f", sbom.to_str().unwrap(), "--type", "https://spdx.dev/Document"]);
    let second = second.trim();
    assert_eq!(repo.git_ok(&["rev-parse", &format!("{second}^")]).trim(), att_commit);
    let listing = repo.git_ok(&["ls-tree", "-r", "--name-only", "refs/attestations/commits"]);
    assert_eq!(listing.lines().count(), 4, "{listing}");
    let v = verify(&repo, &sb, &[]);
    assert!(v.status.success(), "{}", text(&v.stderr));
    assert_eq!(text(&v.stdout).lines().count(), 2, "{}", text(&v.stdout));
    // --type filters; a type nobody attested fails.
    let v = verify(&repo, &sb, &["--type", "https://spdx.dev/Document"]);
    assert!(v.status.success());
    assert_eq!(text(&v.stdout).lines().count(), 1);
    let v = verify(&repo, &sb, &["--type", "https://example.test/other"]);
    assert!(!v.status.success());
    assert!(text(&v.stderr).contains("has predicate type"), "{}", text(&v.stderr));

    // Wrong identity.
    let iss = issuer(&sb);
    let v = run(
        &repo,
        &["verify-attestation", "--certificate-identity", "bob@example.test", "--certificate-oidc-issuer", &iss],
    );
    assert_eq!(v.status.code(), Some(1));
    assert!(text(&v.stderr).contains("validly signed, but"), "{}", text(&v.stderr));
    assert!(v.stdout.is_empty());
    // Wrong issuer.
    let v = run(
        &repo,
        &[
            "verify-attestation",
            "--certificate-identity",
            ALICE,
            "--certificate-oidc-issuer",
            "https://accounts.google.com",
        ],
    );
    assert_eq!(v.status.code(), Some(1), "{}", text(&v.stderr));
    // No identity policy at all is a usage error.
    assert_eq!(run(&repo, &["verify-attestation"]).status.code(), Some(2));

    // Nothing attested for another commit.
    let next = plain_commit(&repo, "b.txt", "two\n");
    let v = verify(&repo, &sb, &[]);
    assert_eq!(v.status.code(), Some(1));
    assert!(text(&v.stderr).contains("no attestation stored for commit"), "{}", text(&v.stderr));

    // The attestation copied onto another commit: its subject names the first one.
    copy_dir(&repo, "refs/attestations/commits", &head, &next);
    let v = verify(&repo, &sb, &["--name", "provenance.json"]);
    assert_eq!(v.status.code(), Some(1));
    assert!(text(&v.stderr).contains("copied from another object"), "{}", text(&v.stderr));

    // The predicate file changed after signing.
    rewrite(&repo, "refs/attestations/commits", &format!("{head}/provenance.json"), b"{\"n\":3}");
    let v = verify(&repo, &sb, &["HEAD^", "--name", "provenance.json"]);
    assert_eq!(v.status.code(), Some(1));
    assert!(text(&v.stderr).contains("changed after signing"), "{}", text(&v.stderr));

    // A tampered payload (the same statement about the same commit, another predicate value),
    // with the stored predicate file changed to match: no log entry records this envelope.
    let (_, mut env, payload) = envelope_of(&repo, "refs/attestations/commits", &format!("{head}/sbom.json.sig"));
    let forged = text(&payload).replace("SPDX-2.3", "SPDX-9.9");
    env["payload"] = Value::String(STANDARD.encode(&forged));
    rewrite(&repo, "refs/attestations/commits", &format!("{head}/sbom.json.sig"), env.to_string().as_bytes());
    rewrite(&repo, "refs/attestations/commits", &format!("{head}/sbom.json"), br#"{"spdxVersion":"SPDX-9.9"}"#);
    let v = verify(&repo, &sb, &["HEAD^", "--name", "sbom.json"]);
    assert_eq!(v.status.code(), Some(1));
    assert!(text(&v.stderr).contains("has no entry recording this attestation"), "{}", text(&v.stderr));
}

#[test]
fn attest_refuses_bad_input_before_signing() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    plain_commit(&repo, "a.txt", "one\n");
    let files = TempDir::new("attest-bad");
    let arr = files.path().join("list.json");
    std::fs::write(&arr, "[1,2]").unwrap();
    let out = run(&repo, &["attest", "-f", arr.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("JSON object"), "{}", text(&out.stderr));
    let out = run(&repo, &["attest", "-f", files.path().join("missing.json").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let ok = files.path().join("ok.json");
    std::fs::write(&ok, "{}").unwrap();
    let out = run(&repo, &["attest", "-f", ok.to_str().unwrap(), "no-such-rev"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not name a commit"), "{}", text(&out.stderr));
    let out = run(&repo, &["attest", "-f", ok.to_str().unwrap(), "--objtype", "blob"]);
    assert_eq!(out.status.code(), Some(2));
    // Nothing was stored.
    assert!(!repo.git(&["rev-parse", "--verify", "-q", "refs/attestations/commits"]).status.success());
}

/// A log that answers searches with another attestation's entry (a real one, from the same
/// real Rekor): the entry belongs to another artifact and must not vouch for this one.
struct LyingLog<'a> {
    real: &'a RekorClient,
    other_uuid: String,
}

impl IntotoLog for LyingLog<'_> {
    fn search_by_hash(&self, _: &[u8; 32]) -> Result<Vec<String>, RekorError> {
        Ok(vec![self.other_uuid.clone()])
    }
    fn get_entry(&self, uuid: &str) -> Result<(String, LogEntry), RekorError> {
        self.real.get_entry(uuid)
    }
    fn base_url(&self) -> &str {
        self.real.base_url()
    }
}

#[test]
fn library_verification_binds_the_entry_to_the_envelope() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    let head = plain_commit(&repo, "a.txt", "one\n");
    let files = TempDir::new("attest-lib");
    for (name, body) in [("one.json", r#"{"k":1}"#), ("two.json", r#"{"k":2}"#)] {
        let p = files.path().join(name);
        std::fs::write(&p, body).unwrap();
        run_ok(&repo, &["attest", "-f", p.to_str().unwrap(), "--type", SLSA]);
    }
    let read = |name: &str| repo.cat_file("blob", &format!("refs/attestations/commits:{head}/{name}"));
    let (one_env, one_pred, two_env) = (read("one.json.sig"), read("one.json"), read("two.json.sig"));

    let trust = TrustedRoot::from_file(sb.var("GITSIGN_TRUSTED_ROOT")).unwrap();
    let http = gitsign::services::http::client(&gitsign::services::http::HttpOptions {
        plain_http_only: true,
        ..Default::default()
    })
    .unwrap();
    let rekor = RekorClient::new(&sb.var("GITSIGN_REKOR_URL"), http);
    let policy = Policy::from_flags(&PolicyFlags {
        identity: Some(ALICE.into()),
        issuer: Some(issuer(&sb)),
        ..Default::default()
    })
    .unwrap();
    let opts = CheckOptions { trust: &trust, policy: &policy, predicate_type: Some(SLSA), insecure_ignore_sct: false };
    let v = verify_attestation(&one_env, Some(("one.json", &one_pred)), ObjType::Commit, &head, &rekor, &opts).unwrap();
    assert_eq!(v.identity, ALICE);
    assert_eq!(v.predicate_type, SLSA);
    assert!(v.integrated_time > 1_700_000_000);

    // The uuid of two.json's entry, found through the real index.
    let two_hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&two_env).into();
    let two_uuids = rekor.search_by_hash(&two_hash).unwrap();
    assert_eq!(two_uuids.len(), 1);
    let lying = LyingLog { real: &rekor, other_uuid: two_uuids[0].clone() };
    let err = verify_attestation(&one_env, None, ObjType::Commit, &head, &lying, &opts).unwrap_err();
    assert!(
        matches!(err, AttestationError::Tlog(gitsign::services::rekor::verify::TlogError::BodyMismatch)),
        "an entry for another envelope must not verify: {err}"
    );

    // Another trusted root (production): the sandbox's log and CA are unknown there.
    let prod = TrustedRoot::production().unwrap();
    let opts_prod = CheckOptions { trust: prod, ..opts };
    let err = verify_attestation(&one_env, None, ObjType::Commit, &head, &rekor, &opts_prod).unwrap_err();
    assert!(matches!(err, AttestationError::Tlog(_)), "{err}");

    // The sandbox Rekor, like the real one, refuses an envelope whose signature does not verify.
    let mut env: Value = serde_json::from_slice(&one_env).unwrap();
    env["payload"] = Value::String(STANDARD.encode(b"{}"));
    let cert_pem = {
        let body = rekor
            .get_entry(&rekor.search_by_hash(&<sha2::Sha256 as sha2::Digest>::digest(&one_env).into()).unwrap()[0])
            .unwrap()
            .1
            .body;
        let body: Value = serde_json::from_slice(&STANDARD.decode(body).unwrap()).unwrap();
        body["spec"]["publicKey"].as_str().unwrap().to_string()
    };
    let proposed = serde_json::json!({"apiVersion": "0.0.1", "kind": "intoto", "spec": {"content": {"envelope": env.to_string()}, "publicKey": cert_pem}});
    match rekor.create_entry(&proposed) {
        Err(RekorError::Status { status: 400, message, .. }) => assert!(message.contains("signature"), "{message}"),
        other => panic!("a forged envelope was logged: {other:?}"),
    }
}

/// An independent implementation checks what we produce: Python's `cryptography` (pinned through
/// sigstore-python in target/peers/venv) verifies the envelope signature over its own PAE with the
/// certificate Rekor recorded, and recomputes the intoto v0.0.1 body's hashes. (sigstore-python
/// itself only verifies DSSE bundles with dsse 0.0.1 entries, not the intoto 0.0.1 gitsign logs.)
#[test]
fn python_cryptography_checks_the_envelope_and_entry() {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers/venv/bin/python");
    assert!(python.exists(), "{} missing: run ./test.sh, which installs the pinned peers", python.display());
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    let head = plain_commit(&repo, "a.txt", "one\n");
    let files = TempDir::new("attest-py");
    let pred = files.path().join("p.json");
    std::fs::write(&pred, r#"{"k":"v"}"#).unwrap();
    run_ok(&repo, &["attest", "-f", pred.to_str().unwrap(), "--type", SLSA]);
    let env = repo.cat_file("blob", &format!("refs/attestations/commits:{head}/p.json.sig"));
    let http = gitsign::services::http::client(&gitsign::services::http::HttpOptions {
        plain_http_only: true,
        ..Default::default()
    })
    .unwrap();
    let rekor = RekorClient::new(&sb.var("GITSIGN_REKOR_URL"), http);
    let uuids = rekor.search_by_hash(&<sha2::Sha256 as sha2::Digest>::digest(&env).into()).unwrap();
    assert_eq!(uuids.len(), 1);
    let body = rekor.get_entry(&uuids[0]).unwrap().1.body;
    std::fs::write(files.path().join("env.json"), &env).unwrap();
    std::fs::write(files.path().join("body.b64"), &body).unwrap();
    let script = r#"
import base64, hashlib, json, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
env_raw = open(sys.argv[1], "rb").read()
body = json.loads(base64.b64decode(open(sys.argv[2]).read()))
env = json.loads(env_raw)
payload = base64.b64decode(env["payload"])
pt = env["payloadType"].encode()
pae = b"DSSEv1 %d %s %d %s" % (len(pt), pt, len(payload), payload)
assert body["kind"] == "intoto" and body["apiVersion"] == "0.0.1", body
cert = x509.load_pem_x509_certificate(base64.b64decode(body["spec"]["publicKey"]))
cert.public_key().verify(base64.b64decode(env["signatures"][0]["sig"]), pae, ec.ECDSA(hashes.SHA256()))
assert body["spec"]["content"]["hash"] == {"algorithm": "sha256", "value": hashlib.sha256(env_raw).hexdigest()}
assert body["spec"]["content"]["payloadHash"] == {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}
st = json.loads(payload)
san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
print(st["subject"][0]["digest"]["gitCommit"], st["predicateType"], san.get_values_for_type(x509.RFC822Name)[0])
"#;
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(files.path().join("env.json"))
        .arg(files.path().join("body.b64"))
        .output()
        .unwrap();
    assert!(out.status.success(), "python: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), format!("{head} {SLSA} {ALICE}"));

    // The same check refuses a payload changed by one byte.
    let mut forged: Value = serde_json::from_slice(&env).unwrap();
    let mut payload = STANDARD.decode(forged["payload"].as_str().unwrap()).unwrap();
    *payload.last_mut().unwrap() = b' ';
    forged["payload"] = Value::String(STANDARD.encode(&payload));
    std::fs::write(files.path().join("env.json"), forged.to_string()).unwrap();
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(files.path().join("env.json"))
        .arg(files.path().join("body.b64"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "a forged envelope passed the independent check");
    assert!(text(&out.stderr).contains("InvalidSignature"), "{}", text(&out.stderr));
}

#[test]
fn sha256_repository() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    let sub = repo.path().join("sha256");
    let git = |args: &[&str]| {
        let o = repo.cmd(std::path::Path::new("git")).current_dir(&sub).args(args).output().unwrap();
        assert!(o.status.success(), "git {args:?}: {}", text(&o.stderr));
        text(&o.stdout).trim().to_string()
    };
    std::fs::create_dir_all(&sub).unwrap();
    git(&["init", "-q", "--object-format=sha256"]);
    git(&["config", "user.name", "Test User"]);
    git(&["config", "user.email", ALICE]);
    git(&["commit", "-q", "--allow-empty", "-m", "x"]);
    let head = git(&["rev-parse", "HEAD"]);
    assert_eq!(head.len(), 64);
    let pred = sub.join("..").join("p.json");
    std::fs::write(&pred, r#"{"k":1}"#).unwrap();
    let gs = |args: &[&str]| repo.cmd(&bin("gitsign")).current_dir(&sub).args(args).output().unwrap();
    let o = gs(&["attest", "-f", pred.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim().len(), 64);
    assert_eq!(
        git(&["ls-tree", "-r", "--name-only", "refs/attestations/commits"]),
        format!("{head}/p.json\n{head}/p.json.sig")
    );
    let iss = issuer(&sb);
    let o = gs(&["verify-attestation", "--certificate-identity", ALICE, "--certificate-oidc-issuer", &iss]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).starts_with(&format!("Verified p.json for commit {head}")), "{}", text(&o.stdout));
}
