//! The TLS client of `SSL_GET` (rustls, no OpenSSL). As keepalived, the server's
//! certificate is not verified: a checker asks whether the service answers, not whom to
//! trust. The handshake signatures are still checked against the certificate presented, so
//! the server did hold its key. Verification against a CA can be asked for.
//!
//! keepalived's global `SSL { password; ca; certificate; key }` block maps to
//! [`TlsSettings`]: `certificate` and `key` are presented as a client certificate.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// Client-side TLS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// A PEM certificate chain to present as a client certificate.
    pub certificate: Option<PathBuf>,
    /// Its PEM private key (unencrypted: rustls has no passphrase support).
    pub key: Option<PathBuf>,
    /// PEM CA certificates; with `verify`, the server's certificate must chain to one.
    pub ca: Option<PathBuf>,
    /// Verify the server's certificate and name (keepalived never does).
    pub verify: bool,
}

/// Why the TLS client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("SSL certificate {path}: {why}", path = .0.display(), why = .1)]
    Certificate(PathBuf, String),
    #[error("SSL key {path}: {why}", path = .0.display(), why = .1)]
    Key(PathBuf, String),
    #[error("SSL ca {path}: {why}", path = .0.display(), why = .1)]
    Ca(PathBuf, String),
    #[error("SSL: a certificate needs a key and a key needs a certificate")]
    Unpaired,
    #[error("SSL: certificate verification asked for without a ca file")]
    VerifyWithoutCa,
    #[error("SSL: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Ready-made client configurations: one sending SNI, one not.
#[derive(Debug)]
pub struct TlsClient {
    settings: TlsSettings,
    with_sni: Arc<ClientConfig>,
    without_sni: Arc<ClientConfig>,
}

impl PartialEq for TlsClient {
    fn eq(&self, other: &Self) -> bool {
        self.settings == other.settings
    }
}

impl TlsClient {
    /// keepalived's default context: no client certificate, nothing verified.
    pub fn unverified() -> Result<TlsClient, TlsError> {
        TlsClient::new(TlsSettings::default())
    }

    /// Build the client from `settings`, reading the files it names.
    pub fn new(settings: TlsSettings) -> Result<TlsClient, TlsError> {
        // ring rather than aws-lc-rs: no cmake or assembler toolchain to build, and a health
        // check to one's own real server needs no post-quantum key exchange (the reason
        // rustls deprecates ring's default provider).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if settings.verify {
            let ca = settings.ca.as_ref().ok_or(TlsError::VerifyWithoutCa)?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs(ca).map_err(|e| TlsError::Ca(ca.clone(), e))? {
                roots
                    .add(cert)
                    .map_err(|e| TlsError::Ca(ca.clone(), e.to_string()))?;
            }
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified {
                    algorithms: provider.signature_verification_algorithms,
                }))
        };
        let config = match (&settings.certificate, &settings.key) {
            (Some(cert), Some(key)) => {
                let chain = read_certs(cert).map_err(|e| TlsError::Certificate(cert.clone(), e))?;
                let key_der = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| TlsError::Key(key.clone(), e.to_string()))?;
                builder.with_client_auth_cert(chain, key_der)?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => return Err(TlsError::Unpaired),
        };
        let mut without_sni = config.clone();
        without_sni.enable_sni = false;
        Ok(TlsClient {
            settings,
            with_sni: Arc::new(config),
            without_sni: Arc::new(without_sni),
        })
    }

    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// The configuration and server name for a connection to `ip`, sending `sni` if any.
    pub(crate) fn for_connection(
        &self,
        ip: std::net::IpAddr,
        sni: Option<&str>,
    ) -> Result<(Arc<ClientConfig>, ServerName<'static>), String> {
        match sni {
            Some(name) => {
                let name = ServerName::try_from(name.to_string())
                    .map_err(|_| format!("'{name}' is not a valid SNI host name"))?;
                Ok((self.with_sni.clone(), name))
            }
            // No name: rustls sends no SNI for an address.
            None => Ok((self.without_sni.clone(), ServerName::IpAddress(ip.into()))),
        }
    }
}

fn read_certs(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate in the file".into());
    }
    Ok(certs)
}

/// Accepts any certificate, as keepalived does, but checks the handshake signatures with
/// the presented certificate's key.
#[derive(Debug)]
struct Unverified {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
