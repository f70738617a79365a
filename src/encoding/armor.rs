//! The `SIGNED MESSAGE` PEM armor gitsign writes, and lenient decoding of signature text.
//!
//! Output: `-----BEGIN SIGNED MESSAGE-----\n`, padded standard base64 in 64-column lines,
//! `-----END SIGNED MESSAGE-----\n`. Input: that armor (strict label, tolerant of CRLF and
//! trailing whitespace after the END line), or raw DER.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const BEGIN: &str = "-----BEGIN SIGNED MESSAGE-----";
const END: &str = "-----END SIGNED MESSAGE-----";

/// Why signature text could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArmorError {
    /// The text is neither `SIGNED MESSAGE` armor nor DER.
    #[error("the signature is neither a '-----BEGIN SIGNED MESSAGE-----' block nor DER")]
    NotASignature,
    /// The BEGIN line was found but no END line.
    #[error("the signature armor has no '-----END SIGNED MESSAGE-----' line (truncated?)")]
    MissingEnd,
    /// Something other than whitespace follows the END line.
    #[error("unexpected text after the '-----END SIGNED MESSAGE-----' line")]
    TrailingData,
    /// The base64 body is malformed.
    #[error("the signature armor holds malformed base64")]
    BadBase64,
    /// The armor carries a label other than `SIGNED MESSAGE`.
    #[error("the signature armor has label {0:?}, expected \"SIGNED MESSAGE\"")]
    WrongLabel(String),
}

/// Armor DER bytes as gitsign does.
pub fn encode(der: &[u8]) -> String {
    pem_block("SIGNED MESSAGE", der)
}

/// A PEM block in the canonical form every Sigstore service writes: `-----BEGIN LABEL-----\n`,
/// padded standard base64 in 64-column lines, `-----END LABEL-----\n`.
pub fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 32);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Decode signature text: `SIGNED MESSAGE` armor (leading whitespace, CRLF and trailing
/// whitespace tolerated) or raw DER (first byte 0x30).
pub fn decode(text: &[u8]) -> Result<Vec<u8>, ArmorError> {
    let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
    let body = &text[start..];
    if body.first() == Some(&0x30) {
        return Ok(body.to_vec());
    }
    let s = std::str::from_utf8(body).map_err(|_| ArmorError::NotASignature)?;
    let mut lines = s.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("");
    if !first.starts_with("-----BEGIN ") {
        return Err(ArmorError::NotASignature);
    }
    if first.trim_end() != BEGIN {
        let label = first.trim_end().trim_start_matches("-----BEGIN ").trim_end_matches("-----");
        return Err(ArmorError::WrongLabel(label.to_string()));
    }
    let mut b64 = String::new();
    let mut ended = false;
    for line in lines.by_ref() {
        if line.trim_end() == END {
            ended = true;
            break;
        }
        b64.push_str(line.trim());
    }
    if !ended {
        return Err(ArmorError::MissingEnd);
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(ArmorError::TrailingData);
    }
    STANDARD.decode(b64.as_bytes()).map_err(|_| ArmorError::BadBase64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_line_width() {
        let der: Vec<u8> = std::iter::once(0x30).chain((0..200u8).map(|i| i.wrapping_mul(7))).collect();
        let text = encode(&der);
        for line in text.lines().skip(1) {
            assert!(line.len() <= 64, "line too long: {line}");
        }
        assert!(text.ends_with("-----END SIGNED MESSAGE-----\n"));
        assert_eq!(decode(text.as_bytes()).unwrap(), der);
        assert_eq!(decode(text.replace('\n', "\r\n").as_bytes()).unwrap(), der);
    }

    #[test]
    fn rejects_truncation_labels_and_trailing_text() {
        let text = encode(&[0x30, 1, 2, 3]);
        let truncated = text.replace("-----END SIGNED MESSAGE-----\n", "");
        assert_eq!(decode(truncated.as_bytes()), Err(ArmorError::MissingEnd));
        let relabeled = text.replace("SIGNED MESSAGE", "CMS");
        assert_eq!(decode(relabeled.as_bytes()), Err(ArmorError::WrongLabel("CMS".into())));
        let trailing = format!("{text}junk\n");
        assert_eq!(decode(trailing.as_bytes()), Err(ArmorError::TrailingData));
        assert_eq!(decode(format!("{text}\n  \n").as_bytes()).unwrap(), vec![0x30, 1, 2, 3]);
        assert_eq!(decode(b"hello"), Err(ArmorError::NotASignature));
    }
}
