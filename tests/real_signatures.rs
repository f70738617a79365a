//! Every real gitsign object in ../shared/fixtures/real gets its INDEX.tsv verdict offline with
//! the production trusted root; every negative is rejected for its README reason; plus mutations.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
use gitsign::crypto::cms::verify::CmsError;
use gitsign::crypto::x509::ChainError;
use gitsign::git::object::{self as git, GitError, ObjectKind};
use gitsign::pipelines::verify::signature::{
    self as verify, ErrorStatus, TlogEvidence, VerifyError, VerifyOptions, error_status_kind,
};
use gitsign::services::rekor::verify::TlogError;
use gitsign::trust::root::TrustedRoot;
use std::path::PathBuf;

fn real() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real")
}

fn prod() -> &'static TrustedRoot {
    TrustedRoot::production().expect("production trusted root")
}

fn kind_of(file: &str) -> ObjectKind {
    if file.ends_with(".tag") { ObjectKind::Tag } else { ObjectKind::Commit }
}

fn split(file: &str, raw: &[u8]) -> git::Split {
    git::split_object(kind_of(file), raw).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn offline() -> VerifyOptions<'static> {
    VerifyOptions::new(prod())
}

fn ignore_tlog() -> VerifyOptions<'static> {
    VerifyOptions { insecure_ignore_tlog: true, ..VerifyOptions::new(prod()) }
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SSZ`.
fn unix(s: &str) -> i64 {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::PrimitiveDateTime::parse(s, &fmt).unwrap().assume_utc().unix_timestamp()
}

struct Row {
    file: String,
    email: String,
    uri: String,
    issuer: String,
    not_before: i64,
    mode: String,
    log_index: String,
    integrated: String,
    expected: String,
}

fn index() -> Vec<Row> {
    let text = std::fs::read_to_string(real().join("INDEX.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(header[13], "expected");
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                file: f[0].into(),
                email: f[4].into(),
                uri: f[5].into(),
                issuer: f[6].into(),
                not_before: unix(f[7]),
                mode: f[10].into(),
                log_index: f[11].into(),
                integrated: f[12].into(),
                expected: f[13].into(),
            }
        })
        .collect()
}

#[test]
fn every_real_object_gets_its_index_verdict() {
    let rows = index();
    assert_eq!(rows.len(), 12);
    println!("{:<70} {:<10} {:<45} verdict", "object", "mode", "identity");
    for r in &rows {
        let raw = std::fs::read(real().join(&r.file)).unwrap();
        let s = split(&r.file, &raw);
        let identity = if r.email.is_empty() { &r.uri } else { &r.email };
        let verdict = match r.expected.as_str() {
            "VALID(CMS+chain+embedded-tlog)" => {
                assert_eq!(r.mode, "offline");
                let v =
                    verify::verify(&s.payload, &s.signature, &offline()).unwrap_or_else(|e| panic!("{}: {e}", r.file));
                let want_index: i64 = r.log_index.parse().unwrap();
                let want_time = unix(&r.integrated);
                assert_eq!(
                    v.tlog,
                    TlogEvidence::Embedded { log_index: want_index, integrated_time: want_time },
                    "{}",
                    r.file
                );
                assert_eq!(v.verified_at, want_time);
                assert!(v.sct_verified, "{}", r.file);
                format!("VALID embedded tlog index {want_index} at {want_time}")
            }
            "VALID(CMS+chain; Rekor lookup needs network)" => {
                assert!(r.mode.starts_with("online"));
                let e = verify::verify(&s.payload, &s.signature, &offline()).unwrap_err();
                assert!(matches!(e, VerifyError::TlogNeedsNetwork { .. }), "{}: {e}", r.file);
                assert_eq!(error_status_kind(&e), ErrorStatus::ErrSig);
                let v = verify::verify(&s.payload, &s.signature, &ignore_tlog())
                    .unwrap_or_else(|e| panic!("{}: {e}", r.file));
                assert_eq!(v.tlog, TlogEvidence::NotChecked);
                assert_eq!(v.verified_at, r.not_before + 60);
                assert_eq!(e.fingerprint(), Some(v.fingerprint.as_str()));
                format!("VALID(NotChecked; offline: {}) sct={}", "ERRSIG needs network", v.sct_verified)
            }
            other => panic!("unknown verdict {other}"),
        };
        let v = verify::verify(&s.payload, &s.signature, &ignore_tlog()).unwrap();
        assert_eq!(&v.identity, identity, "{}", r.file);
        assert_eq!(v.issuer.as_deref(), Some(r.issuer.as_str()), "{}", r.file);
        assert_eq!(v.not_before, r.not_before);
        assert_eq!(v.fingerprint.len(), 40);
        println!("{:<70} {:<10} {:<45} {verdict}", r.file, r.mode.split('(').next().unwrap_or(""), identity);
    }
}

#[test]
fn every_negative_is_rejected_for_its_reason() {
    let text = std::fs::read_to_string(real().join("negative/README.tsv")).unwrap();
    let mut seen = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (file, expected) = (f[0], f[3]);
        let raw = std::fs::read(real().join("negative").join(file)).unwrap();
        let id = file.split("__").next().unwrap();
        let outcome = git::split_object(ObjectKind::Commit, &raw)
            .map_err(|e| format!("{e}"))
            .and_then(|s| verify::verify(&s.payload, &s.signature, &offline()).map_err(|e| format!("{e:?}")));
        let split = git::split_object(ObjectKind::Commit, &raw);
        let run = |opts: &VerifyOptions<'_>| {
            let s = split.clone().unwrap();
            verify::verify(&s.payload, &s.signature, opts).unwrap_err()
        };
        match id {
            "N01" | "N05" => {
                assert!(expected.contains("messageDigest"));
                for opts in [offline(), ignore_tlog()] {
                    let e = run(&opts);
                    assert!(matches!(e, VerifyError::Content { source: CmsError::DigestMismatch, .. }), "{id}: {e}");
                    assert_eq!(error_status_kind(&e), ErrorStatus::BadSig);
                }
            }
            "N03" => {
                let e = run(&offline());
                assert!(matches!(e, VerifyError::Armor(gitsign::encoding::armor::ArmorError::MissingEnd)), "{id}: {e}");
                assert_eq!(error_status_kind(&e), ErrorStatus::ErrSig);
            }
            "N11" => {
                assert_eq!(split, Err(GitError::DuplicateSignatureHeader { header: "gpgsig" }));
            }
            "N13" => {
                let e = run(&offline());
                assert!(matches!(e, VerifyError::Tlog { source: TlogError::BadSet(_), .. }), "{id}: {e}");
                assert_eq!(error_status_kind(&e), ErrorStatus::BadSig);
            }
            "N16" => {
                for opts in [offline(), ignore_tlog()] {
                    let e = run(&opts);
                    assert!(matches!(e, VerifyError::Content { source: CmsError::BadSignature, .. }), "{id}: {e}");
                }
            }
            "N17" => {
                for opts in [offline(), ignore_tlog()] {
                    let e = run(&opts);
                    assert!(
                        matches!(
                            e,
                            VerifyError::Cms(CmsError::SignerNotFound { .. })
                                | VerifyError::Content { source: CmsError::BadSignature, .. }
                        ),
                        "{id}: {e}"
                    );
                }
            }
            other => panic!("negative {other} has no expectation here: add one"),
        }
        println!("{file:<45} rejected: {}", outcome.err().unwrap_or_default());
        seen += 1;
    }
    assert_eq!(seen, 7);
}

// ---------------------------------------------------------------------------------------------
// Mutations of real signatures.

mod der {
    pub(crate) use testsupport::der::{at, children, edit, head, tlv as encode};

    /// Path to the SignedData children: ContentInfo -> [0] -> SignedData.
    pub(crate) const SD: [usize; 2] = [1, 0];
    /// Path to the SignerInfo children.
    pub(crate) const SI: [usize; 4] = [1, 0, 4, 0];
}

fn example(name: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let dir = std::fs::read_dir(real().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(name))
        .unwrap();
    (
        std::fs::read(dir.join("object.raw")).unwrap(),
        std::fs::read(dir.join("payload.bin")).unwrap(),
        std::fs::read(dir.join("signature.der")).unwrap(),
    )
}

fn armored(der: &[u8]) -> Vec<u8> {
    gitsign::encoding::armor::encode(der).into_bytes()
}

#[test]
fn empty_certificate_set_and_missing_signer() {
    let (_, payload, sig) = example("online-commit");
    let (_, _, other) = example("offline-commit");
    // GHSA-7c37: zero certificates.
    let empty = der::edit(&sig, &der::SD, &|kids| {
        kids.into_iter().map(|k| if k[0] == 0xa0 { vec![0xa0, 0] } else { k }).collect()
    });
    let e = verify::verify(&payload, &armored(&empty), &ignore_tlog()).unwrap_err();
    assert!(matches!(e, VerifyError::Cms(CmsError::NoCertificates)), "{e}");
    assert_eq!(error_status_kind(&e), ErrorStatus::ErrSig);
    // The signer is not among the certificates (another real leaf instead).
    let other_leaf = gitsign::crypto::cms::verify::parse(&other).unwrap().signer_cert_der;
    let swapped = der::edit(&sig, &der::SD, &|kids| {
        kids.into_iter().map(|k| if k[0] == 0xa0 { der::encode(0xa0, &other_leaf) } else { k }).collect()
    });
    let e = verify::verify(&payload, &armored(&swapped), &ignore_tlog()).unwrap_err();
    assert!(matches!(e, VerifyError::Cms(CmsError::SignerNotFound { .. })), "{e}");
    // The signer found among several certificates, listed second: still valid.
    let own_leaf = gitsign::crypto::cms::verify::parse(&sig).unwrap().signer_cert_der;
    let both = der::edit(&sig, &der::SD, &|kids| {
        kids.into_iter()
            .map(|k| if k[0] == 0xa0 { der::encode(0xa0, &[other_leaf.clone(), own_leaf.clone()].concat()) } else { k })
            .collect()
    });
    verify::verify(&payload, &armored(&both), &ignore_tlog()).unwrap();
}

#[test]
fn changed_bytes_and_swapped_signatures_fail() {
    let (raw, payload, sig) = example("offline-commit");
    let text = armored(&sig);
    verify::verify(&payload, &text, &offline()).unwrap();
    // One byte of the author line.
    let pos = payload.windows(7).position(|w| w == b"author ").unwrap() + 7;
    let mut changed = payload.clone();
    changed[pos] ^= 0x20;
    let e = verify::verify(&changed, &text, &offline()).unwrap_err();
    assert!(matches!(e, VerifyError::Content { source: CmsError::DigestMismatch, .. }), "{e}");
    // The last message byte.
    let mut changed = payload.clone();
    let last = changed.len() - 2;
    changed[last] ^= 1;
    assert!(verify::verify(&changed, &text, &offline()).is_err());
    // Another real signature over this payload.
    let (_, _, online_sig) = example("online-commit");
    let e = verify::verify(&payload, &armored(&online_sig), &ignore_tlog()).unwrap_err();
    assert!(matches!(e, VerifyError::Content { source: CmsError::DigestMismatch, .. }), "{e}");
    // Duplicate gpgsig header built from the real object.
    let s = git::split_commit(&raw, git::HashAlgo::Sha1).unwrap();
    let twice = git::insert_commit_signature(&raw, &s.signature, git::HashAlgo::Sha1);
    assert!(matches!(git::split_commit(&twice, git::HashAlgo::Sha1), Err(GitError::DuplicateSignatureHeader { .. })));
}

#[test]
fn junk_gpgsig_sha256_is_stripped_and_duplicate_tree_is_not_normalised() {
    let (raw, payload, _) = example("offline-commit");
    let text = String::from_utf8(raw.clone()).unwrap();
    let committer_end = text.find("\ncommitter ").unwrap() + 1;
    let line_end = committer_end + text[committer_end..].find('\n').unwrap() + 1;
    // gpgsig-sha256 junk in a SHA-1 commit: stripped, still valid.
    let junk = format!(
        "{}gpgsig-sha256 -----BEGIN SIGNED MESSAGE-----\n junk\n -----END SIGNED MESSAGE-----\n{}",
        &text[..line_end],
        &text[line_end..]
    );
    let s = git::split_object(ObjectKind::Commit, junk.as_bytes()).unwrap();
    assert_eq!(s.payload, payload);
    let v = verify::verify(&s.payload, &s.signature, &offline()).unwrap();
    assert!(matches!(v.tlog, TlogEvidence::Embedded { .. }));
    // GHSA-7rmh: a second tree header in front. A parser keeping the last tree would rebuild
    // the signed payload; the raw bytes differ, so the signature must fail.
    let two_trees = format!("tree 0000000000000000000000000000000000000000\n{text}");
    let s = git::split_object(ObjectKind::Commit, two_trees.as_bytes()).unwrap();
    assert!(s.payload.starts_with(b"tree 0000000000000000000000000000000000000000\ntree "));
    let e = verify::verify(&s.payload, &s.signature, &offline()).unwrap_err();
    assert!(matches!(e, VerifyError::Content { source: CmsError::DigestMismatch, .. }), "{e}");
}

#[test]
fn tlog_entry_copied_from_another_signature_fails() {
    let (_, payload, sig) = example("offline-commit");
    let (_, _, tag_sig) = example("offline-tag");
    // cosign GHSA-8gw7: move the tag's valid embedded entry into the commit's signature.
    let si = der::at(&tag_sig, &der::SI);
    let tag_unsigned = der::children(&si[der::head(&si).1..]).last().unwrap().clone();
    assert_eq!(tag_unsigned[0], 0xa1);
    let moved = der::edit(&sig, &der::SI, &|mut kids| {
        let last = kids.len() - 1;
        assert_eq!(kids[last][0], 0xa1);
        kids[last] = tag_unsigned.clone();
        kids
    });
    let e = verify::verify(&payload, &armored(&moved), &offline()).unwrap_err();
    assert!(matches!(e, VerifyError::Tlog { .. }), "{e}");
    // And the commit's own entry stays valid after the round trip through the editor.
    let same = der::edit(&sig, &der::SI, &|kids| kids);
    assert_eq!(same, sig);
}

#[test]
fn certificate_from_an_untrusted_root_fails() {
    use ecdsa::signature::Signer;
    use spki::EncodePublicKey;
    let (_, payload, _) = example("online-commit");
    let key = p256::ecdsa::SigningKey::from_slice(&[42u8; 32]).unwrap();
    let spki = key.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec();
    let name = der::encode(
        0x30,
        &der::encode(
            0x31,
            &der::encode(0x30, &[der::encode(0x06, &[0x55, 4, 3]), der::encode(0x0c, b"sigstore")].concat()),
        ),
    );
    let ext = |oid: &[u8], critical: bool, value: Vec<u8>| {
        let mut p = der::encode(0x06, oid);
        if critical {
            p.extend_from_slice(&[1, 1, 0xff]);
        }
        p.extend(der::encode(0x04, &value));
        der::encode(0x30, &p)
    };
    let exts = [
        ext(&[0x55, 0x1d, 0x0f], true, vec![0x03, 0x02, 0x07, 0x80]),
        ext(&[0x55, 0x1d, 0x25], false, der::encode(0x30, &der::encode(0x06, &[0x2b, 6, 1, 5, 5, 7, 3, 3]))),
        ext(&[0x55, 0x1d, 0x11], true, der::encode(0x30, &der::encode(0x81, b"mallory@example.com"))),
    ]
    .concat();
    let alg = der::encode(0x30, &der::encode(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));
    let tbs = der::encode(
        0x30,
        &[
            der::encode(0xa0, &[2, 1, 2]),
            der::encode(0x02, &[7]),
            alg.clone(),
            name.clone(),
            der::encode(0x30, &[der::encode(0x17, b"260101000000Z"), der::encode(0x17, b"360101000000Z")].concat()),
            name,
            spki,
            der::encode(0xa3, &der::encode(0x30, &exts)),
        ]
        .concat(),
    );
    let sig: p256::ecdsa::DerSignature = key.sign(&tbs);
    let mut bits = vec![0];
    bits.extend_from_slice(sig.as_bytes());
    let cert = der::encode(0x30, &[tbs, alg, der::encode(0x03, &bits)].concat());
    let cms =
        gitsign::crypto::cms::sign::sign_detached(&payload, &cert, &key, 1_780_000_000).unwrap().finish(&[]).unwrap();
    let text = armored(&cms);
    // The CMS itself is fine …
    let parsed = gitsign::crypto::cms::verify::parse(&cms).unwrap();
    gitsign::crypto::cms::verify::verify_content(&parsed, &payload).unwrap();
    // … but the certificate does not chain to the production root.
    let opts = VerifyOptions { insecure_ignore_sct: true, ..ignore_tlog() };
    let e = verify::verify(&payload, &text, &opts).unwrap_err();
    assert!(matches!(e, VerifyError::Chain { source: ChainError::Untrusted { .. }, .. }), "{e}");
    // A CA the trusted root does not know: GnuPG's "missing key" (ERRSIG), not a bad signature.
    assert_eq!(error_status_kind(&e), ErrorStatus::ErrSig);
    // With that self-signed certificate added as a "CMS intermediate", still untrusted.
    let with_self = der::edit(&cms, &der::SD, &|kids| {
        kids.into_iter()
            .map(|k| if k[0] == 0xa0 { der::encode(0xa0, &[cert.clone(), cert.clone()].concat()) } else { k })
            .collect()
    });
    assert!(verify::verify(&payload, &armored(&with_self), &opts).is_err());
}

#[test]
fn every_byte_of_an_offline_signature_matters() {
    let (_, payload, sig) = example("offline-commit");
    verify::verify(&payload, &armored(&sig), &offline()).unwrap();
    let mut unnoticed = Vec::new();
    for i in 0..sig.len() {
        let mut m = sig.clone();
        m[i] ^= 0x01;
        if verify::verify(&payload, &armored(&m), &offline()).is_ok() {
            unnoticed.push(i);
        }
    }
    // The one tolerated exception: the key name on the checkpoint's signature line
    // ("— rekor.sigstore.dev <sig>"), which no signature covers; the key is picked by the hint.
    // (rekor::checkpoint does not compare it with the origin; sigstore-go's note verifier does.)
    let marker = b"\n\n\xe2\x80\x94 ";
    let name_start = sig.windows(marker.len()).position(|w| w == marker).unwrap() + marker.len();
    let name_end = name_start + sig[name_start..].iter().position(|&b| b == b' ').unwrap();
    let outside: Vec<usize> = unnoticed.iter().copied().filter(|i| !(name_start..name_end).contains(i)).collect();
    assert!(outside.is_empty(), "flipping these bytes went unnoticed: {outside:?}");
}

#[test]
fn every_byte_of_an_online_signature_matters_even_without_tlog() {
    let (_, payload, sig) = example("online-tag");
    verify::verify(&payload, &armored(&sig), &ignore_tlog()).unwrap();
    let unnoticed: Vec<usize> = (0..sig.len())
        .filter(|&i| {
            let mut m = sig.clone();
            m[i] ^= 0x01;
            verify::verify(&payload, &armored(&m), &ignore_tlog()).is_ok()
        })
        .collect();
    assert!(unnoticed.is_empty(), "flipping these bytes went unnoticed: {unnoticed:?}");
}

/// `insecure_ignore_tlog` excuses only the absence of log evidence: an embedded entry that is
/// present but does not verify (N13: SET tampered) still fails, and a good embedded entry is
/// still reported as embedded evidence.
#[test]
fn ignore_tlog_does_not_excuse_a_bad_embedded_entry() {
    let file = "negative/N13__tlog-SET-tampered.commit";
    let raw = std::fs::read(real().join(file)).unwrap();
    let s = split(file, &raw);
    let err = verify::verify(&s.payload, &s.signature, &ignore_tlog()).expect_err("a tampered embedded SET must fail");
    assert!(err.to_string().to_lowercase().contains("log"), "{err}");

    let file = "sigstore_gitsign__3616021d86975c23e52a456a7dc5605fe130ed14.commit";
    let raw = std::fs::read(real().join(file)).unwrap();
    let s = split(file, &raw);
    let v = verify::verify(&s.payload, &s.signature, &ignore_tlog()).unwrap();
    assert!(matches!(v.tlog, TlogEvidence::Embedded { log_index: 2340836642, .. }), "{:?}", v.tlog);
}
