//! Reading and checking a certificate pair: a PEM chain, a PEM key, and that the two belong
//! together. Errors name the setting they concern and never carry key material.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::{Error as RustlsError, InconsistentKeys};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::config::ServerTlsConfig;

/// Why a certificate pair cannot be used, each message led by its setting's key path.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PairError {
    /// The certificate file could not be read.
    #[error("server.tls.cert_file: cannot read {path}: {source}")]
    ReadCert {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The key file could not be read.
    #[error("server.tls.key_file: cannot read {path}: {source}")]
    ReadKey {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate file holds no `CERTIFICATE` block.
    #[error("server.tls.cert_file: no PEM certificate (BEGIN CERTIFICATE) in {path}")]
    NoCertificate {
        /// The file.
        path: String,
    },
    /// The certificate file holds something that is not a usable certificate.
    #[error("server.tls.cert_file: {path}: {reason}")]
    BadCertificate {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The key file holds no private key block voxrelay reads.
    #[error("server.tls.key_file: no PEM private key in {path} (PKCS#8, RSA or EC, unencrypted)")]
    NoKey {
        /// The file.
        path: String,
    },
    /// The key file holds a private key block that is not a usable key.
    #[error("server.tls.key_file: {path}: not a usable private key ({reason})")]
    BadKey {
        /// The file.
        path: String,
        /// What is wrong (never the key itself).
        reason: String,
    },
    /// The key is not the one the leaf certificate was issued for.
    #[error(
        "server.tls.key_file: the private key does not match the certificate in server.tls.cert_file"
    )]
    Mismatch,
}

/// The bytes of both files, read one after the other.
pub(crate) struct PairFiles {
    cert_path: String,
    key_path: String,
    cert: Vec<u8>,
    /// Wiped when dropped.
    key: Zeroizing<Vec<u8>>,
}

impl PairFiles {
    /// Reads both files (blocking).
    pub(crate) fn read(config: &ServerTlsConfig) -> Result<Self, PairError> {
        let (cert_path, key_path) = (shown(&config.cert_file), shown(&config.key_file));
        let cert = std::fs::read(&config.cert_file).map_err(|source| PairError::ReadCert {
            path: cert_path.clone(),
            source,
        })?;
        let key = std::fs::read(&config.key_file).map_err(|source| PairError::ReadKey {
            path: key_path.clone(),
            source,
        })?;
        let key = Zeroizing::new(key);
        Ok(Self {
            cert_path,
            key_path,
            cert,
            key,
        })
    }

    /// A digest of both files' contents: equal digests, same pair.
    pub(crate) fn fingerprint(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update((self.cert.len() as u64).to_le_bytes());
        hash.update(&self.cert);
        hash.update(self.key.as_slice());
        hash.finalize().into()
    }

    /// Parses and checks the pair with the `ring` provider.
    pub(crate) fn parse(&self) -> Result<Identity, PairError> {
        let bad_cert = |reason: String| PairError::BadCertificate {
            path: self.cert_path.clone(),
            reason,
        };
        let chain = CertificateDer::pem_slice_iter(&self.cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad_cert(format!("invalid PEM: {e}")))?;
        let Some(leaf) = chain.first() else {
            return Err(PairError::NoCertificate {
                path: self.cert_path.clone(),
            });
        };
        let not_after = not_after(leaf).map_err(bad_cert)?;
        let key = match PrivateKeyDer::from_pem_slice(self.key.as_slice()) {
            Ok(key) => key,
            Err(pem::Error::NoItemsFound) => {
                return Err(PairError::NoKey {
                    path: self.key_path.clone(),
                });
            }
            // the PEM error may quote a line of the file: say only that it is malformed
            Err(_) => return Err(self.bad_key("malformed PEM")),
        };
        let provider = rustls::crypto::ring::default_provider();
        let signing = provider
            .key_provider
            .load_private_key(key)
            .map_err(|_| self.bad_key("not an RSA, ECDSA or Ed25519 key ring can use"))?;
        let certified = CertifiedKey::new(chain, signing);
        match certified.keys_match() {
            Ok(()) | Err(RustlsError::InconsistentKeys(InconsistentKeys::Unknown)) => {}
            Err(RustlsError::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
                return Err(PairError::Mismatch);
            }
            Err(e) => return Err(bad_cert(format!("unusable certificate: {e}"))),
        }
        Ok(Identity {
            key: Arc::new(certified),
            not_after,
            fingerprint: self.fingerprint(),
        })
    }

    fn bad_key(&self, reason: &str) -> PairError {
        PairError::BadKey {
            path: self.key_path.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// A checked pair ready to serve.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// Chain and signing key.
    pub key: Arc<CertifiedKey>,
    /// The leaf's not-after time, Unix seconds.
    pub not_after: i64,
    /// [`PairFiles::fingerprint`] of the files it came from.
    pub fingerprint: [u8; 32],
}

impl Identity {
    /// Reads and checks the pair `config` names (blocking).
    pub(crate) fn load(config: &ServerTlsConfig) -> Result<Self, PairError> {
        PairFiles::read(config)?.parse()
    }
}

/// The leaf certificate's not-after time in Unix seconds.
fn not_after(leaf: &CertificateDer<'_>) -> Result<i64, String> {
    match x509_parser::parse_x509_certificate(leaf) {
        Ok((_, cert)) => Ok(cert.validity().not_after.timestamp()),
        Err(e) => Err(format!("the first certificate is not valid X.509 ({e})")),
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}
