//! RFC 3161 timestamps end to end: commits signed through git with the sandbox and its TSA
//! (`gitsign-sandbox env --tsa`), verified by `git verify-commit` and `gitsign verify`; a
//! tampered token, a wrong TSA chain and no trusted TSA are rejected.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Repo, Sandbox, TempDir, bin, parse_exports};
use gitsign::git::object::{HashAlgo, ObjectKind};
use std::process::Command;

const ALICE: &str = "alice@example.test";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `gitsign-sandbox env --tsa`.
fn tsa_env(sb: &Sandbox) -> Vec<(String, String)> {
    let out =
        Command::new(bin("gitsign-sandbox")).args(["env", "--tsa", "--dir"]).arg(sb.stack_dir()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    parse_exports(&String::from_utf8(out.stdout).unwrap())
}

fn with_var(env: &[(String, String)], k: &str, v: Option<&str>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env.iter().filter(|(key, _)| key != k).cloned().collect();
    if let Some(v) = v {
        env.push((k.into(), v.into()));
    }
    env
}

/// `program` in the repository with exactly `env` over the repository's variables: a variable
/// of the repository missing from `env` is removed.
fn run_with(repo: &Repo, program: &std::path::Path, env: &[(String, String)], args: &[&str]) -> std::process::Output {
    let mut c = repo.cmd(program);
    for (k, _) in &repo.env {
        if !env.iter().any(|(key, _)| key == k) {
            c.env_remove(k);
        }
    }
    c.envs(env.iter().cloned()).args(args).output().unwrap()
}

fn verify_commit(repo: &Repo, env: &[(String, String)], id: &str) -> std::process::Output {
    run_with(repo, std::path::Path::new("git"), env, &["verify-commit", id])
}

fn timestamped_repo(sb: &Sandbox) -> (Repo, Vec<(String, String)>) {
    let mut env = tsa_env(sb);
    env.push(("SIGSTORE_ID_TOKEN".into(), sb.token(ALICE)));
    let repo = Repo::with_env(env, ALICE);
    let env = repo.env.clone();
    (repo, env)
}

#[test]
fn sandbox_env_offers_the_tsa_only_when_asked() {
    let sb = Sandbox::start();
    assert!(!sb.env.iter().any(|(k, _)| k.starts_with("GITSIGN_TIMESTAMP")), "{:?}", sb.env);
    let out = Command::new(bin("gitsign-sandbox")).args(["env", "--dir"]).arg(sb.stack_dir()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("# export GITSIGN_TIMESTAMP_SERVER_URL="), "{text}");
    let env = tsa_env(&sb);
    let url = env.iter().find(|(k, _)| k == "GITSIGN_TIMESTAMP_SERVER_URL").map(|(_, v)| v.clone()).unwrap();
    assert!(url.ends_with("/api/v1/timestamp"), "{url}");
    let chain = env.iter().find(|(k, _)| k == "GITSIGN_TIMESTAMP_CERT_CHAIN").map(|(_, v)| v.clone()).unwrap();
    assert!(std::fs::read_to_string(&chain).unwrap().matches("BEGIN CERTIFICATE").count() == 2);
    // trusted_root.json lists the TSA in the production shape.
    let tr: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.var("GITSIGN_TRUSTED_ROOT")).unwrap()).unwrap();
    let tsas = tr["timestampAuthorities"].as_array().unwrap();
    assert_eq!(tsas.len(), 1);
    assert_eq!(tsas[0]["uri"], url.as_str());
    assert_eq!(tsas[0]["certChain"]["certificates"].as_array().unwrap().len(), 2);
    assert!(tsas[0]["validFor"]["start"].is_string());
    assert!(tsas[0]["subject"]["commonName"].is_string());
}

