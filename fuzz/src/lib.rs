//! The fuzz entry points, one per parser; each `fuzz_targets/<name>.rs` calls one of them.
//! They call the same library functions as `tests/fuzz_props.rs` and must never panic.
use gitsign::git::object::{HashAlgo, ObjectKind};
use gitsign::services::rekor::checkpoint::Checkpoint;
use gitsign::services::rekor::entry::TransparencyLogEntry;
use gitsign::trust::root::TrustedRoot;
use std::collections::BTreeMap;

/// A fixed commit payload to verify fuzzed signatures over.
pub const PAYLOAD: &[u8] = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@example.com> 1 +0000\ncommitter A <a@example.com> 1 +0000\n\nmsg\n";

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// gpg-style argv: NUL-separated arguments (not necessarily UTF-8).
pub fn gpg_args(data: &[u8]) {
    use std::os::unix::ffi::OsStringExt;
    let argv: Vec<std::ffi::OsString> = data.split(|&b| b == 0).map(|a| std::ffi::OsString::from_vec(a.to_vec())).collect();
    if let Ok(a) = gitsign::app::gpg::args::parse(argv) {
        let _ = a.mode();
    }
}

/// Commit and tag payload extraction, and the rebuild of what git stores.
pub fn git_split(data: &[u8]) {
    for kind in [ObjectKind::Commit, ObjectKind::Tag] {
        if let Ok(s) = gitsign::git::object::split_object(kind, data) {
            assert!(s.payload.len() + s.signature.len() <= data.len());
            let _ = gitsign::git::object::rebuild_object(kind, &s.payload, &s.signature, HashAlgo::Sha1);
        }
    }
    let _ = gitsign::git::object::split_commit(data, HashAlgo::Sha256);
}

/// The SIGNED MESSAGE armor; encode → decode round trip.
pub fn armor(data: &[u8]) {
    let _ = gitsign::encoding::armor::decode(data);
    let text = gitsign::encoding::armor::encode(data);
    assert_eq!(gitsign::encoding::armor::decode(text.as_bytes()).as_deref(), Ok(data));
}

/// CMS parsing and the whole verification pipeline with the production trusted root.
pub fn cms_verify(data: &[u8]) {
    let trust = TrustedRoot::production().expect("embedded root");
    if let Ok(sig) = gitsign::crypto::cms::verify::parse(data) {
        let _ = gitsign::crypto::cms::verify::verify_content(&sig, PAYLOAD);
        let _ = gitsign::pipelines::verify::signature::embedded_entry(&sig, "fuzz");
        let _ = gitsign::crypto::x509::CertInfo::parse(&sig.signer_cert_der);
    }
    let opts = gitsign::pipelines::verify::signature::VerifyOptions::new(trust);
    let _ = gitsign::pipelines::verify::signature::verify(PAYLOAD, data, &opts);
    let _ = gitsign::pipelines::verify::signature::verify(PAYLOAD, gitsign::encoding::armor::encode(data).as_bytes(), &opts);
    let _ = gitsign::pipelines::verify::signature::claimed_signer(data);
}

/// The embedded log entry (protobuf); decode is canonicalizing.
pub fn entry_protobuf(data: &[u8]) {
    if let Ok(e) = TransparencyLogEntry::decode(data) {
        assert_eq!(TransparencyLogEntry::decode(&e.encode()).as_ref(), Ok(&e));
        let _ = gitsign::services::rekor::verify::verify_entry(&e, b"{}", TrustedRoot::production().expect("embedded root"));
    }
}

/// The pre-release per-field entry (attributes 3.0–3.8): the input is split on 0xFE 0xFF into
/// the values of keys 0, 1, 2, …
pub fn entry_per_field(data: &[u8]) {
    let mut m = BTreeMap::new();
    let mut key = 0u32;
    let mut rest = data;
    loop {
        let cut = rest.windows(2).position(|w| w == [0xfe, 0xff]);
        let (value, tail) = match cut {
            Some(i) => (&rest[..i], Some(&rest[i + 2..])),
            None => (rest, None),
        };
        m.insert(key, value.to_vec());
        key += 1;
        match tail {
            Some(t) => rest = t,
            None => break,
        }
    }
    let _ = TransparencyLogEntry::from_per_field(&m);
}

/// Rekor API JSON: entries, search answers, log info.
pub fn rekor_json(data: &[u8]) {
    if let Ok(m) = serde_json::from_slice::<gitsign::services::rekor::types::LogEntries>(data) {
        for e in m.values() {
            if let Ok(t) = TransparencyLogEntry::from_api(e) {
                let _ = t.to_embedded().encode();
                let _ = gitsign::services::rekor::verify::verify_entry(&t, &t.canonicalized_body, TrustedRoot::production().expect("embedded root"));
            }
        }
    }
    let _ = serde_json::from_slice::<Vec<String>>(data);
    let _ = serde_json::from_slice::<gitsign::services::rekor::types::LogInfo>(data);
}

/// Signed checkpoints.
pub fn checkpoint(data: &[u8]) {
    if let Ok(cp) = Checkpoint::parse(&text(data)) {
        let key = &TrustedRoot::production().expect("embedded root").tlogs[0].public_key_der;
        let _ = cp.verify_signature(key, gitsign::crypto::pubkey::HashAlg::Sha256);
        let _ = cp.check_matches(cp.size, &cp.root_hash);
    }
}

/// Fulcio answers: PEM chains (v1) and the JSON chain (v2) with PEM strings inside.
pub fn fulcio_pem(data: &[u8]) {
    let t = text(data);
    if let Ok(ders) = gitsign::services::fulcio::pem_certificates(&t) {
        for d in ders {
            let _ = gitsign::crypto::x509::CertInfo::parse(&d);
        }
    }
    let _ = gitsign::crypto::x509::pem_to_der(&t);
    if let Ok(ders) = gitsign::services::fulcio::v2_chain(data) {
        for d in ders {
            let _ = gitsign::crypto::x509::CertInfo::parse(&d);
        }
    }
}

/// ID tokens (compact JWT) and their claims.
pub fn id_token(data: &[u8]) {
    use base64::Engine;
    if let Ok(c) = gitsign::services::oidc::Claims::parse(&text(data)) {
        let _ = c.challenge_subject();
        let _ = c.check_fresh(i64::MAX);
    }
    let jwt = format!("e30.{}.c2ln", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data));
    let _ = gitsign::services::oidc::Claims::parse(&jwt);
}

/// trusted_root.json.
pub fn trusted_root(data: &[u8]) {
    let _ = TrustedRoot::from_json(data);
}

/// Credential-cache frames and messages, as the daemon and the client read them.
pub fn cache_frames(data: &[u8]) {
    use gitsign::credentials::protocol::{Request, Response, read_frame};
    let mut r = data;
    while let Ok(payload) = read_frame(&mut r) {
        if let Ok(req) = Request::decode(&payload) {
            let _ = Request::decode(&req.encode());
        }
        if let Ok(resp) = Response::decode(&payload) {
            let _ = Response::decode(&resp.encode());
        }
    }
    let _ = Request::decode(data);
    let _ = Response::decode(data);
}
