//! HTTPS on the main listener (`CASEBOOK_TLS_CERT`, `CASEBOOK_TLS_KEY`):
//! rustls on aws-lc-rs, the server's one crypto library, HTTP/1.1 only.
//!
//! The pair is read at start and again on SIGHUP. A reload swaps what new
//! handshakes present and nothing else: a connection keeps the session it
//! made, so none is dropped. A reload that fails (a file half-written, a key
//! that is not the certificate's) is logged and keeps the pair in use.
//! Neither the key nor anything read from its file is ever put in an error.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

/// The two PEM files: the certificate chain, leaf first, and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Both or neither: one alone is a mistake, not plain HTTP.
    pub fn pair(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<Option<Self>, TlsError> {
        match (cert, key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(Self { cert, key })),
            (Some(_), None) => Err(TlsError::Half {
                given: "CASEBOOK_TLS_CERT (--tls-cert)",
                missing: "CASEBOOK_TLS_KEY (--tls-key)",
            }),
            (None, Some(_)) => Err(TlsError::Half {
                given: "CASEBOOK_TLS_KEY (--tls-key)",
                missing: "CASEBOOK_TLS_CERT (--tls-cert)",
            }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{given} is set but {missing} is not: set both for HTTPS, or neither for plain HTTP")]
    Half { given: &'static str, missing: &'static str },
    #[error("CASEBOOK_TLS_CERT {}: {reason}", path.display())]
    Cert { path: PathBuf, reason: String },
    #[error("CASEBOOK_TLS_KEY {}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error(
        "CASEBOOK_TLS_KEY {} is not the key of the certificate in CASEBOOK_TLS_CERT {}",
        key.display(),
        cert.display()
    )]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("could not set up TLS: {0}")]
    Setup(String),
}

fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// Reads and checks the pair: at least one certificate, a key rustls can
/// sign with, and that key the leaf certificate's.
pub fn load(files: &TlsFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_error = |reason: String| TlsError::Cert {
        path: files.cert.clone(),
        reason,
    };
    let key_error = |reason: &str| TlsError::Key {
        path: files.key.clone(),
        reason: reason.to_owned(),
    };
    let pem = std::fs::read(&files.cert).map_err(|e| cert_error(e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(cert_error("holds no PEM certificate".into()));
    }
    // Only the kind of failure is told: the file's text is the secret.
    let pem = std::fs::read(&files.key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        reason: e.to_string(),
    })?;
    let key = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|_| key_error("holds no PEM private key (PKCS#8, PKCS#1 or SEC1)"))?;
    CertifiedKey::from_der(chain, key, &provider())
        .map(Arc::new)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            },
            rustls::Error::InvalidCertificate(e) => cert_error(format!("the leaf certificate cannot be read: {e:?}")),
            _ => key_error("not a key rustls signs with (RSA, ECDSA P-256 or P-384, Ed25519)"),
        })
}

/// The pair new handshakes present, replaced whole by [`Self::reload`].
#[derive(Debug)]
pub struct ReloadableCert {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCert {
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let current = RwLock::new(load(&files)?);
        Ok(Self { files, current })
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Reads the files again; on any failure the pair in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = load(&self.files)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(PoisonError::into_inner).clone())
    }
}

/// What the listener hands each new connection to.
pub fn acceptor(cert: Arc<ReloadableCert>) -> Result<TlsAcceptor, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    // The server speaks HTTP/1.1 only (see `serving`).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Reloads the pair on every SIGHUP, logging each outcome.
#[cfg(unix)]
pub fn reload_on_sighup(cert: Arc<ReloadableCert>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let cert_file = cert.files().cert.display().to_string();
            match cert.reload() {
                Ok(()) => tracing::info!(
                    cert = %cert_file,
                    "TLS certificate reloaded on SIGHUP; new connections use it, open ones keep theirs"
                ),
                Err(e) => tracing::error!(
                    error = %e,
                    "TLS certificate not reloaded on SIGHUP; the one in use stays"
                ),
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn self_signed(dir: &Dir, name: &str) -> TlsFiles {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("certificate");
        let files = TlsFiles {
            cert: dir.0.join(format!("{name}.crt")),
            key: dir.0.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).expect("write");
        std::fs::write(&files.key, key.serialize_pem()).expect("write");
        files
    }

    #[test]
    fn a_pair_loads_and_every_broken_one_is_told_apart() {
        let dir = Dir(std::env::temp_dir().join(format!("casebook-tls-{}", uuid::Uuid::now_v7().simple())));
        std::fs::create_dir_all(&dir.0).expect("dir");
        let one = self_signed(&dir, "one");
        let two = self_signed(&dir, "two");
        assert!(load(&one).is_ok());
        let mismatched = TlsFiles {
            cert: one.cert.clone(),
            key: two.key.clone(),
        };
        assert!(matches!(load(&mismatched), Err(TlsError::Mismatch { .. })));
        let garbage = dir.0.join("garbage");
        std::fs::write(&garbage, "-----BEGIN NOTHING-----\nnot base64 at all\n").expect("write");
        let no_cert = TlsFiles {
            cert: garbage.clone(),
            key: one.key.clone(),
        };
        assert!(
            matches!(load(&no_cert), Err(TlsError::Cert { .. })),
            "{:?}",
            load(&no_cert)
        );
        let no_key = TlsFiles {
            cert: one.cert.clone(),
            key: garbage,
        };
        let Err(TlsError::Key { reason, .. }) = load(&no_key) else {
            panic!("{:?}", load(&no_key));
        };
        assert!(
            !reason.contains("base64"),
            "nothing of the key file is repeated: {reason}"
        );
        let missing = TlsFiles {
            cert: dir.0.join("absent.crt"),
            key: one.key.clone(),
        };
        assert!(matches!(load(&missing), Err(TlsError::Cert { .. })));
        // A key's own text is never in an error.
        let key_text = std::fs::read_to_string(&two.key).expect("read");
        let body = key_text.lines().nth(1).expect("a line of base64");
        assert!(!load(&mismatched).unwrap_err().to_string().contains(body));
    }

    #[test]
    fn a_failed_reload_keeps_the_pair_in_use() {
        let dir = Dir(std::env::temp_dir().join(format!("casebook-tls-{}", uuid::Uuid::now_v7().simple())));
        std::fs::create_dir_all(&dir.0).expect("dir");
        let files = self_signed(&dir, "live");
        let cert = ReloadableCert::load(files.clone()).expect("loads");
        let served = |cert: &ReloadableCert| cert.current.read().unwrap().cert[0].clone();
        let first = served(&cert);
        std::fs::write(&files.key, "half a file").expect("write");
        assert!(cert.reload().is_err());
        assert_eq!(served(&cert), first);
        let other = self_signed(&dir, "next");
        std::fs::copy(&other.cert, &files.cert).expect("copy");
        std::fs::copy(&other.key, &files.key).expect("copy");
        cert.reload().expect("reloads");
        assert_ne!(served(&cert), first);
    }

    #[test]
    fn one_file_alone_is_refused() {
        let path = || Some(PathBuf::from("x.pem"));
        assert!(TlsFiles::pair(None, None).unwrap().is_none());
        assert!(TlsFiles::pair(path(), path()).unwrap().is_some());
        let half = TlsFiles::pair(path(), None).unwrap_err().to_string();
        assert!(
            half.starts_with("CASEBOOK_TLS_CERT") && half.contains("CASEBOOK_TLS_KEY"),
            "{half}"
        );
        assert!(TlsFiles::pair(None, path()).is_err());
    }
}
