//! People's passwords: Argon2id with bounded, reused memory.
//!
//! Each Argon2id run with the recommended parameters needs 19 MiB. Allocating
//! it per request lets a burst of sign-ins demand 19 MiB per blocking thread
//! (hundreds of them), and the allocator keeps freed blocks resident. Here a
//! fixed number of workers each reuse one buffer: memory is bounded by the
//! worker count whatever the load, and excess requests queue.

use crate::crypto::random_bytes;
use argon2::password_hash::phc::{Output, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use casebook_domain::user::Password;
use std::sync::{Mutex, OnceLock};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the password worker stopped unexpectedly")]
    Worker,
}

/// The process-wide pool. One per process: the bound is what matters.
pub fn hasher() -> &'static PasswordHasher {
    static HASHER: OnceLock<PasswordHasher> = OnceLock::new();
    HASHER.get_or_init(|| {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        PasswordHasher::new(workers)
    })
}

#[derive(Debug)]
pub struct PasswordHasher {
    permits: Semaphore,
    buffers: Mutex<Vec<Vec<Block>>>,
    /// Checked when an account does not exist, so that timing does not tell
    /// which addresses have accounts.
    dummy: OnceLock<String>,
}

fn default_argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

impl PasswordHasher {
    pub fn new(workers: usize) -> Self {
        Self {
            permits: Semaphore::new(workers.max(1)),
            buffers: Mutex::new(Vec::new()),
            dummy: OnceLock::new(),
        }
    }

    /// Runs `work` on a blocking thread with a reused buffer, at most
    /// `workers` at a time.
    async fn with_buffer<T: Send + 'static>(
        &'static self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = self.permits.acquire().await.map_err(|_| PasswordError::Worker)?;
        let mut buffer = self
            .buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        let (result, buffer) = tokio::task::spawn_blocking(move || {
            let result = work(&mut buffer);
            (result, buffer)
        })
        .await
        .map_err(|_| PasswordError::Worker)?;
        self.buffers.lock().unwrap_or_else(|e| e.into_inner()).push(buffer);
        Ok(result)
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) for a new password.
    pub async fn hash(&'static self, password: Password) -> Result<String, PasswordError> {
        self.with_buffer(move |buffer| hash_with(buffer, password.expose().as_bytes()))
            .await?
    }

    /// Whether `password` matches `stored`; with no stored hash, a dummy one is
    /// checked and the answer is false.
    pub async fn verify(&'static self, password: Password, stored: Option<String>) -> Result<bool, PasswordError> {
        // An invited user's hash is empty until they choose a password: it
        // matches nothing, and takes as long to refuse as a real one.
        let stored = stored.filter(|hash| !hash.is_empty());
        let known = stored.is_some();
        let stored = match stored {
            Some(s) => s,
            None => self.dummy_hash().await?,
        };
        let matches = self
            .with_buffer(move |buffer| verify_with(buffer, password.expose().as_bytes(), &stored))
            .await?;
        Ok(matches && known)
    }

    async fn dummy_hash(&'static self) -> Result<String, PasswordError> {
        if let Some(hash) = self.dummy.get() {
            return Ok(hash.clone());
        }
        let hash = self.hash(Password::new("no account has this password")).await?;
        Ok(self.dummy.get_or_init(|| hash).clone())
    }
}

fn blocks_for<'b>(buffer: &'b mut Vec<Block>, params: &Params) -> &'b mut [Block] {
    if buffer.len() < params.block_count() {
        buffer.resize(params.block_count(), Block::default());
    }
    &mut buffer[..params.block_count()]
}

fn hash_with(buffer: &mut Vec<Block>, password: &[u8]) -> Result<String, PasswordError> {
    let argon2 = default_argon2();
    let salt_bytes = random_bytes::<16>();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(password, &salt_bytes, &mut out, blocks_for(buffer, argon2.params()))
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    let fail = |e: argon2::password_hash::phc::Error| PasswordError::Hash(e.to_string());
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2
            .params()
            .try_into()
            .map_err(|e: argon2::password_hash::Error| PasswordError::Hash(e.to_string()))?,
        salt: Some(Salt::new(&salt_bytes).map_err(fail)?),
        hash: Some(Output::new(&out).map_err(fail)?),
    };
    Ok(phc.to_string())
}

fn verify_with(buffer: &mut Vec<Block>, password: &[u8], stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or(Version::V0x13);
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    if argon2
        .hash_password_into_with_memory(password, salt.as_ref(), &mut out, blocks_for(buffer, &params))
        .is_err()
    {
        return false;
    }
    out.ct_eq(expected.as_bytes()).into()
}

/// Argon2id with the recommended parameters, on the bounded password pool.
pub async fn hash_password(password: Password) -> Result<String, crate::error::ApiError> {
    hasher().hash(password).await.map_err(crate::error::ApiError::internal)
}

/// Constant time with respect to the password; with no account, a dummy hash
/// is checked so that timing does not reveal which addresses exist.
pub async fn verify_password(password: Password, hash: Option<String>) -> Result<bool, crate::error::ApiError> {
    hasher()
        .verify(password, hash)
        .await
        .map_err(crate::error::ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_standard_phc() {
        let mut buffer = Vec::new();
        let hash = hash_with(&mut buffer, b"correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_with(&mut buffer, b"correct horse battery staple", &hash));
        assert!(!verify_with(&mut buffer, b"correct horse battery stapler", &hash));
        assert!(!verify_with(&mut buffer, b"x", "not a phc string"));
        // Interoperable with the crate's own verifier.
        use argon2::password_hash::PasswordVerifier;
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery staple", &parsed)
                .is_ok()
        );
    }

    #[test]
    fn hashes_made_by_the_crate_verify_here() {
        use argon2::password_hash::PasswordHasher as _;
        let made = Argon2::default().hash_password(b"s3cret enough!").unwrap().to_string();
        let mut buffer = Vec::new();
        assert!(verify_with(&mut buffer, b"s3cret enough!", &made));
        assert!(!verify_with(&mut buffer, b"s3cret enough?", &made));
    }
}
