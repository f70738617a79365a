//! Rekor checkpoints: signed notes (golang.org/x/mod/sumdb/note) carrying a tree size and root hash.
//!
//! ```text
//! rekor.sigstore.dev - 1193050959916656506      origin
//! 2223533958                                    tree size
//! ydUvH7FlKjYTuYWX1bWr9yLQLtGzpgSjWRHC2ohfbAU=  base64 root hash
//! Timestamp: 1673483618609228667                optional extension lines
//!                                               blank line ends the signed text
//! — rekor.sigstore.dev wNI9ajBFAiEA…             signature lines: name, base64(key hint ‖ sig)
//! ```
use crate::crypto::pubkey::{self, HashAlg, PubkeyError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Largest checkpoint accepted (real ones are ~250 bytes).
pub const MAX_CHECKPOINT_LEN: usize = 64 * 1024;
/// Most signature lines accepted.
pub const MAX_SIGNATURES: usize = 100;

/// Why a checkpoint was rejected.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The note is not a well-formed signed checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// No signature line carries the key hint of the log key.
    #[error("the checkpoint has no signature by the log key (key hint {hint})")]
    NoSignatureForKey {
        /// The expected key hint, hex.
        hint: String,
    },
    /// The log key's signature line names another key than the checkpoint's log.
    #[error("the checkpoint for log {log:?} is signed under the key name {name:?}: the note was not made by this log")]
    KeyNameMismatch {
        /// The log name from the origin line.
        log: String,
        /// The name on the signature line.
        name: String,
    },
    /// The signature line for the log key does not verify.
    #[error("the checkpoint signature does not verify with the log key: {0}")]
    BadSignature(PubkeyError),
    /// The checkpoint's tree size is not the proof's.
    #[error("the checkpoint is for tree size {checkpoint}, the inclusion proof for tree size {proof}")]
    SizeMismatch {
        /// Size in the checkpoint.
        checkpoint: u64,
        /// Size in the proof.
        proof: u64,
    },
    /// The checkpoint's root hash is not the proof's.
    #[error("the checkpoint's root hash {checkpoint} is not the inclusion proof's root hash {proof}")]
    RootMismatch {
        /// Root in the checkpoint, hex.
        checkpoint: String,
        /// Root in the proof, hex.
        proof: String,
    },
}

fn malformed(s: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed(s.into())
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name (e.g. `rekor.sigstore.dev`).
    pub name: String,
    /// The 4-byte key hint.
    pub key_hint: [u8; 4],
    /// The signature (DER ECDSA for Rekor v1 logs).
    pub signature: Vec<u8>,
}

/// A parsed signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Origin line, e.g. `rekor.sigstore.dev - 1193050959916656506`.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash (raw).
    pub root_hash: Vec<u8>,
    /// Extension lines after the root (e.g. `Timestamp: …`), without newlines.
    pub extensions: Vec<String>,
    /// The signed text: everything up to and including the `\n` before the blank line.
    pub signed_text: String,
    /// The signature lines.
    pub signatures: Vec<NoteSignature>,
}

/// The key hint Rekor v1 uses for an ECDSA log key: the first 4 bytes of SHA-256(SPKI DER).
pub fn key_hint(spki_der: &[u8]) -> [u8; 4] {
    let id = pubkey::key_id(spki_der);
    [id[0], id[1], id[2], id[3]]
}

