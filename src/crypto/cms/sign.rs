//! Building gitsign's detached CMS SignedData (compat spec §3), byte-compatible in structure:
//! SignedData v1, digestAlgorithms {sha256} (parameters absent), encapContentInfo {id-data}
//! without content, certificates = the leaf only, one SignerInfo v1 with sid
//! issuerAndSerialNumber, signed attributes contentType, signingTime (UTCTime), messageDigest
//! in DER order, ecdsa-with-SHA256 (parameters absent), and optional unsigned attributes
//! (the embedded Rekor entry, 1.3.6.1.4.1.57264.3.1).
use crate::encoding::oids;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Tag};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

/// Errors building a signature.
#[derive(Debug, thiserror::Error)]
pub enum CmsSignError {
    /// The certificate does not parse.
    #[error("the signing certificate cannot be parsed: {0}")]
    BadCertificate(String),
    /// Encoding failed.
    #[error("cannot encode the CMS signature: {0}")]
    Encode(String),
    /// The key (or the agent holding it) did not sign.
    #[error("cannot sign: {0}")]
    Sign(String),
}

fn enc(e: der::Error) -> CmsSignError {
    CmsSignError::Encode(e.to_string())
}

/// A signature whose unsigned attributes may still be added.
#[derive(Debug, Clone)]
pub struct PendingSignature {
    signed_data: SignedData,
    /// The signed attributes as a DER SET (0x31): what the signature covers and what
    /// offline-mode Rekor entries hash.
    pub signed_attrs_der: Vec<u8>,
    /// The SignerInfo signature (DER ECDSA).
    pub signature: Vec<u8>,
}

fn alg(oid: const_oid::ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid, parameters: None }
}

fn attribute(oid: const_oid::ObjectIdentifier, value: Any) -> Result<Attribute, CmsSignError> {
    let mut values = SetOfVec::new();
    values.insert(value).map_err(enc)?;
    Ok(Attribute { oid, values })
}

/// Sign `payload` (detached) with `key`, whose certificate is `leaf_der`, stating
/// `signing_time` (unix seconds) in the signingTime attribute.
pub fn sign_detached(
    payload: &[u8],
    leaf_der: &[u8],
    key: &impl p256::ecdsa::signature::Signer<p256::ecdsa::DerSignature>,
    signing_time: i64,
) -> Result<PendingSignature, CmsSignError> {
    let leaf = Certificate::from_der(leaf_der).map_err(|e| CmsSignError::BadCertificate(e.to_string()))?;
    let digest = Sha256::digest(payload);

    let time = x509_cert::time::Time::try_from(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(signing_time.max(0) as u64),
    )
    .map_err(enc)?;
    let mut signed = SetOfVec::new();
    signed
        .insert(attribute(oids::CONTENT_TYPE, Any::new(Tag::ObjectIdentifier, oids::DATA.as_bytes()).map_err(enc)?)?)
        .map_err(enc)?;
    signed
        .insert(attribute(oids::SIGNING_TIME, Any::from_der(&time.to_der().map_err(enc)?).map_err(enc)?)?)
        .map_err(enc)?;
    signed
        .insert(attribute(oids::MESSAGE_DIGEST, Any::new(Tag::OctetString, digest.as_slice()).map_err(enc)?)?)
        .map_err(enc)?;
    let signed_attrs_der = signed.to_der().map_err(enc)?;
    let sig: p256::ecdsa::DerSignature = key.try_sign(&signed_attrs_der).map_err(|e| {
        use std::error::Error;
        CmsSignError::Sign(e.source().map(ToString::to_string).unwrap_or_else(|| e.to_string()))
    })?;
    let signature = sig.as_bytes().to_vec();

    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: leaf.tbs_certificate().issuer().clone(),
            serial_number: leaf.tbs_certificate().serial_number().clone(),
        }),
        digest_alg: alg(oids::SHA256),
        signed_attrs: Some(signed),
        signature_algorithm: alg(oids::ECDSA_SHA256),
        signature: OctetString::new(signature.clone()).map_err(enc)?,
        unsigned_attrs: None,
    };
    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms.insert(alg(oids::SHA256)).map_err(enc)?;
    let mut certs = SetOfVec::new();
    certs.insert(CertificateChoices::Certificate(leaf)).map_err(enc)?;
    let mut infos = SetOfVec::new();
    infos.insert(signer_info).map_err(enc)?;
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms,
        encap_content_info: EncapsulatedContentInfo { econtent_type: oids::DATA, econtent: None },
        certificates: Some(CertificateSet(certs)),
        crls: None,
        signer_infos: SignerInfos(infos),
    };
    Ok(PendingSignature { signed_data, signed_attrs_der, signature })
}

