//! A minimal DER writer. Certificates are assembled by hand so that the exact
//! extension order and encodings (raw issuer bytes in 1.3.6.1.4.1.57264.1.1,
//! the precertificate TBS for the SCT) are under our control.

use const_oid::ObjectIdentifier;

pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

pub(crate) fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

pub(crate) fn set(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x31, &parts.concat())
}

/// Encode a dotted OID. Only called with constant, valid OIDs.
#[allow(
    clippy::expect_used,
    reason = "every caller passes one of the sandbox's constant OIDs; a typo fails every test"
)]
pub(crate) fn oid(dotted: &str) -> Vec<u8> {
    let o = ObjectIdentifier::new(dotted).expect("valid constant OID");
    tlv(0x06, o.as_bytes())
}

/// INTEGER from unsigned big-endian bytes.
pub(crate) fn uint(bytes: &[u8]) -> Vec<u8> {
    let mut b: &[u8] = bytes;
    while b.len() > 1 && b[0] == 0 {
        b = &b[1..];
    }
    let mut content = Vec::new();
    if b.is_empty() || b[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(b);
    tlv(0x02, &content)
}

pub(crate) fn small_int(v: u64) -> Vec<u8> {
    uint(&v.to_be_bytes())
}

pub(crate) fn boolean(v: bool) -> Vec<u8> {
    tlv(0x01, &[if v { 0xff } else { 0 }])
}

pub(crate) fn octet_string(b: &[u8]) -> Vec<u8> {
    tlv(0x04, b)
}

/// BIT STRING with no unused bits.
pub(crate) fn bit_string(b: &[u8]) -> Vec<u8> {
    let mut c = vec![0u8];
    c.extend_from_slice(b);
    tlv(0x03, &c)
}

pub(crate) fn utf8(s: &str) -> Vec<u8> {
    tlv(0x0c, s.as_bytes())
}

pub(crate) fn printable(s: &str) -> Vec<u8> {
    tlv(0x13, s.as_bytes())
}

/// UTCTime before 2050, GeneralizedTime after (RFC 5280 §4.1.2.5).
pub(crate) fn time(unix: i64) -> Vec<u8> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let rest = format!("{:02}{:02}{:02}{:02}{:02}Z", u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second());
    if t.year() < 2050 {
        tlv(0x17, format!("{:02}{rest}", t.year() % 100).as_bytes())
    } else {
        tlv(0x18, format!("{:04}{rest}", t.year()).as_bytes())
    }
}

/// Explicitly tagged, constructed context-specific field `[n]`.
pub(crate) fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, inner)
}

/// Implicitly tagged primitive context-specific field `[n]`.
pub(crate) fn implicit_prim(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0x80 | n, content)
}

/// AlgorithmIdentifier without parameters (ECDSA signature algorithms).
pub(crate) fn alg_id(dotted: &str) -> Vec<u8> {
    seq(&[oid(dotted)])
}

/// A distinguished name from (attribute OID, value) pairs, one RDN each, PrintableString values.
pub(crate) fn name(attrs: &[(&str, &str)]) -> Vec<u8> {
    let rdns: Vec<Vec<u8>> = attrs.iter().map(|(o, v)| set(&[seq(&[oid(o), printable(v)])])).collect();
    seq(&rdns)
}

pub(crate) fn extension(dotted: &str, critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![oid(dotted)];
    if critical {
        parts.push(boolean(true));
    }
    parts.push(octet_string(value));
    seq(&parts)
}

/// One parsed DER element.
pub(crate) struct Tlv<'a> {
    /// The whole encoding (header and content).
    pub whole: &'a [u8],
    pub content: &'a [u8],
}

/// Split the first TLV off `b` (definite lengths only).
pub(crate) fn read_tlv(b: &[u8]) -> Option<Tlv<'_>> {
    b.first()?;
    let first = *b.get(1)? as usize;
    let (hdr, len) = if first < 0x80 {
        (2, first)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let len = b.get(2..2 + n)?.iter().fold(0usize, |a, x| (a << 8) | *x as usize);
        (2 + n, len)
    };
    let end = hdr.checked_add(len)?;
    if end > b.len() {
        return None;
    }
    Some(Tlv { whole: &b[..end], content: &b[hdr..end] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_ints() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![4, 2, 1, 2]);
        assert_eq!(&tlv(0x04, &[0u8; 200])[..3], &[4, 0x81, 200]);
        assert_eq!(&tlv(0x04, &[0u8; 300])[..4], &[4, 0x82, 1, 44]);
        assert_eq!(small_int(0), vec![2, 1, 0]);
        assert_eq!(small_int(128), vec![2, 2, 0, 128]);
        assert_eq!(uint(&[0, 0, 5]), vec![2, 1, 5]);
        assert_eq!(oid("2.5.4.3"), vec![6, 3, 0x55, 4, 3]);
    }

    #[test]
    fn times() {
        assert_eq!(time(0), tlv(0x17, b"700101000000Z"));
        assert_eq!(time(2_600_000_000), tlv(0x18, b"20520522141320Z"));
    }
}