impl Checkpoint {
    /// Parse a signed checkpoint note.
    pub fn parse(note: &str) -> Result<Checkpoint, CheckpointError> {
        if note.len() > MAX_CHECKPOINT_LEN {
            return Err(malformed(format!("{} bytes, more than {MAX_CHECKPOINT_LEN}", note.len())));
        }
        // As golang.org/x/mod/sumdb/note: the signatures follow the last blank line.
        let split = note.rfind("\n\n").ok_or_else(|| malformed("no blank line before the signatures"))?;
        let signed_text = &note[..split + 1];
        let sig_block = &note[split + 2..];
        if !sig_block.ends_with('\n') {
            return Err(malformed("the signature block does not end with a newline"));
        }

        let mut lines = signed_text.strip_suffix('\n').unwrap_or(signed_text).split('\n');
        let origin = lines.next().filter(|l| !l.is_empty()).ok_or_else(|| malformed("empty origin line"))?;
        let size_line = lines.next().ok_or_else(|| malformed("no tree size line"))?;
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(malformed(format!("tree size line {size_line:?} is not a decimal number")));
        }
        let size: u64 =
            size_line.parse().map_err(|_| malformed(format!("tree size {size_line:?} does not fit in 64 bits")))?;
        let root_line = lines.next().ok_or_else(|| malformed("no root hash line"))?;
        let root_hash =
            STANDARD.decode(root_line).map_err(|e| malformed(format!("root hash line: invalid base64: {e}")))?;
        if root_hash.len() != 32 {
            return Err(malformed(format!("root hash is {} bytes, not 32", root_hash.len())));
        }
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(malformed("blank line inside the signed text"));
        }

        let mut signatures = Vec::new();
        for line in sig_block.strip_suffix('\n').unwrap_or(sig_block).split('\n') {
            if signatures.len() >= MAX_SIGNATURES {
                return Err(malformed(format!("more than {MAX_SIGNATURES} signature lines")));
            }
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| malformed(format!("signature line {line:?} does not start with an em dash")))?;
            let (name, b64) =
                rest.split_once(' ').ok_or_else(|| malformed(format!("signature line {line:?} has no signature")))?;
            if name.is_empty() || b64.contains(' ') {
                return Err(malformed(format!("signature line {line:?} is not `— name signature`")));
            }
            let raw =
                STANDARD.decode(b64).map_err(|e| malformed(format!("signature of {name}: invalid base64: {e}")))?;
            if raw.len() < 5 {
                return Err(malformed(format!("signature of {name} is too short")));
            }
            let key_hint = [raw[0], raw[1], raw[2], raw[3]];
            signatures.push(NoteSignature { name: name.to_string(), key_hint, signature: raw[4..].to_vec() });
        }
        if signatures.is_empty() {
            return Err(malformed("no signature lines"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root_hash,
            extensions,
            signed_text: signed_text.to_string(),
            signatures,
        })
    }

    /// Verify that a signature line whose key hint is that of `log_key_spki` signs the text.
    /// Lines with other hints (witnesses, other keys) are ignored; at least one line with the
    /// log's hint must exist and one of them must verify.
    pub fn verify_signature(&self, log_key_spki: &[u8], hash: HashAlg) -> Result<(), CheckpointError> {
        let hint = key_hint(log_key_spki);
        let log = self.log_name();
        let mut last_err = None;
        for sig in self.signatures.iter().filter(|s| s.key_hint == hint) {
            // The key name is part of the note's verifier identity (as in sigstore-go's note
            // verifier): the log's own signature carries the log's name.
            if sig.name != log {
                last_err
                    .get_or_insert(CheckpointError::KeyNameMismatch { log: log.to_string(), name: sig.name.clone() });
                continue;
            }
            match pubkey::verify(log_key_spki, hash, self.signed_text.as_bytes(), &sig.signature) {
                Ok(()) => return Ok(()),
                Err(e) => last_err = Some(CheckpointError::BadSignature(e)),
            }
        }
        Err(last_err.unwrap_or(CheckpointError::NoSignatureForKey { hint: hex::encode(hint) }))
    }

    /// The log's name: the origin line up to ` - <tree id>` (Rekor v1), else the whole origin.
    pub fn log_name(&self) -> &str {
        match self.origin.rsplit_once(" - ") {
            Some((name, tree)) if !tree.is_empty() && tree.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => &self.origin,
        }
    }

    /// Check the checkpoint's size and root against an inclusion proof's.
    pub fn check_matches(&self, tree_size: u64, root_hash: &[u8]) -> Result<(), CheckpointError> {
        if self.size != tree_size {
            return Err(CheckpointError::SizeMismatch { checkpoint: self.size, proof: tree_size });
        }
        if self.root_hash != root_hash {
            return Err(CheckpointError::RootMismatch {
                checkpoint: hex::encode(&self.root_hash),
                proof: hex::encode(root_hash),
            });
        }
        Ok(())
    }
}

