//! Object identifiers used across the crate.
use const_oid::ObjectIdentifier as Oid;

/// id-signedData 1.2.840.113549.1.7.2
pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// id-data 1.2.840.113549.1.7.1
pub const DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
/// contentType attribute 1.2.840.113549.1.9.3
pub const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
/// messageDigest attribute 1.2.840.113549.1.9.4
pub const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
/// signingTime attribute 1.2.840.113549.1.9.5
pub const SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
/// id-aa-timeStampToken 1.2.840.113549.1.9.16.2.14
pub const TIMESTAMP_TOKEN: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// SHA-256 2.16.840.1.101.3.4.2.1
pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
/// SHA-384 2.16.840.1.101.3.4.2.2
pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
/// SHA-512 2.16.840.1.101.3.4.2.3
pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
/// ecdsa-with-SHA256 1.2.840.10045.4.3.2
pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
/// ecdsa-with-SHA384 1.2.840.10045.4.3.3
pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
/// ecdsa-with-SHA512 1.2.840.10045.4.3.4
pub const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
/// id-ecPublicKey 1.2.840.10045.2.1
pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 1.2.840.10045.3.1.7
pub const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
/// secp384r1 1.3.132.0.34
pub const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
/// Embedded Rekor TransparencyLogEntry (protobuf), gitsign offline mode: 1.3.6.1.4.1.57264.3.1
pub const REKOR_ENTRY: Oid = Oid::new_unwrap("1.3.6.1.4.1.57264.3.1");
/// Sigstore OID arc for the pre-release per-field form 1.3.6.1.4.1.57264.3.x
pub const SIGSTORE_REKOR_ARC: &str = "1.3.6.1.4.1.57264.3.";
/// Fulcio issuer (deprecated, raw bytes) 1.3.6.1.4.1.57264.1.1
pub const FULCIO_ISSUER_V1: Oid = Oid::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// Fulcio issuer V2 (DER UTF8String) 1.3.6.1.4.1.57264.1.8
pub const FULCIO_ISSUER_V2: Oid = Oid::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Fulcio otherName SAN type-id 1.3.6.1.4.1.57264.1.7
pub const FULCIO_OTHERNAME_SAN: Oid = Oid::new_unwrap("1.3.6.1.4.1.57264.1.7");
/// CT precertificate SCT list 1.3.6.1.4.1.11129.2.4.2
pub const CT_PRECERT_SCTS: Oid = Oid::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// CT precertificate poison 1.3.6.1.4.1.11129.2.4.3
pub const CT_PRECERT_POISON: Oid = Oid::new_unwrap("1.3.6.1.4.1.11129.2.4.3");
/// id-kp-codeSigning 1.3.6.1.5.5.7.3.3
pub const KP_CODE_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.3");
