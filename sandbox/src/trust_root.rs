//! `trusted_root.json` in the Sigstore trustedroot v0.1 format.

use crate::ca::{self, Ca};
use crate::tsa::{self, Tsa};
use crate::util;
use serde_json::{Value, json};

pub const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";

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

/// Build the trusted root for this stack. `start` is a little before the keys were created.
pub fn build(base_url: &str, ca: &Ca, rekor_spki: &[u8], ct_spki: &[u8], tsa: &Tsa, start: i64) -> Value {
    let start = util::rfc3339(start);
    json!({
        "mediaType": MEDIA_TYPE,
        "tlogs": [p256_log(base_url, rekor_spki, &start)],
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
