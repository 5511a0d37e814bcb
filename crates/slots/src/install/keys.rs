//! Parsing of what an install is checked against: Ed25519 public keys (raw,
//! hex or PEM), detached signatures (raw, hex or base64) and SHA-256 digests
//! given on the command line.

use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};

use crate::Error;

/// Parses a public key: 32 raw bytes, 64 hex digits, or an Ed25519
/// `-----BEGIN PUBLIC KEY-----` PEM (as `openssl pkey -pubout` writes).
pub fn parse_public_key(data: &[u8]) -> Result<VerifyingKey, Error> {
    const SPKI_PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let text = std::str::from_utf8(data).ok().map(str::trim);
    let raw: Vec<u8> =
        if let Some(pem) = text.filter(|t| t.starts_with("-----BEGIN PUBLIC KEY-----")) {
            let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| Error::Signature(format!("public key PEM: {e}")))?;
            match der.strip_prefix(&SPKI_PREFIX[..]) {
                Some(k) => k.to_vec(),
                None => {
                    return Err(Error::Signature(
                        "public key PEM is not an Ed25519 key".into(),
                    ))
                }
            }
        } else if let Some(h) = text.filter(|t| t.len() == 64) {
            hex::decode(h).map_err(|e| Error::Signature(format!("public key hex: {e}")))?
        } else {
            data.to_vec()
        };
    let arr: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
        Error::Signature(format!(
            "public key must be 32 bytes, 64 hex digits or an Ed25519 PEM (got {} bytes)",
            data.len()
        ))
    })?;
    VerifyingKey::from_bytes(&arr).map_err(|e| Error::Signature(format!("public key: {e}")))
}

/// Parses a SHA-256 given as 64 hex digits (optionally `sha256-` or
/// `sha256:` prefixed).
pub fn parse_sha256(s: &str) -> Result<[u8; 32], Error> {
    let h = s
        .trim()
        .trim_start_matches("sha256-")
        .trim_start_matches("sha256:");
    let v = hex::decode(h).map_err(|e| Error::Refused(format!("--sha256 {s:?}: {e}")))?;
    v.as_slice()
        .try_into()
        .map_err(|_| Error::Refused(format!("--sha256 {s:?}: expected 64 hex digits")))
}

/// Parses a detached signature: 64 raw bytes, 128 hex digits or base64.
pub fn parse_signature(data: &[u8]) -> Result<Signature, Error> {
    let text = std::str::from_utf8(data).ok().map(str::trim);
    let raw = if data.len() == 64 {
        data.to_vec()
    } else if let Some(h) = text.filter(|t| t.len() == 128) {
        hex::decode(h).map_err(|e| Error::Signature(format!("signature hex: {e}")))?
    } else if let Some(b) = text {
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| Error::Signature(format!("signature base64: {e}")))?
    } else {
        data.to_vec()
    };
    let arr: [u8; 64] = raw.as_slice().try_into().map_err(|_| {
        Error::Signature(format!(
            "signature must be 64 bytes, 128 hex digits or base64 of 64 bytes (got {} bytes)",
            data.len()
        ))
    })?;
    Ok(Signature::from_bytes(&arr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn key_and_signature_formats() {
        let sk = SigningKey::from_bytes(&[7u8; 32]);
        let pk = sk.verifying_key();
        assert_eq!(parse_public_key(pk.as_bytes()).unwrap(), pk);
        assert_eq!(
            parse_public_key(hex::encode(pk.as_bytes()).as_bytes()).unwrap(),
            pk
        );
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(pk.as_bytes());
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        assert_eq!(parse_public_key(pem.as_bytes()).unwrap(), pk);
        let e = parse_public_key(b"short").unwrap_err().to_string();
        assert!(e.contains("got 5 bytes"), "{e}");
        let sig = sk.sign(b"msg");
        assert_eq!(parse_signature(&sig.to_bytes()).unwrap(), sig);
        assert_eq!(
            parse_signature(hex::encode(sig.to_bytes()).as_bytes()).unwrap(),
            sig
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(sig.to_bytes());
        assert_eq!(parse_signature(b64.as_bytes()).unwrap(), sig);
    }
}
