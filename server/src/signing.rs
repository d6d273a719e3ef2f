//! The server's Ed25519 key, which signs ledger checkpoints.
//!
//! The key lives in `<data>/signing.key` (32 random bytes, mode 0600), created on
//! first start. Its public half is published at `GET /v1/keys`; a checkpoint names
//! the key by `key_id` (the first 16 hex digits of SHA-256 of the public key).

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use keksdose_shared::Checkpoint;
use sha2::{Digest, Sha256};

/// The checkpoint signer. `Debug` shows only the key id.
pub struct Signer {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.key_id)
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Signer {
    /// Loads the key from `<data>/signing.key`, creating it if missing.
    pub fn load_or_create(data: &Path) -> std::io::Result<Signer> {
        // On PostgreSQL the key may be all that the data directory holds.
        std::fs::create_dir_all(data)?;
        let path = data.join("signing.key");
        let seed: [u8; 32] = match std::fs::read(&path) {
            Ok(bytes) => bytes.try_into().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} is not a 32-byte key", path.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| std::io::Error::other(e.to_string()))?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path)?;
                file.write_all(&seed)?;
                file.sync_all()?;
                seed
            }
            Err(e) => return Err(e),
        };
        let key = SigningKey::from_bytes(&seed);
        let key_id =
            keksdose_shared::canonical::hex(&Sha256::digest(key.verifying_key().as_bytes())[..8]);
        Ok(Signer { key, key_id })
    }

    #[cfg(test)]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key as `GET /v1/keys` lists it.
    /// The public key, as the store keeps it for every server to list.
    pub fn public_key(&self) -> keksdose_store::PublicKey {
        keksdose_store::PublicKey {
            key_id: self.key_id.clone(),
            x: b64(self.key.verifying_key().as_bytes()),
        }
    }

    /// Signs a checkpoint of a ledger head.
    pub fn sign(&self, site: &str, seq: u64, head_hash: &str, now_ms: u64) -> Checkpoint {
        let mut c = Checkpoint {
            site: site.to_string(),
            seq,
            head_hash: head_hash.to_string(),
            signed_at: keksdose_shared::time::rfc3339_millis(now_ms),
            key_id: self.key_id.clone(),
            signature: String::new(),
        };
        // A checkpoint holds strings and integers only: it always canonicalises.
        let bytes = c.signed_bytes().unwrap_or_default();
        c.signature = b64(&self.key.sign(&bytes).to_bytes());
        c
    }

    /// Whether `c` carries a valid signature by this key.
    #[cfg(test)]
    pub fn verify(&self, c: &Checkpoint) -> bool {
        verify_with(&self.key.verifying_key(), c)
    }
}

/// Checks a checkpoint's signature against a public key.
/// A public key in JWK form (`GET /v1/keys`).
pub fn jwk(key: &keksdose_store::PublicKey) -> crate::http::schema::Jwk {
    crate::http::schema::Jwk {
        kid: key.key_id.clone(),
        kty: "OKP",
        crv: "Ed25519",
        alg: "EdDSA",
        use_: "sig",
        x: key.x.clone(),
    }
}

/// Whether `c` is signed by the one of `keys` its `key_id` names.
pub fn verify_by(keys: &[keksdose_store::PublicKey], c: &Checkpoint) -> bool {
    keys.iter()
        .filter(|k| k.key_id == c.key_id)
        .filter_map(|k| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&k.x)
                .ok()
        })
        .filter_map(|x| <[u8; 32]>::try_from(x.as_slice()).ok())
        .filter_map(|x| VerifyingKey::from_bytes(&x).ok())
        .any(|k| verify_with(&k, c))
}

pub fn verify_with(key: &VerifyingKey, c: &Checkpoint) -> bool {
    let Ok(sig) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&c.signature) else {
        return false;
    };
    let Ok(sig) = <[u8; 64]>::try_from(sig.as_slice()) else {
        return false;
    };
    let Ok(bytes) = c.signed_bytes() else {
        return false;
    };
    key.verify(&bytes, &Signature::from_bytes(&sig)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_and_any_change_breaks_it_and_the_key_persists() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(dir.path()).unwrap();
        let c = signer.sign("saas", 42, &"ab".repeat(32), 1_795_293_490_000);
        assert!(signer.verify(&c));
        let mut forged = c.clone();
        forged.seq = 41;
        assert!(!signer.verify(&forged));
        let again = Signer::load_or_create(dir.path()).unwrap();
        assert_eq!(again.key_id(), signer.key_id());
        assert!(again.verify(&c));
        // By its public key, as another server verifies it.
        assert!(verify_by(&[signer.public_key()], &c));
        assert!(!verify_by(&[signer.public_key()], &forged));
        let other = Signer::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(
            !verify_by(&[other.public_key()], &c),
            "another key, another id"
        );
    }
}