/// Parse `note`, verify its signature by the log key and check it is for `tree_size` / `root_hash`.
pub fn verify(
    note: &str,
    log_key_spki: &[u8],
    hash: HashAlg,
    tree_size: u64,
    root_hash: &[u8],
) -> Result<Checkpoint, CheckpointError> {
    let cp = Checkpoint::parse(note)?;
    cp.verify_signature(log_key_spki, hash)?;
    cp.check_matches(tree_size, root_hash)?;
    Ok(cp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecdsa::signature::Signer;
    use spki::EncodePublicKey;

    const REAL: &str = "rekor.sigstore.dev - 1193050959916656506\n2218932384\n+4yBTs3UnWpFPCnIQ0GyTpmX36qqtHFLtRmFimOAXBs=\n\n\u{2014} rekor.sigstore.dev wNI9ajBFAiEAl/4xKfKKx+pMdvnqbJd1qa72NO2ukx1n36RWJ7T73vQCIAm2w7t7Y0VBsaa6rJHYZXdx4bKKO3AaU20zvfHE5e0w\n";
    const ROOT: &str = "fb8c814ecdd49d6a453c29c84341b24e9997dfaaaab4714bb519858a63805c1b";

    fn rekor_key() -> Vec<u8> {
        crate::trust::root::TrustedRoot::production().unwrap().tlogs[0].public_key_der.clone()
    }

    #[test]
    fn real_checkpoint_verifies() {
        let key = rekor_key();
        let root = hex::decode(ROOT).unwrap();
        let cp = verify(REAL, &key, HashAlg::Sha256, 2218932384, &root).unwrap();
        assert_eq!(cp.origin, "rekor.sigstore.dev - 1193050959916656506");
        assert_eq!(cp.signatures[0].name, "rekor.sigstore.dev");
        assert_eq!(cp.signatures[0].key_hint, [0xc0, 0xd2, 0x3d, 0x6a]);
        assert_eq!(key_hint(&key), [0xc0, 0xd2, 0x3d, 0x6a]);
        assert!(cp.signed_text.ends_with("XBs=\n"));
        assert!(cp.extensions.is_empty());

        assert!(matches!(
            verify(REAL, &key, HashAlg::Sha256, 2218932385, &root),
            Err(CheckpointError::SizeMismatch { .. })
        ));
        let mut other_root = root.clone();
        other_root[0] ^= 1;
        assert!(matches!(
            verify(REAL, &key, HashAlg::Sha256, 2218932384, &other_root),
            Err(CheckpointError::RootMismatch { .. })
        ));
        // altered signed text: size changed in the note itself
        let altered = REAL.replace("2218932384", "2218932385");
        assert!(matches!(
            verify(&altered, &key, HashAlg::Sha256, 2218932385, &root),
            Err(CheckpointError::BadSignature(_))
        ));
        // another key: no line with its hint
        let other = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
        let other_spki = other.verifying_key().to_public_key_der().unwrap();
        assert!(matches!(
            verify(REAL, other_spki.as_bytes(), HashAlg::Sha256, 2218932384, &root),
            Err(CheckpointError::NoSignatureForKey { .. })
        ));
    }

    #[test]
    fn extensions_and_several_signatures() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
        let spki = sk.verifying_key().to_public_key_der().unwrap();
        let root = [7u8; 32];
        let text = format!("log - 1\n42\n{}\nTimestamp: 1673483618609228667\n", STANDARD.encode(root));
        let sig: p256::ecdsa::DerSignature = sk.sign(text.as_bytes());
        let mut good = key_hint(spki.as_bytes()).to_vec();
        good.extend_from_slice(sig.as_bytes());
        let mut bad = good.clone();
        let n = bad.len() - 1;
        bad[n] ^= 1;
        let witness = STANDARD.encode([1u8, 2, 3, 4, 5, 6]);
        let note = format!(
            "{text}\n\u{2014} witness {witness}\n\u{2014} log {}\n\u{2014} log {}\n",
            STANDARD.encode(&bad),
            STANDARD.encode(&good)
        );
        let cp = verify(&note, spki.as_bytes(), HashAlg::Sha256, 42, &root).unwrap();
        assert_eq!(cp.extensions, vec!["Timestamp: 1673483618609228667".to_string()]);
        assert_eq!(cp.signatures.len(), 3);
        assert_eq!(cp.signed_text, text);
        let only_bad = format!("{text}\n\u{2014} log {}\n", STANDARD.encode(&bad));
        assert!(matches!(
            verify(&only_bad, spki.as_bytes(), HashAlg::Sha256, 42, &root),
            Err(CheckpointError::BadSignature(_))
        ));
    }

    #[test]
    fn malformed_notes_rejected() {
        for bad in [
            "",
            "origin\n1\nAAAA\n",
            "origin\n1\n+4yBTs3UnWpFPCnIQ0GyTpmX36qqtHFLtRmFimOAXBs=\n\n",
            "origin\nx\n+4yBTs3UnWpFPCnIQ0GyTpmX36qqtHFLtRmFimOAXBs=\n\n\u{2014} a wNI9ajBF\n",
            "origin\n01\n+4yBTs3UnWpFPCnIQ0GyTpmX36qqtHFLtRmFimOAXBs=\n\n\u{2014} a wNI9ajBF\n",
            "origin\n99999999999999999999999\n+4yBTs3UnWpFPCnIQ0GyTpmX36qqtHFLtRmFimOAXBs=\n\n\u{2014} a wNI9ajBF\n",
            "origin\n1\nAAAA\n\n\u{2014} a wNI9ajBF\n",
            "origin\n1\n+4yBTs3UnWpFPCnIQ0GyTpmX36qqtHFLtRmFimOAXBs=\n\n- a wNI9ajBF\n",
            "origin\n1\n+4yBTs3UnWpFPCnIQ0GyTpmX36qqtHFLtRmFimOAXBs=\n\n\u{2014} a wNI9ajBF",
            "origin\n1\n+4yBTs3UnWpFPCnIQ0GyTpmX36qqtHFLtRmFimOAXBs=\n\n\u{2014} a wNI=\n",
            "origin\n1\n+4yBTs3UnWpFPCnIQ0GyTpmX36qqtHFLtRmFimOAXBs=\n\n\u{2014} a !!!!\n",
            "\n1\n+4yBTs3UnWpFPCnIQ0GyTpmX36qqtHFLtRmFimOAXBs=\n\n\u{2014} a wNI9ajBF\n",
        ] {
            assert!(matches!(Checkpoint::parse(bad), Err(CheckpointError::Malformed(_))), "{bad:?}");
        }
        assert!(Checkpoint::parse(&"x".repeat(MAX_CHECKPOINT_LEN + 1)).is_err());
    }
}

