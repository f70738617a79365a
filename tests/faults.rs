//! Fault injection end to end: `git commit -S` and `git verify-commit` with the built gitsign
//! against services that are down, black-holed, broken or lying.
//!
//! The hostile services are `testsupport::server::FakeServer`s (std `TcpListener` on loopback). The
//! lying ones proxy to a real `gitsign-sandbox` and alter its answer. For every fault the test
//! checks what the user sees: non-zero exit, no commit created, `.git/COMMIT_EDITMSG` still holds
//! the message, stderr names the service with its URL and the cause, and gitsign's stdout is
//! empty (run directly as git runs it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Repo, Sandbox, bin};
use ecdsa::signature::Signer;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testsupport::http::{Request, Response};
use testsupport::server::{FakeServer as Hostile, Reply, closed_port_url, forward};

const ALICE: &str = "alice@example.test";
const MSG: &str = "work that must not be lost";

// ---------------------------------------------------------------------------------------------
// running git and gitsign

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A repository signing through `sb` with `overrides` applied to its environment.
fn repo_with(sb: &Sandbox, overrides: &[(&str, &str)]) -> Repo {
    let repo = Repo::new(sb, ALICE);
    let mut repo = repo;
    for (k, v) in overrides {
        repo.env.retain(|(key, _)| key != k);
        repo.env.push((k.to_string(), v.to_string()));
    }
    std::fs::write(repo.path().join("work.txt"), "precious\n").unwrap();
    repo.git_ok(&["add", "work.txt"]);
    repo
}