impl PendingSignature {
    /// Finish the signature with these unsigned attributes (each: OID and the DER TLV of its
    /// single value), returning the DER ContentInfo.
    pub fn finish(mut self, unsigned: &[(const_oid::ObjectIdentifier, Vec<u8>)]) -> Result<Vec<u8>, CmsSignError> {
        if !unsigned.is_empty() {
            let mut attrs = SetOfVec::new();
            for (oid, value) in unsigned {
                attrs.insert(attribute(*oid, Any::from_der(value).map_err(enc)?)?).map_err(enc)?;
            }
            let mut infos = std::mem::take(&mut self.signed_data.signer_infos.0).into_vec();
            for info in &mut infos {
                info.unsigned_attrs = Some(attrs.clone());
            }
            self.signed_data.signer_infos = SignerInfos(SetOfVec::try_from(infos).map_err(enc)?);
        }
        let content = Any::encode_from(&self.signed_data).map_err(enc)?;
        ContentInfo { content_type: oids::SIGNED_DATA, content }.to_der().map_err(enc)
    }
}

/// The DER TLV of an OCTET STRING holding `bytes` (the value of the 3.1 attribute).
pub fn octet_string_value(bytes: &[u8]) -> Result<Vec<u8>, CmsSignError> {
    OctetString::new(bytes.to_vec()).map_err(enc)?.to_der().map_err(enc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The structure of our output matches the real gitsign signature byte for byte except
    /// for the certificate, time, digest and signature values.
    #[test]
    fn layout_matches_real_gitsign_signature() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/real/examples/online-commit__sigstore_gitsign__9d6c4c63e05b62088998795e483cd6c8b33c29cb"
        );
        let real = std::fs::read(format!("{dir}/signature.der")).unwrap();
        let real_attrs = std::fs::read(format!("{dir}/signed_attrs.der")).unwrap();
        let leaf_pem = std::fs::read_to_string(format!("{dir}/cert0.pem")).unwrap();
        let leaf = crate::services::fulcio::pem_certificates(&leaf_pem).unwrap().remove(0);
        let payload = std::fs::read(format!("{dir}/payload.bin")).unwrap();
        let key = p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap();
        // the real signing time, so the attribute bytes must be identical
        let info: serde_json::Value =
            serde_json::from_slice(&std::fs::read(format!("{dir}/info.json")).unwrap()).unwrap();
        let t = time::OffsetDateTime::parse(
            info["signing_time"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp();
        let pending = sign_detached(&payload, &leaf, &key, t).unwrap();
        assert_eq!(pending.signed_attrs_der, real_attrs, "signed attributes differ from gitsign's");
        let ours = pending.finish(&[]).unwrap();
        // Put the real signature value into ours: then every byte must equal gitsign's.
        let real_sd = ContentInfo::from_der(&real).unwrap().content.decode_as::<SignedData>().unwrap();
        let real_sig = real_sd.signer_infos.0.iter().next().unwrap().signature.clone();
        let mut sd = ContentInfo::from_der(&ours).unwrap().content.decode_as::<SignedData>().unwrap();
        let mut infos = sd.signer_infos.0.into_vec();
        infos[0].signature = real_sig;
        sd.signer_infos = SignerInfos(SetOfVec::try_from(infos).unwrap());
        let rebuilt =
            ContentInfo { content_type: oids::SIGNED_DATA, content: Any::encode_from(&sd).unwrap() }.to_der().unwrap();
        assert_eq!(rebuilt, real, "our CMS layout differs from gitsign's");
    }
}
