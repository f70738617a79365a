//! RFC 6962 precertificate signed certificate timestamps.

use crate::keys;
use crate::util;

/// Data signed by the CT log for a precertificate entry (RFC 6962 §3.2).
pub(crate) fn signed_data(timestamp_ms: u64, issuer_key_hash: &[u8; 32], precert_tbs: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8, 0u8]; // version v1, signature_type certificate_timestamp
    d.extend_from_slice(&timestamp_ms.to_be_bytes());
    d.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    d.extend_from_slice(issuer_key_hash);
    let len = precert_tbs.len() as u32;
    d.extend_from_slice(&len.to_be_bytes()[1..]);
    d.extend_from_slice(precert_tbs);
    d.extend_from_slice(&0u16.to_be_bytes()); // no CT extensions
    d
}

/// One TLS-encoded SignedCertificateTimestamp.
pub(crate) fn encode_sct(log_id: &[u8; 32], timestamp_ms: u64, sig_der: &[u8]) -> Vec<u8> {
    let mut s = vec![0u8];
    s.extend_from_slice(log_id);
    s.extend_from_slice(&timestamp_ms.to_be_bytes());
    s.extend_from_slice(&0u16.to_be_bytes());
    s.push(4); // hash sha256
    s.push(3); // signature ecdsa
    s.extend_from_slice(&(sig_der.len() as u16).to_be_bytes());
    s.extend_from_slice(sig_der);
    s
}

/// SignedCertificateTimestampList with one SCT.
pub(crate) fn encode_list(sct: &[u8]) -> Vec<u8> {
    let mut inner = (sct.len() as u16).to_be_bytes().to_vec();
    inner.extend_from_slice(sct);
    let mut out = (inner.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&inner);
    out
}

/// Sign a precertificate and return the TLS SCT list.
pub(crate) fn make_list(ct_key: &p256::ecdsa::SigningKey, issuer_spki_der: &[u8], precert_tbs: &[u8]) -> Vec<u8> {
    let log_id = util::sha256(&keys::p256_spki_der(ct_key.verifying_key()));
    let ts = util::now_unix_millis();
    let sig = keys::sign_p256_der(ct_key, &signed_data(ts, &util::sha256(issuer_spki_der), precert_tbs));
    encode_list(&encode_sct(&log_id, ts, &sig))
}

/// Parsed SCT (for tests).
#[cfg(test)]
#[derive(Debug, PartialEq)]
pub(crate) struct Sct {
    pub log_id: [u8; 32],
    pub timestamp_ms: u64,
    pub signature: Vec<u8>,
}

#[cfg(test)]
pub(crate) fn parse_list(b: &[u8]) -> Option<Vec<Sct>> {
    let total = u16::from_be_bytes([*b.first()?, *b.get(1)?]) as usize;
    let mut rest = b.get(2..)?;
    if rest.len() != total {
        return None;
    }
    let mut out = Vec::new();
    while !rest.is_empty() {
        let l = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize;
        let s = rest.get(2..2 + l)?;
        rest = &rest[2 + l..];
        if s.first()? != &0 || s.len() < 47 {
            return None;
        }
        let log_id: [u8; 32] = s[1..33].try_into().ok()?;
        let ts = u64::from_be_bytes(s[33..41].try_into().ok()?);
        let ext_len = u16::from_be_bytes([s[41], s[42]]) as usize;
        let p = 43 + ext_len;
        if s.get(p..p + 2)? != [4, 3] {
            return None;
        }
        let sl = u16::from_be_bytes([*s.get(p + 2)?, *s.get(p + 3)?]) as usize;
        let sig = s.get(p + 4..p + 4 + sl)?.to_vec();
        if p + 4 + sl != s.len() {
            return None;
        }
        out.push(Sct { log_id, timestamp_ms: ts, signature: sig });
    }
    Some(out)
}
