//! `trusted_root.json` in the Sigstore trustedroot v0.1 format, and `signing_config.json` in
//! the Sigstore SigningConfig v0.2 format.

use crate::ca::{self, Ca};
use crate::tsa::{self, Tsa};
use crate::util;
use serde_json::{Value, json};

pub(crate) const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";

fn p256_log(base_url: &str, spki: &[u8], start: &str) -> Value {
    json!({
        "baseUrl": base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": util::b64(spki),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": {"start": start},
        },
        "logId": {"keyId": util::b64(&util::sha256(spki))},
    })
}

/// The Rekor v2 log: an Ed25519 key whose log id is the checkpoint key id.
fn ed25519_log(base_url: &str, spki: &[u8], log_id: &[u8], start: &str) -> Value {
    json!({
        "baseUrl": base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": util::b64(spki),
            "keyDetails": "PKIX_ED25519",
            "validFor": {"start": start},
        },
        "logId": {"keyId": util::b64(log_id)},
    })
}

/// The logs of the stack, as the trusted root lists them.
pub(crate) struct Logs<'a> {
    /// Rekor v1: SPKI DER of its P-256 key.
    pub rekor_spki: &'a [u8],
    /// Rekor v2: SPKI DER of its Ed25519 key and its log id.
    pub rekor_v2_spki: &'a [u8],
    pub rekor_v2_log_id: &'a [u8],
    /// The CT log: SPKI DER of its P-256 key.
    pub ct_spki: &'a [u8],
}

/// Build the trusted root for this stack. `start` is a little before the keys were created.
/// The v1 log comes first, then the v2 log.
pub(crate) fn build(base_url: &str, ca: &Ca, logs: &Logs<'_>, tsa: &Tsa, start: i64) -> Value {
    let start = util::rfc3339(start);
    let (rekor_spki, ct_spki) = (logs.rekor_spki, logs.ct_spki);
    json!({
        "mediaType": MEDIA_TYPE,
        "tlogs": [
            p256_log(base_url, rekor_spki, &start),
            ed25519_log(base_url, logs.rekor_v2_spki, logs.rekor_v2_log_id, &start),
        ],
        "certificateAuthorities": [{
            "subject": {"organization": ca::ORG, "commonName": ca::ROOT_CN},
            "uri": base_url,
            "certChain": {"certificates": [
                {"rawBytes": util::b64(&ca.inter_der)},
                {"rawBytes": util::b64(&ca.root_der)},
            ]},
            "validFor": {"start": start},
        }],
        "ctlogs": [p256_log(&format!("{base_url}/ct"), ct_spki, &start)],
        "timestampAuthorities": [{
            "subject": {"organization": ca::ORG, "commonName": tsa::LEAF_CN},
            "uri": format!("{base_url}{}", tsa::PATH),
            "certChain": {"certificates": [
                {"rawBytes": util::b64(&tsa.leaf_der)},
                {"rawBytes": util::b64(&tsa.root_der)},
            ]},
            "validFor": {"start": start},
        }],
    })
}

pub(crate) const SIGNING_CONFIG_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";
/// `operator` of every service of the stack.
pub(crate) const OPERATOR: &str = "gitsign-sandbox";

/// The signing config for this stack: its Fulcio, OIDC issuer, Rekor v2 and v1 logs (one
/// operator, so a client takes the highest API version it supports, or the one it is told to)
/// and its RFC 3161 TSA, which a Rekor v2 signature needs for its time.
pub(crate) fn signing_config(base_url: &str, issuer: &str, tsa_url: &str, start: i64) -> Value {
    let valid = json!({"start": util::rfc3339(start)});
    let service =
        |url: &str, major: u32| json!({"url": url, "majorApiVersion": major, "validFor": valid, "operator": OPERATOR});
    json!({
        "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
        "caUrls": [service(base_url, 1)],
        "oidcUrls": [service(issuer, 1)],
        "rekorTlogUrls": [service(base_url, 2), service(base_url, 1)],
        "tsaUrls": [service(tsa_url, 1)],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    })
}
