//! Private keys at rest: sealed with AES-256-GCM under a key that never touches the state
//! directory (it comes from the environment or a key file). Only process memory holds a
//! decrypted private key.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Seals and opens secrets.
pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealError(pub String);

impl std::fmt::Display for SealError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Sealer {
    /// A sealer from 64 hex digits (32 bytes), e.g. the output of `openssl rand -hex 32`.
    pub fn from_hex(text: &str) -> Result<Sealer, SealError> {
        let text = text.trim();
        let bytes: Option<Vec<u8>> = (0..text.len())
            .step_by(2)
            .map(|i| {
                text.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect();
        match bytes {
            Some(bytes) if bytes.len() == 32 => {
                let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| SealError("invalid key".into()))?;
                Ok(Sealer { key: LessSafeKey::new(key), rng: SystemRandom::new() })
            }
            _ => Err(SealError("the sealing key must be 64 hex digits (32 bytes); make one with `openssl rand -hex 32`".into())),
        }
    }

    /// `nonce || ciphertext || tag`, hex. `context` binds the secret to its name.
    pub fn seal(&self, secret: &[u8], context: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SealError("no randomness".into()))?;
        let mut data = secret.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(crate::hex(&out))
    }

    /// Opens what [`Sealer::seal`] produced with the same context.
    pub fn open(&self, sealed_hex: &str, context: &str) -> Result<Vec<u8>, SealError> {
        let bytes: Option<Vec<u8>> = (0..sealed_hex.len())
            .step_by(2)
            .map(|i| {
                sealed_hex
                    .get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect();
        let bytes = bytes.ok_or_else(|| SealError("sealed data is not hex".into()))?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(SealError("sealed data is too short".into()));
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError("bad nonce".into()))?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| SealError("cannot open: wrong key, or the data was changed".into()))?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let s = Sealer::from_hex(&"ab".repeat(32)).unwrap();
        let sealed = s.seal(b"-----BEGIN PRIVATE KEY-----", "tenant-a").unwrap();
        assert!(!sealed.contains("BEGIN"));
        assert_eq!(
            s.open(&sealed, "tenant-a").unwrap(),
            b"-----BEGIN PRIVATE KEY-----"
        );
        assert!(s.open(&sealed, "tenant-b").is_err(), "bound to its name");
        let other = Sealer::from_hex(&"cd".repeat(32)).unwrap();
        assert!(other.open(&sealed, "tenant-a").is_err());
        assert!(Sealer::from_hex("short").is_err());
    }
}