#[cfg(test)]
mod key_name_tests {
    use super::*;

    #[test]
    fn signature_under_another_key_name_is_rejected() {
        let note = "rekor.sigstore.dev - 1193050959916656506\n2218932384\n+4yBTs3UnWpFPCnIQ0GyTpmX36qqtHFLtRmFimOAXBs=\n\n\u{2014} rekor.sigstore.dev wNI9ajBFAiEAl/4xKfKKx+pMdvnqbJd1qa72NO2ukx1n36RWJ7T73vQCIAm2w7t7Y0VBsaa6rJHYZXdx4bKKO3AaU20zvfHE5e0w\n";
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/trust/production_rekor_rekor.sigstore.dev.pub.pem"
        ))
        .unwrap();
        use spki::{DecodePublicKey, EncodePublicKey};
        let spki = p256::ecdsa::VerifyingKey::from_public_key_pem(&pem).unwrap().to_public_key_der().unwrap();
        let spki = spki.as_bytes();
        let cp = Checkpoint::parse(note).unwrap();
        assert_eq!(cp.log_name(), "rekor.sigstore.dev");
        cp.verify_signature(spki, HashAlg::Sha256).unwrap();
        let renamed =
            Checkpoint::parse(&note.replace("\u{2014} rekor.sigstore.dev", "\u{2014} rekor.example.dev")).unwrap();
        assert!(matches!(
            renamed.verify_signature(spki, HashAlg::Sha256),
            Err(CheckpointError::KeyNameMismatch { .. })
        ));
    }
}
