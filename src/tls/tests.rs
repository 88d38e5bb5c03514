use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{CertificateParams, KeyPair};

use super::*;

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("voxrelay-pair-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(cert_file: PathBuf, key_file: PathBuf) -> ServerTlsConfig {
    ServerTlsConfig {
        cert_file,
        key_file,
        reload_interval: Duration::from_secs(10),
    }
}

/// A self-signed `localhost` certificate and its PKCS#8 key, as PEM.
fn self_signed() -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn error(cert_pem: &str, key_pem: &str) -> String {
    let dir = Scratch::new();
    let c = config(dir.write("c.pem", cert_pem), dir.write("k.pem", key_pem));
    Identity::load(&c).unwrap_err().to_string()
}

#[test]
fn loads_a_pkcs8_pair_and_reads_the_not_after_time() {
    let (cert, key) = self_signed();
    let dir = Scratch::new();
    let c = config(dir.write("c.pem", &cert), dir.write("k.pem", &key));
    let identity = Identity::load(&c).unwrap();
    // rcgen's default validity ends in 4096
    assert_eq!(identity.not_after, 67_090_118_400);
    assert_eq!(identity.key.cert.len(), 1);
}

#[test]
fn loads_pkcs1_rsa_and_sec1_ec_keys() {
    for (cert, key) in [("rsa.crt", "rsa-pkcs1.key"), ("ec.crt", "ec-sec1.key")] {
        let identity = Identity::load(&config(fixture(cert), fixture(key)));
        assert!(identity.is_ok(), "{key}: {}", identity.unwrap_err());
    }
}

#[test]
fn a_missing_file_names_its_setting_and_path() {
    let (cert, _) = self_signed();
    let dir = Scratch::new();
    let missing = dir.0.join("absent.pem");
    let e = Identity::load(&config(missing.clone(), dir.write("k.pem", "x"))).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("server.tls.cert_file: cannot read"),
        "{e}"
    );
    assert!(
        e.to_string().contains(&missing.display().to_string()),
        "{e}"
    );
    let e = Identity::load(&config(dir.write("c.pem", &cert), missing)).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("server.tls.key_file: cannot read"),
        "{e}"
    );
}

#[test]
fn a_file_without_a_certificate_is_refused() {
    let (_, key) = self_signed();
    // the key file given as the certificate
    let e = error(&key, &key);
    assert!(
        e.starts_with("server.tls.cert_file: no PEM certificate"),
        "{e}"
    );
}

#[test]
fn a_certificate_that_is_not_x509_is_refused() {
    let (_, key) = self_signed();
    let junk = "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n";
    let e = error(junk, &key);
    assert!(e.starts_with("server.tls.cert_file:"), "{e}");
    assert!(e.contains("not valid X.509"), "{e}");
}

#[test]
fn a_file_without_a_key_is_refused() {
    let (cert, _) = self_signed();
    let e = error(&cert, &cert);
    assert!(
        e.starts_with("server.tls.key_file: no PEM private key"),
        "{e}"
    );
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAECAwQF\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let e = error(&cert, encrypted);
    assert!(e.contains("unencrypted"), "{e}");
}

#[test]
fn an_invalid_key_is_refused_without_quoting_it() {
    let (cert, _) = self_signed();
    let junk =
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n";
    let e = error(&cert, junk);
    assert!(e.starts_with("server.tls.key_file:"), "{e}");
    assert!(e.contains("not a usable private key"), "{e}");
    assert!(!e.contains("c2VjcmV0"), "{e}");
}

#[test]
fn a_key_of_another_certificate_is_a_mismatch() {
    let (cert, _) = self_signed();
    let (_, other_key) = self_signed();
    let e = error(&cert, &other_key);
    assert_eq!(
        e,
        "server.tls.key_file: the private key does not match the certificate in server.tls.cert_file"
    );
    let rsa = std::fs::read_to_string(fixture("rsa.crt")).unwrap();
    let ec = std::fs::read_to_string(fixture("ec-sec1.key")).unwrap();
    assert!(error(&rsa, &ec).contains("does not match"));
}

#[test]
fn the_fingerprint_follows_the_contents() {
    let (cert, key) = self_signed();
    let dir = Scratch::new();
    let c = config(dir.write("c.pem", &cert), dir.write("k.pem", &key));
    let before = PairFiles::read(&c).unwrap().fingerprint();
    assert_eq!(PairFiles::read(&c).unwrap().fingerprint(), before);
    let (cert, key) = self_signed();
    dir.write("c.pem", &cert);
    dir.write("k.pem", &key);
    assert_ne!(PairFiles::read(&c).unwrap().fingerprint(), before);
}

#[test]
fn the_resolver_hands_out_the_pair_last_set() {
    let dir = Scratch::new();
    let load = |name: &str| {
        let (cert, key) = self_signed();
        let c = config(
            dir.write(&format!("{name}.crt"), &cert),
            dir.write(&format!("{name}.key"), &key),
        );
        Identity::load(&c).unwrap()
    };
    let (first, second) = (load("a"), load("b"));
    let resolver = CertResolver::new(first.clone());
    assert_eq!(resolver.current().fingerprint, first.fingerprint);
    resolver.set(second.clone());
    assert_eq!(resolver.current().fingerprint, second.fingerprint);
}