/// gitsign run as git runs it for signing, with a commit-shaped payload.
fn gitsign_sign(repo: &Repo) -> Output {
    let mut child = repo
        .cmd(&bin("gitsign"))
        .args(["--status-fd=2", "-bsau", "Test User <t@x>"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let payload =
        "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nm\n";
    let _ = child.stdin.take().unwrap().write_all(payload.as_bytes());
    child.wait_with_output().unwrap()
}

/// What a failed `git commit -S` looked like.
struct Failure {
    stderr: String,
    elapsed: Duration,
}

/// Run `git commit -S` and check everything a failed signing must leave behind.
fn commit_must_fail(repo: &Repo, what: &str, service: &str, url: &str, causes: &[&str]) -> Failure {
    let head_before = repo.git(&["rev-parse", "-q", "--verify", "HEAD"]);
    let t = Instant::now();
    let out = repo.git(&["commit", "-S", "-m", MSG]);
    let elapsed = t.elapsed();
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{what}: git commit -S succeeded\n{stderr}");
    let head_after = repo.git(&["rev-parse", "-q", "--verify", "HEAD"]);
    assert_eq!(head_before.stdout, head_after.stdout, "{what}: HEAD moved");
    let editmsg = std::fs::read_to_string(repo.path().join(".git/COMMIT_EDITMSG")).unwrap_or_default();
    assert!(editmsg.contains(MSG), "{what}: COMMIT_EDITMSG lost the message: {editmsg:?}");
    assert!(!stderr.contains("panicked"), "{what}: gitsign panicked\n{stderr}");
    assert!(stderr.contains(service), "{what}: stderr does not name {service}\n{stderr}");
    assert!(stderr.contains(url), "{what}: stderr does not name the URL {url}\n{stderr}");
    let lower = stderr.to_lowercase();
    assert!(
        causes.iter().any(|c| lower.contains(&c.to_lowercase())),
        "{what}: stderr gives none of the causes {causes:?}\n{stderr}"
    );
    // The staged work is still staged.
    assert!(repo.git_ok(&["diff", "--cached", "--name-only"]).contains("work.txt"), "{what}: the index lost the work");
    // gitsign itself: non-zero, stdout empty, no status line claiming a signature.
    let direct = gitsign_sign(repo);
    assert!(!direct.status.success(), "{what}: gitsign exited 0");
    assert_ne!(direct.status.code(), Some(101), "{what}: gitsign panicked: {}", text(&direct.stderr));
    assert!(direct.stdout.is_empty(), "{what}: gitsign wrote to stdout: {:?}", text(&direct.stdout));
    assert!(!text(&direct.stderr).contains("SIG_CREATED"), "{what}: SIG_CREATED on failure");
    eprintln!("--- {what} ({elapsed:.1?}):\n{}", stderr.trim_end());
    Failure { stderr, elapsed }
}

// ---------------------------------------------------------------------------------------------
// certificates made by the test (for a lying Fulcio)

use testsupport::der::{split as tlv, tlv as der};

/// The subject Name (full TLV) of a certificate.
fn subject_of(cert: &[u8]) -> Vec<u8> {
    let (_, c, _) = tlv(cert);
    let (_, mut tbs, _) = tlv(c);
    let mut fields = Vec::new();
    while !tbs.is_empty() {
        let (tag, content, rest) = tlv(tbs);
        fields.push(der(tag, content));
        tbs = rest;
    }
    // [0] version, serial, sigalg, issuer, validity, subject
    fields[5].clone()
}

fn oid(dotted_der: &[u8]) -> Vec<u8> {
    der(0x06, dotted_der)
}

fn name(o: &str, cn: &str) -> Vec<u8> {
    let rdn = |oid_bytes: &[u8], v: &str| der(0x31, &der(0x30, &[oid(oid_bytes), der(0x0c, v.as_bytes())].concat()));
    der(0x30, &[rdn(&[0x55, 0x04, 0x0a], o), rdn(&[0x55, 0x04, 0x03], cn)].concat())
}

fn utc(t: i64) -> Vec<u8> {
    let dt = time::OffsetDateTime::from_unix_timestamp(t).unwrap();
    let s = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        dt.year() % 100,
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    der(0x17, s.as_bytes())
}

enum CaKey {
    P384(p384::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

/// A Fulcio-like leaf for `spki` naming `email`, issued under `issuer_name` by `key`.
fn make_leaf(spki: &[u8], email: &str, issuer_name: &[u8], not_before: i64, not_after: i64, key: &CaKey) -> Vec<u8> {
    let (sig_oid, _) = match key {
        CaKey::P384(_) => (vec![0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03], ()),
        CaKey::P256(_) => (vec![0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02], ()),
    };
    let alg = der(0x30, &oid(&sig_oid));
    let ext = |o: &[u8], critical: bool, v: Vec<u8>| {
        let mut c = oid(o);
        if critical {
            c.extend(der(0x01, &[0xff]));
        }
        c.extend(der(0x04, &v));
        der(0x30, &c)
    };
    let san = der(0x30, &der(0x81, email.as_bytes()));
    let ku = der(0x03, &[0x07, 0x80]);
    let eku = der(0x30, &oid(&[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03]));
    let issuer_ext = der(0x0c, b"http://issuer.invalid");
    let exts = [
        ext(&[0x55, 0x1d, 0x0f], true, ku),
        ext(&[0x55, 0x1d, 0x25], false, eku),
        ext(&[0x55, 0x1d, 0x11], true, san),
        ext(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x08], false, issuer_ext),
    ]
    .concat();
    let tbs = der(
        0x30,
        &[
            der(0xa0, &der(0x02, &[2])),
            der(0x02, &[0x01, 0x23, 0x45, 0x67]),
            alg.clone(),
            issuer_name.to_vec(),
            der(0x30, &[utc(not_before), utc(not_after)].concat()),
            der(0x30, &[]),
            spki.to_vec(),
            der(0xa3, &der(0x30, &exts)),
        ]
        .concat(),
    );
    let sig = match key {
        CaKey::P384(k) => {
            let s: p384::ecdsa::DerSignature = k.sign(&tbs);
            s.as_bytes().to_vec()
        }
        CaKey::P256(k) => {
            let s: p256::ecdsa::DerSignature = k.sign(&tbs);
            s.as_bytes().to_vec()
        }
    };
    let mut bits = vec![0];
    bits.extend(sig);
    der(0x30, &[tbs, alg, der(0x03, &bits)].concat())
}

fn pem(der: &[u8]) -> String {
    gitsign::services::fulcio::certificate_pem(der)
}

/// The SPKI DER from a Fulcio v2 request (PEM public key).
fn requested_spki(req: &Request) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    let pem = v["publicKeyRequest"]["publicKey"]["content"].as_str().unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b64).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn v2_answer(chain: &[Vec<u8>]) -> Reply {
    let certs: Vec<String> = chain.iter().map(|c| pem(c)).collect();
    Reply::Http(Response::new(
        200,
        serde_json::json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": certs}}}).to_string(),
    ))
}

// ---------------------------------------------------------------------------------------------
// the faults

/// Faults shared by every service: down, black-holed, 5xx, malformed, truncated, huge.
fn transport_faults(sb: &Sandbox, var: &str, service: &str, extra: &[(&str, &str)]) -> Vec<(String, String, Duration)> {
    let mut seen = Vec::new();
    let mut run = |what: &str, url: String, causes: &[&str]| {
        let mut env: Vec<(&str, &str)> =
            vec![(var, url.as_str()), ("GITSIGN_HTTP_TIMEOUT", "2"), ("GITSIGN_CONNECT_TIMEOUT", "2")];
        env.extend_from_slice(extra);
        let repo = repo_with(sb, &env);
        let f = commit_must_fail(&repo, &format!("{service}: {what}"), service, &url, causes);
        seen.push((what.to_string(), first_error_line(&f.stderr), f.elapsed));
        f
    };
    run("connection refused", closed_port_url(), &["refused"]);
    let f = run("accepts, never answers", Hostile::start(|_| Reply::Hang).url, &["timed out", "timeout"]);
    assert!(f.elapsed < Duration::from_secs(20), "{service}: a black hole took {:?} with 2 s timeouts", f.elapsed);
    run(
        "HTTP 503",
        Hostile::start(|_| Reply::Http(Response::new(503, r#"{"code":503,"message":"overloaded, try later"}"#))).url,
        &["503"],
    );
    run(
        "malformed JSON",
        Hostile::start(|_| Reply::Http(Response::new(200, "{\"oops\": [1, 2,"))).url,
        &["malformed", "json", "eof", "expected"],
    );
    run(
        "truncated body (connection closed early)",
        Hostile::start(|_| {
            Reply::Raw(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"a\":".to_vec(),
            )
        })
        .url,
        &["malformed", "error", "eof", "closed", "incomplete", "decoding", "body"],
    );
    run("huge body", Hostile::start(|_| Reply::Stream(64 << 20)).url, &["larger than", "too large"]);
    run(
        "garbage instead of HTTP",
        Hostile::start(|_| Reply::Raw(b"\x00\x01garbage\r\n\r\n".to_vec())).url,
        &["error", "invalid", "http"],
    );
    seen
}

fn first_error_line(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.contains("error:") && l.contains("gitsign"))
        .unwrap_or_else(|| stderr.lines().next().unwrap_or(""))
        .to_string()
}

#[test]
fn fulcio_faults_keep_the_commit_unmade() {
    let sb = Sandbox::start();
    let upstream = sb.var("GITSIGN_FULCIO_URL");
    let mut matrix = transport_faults(&sb, "GITSIGN_FULCIO_URL", "Fulcio", &[]);

    let stack = sb.stack_dir();
    let intermediate =
        gitsign::crypto::x509::pem_to_der(&std::fs::read_to_string(stack.join("intermediate.pem")).unwrap()).unwrap();
    let root = gitsign::crypto::x509::pem_to_der(&std::fs::read_to_string(stack.join("root.pem")).unwrap()).unwrap();
    use p384::pkcs8::DecodePrivateKey;
    let ca_key =
        p384::ecdsa::SigningKey::from_pkcs8_pem(&std::fs::read_to_string(stack.join("intermediate-key.pem")).unwrap())
            .unwrap();
    let ca_key = Arc::new(ca_key);
    let issuer_name = subject_of(&intermediate);

    let mut lying = |what: &str, h: Hostile, causes: &[&str]| {
        let repo = repo_with(&sb, &[("GITSIGN_FULCIO_URL", h.url.as_str())]);
        let f = commit_must_fail(&repo, &format!("Fulcio: {what}"), "Fulcio", &h.url, causes);
        matrix.push((what.to_string(), first_error_line(&f.stderr), f.elapsed));
    };

    // A certificate for another key: the first answer is replayed for every later request.
    let first: Arc<Mutex<Option<Response>>> = Arc::default();
    let up = upstream.clone();
    let h = Hostile::start(move |req| {
        let mut slot = first.lock().unwrap();
        if slot.is_none() {
            *slot = Some(forward(&up, req));
        }
        Reply::Http(slot.clone().unwrap())
    });
    {
        // Prime it with one signing (that one is honest and succeeds).
        let warm = repo_with(&sb, &[("GITSIGN_FULCIO_URL", h.url.as_str())]);
        let out = gitsign_sign(&warm);
        assert!(out.status.success(), "priming the replaying proxy failed: {}", text(&out.stderr));
    }
    lying("certificate for another key", h, &["different public key"]);

    // A certificate for another identity, properly issued by the sandbox's intermediate.
    let (k, i, inter, r) = (ca_key.clone(), issuer_name.clone(), intermediate.clone(), root.clone());
    let h = Hostile::start(move |req| {
        let leaf = make_leaf(
            &requested_spki(req),
            "mallory@example.test",
            &i,
            now() - 10,
            now() + 600,
            &CaKey::P384((*k).clone()),
        );
        v2_answer(&[leaf, inter.clone(), r.clone()])
    });
    lying("certificate for another identity", h, &["mallory@example.test", "not for the token"]);

    // An expired certificate from the real CA.
    let (k, i, inter, r) = (ca_key.clone(), issuer_name.clone(), intermediate.clone(), root.clone());
    let h = Hostile::start(move |req| {
        let leaf = make_leaf(&requested_spki(req), ALICE, &i, now() - 4000, now() - 3400, &CaKey::P384((*k).clone()));
        v2_answer(&[leaf, inter.clone(), r.clone()])
    });
    lying("expired certificate", h, &["expired"]);

    // A certificate from a CA nobody trusts.
    let h = Hostile::start(move |req| {
        let rogue = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let leaf = make_leaf(
            &requested_spki(req),
            ALICE,
            &name("evil", "evil-ca"),
            now() - 10,
            now() + 600,
            &CaKey::P256(rogue),
        );
        v2_answer(&[leaf])
    });
    lying("certificate from an unknown CA", h, &["does not chain", "trusted root"]);

    // A 404 on v2 and garbage on the v1 fallback.
    let h = Hostile::start(|req| {
        if req.path.contains("/api/v2/") {
            Reply::Http(Response::new(404, r#"{"message":"not here"}"#))
        } else {
            Reply::Http(Response::new(201, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"))
        }
    });
    lying("v1 fallback answers a broken PEM chain", h, &["base64", "malformed"]);

    write_matrix("fulcio", "git commit -S (Fulcio)", &matrix);
}

/// Alter the single entry of a Rekor answer.
fn edit_entry(resp: Response, f: impl FnOnce(&mut serde_json::Value)) -> Response {
    let mut v = resp.json();
    let obj = v.as_object_mut().unwrap();
    let key = obj.keys().next().unwrap().clone();
    f(obj.get_mut(&key).unwrap());
    resp.with_json(&v)
}

#[test]
fn rekor_faults_keep_the_commit_unmade() {
    let sb = Sandbox::start();
    let upstream = sb.var("GITSIGN_REKOR_URL");
    let mut matrix = transport_faults(&sb, "GITSIGN_REKOR_URL", "Rekor", &[]);
    // Online mode through a dead Rekor, too.
    let dead = closed_port_url();
    let repo = repo_with(&sb, &[("GITSIGN_REKOR_URL", dead.as_str()), ("GITSIGN_REKOR_MODE", "online")]);
    let f = commit_must_fail(&repo, "Rekor (online mode): connection refused", "Rekor", &dead, &["refused"]);
    matrix.push(("online mode: connection refused".into(), first_error_line(&f.stderr), f.elapsed));

    // Seed the log with a few entries so proofs have audit paths.
    let seed = Repo::new(&sb, ALICE);
    for i in 0..3 {
        seed.signed_commit("s.txt", &format!("{i}\n"), &format!("seed {i}"));
    }

    // The same lie in online mode (the entry is not embedded, but is checked before signing).
    let up = upstream.clone();
    let h = Hostile::start(move |req| {
        let resp = forward(&up, req);
        if !(req.method == "POST" && req.path.ends_with("/api/v1/log/entries")) {
            return Reply::Http(resp);
        }
        Reply::Http(edit_entry(resp, |e| {
            let other = p256::ecdsa::SigningKey::from_slice(&[8u8; 32]).unwrap();
            let sig: p256::ecdsa::DerSignature = other.sign(b"anything");
            e["verification"]["signedEntryTimestamp"] = STANDARD.encode(sig.as_bytes()).into();
        }))
    });
    {
        let repo = repo_with(&sb, &[("GITSIGN_REKOR_URL", h.url.as_str()), ("GITSIGN_REKOR_MODE", "online")]);
        let f = commit_must_fail(
            &repo,
            "Rekor (online mode): SET by another key",
            "Rekor",
            &h.url,
            &["signed entry timestamp"],
        );
        matrix.push(("online mode: SET signed by another key".into(), first_error_line(&f.stderr), f.elapsed));
    }

    let mut lying = |what: &str, h: Hostile, causes: &[&str]| {
        let repo = repo_with(&sb, &[("GITSIGN_REKOR_URL", h.url.as_str())]);
        let f = commit_must_fail(&repo, &format!("Rekor: {what}"), "Rekor", &h.url, causes);
        matrix.push((what.to_string(), first_error_line(&f.stderr), f.elapsed));
    };
    let is_upload = |req: &Request| req.method == "POST" && req.path.ends_with("/api/v1/log/entries");

    // An entry for another artifact: the answer to an earlier upload.
    let old: Arc<Mutex<Option<Response>>> = Arc::default();
    let up = upstream.clone();
    let h = Hostile::start(move |req| {
        let mut slot = old.lock().unwrap();
        if is_upload(req) && slot.is_some() {
            return Reply::Http(slot.clone().unwrap());
        }
        let resp = forward(&up, req);
        if is_upload(req) {
            *slot = Some(resp.clone());
        }
        Reply::Http(resp)
    });
    {
        let warm = repo_with(&sb, &[("GITSIGN_REKOR_URL", h.url.as_str())]);
        let out = gitsign_sign(&warm);
        assert!(out.status.success(), "priming the replaying proxy failed: {}", text(&out.stderr));
    }
    lying("entry for another artifact", h, &["does not verify", "another signature", "differs"]);

    // A SET signed by another key.
    let up = upstream.clone();
    let h = Hostile::start(move |req| {
        let resp = forward(&up, req);
        if !is_upload(req) {
            return Reply::Http(resp);
        }
        Reply::Http(edit_entry(resp, |e| {
            let body = STANDARD.decode(e["body"].as_str().unwrap()).unwrap();
            let log_id = hex::decode(e["logID"].as_str().unwrap()).unwrap();
            let msg = gitsign::services::rekor::set::payload(
                &body,
                e["integratedTime"].as_i64().unwrap(),
                &log_id,
                e["logIndex"].as_i64().unwrap(),
            );
            let other = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
            let sig: p256::ecdsa::DerSignature = other.sign(&msg);
            e["verification"]["signedEntryTimestamp"] = STANDARD.encode(sig.as_bytes()).into();
        }))
    });
    lying("SET signed by another key", h, &["signed entry timestamp"]);

    // A wrong inclusion proof (one audit-path hash changed).
    let up = upstream.clone();
    let h = Hostile::start(move |req| {
        let resp = forward(&up, req);
        if !is_upload(req) {
            return Reply::Http(resp);
        }
        Reply::Http(edit_entry(resp, |e| {
            let p = &mut e["verification"]["inclusionProof"];
            let hashes = p["hashes"].as_array_mut().unwrap();
            assert!(!hashes.is_empty(), "the proof has no audit path to alter");
            hashes[0] = "00".repeat(32).into();
        }))
    });
    lying("wrong inclusion proof", h, &["inclusion proof"]);

    // A checkpoint for another tree: the checkpoint of an earlier, smaller tree.
    let old_cp: Arc<Mutex<Option<serde_json::Value>>> = Arc::default();
    let up = upstream.clone();
    let h = Hostile::start(move |req| {
        let resp = forward(&up, req);
        if !is_upload(req) {
            return Reply::Http(resp);
        }
        let mut slot = old_cp.lock().unwrap();
        Reply::Http(edit_entry(resp, |e| {
            let cp = &mut e["verification"]["inclusionProof"]["checkpoint"];
            match slot.as_ref() {
                None => *slot = Some(cp.clone()),
                Some(old) => *cp = old.clone(),
            }
        }))
    });
    {
        let warm = repo_with(&sb, &[("GITSIGN_REKOR_URL", h.url.as_str())]);
        assert!(gitsign_sign(&warm).status.success());
    }
    lying("checkpoint for another tree", h, &["checkpoint"]);

    // 409 Conflict pointing at something that is not an entry uuid.
    let h = Hostile::start(|req| {
        let mut r = Response::new(409, r#"{"code":409,"message":"an equivalent entry already exists"}"#);
        if req.method == "POST" {
            r.headers.push(("Location".into(), "/api/v1/log/entries/../../etc/passwd".into()));
        }
        Reply::Http(r)
    });
    lying("409 with a bogus Location", h, &["not a rekor entry uuid"]);

    // 409 Conflict pointing at a well-formed uuid the log does not have.
    let up = upstream.clone();
    let h = Hostile::start(move |req| {
        if req.method == "POST" {
            let mut r = Response::new(409, r#"{"message":"exists"}"#);
            r.headers.push(("Location".into(), format!("/api/v1/log/entries/{}", "ab".repeat(32))));
            return Reply::Http(r);
        }
        Reply::Http(forward(&up, req))
    });
    lying("409 with the location of a missing entry", h, &["404", "not found"]);

    // Regression (panic found by review of get_entry): an entry keyed by non-ASCII text whose
    // last 64 bytes start inside a character.
    let h = Hostile::start(|req| {
        if req.method == "POST" {
            let mut r = Response::new(409, "{}");
            r.headers.push(("Location".into(), format!("/api/v1/log/entries/{}", "cd".repeat(32))));
            return Reply::Http(r);
        }
        let key = format!("{}a", "é".repeat(40));
        Reply::Http(Response::new(
            200,
            serde_json::json!({key: {"body": "e30=", "integratedTime": 1, "logID": "00", "logIndex": 1}}).to_string(),
        ))
    });
    lying("entry keyed by non-ASCII text (was a panic)", h, &["asked for entry"]);

    write_matrix("rekor", "git commit -S (Rekor)", &matrix);
}

#[test]
fn issuer_faults_keep_the_commit_unmade() {
    let sb = Sandbox::start();
    // No token in the environment: gitsign has to talk to the issuer. The browser flow discovers
    // the issuer first (the device flow, without a terminal to show its code, now fails before
    // any request).
    let mut matrix = Vec::new();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("connection refused", closed_port_url(), vec!["refused", "connect"]),
        ("accepts, never answers", Hostile::start(|_| Reply::Hang).url, vec!["timed out", "timeout"]),
        ("HTTP 503", Hostile::start(|_| Reply::Http(Response::new(503, r#"{"error":"down"}"#))).url, vec!["503"]),
        (
            "malformed JSON",
            Hostile::start(|_| Reply::Http(Response::new(200, "{\"issuer\": "))).url,
            vec!["json", "eof", "malformed", "parse", "invalid"],
        ),
        ("huge body", Hostile::start(|_| Reply::Stream(64 << 20)).url, vec!["large", "limit", "decoding", "discovery"]),
    ];
    for (what, url, causes) in cases {
        let mut repo = repo_with(
            &sb,
            &[
                ("GITSIGN_OIDC_ISSUER", url.as_str()),
                ("GITSIGN_TOKEN_PROVIDER", "interactive"),
                ("GITSIGN_URL_OPENER", "false {{.URL}}"),
                ("GITSIGN_HTTP_TIMEOUT", "2"),
                ("GITSIGN_CONNECT_TIMEOUT", "2"),
            ],
        );
        repo.env.retain(|(k, _)| k != "SIGSTORE_ID_TOKEN");
        let f = commit_must_fail(&repo, &format!("issuer: {what}"), "issuer", &url, &causes);
        assert!(f.elapsed < Duration::from_secs(30), "issuer {what}: took {:?}", f.elapsed);
        matrix.push((what.to_string(), first_error_line(&f.stderr), f.elapsed));
    }
    write_matrix("issuer", "git commit -S (OIDC issuer, browser flow)", &matrix);
}

#[test]
fn verification_against_a_lying_rekor_is_rejected() {
    let sb = Sandbox::start();
    let online = [("GITSIGN_REKOR_MODE", "online")];
    let repo = repo_with(&sb, &online);
    repo.git_ok(&["commit", "-q", "-S", "-m", "online one"]);
    let first = repo.git_ok(&["rev-parse", "HEAD"]).trim().to_string();
    let v = repo.git(&["verify-commit", &first]);
    assert!(v.status.success(), "honest online verification failed: {}", text(&v.stderr));
    let other = repo.signed_commit("b.txt", "b\n", "online two");
    let upstream = sb.var("GITSIGN_REKOR_URL");
    let mut matrix = Vec::new();

    // Uuids of the other commit's entry, found through the honest log.
    let other_uuids: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut check = |what: &str, url: &str, causes: &[&str]| {
        let mut env = repo.env.clone();
        env.retain(|(k, _)| k != "GITSIGN_REKOR_URL");
        env.push(("GITSIGN_REKOR_URL".into(), url.to_string()));
        env.push(("GITSIGN_HTTP_TIMEOUT".into(), "2".into()));
        let t = Instant::now();
        let out = repo.cmd(Path::new("git")).envs(env.clone()).args(["verify-commit", &first]).output().unwrap();
        let elapsed = t.elapsed();
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "verify {what}: accepted\n{stderr}");
        // The status lines git parsed.
        let raw =
            repo.cmd(Path::new("git")).envs(env.clone()).args(["verify-commit", "--raw", &first]).output().unwrap();
        let status = text(&raw.stderr);
        assert!(!raw.status.success(), "verify --raw {what}: accepted\n{status}");
        assert!(!status.contains("GOODSIG"), "verify {what}: GOODSIG\n{status}");
        assert!(status.contains("BADSIG") || status.contains("ERRSIG"), "verify {what}: no BADSIG/ERRSIG\n{status}");
        assert!(stderr.contains("Rekor") && stderr.contains(url), "verify {what}: Rekor/URL not named\n{stderr}");
        let lower = stderr.to_lowercase();
        assert!(causes.iter().any(|c| lower.contains(c)), "verify {what}: none of {causes:?}\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let status = repo.cmd(Path::new("git")).envs(env).args(["log", "-1", "--format=%G?", &first]).output().unwrap();
        let g = text(&status.stdout).trim().to_string();
        assert!(g == "B" || g == "E", "verify {what}: %G? is {g:?}");
        eprintln!("--- verify {what} ({elapsed:.1?}) %G?={g}:\n{}", stderr.trim_end());
        matrix.push((what.to_string(), format!("%G?={g}; {}", first_error_line(&stderr)), elapsed));
    };

    check("Rekor down", &closed_port_url(), &["refused"]);
    let h = Hostile::start(|_| Reply::Hang);
    check("Rekor black hole", &h.url, &["timed out", "timeout"]);
    let h = Hostile::start(|_| Reply::Http(Response::new(500, r#"{"message":"boom"}"#)));
    check("Rekor HTTP 500", &h.url, &["500"]);

    // Search answers with the other commit's entry only.
    let up = upstream.clone();
    let uu = other_uuids.clone();
    let h = Hostile::start(move |req| {
        let resp = forward(&up, req);
        if req.path.ends_with("/index/retrieve") {
            let u = uu.lock().unwrap();
            if u.is_empty() {
                // Learn the other commit's entry: the search for its certificate.
                return Reply::Http(resp);
            }
            return Reply::Http(Response::new(200, serde_json::to_string(&*u).unwrap()));
        }
        Reply::Http(resp)
    });
    {
        // Find the other commit's uuids through the honest log.
        let cert = {
            let raw = repo.cat_file("commit", &other);
            let split = gitsign::git::object::split_object(gitsign::git::object::ObjectKind::Commit, &raw).unwrap();
            let der = gitsign::encoding::armor::decode(&split.signature).unwrap();
            gitsign::crypto::cms::verify::parse(&der).unwrap().signer_cert_der
        };
        let q = serde_json::json!({"publicKey": {"format": "x509", "content": STANDARD.encode(pem(&cert))}});
        let resp = forward(
            &upstream,
            &Request {
                method: "POST".into(),
                path: "/api/v1/index/retrieve".into(),
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: q.to_string().into_bytes(),
            },
        );
        let ids: Vec<String> = serde_json::from_slice(&resp.body).unwrap();
        assert!(!ids.is_empty());
        *other_uuids.lock().unwrap() = ids;
    }
    check("Rekor answers with another commit's entry", &h.url, &["no entry in rekor"]);

    // Entries whose SET was replaced by one from another key.
    let up = upstream.clone();
    let h = Hostile::start(move |req| {
        let resp = forward(&up, req);
        if req.method == "GET" && req.path.contains("/log/entries/") && resp.status == 200 {
            return Reply::Http(edit_entry(resp, |e| {
                let other = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
                let sig: p256::ecdsa::DerSignature = other.sign(b"whatever");
                e["verification"]["signedEntryTimestamp"] = STANDARD.encode(sig.as_bytes()).into();
            }));
        }
        Reply::Http(resp)
    });
    check("Rekor SET by another key", &h.url, &["signed entry timestamp"]);

    // Entries with a broken inclusion proof.
    let up = upstream.clone();
    let h = Hostile::start(move |req| {
        let resp = forward(&up, req);
        if req.method == "GET" && req.path.contains("/log/entries/") && resp.status == 200 {
            return Reply::Http(edit_entry(resp, |e| {
                e["verification"]["inclusionProof"]["rootHash"] = "11".repeat(32).into();
            }));
        }
        Reply::Http(resp)
    });
    check("Rekor wrong inclusion proof", &h.url, &["inclusion proof", "checkpoint", "root"]);

    write_matrix("verify", "git verify-commit (online-mode signature)", &matrix);
}

// ---------------------------------------------------------------------------------------------
// bad local input

#[test]
fn bad_local_input_is_a_clear_error() {
    let sb = Sandbox::start();
    let mut matrix = Vec::new();
    let mut sign_fails = |what: &str, repo: &Repo, needles: &[&str]| {
        let f = commit_must_fail_local(repo, what, needles);
        matrix.push((what.to_string(), f, Duration::ZERO));
    };

    for (key, value, needle) in [
        ("gitsign.rekorMode", "sometimes", "rekormode"),
        ("gitsign.httpTimeout", "ten", "httptimeout"),
        ("gitsign.connectTimeout", "-3", "connecttimeout"),
        ("gitsign.autocloseTimeout", "abc", "autoclosetimeout"),
        ("gitsign.credentialCacheMode", "disk", "credentialcachemode"),
    ] {
        let repo = repo_with(&sb, &[]);
        repo.git_ok(&["config", key, value]);
        sign_fails(&format!("git config {key}={value}"), &repo, &[needle, value]);
    }

    let dir = common::TempDir::new("badinput");
    let missing = dir.path().join("nope.json");
    let repo = repo_with(&sb, &[("GITSIGN_TRUSTED_ROOT", missing.to_str().unwrap())]);
    sign_fails("trusted root file missing", &repo, &["nope.json"]);

    let unreadable = dir.path().join("a-directory.json");
    std::fs::create_dir_all(&unreadable).unwrap();
    let repo = repo_with(&sb, &[("GITSIGN_TRUSTED_ROOT", unreadable.to_str().unwrap())]);
    sign_fails("trusted root is a directory", &repo, &["a-directory.json"]);

    // A trusted_root.json whose keys are garbage.
    let good = std::fs::read_to_string(sb.var("GITSIGN_TRUSTED_ROOT")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["tlogs"][0]["publicKey"]["rawBytes"] = STANDARD.encode(b"not a key").into();
    let bad_keys = dir.path().join("bad-keys.json");
    std::fs::write(&bad_keys, v.to_string()).unwrap();
    let repo = repo_with(&sb, &[("GITSIGN_TRUSTED_ROOT", bad_keys.to_str().unwrap())]);
    sign_fails("trusted root with a bad Rekor key", &repo, &["bad-keys.json"]);
    let not_json = dir.path().join("not-json.json");
    std::fs::write(&not_json, "{\"mediaType\": ").unwrap();
    let repo = repo_with(&sb, &[("GITSIGN_TRUSTED_ROOT", not_json.to_str().unwrap())]);
    sign_fails("trusted root that is not JSON", &repo, &["not-json.json"]);

    // --status-fd naming a closed descriptor.
    let repo = repo_with(&sb, &[]);
    let out = repo.cmd(&bin("gitsign")).args(["--status-fd=9", "-bsau", "k"]).stdout(Stdio::piped()).output().unwrap();
    check_direct("gitsign --status-fd=9 (closed)", &out, &["status-fd"]);
    matrix.push(("--status-fd naming a closed fd".into(), first_error_line(&text(&out.stderr)), Duration::ZERO));

    // A signature file that does not exist.
    let out = repo.cmd(&bin("gitsign")).args(["--status-fd=1", "--verify", "/nonexistent/sig", "-"]).output().unwrap();
    check_direct("gitsign --verify /nonexistent/sig", &out, &["/nonexistent/sig"]);
    assert!(text(&out.stdout).contains("ERRSIG") && !text(&out.stdout).contains("GOODSIG"), "{}", text(&out.stdout));
    matrix.push((
        "--verify with a missing signature file".into(),
        first_error_line(&text(&out.stderr)),
        Duration::ZERO,
    ));

    // Enormous stdin, for signing and for verifying.
    for (what, args) in [
        ("signing 200 MiB of stdin", vec!["--status-fd=2", "-bsau", "k"]),
        ("verifying 200 MiB of stdin", vec!["--status-fd=1", "--verify", "-", "-"]),
    ] {
        let mut child = repo
            .cmd(&bin("gitsign"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..200 {
                if stdin.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        check_direct(what, &out, &["larger than"]);
        assert!(!text(&out.stdout).contains("GOODSIG") && !text(&out.stdout).contains("BEGIN SIGNED"), "{what}");
        matrix.push((what.to_string(), first_error_line(&text(&out.stderr)), Duration::ZERO));
    }
    write_matrix("local", "local input (gitsign / git commit -S)", &matrix);
}

fn check_direct(what: &str, out: &Output, needles: &[&str]) {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{what}: exit 0\n{stderr}");
    assert_ne!(out.status.code(), Some(101), "{what}: panic\n{stderr}");
    assert!(!stderr.contains("panicked"), "{what}: panic\n{stderr}");
    let lower = stderr.to_lowercase();
    assert!(needles.iter().any(|n| lower.contains(&n.to_lowercase())), "{what}: none of {needles:?}\n{stderr}");
    assert!(!text(&out.stdout).contains("BEGIN SIGNED MESSAGE"), "{what}: a signature on stdout");
    eprintln!("--- {what}: exit {:?}\n{}", out.status.code(), stderr.trim_end());
}

/// `git commit -S` failing for a local reason: no service to name, only the cause.
fn commit_must_fail_local(repo: &Repo, what: &str, needles: &[&str]) -> String {
    let out = repo.git(&["commit", "-S", "-m", MSG]);
    assert!(repo.git(&["rev-parse", "-q", "--verify", "HEAD"]).stdout.is_empty(), "{what}: a commit was made");
    let editmsg = std::fs::read_to_string(repo.path().join(".git/COMMIT_EDITMSG")).unwrap_or_default();
    assert!(editmsg.contains(MSG), "{what}: COMMIT_EDITMSG lost the message");
    check_direct(what, &out, needles);
    let direct = gitsign_sign(repo);
    assert!(direct.stdout.is_empty(), "{what}: gitsign wrote to stdout");
    assert!(
        !direct.status.success() && direct.status.code() != Some(101),
        "{what}: direct run: {}",
        text(&direct.stderr)
    );
    first_error_line(&text(&out.stderr))
}

/// Append the observed behaviour to `target/faults/<name>.tsv` (the raw material of
/// tests/FAULTS.md).
fn write_matrix(name: &str, command: &str, rows: &[(String, String, Duration)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/faults");
    let _ = std::fs::create_dir_all(&dir);
    let mut out = String::new();
    for (fault, observed, t) in rows {
        out.push_str(&format!("{command}\t{fault}\t{:.1}s\t{}\n", t.as_secs_f64(), observed.replace('\t', " ")));
    }
    let _ = std::fs::write(dir.join(format!("{name}.tsv")), out);
}

#[test]
fn cache_faults_degrade_to_a_warning() {
    // The credential cache is an optimisation: when it is down, silent or talks nonsense, the
    // commit is still signed (with a fresh certificate), the delay is bounded, and stdout stays
    // clean (the signature verifies).
    use std::os::unix::net::UnixListener;
    let sb = Sandbox::start();
    let dir = common::TempDir::new("cachefault");
    let mut matrix = Vec::new();
    let silent = dir.path().join("silent.sock");
    let l = UnixListener::bind(&silent).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming() {
            held.push(c); // accept, never answer
        }
    });
    let garbage = dir.path().join("garbage.sock");
    let l = UnixListener::bind(&garbage).unwrap();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let mut c = c;
            let _ = c.write_all(&[0xff; 64]);
        }
    });
    let missing = dir.path().join("missing.sock");
    for (what, path) in
        [("socket missing", &missing), ("accepts, never answers", &silent), ("answers garbage", &garbage)]
    {
        let repo = repo_with(&sb, &[("GITSIGN_CREDENTIAL_CACHE", path.to_str().unwrap())]);
        let t = Instant::now();
        let out = repo.git(&["commit", "-S", "-m", MSG]);
        let elapsed = t.elapsed();
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "cache {what}: the commit failed\n{stderr}");
        assert!(elapsed < Duration::from_secs(30), "cache {what}: took {elapsed:?}");
        let v = repo.git(&["verify-commit", "HEAD"]);
        assert!(v.status.success(), "cache {what}: the signature does not verify\n{}", text(&v.stderr));
        let direct = gitsign_sign(&repo);
        assert!(direct.status.success(), "cache {what}: {}", text(&direct.stderr));
        let sig = text(&direct.stdout);
        assert!(
            sig.starts_with("-----BEGIN SIGNED MESSAGE-----\n") && sig.ends_with("-----END SIGNED MESSAGE-----\n"),
            "cache {what}: stdout is not just the signature: {sig:?}"
        );
        let warning = text(&direct.stderr)
            .lines()
            .find(|l| l.to_lowercase().contains("cache"))
            .unwrap_or("(no warning)")
            .to_string();
        eprintln!("--- cache {what} ({elapsed:.1?}): {warning}");
        matrix.push((what.to_string(), format!("commit signed; {warning}"), elapsed));
    }
    write_matrix("cache", "git commit -S (credential cache)", &matrix);
}

/// A black-holed service: a loopback listener whose accept queue is full (backlog 0, the one
/// queued connection never accepted), so the kernel drops every further SYN and `connect()`
/// hangs until the client gives up, as with a firewall that drops packets.
struct BlackHole {
    url: String,
    _listener: TcpListener,
    _queued: Vec<TcpStream>,
}

fn black_hole() -> BlackHole {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    rustix::net::listen(&listener, 0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    // Fill the accept queue until a connect no longer completes.
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(s) => {
                queued.push(s);
                assert!(queued.len() < 64, "the kernel keeps accepting connections on a full backlog-0 queue");
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
            Err(e) => panic!("filling the accept queue of {addr}: {e}"),
        }
    }
    // Check that it really is a black hole: a second probe hangs too.
    let t = Instant::now();
    let probe = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    assert!(
        matches!(&probe, Err(e) if e.kind() == std::io::ErrorKind::TimedOut)
            && t.elapsed() >= Duration::from_millis(900),
        "{addr} is not black-holed: {probe:?} after {:?}",
        t.elapsed()
    );
    BlackHole { url: format!("http://{addr}"), _listener: listener, _queued: queued }
}

#[test]
fn black_holed_services_fail_on_the_connect_timeout() {
    // The request timeout is set far above the connect timeout, so only the connect timeout can
    // end these commits: the default one (10 s) for Fulcio, `gitsign.connectTimeout` for Rekor.
    let sb = Sandbox::start();
    let mut matrix = Vec::new();
    let cases: [(&str, &str, Option<u64>); 2] =
        [("GITSIGN_FULCIO_URL", "Fulcio", None), ("GITSIGN_REKOR_URL", "Rekor", Some(3))];
    for (var, service, configured) in cases {
        let hole = black_hole();
        let repo = repo_with(&sb, &[(var, hole.url.as_str()), ("GITSIGN_HTTP_TIMEOUT", "120")]);
        if let Some(s) = configured {
            repo.git_ok(&["config", "gitsign.connectTimeout", &s.to_string()]);
        }
        let limit = Duration::from_secs(configured.unwrap_or(10));
        let what = match configured {
            Some(s) => format!("black-holed (SYN dropped), gitsign.connectTimeout={s}"),
            None => "black-holed (SYN dropped), default connect timeout".to_string(),
        };
        let f = commit_must_fail(
            &repo,
            &format!("{service}: {what}"),
            service,
            &hole.url,
            &["timed out", "timeout", "deadline has elapsed"],
        );
        assert!(
            f.elapsed >= limit && f.elapsed < limit + Duration::from_secs(8),
            "{service}: {what}: the commit failed after {:?}, expected the {limit:?} connect timeout",
            f.elapsed
        );
        matrix.push((what, first_error_line(&f.stderr), f.elapsed));
    }
    write_matrix("black_hole", "git commit -S (connect timeout)", &matrix);
}