#[test]
fn timestamped_commit_verifies_and_tampering_fails_closed() {
    let sb = Sandbox::start();
    let (repo, env) = timestamped_repo(&sb);
    let id = repo.signed_commit("a.txt", "x\n", "timestamped");

    // git verify-commit with the configured chain, and with the trusted root's TSA only.
    let v = verify_commit(&repo, &env, &id);
    assert!(v.status.success(), "{}", stderr(&v));
    let no_chain = with_var(&env, "GITSIGN_TIMESTAMP_CERT_CHAIN", None);
    let v = verify_commit(&repo, &no_chain, &id);
    assert!(v.status.success(), "trusted root's timestampAuthorities: {}", stderr(&v));

    // The signature carries the token beside the embedded Rekor entry, and it verifies.
    let raw = repo.cat_file("commit", &id);
    let split = gitsign::git::object::split_object(ObjectKind::Commit, &raw).unwrap();
    let der = gitsign::encoding::armor::decode(&split.signature).unwrap();
    let parsed = gitsign::crypto::cms::verify::parse(&der).unwrap();
    let tokens = parsed.unsigned_attr(&gitsign::encoding::oids::TIMESTAMP_TOKEN);
    assert_eq!(tokens.len(), 1);
    assert_eq!(parsed.unsigned_attr(&gitsign::encoding::oids::REKOR_ENTRY).len(), 1);
    let trust = gitsign::trust::root::TrustedRoot::from_file(sb.var("GITSIGN_TRUSTED_ROOT")).unwrap();
    let verified = gitsign::pipelines::verify::signature::verify(
        &split.payload,
        &split.signature,
        &gitsign::pipelines::verify::signature::VerifyOptions::new(&trust),
    )
    .unwrap();
    let gen_time = verified.timestamp.expect("a verified timestamp");
    assert!(verified.not_before <= gen_time && gen_time <= verified.not_after);

    // gitsign verify (identity policy) accepts it.
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let out = repo
        .cmd(&bin("gitsign"))
        .args(["verify", "--certificate-identity", ALICE, "--certificate-oidc-issuer", issuer.as_str(), &id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));

    // A tampered token (last byte of its ECDSA signature): the Rekor entry still verifies, the
    // token does not.
    let token = tokens[0].to_vec();
    let pos = der.windows(token.len()).position(|w| w == token.as_slice()).unwrap();
    let mut bad_der = der.clone();
    bad_der[pos + token.len() - 1] ^= 0x01;
    let bad_sig = gitsign::encoding::armor::encode(&bad_der);
    let object =
        gitsign::git::object::rebuild_object(ObjectKind::Commit, &split.payload, bad_sig.as_bytes(), HashAlgo::Sha1);
    let bad = repo.hash_object("commit", &object);
    let v = verify_commit(&repo, &env, &bad);
    assert!(!v.status.success(), "tampered token verified");
    assert!(stderr(&v).contains("timestamp"), "{}", stderr(&v));
    let e = gitsign::pipelines::verify::signature::verify(
        &split.payload,
        bad_sig.as_bytes(),
        &gitsign::pipelines::verify::signature::VerifyOptions::new(&trust),
    )
    .unwrap_err();
    assert!(matches!(e, gitsign::pipelines::verify::signature::VerifyError::Timestamp { .. }), "{e}");

    // A wrong TSA chain configured (the sandbox's Fulcio root): rejected.
    let wrong = sb.stack_dir().join("root.pem");
    let wrong_env = with_var(&env, "GITSIGN_TIMESTAMP_CERT_CHAIN", Some(wrong.to_str().unwrap()));
    let v = verify_commit(&repo, &wrong_env, &id);
    assert!(!v.status.success(), "verified with a wrong TSA chain");
    assert!(stderr(&v).contains("not trusted"), "{}", stderr(&v));

    // No TSA trusted at all (trusted root without timestampAuthorities, no chain): fail closed.
    let tmp = TempDir::new("tsa-root");
    let mut tr: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.var("GITSIGN_TRUSTED_ROOT")).unwrap()).unwrap();
    tr["timestampAuthorities"] = serde_json::json!([]);
    let tr_path = tmp.path().join("trusted_root.json");
    std::fs::write(&tr_path, serde_json::to_vec(&tr).unwrap()).unwrap();
    let untrusted_env = with_var(&no_chain, "GITSIGN_TRUSTED_ROOT", Some(tr_path.to_str().unwrap()));
    let v = verify_commit(&repo, &untrusted_env, &id);
    assert!(!v.status.success(), "a token with no trusted TSA verified");
    assert!(stderr(&v).contains("no timestamp authority is trusted"), "{}", stderr(&v));
    let out = run_with(
        &repo,
        &bin("gitsign"),
        &untrusted_env,
        &["verify", "--certificate-identity", ALICE, "--certificate-oidc-issuer", issuer.as_str(), &id],
    );
    assert!(!out.status.success(), "gitsign verify accepted a token with no trusted TSA");

    // The same stack without a TSA configured for signing: no token, and it verifies even
    // with no TSA trusted.
    let unstamped_env = with_var(&env, "GITSIGN_TIMESTAMP_SERVER_URL", None);
    let out = run_with(
        &repo,
        std::path::Path::new("git"),
        &unstamped_env,
        &["commit", "-q", "-S", "--allow-empty", "-m", "no timestamp"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let plain_id = repo.git_ok(&["rev-parse", "HEAD"]).trim().to_string();
    let raw = repo.cat_file("commit", &plain_id);
    let split = gitsign::git::object::split_object(ObjectKind::Commit, &raw).unwrap();
    let parsed =
        gitsign::crypto::cms::verify::parse(&gitsign::encoding::armor::decode(&split.signature).unwrap()).unwrap();
    assert!(parsed.unsigned_attr(&gitsign::encoding::oids::TIMESTAMP_TOKEN).is_empty());
    let v = verify_commit(&repo, &untrusted_env, &plain_id);
    assert!(v.status.success(), "{}", stderr(&v));
}

#[test]
fn signing_fails_cleanly_when_the_tsa_is_unreachable() {
    let sb = Sandbox::start();
    let (repo, env) = timestamped_repo(&sb);
    let env = with_var(&env, "GITSIGN_TIMESTAMP_SERVER_URL", Some("http://127.0.0.1:9/api/v1/timestamp"));
    std::fs::write(repo.path().join("a.txt"), "x\n").unwrap();
    repo.git_ok(&["add", "a.txt"]);
    let out = repo
        .cmd(std::path::Path::new("git"))
        .envs(env.iter().cloned())
        .args(["commit", "-q", "-S", "-m", "never"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "signed without the timestamp");
    assert!(stderr(&out).contains("timestamp authority"), "{}", stderr(&out));
    assert!(repo.git(&["rev-parse", "--verify", "-q", "HEAD"]).stdout.is_empty(), "a commit was made");
}

#[test]
fn online_mode_signature_with_a_timestamp_verifies() {
    let sb = Sandbox::start();
    let (repo, env) = timestamped_repo(&sb);
    let env = with_var(&env, "GITSIGN_REKOR_MODE", Some("online"));
    std::fs::write(repo.path().join("a.txt"), "x\n").unwrap();
    repo.git_ok(&["add", "a.txt"]);
    let out = run_with(&repo, std::path::Path::new("git"), &env, &["commit", "-q", "-S", "-m", "online"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = repo.git_ok(&["rev-parse", "HEAD"]).trim().to_string();
    let raw = repo.cat_file("commit", &id);
    let split = gitsign::git::object::split_object(ObjectKind::Commit, &raw).unwrap();
    let parsed =
        gitsign::crypto::cms::verify::parse(&gitsign::encoding::armor::decode(&split.signature).unwrap()).unwrap();
    assert_eq!(parsed.unsigned_attr(&gitsign::encoding::oids::TIMESTAMP_TOKEN).len(), 1);
    assert!(parsed.unsigned_attr(&gitsign::encoding::oids::REKOR_ENTRY).is_empty());
    let v = verify_commit(&repo, &env, &id);
    assert!(v.status.success(), "{}", stderr(&v));
}
