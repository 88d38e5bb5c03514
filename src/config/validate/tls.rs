//! Validating `[server.tls]`: the reload interval and a readable, matching certificate pair.

use super::super::ServerTlsConfig;
use crate::tls::{Identity, ServerTls};

/// The listener's TLS when configured and usable; every problem goes to `errors`.
pub(super) fn listener_tls(
    raw: Option<&ServerTlsConfig>,
    errors: &mut Vec<String>,
) -> Option<ServerTls> {
    let raw = raw?;
    if raw.reload_interval.is_zero() {
        errors.push("server.tls.reload_interval: must be positive".into());
    }
    let identity = match Identity::load(raw) {
        Ok(identity) => identity,
        Err(e) => {
            errors.push(e.to_string());
            return None;
        }
    };
    match ServerTls::new(raw.clone(), identity) {
        Ok(tls) => Some(tls),
        Err(e) => {
            errors.push(format!("server.tls: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::super::from_toml;

    fn root(path: &str) -> String {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(path)
            .display()
            .to_string()
    }

    /// The local config with a `[server.tls]` section appended.
    fn local_with_tls(section: &str) -> String {
        let local = std::fs::read_to_string(root("config/local.toml")).unwrap();
        format!("{local}\n[server.tls]\n{section}\n")
    }

    fn errors(section: &str) -> String {
        from_toml(&local_with_tls(section))
            .expect_err("invalid")
            .0
            .join("\n")
    }

    #[test]
    fn a_usable_pair_gives_the_listener_tls() {
        let section = format!(
            "cert_file = \"{}\"\nkey_file = \"{}\"\nreload_interval = \"2s\"",
            root("tests/fixtures/tls/ec.crt"),
            root("tests/fixtures/tls/ec-sec1.key"),
        );
        let settings = from_toml(&local_with_tls(&section)).unwrap();
        let tls = settings.server.listener_tls.expect("tls configured");
        assert_eq!(tls.config.reload_interval.as_secs(), 2);
    }

    #[test]
    fn missing_files_and_a_zero_interval_are_all_reported() {
        let all = errors(
            "cert_file = \"/nonexistent/c.pem\"\nkey_file = \"/nonexistent/k.pem\"\nreload_interval = \"0s\"",
        );
        assert!(
            all.contains("server.tls.reload_interval: must be positive"),
            "{all}"
        );
        assert!(
            all.contains("server.tls.cert_file: cannot read /nonexistent/c.pem"),
            "{all}"
        );
    }

    #[test]
    fn a_mismatched_pair_names_both_settings() {
        let all = errors(&format!(
            "cert_file = \"{}\"\nkey_file = \"{}\"",
            root("tests/fixtures/tls/rsa.crt"),
            root("tests/fixtures/tls/ec-sec1.key"),
        ));
        assert!(
            all.contains("server.tls.key_file: the private key does not match the certificate in server.tls.cert_file"),
            "{all}"
        );
    }

    #[test]
    fn a_missing_key_file_setting_is_a_clear_error() {
        let all = errors(&format!(
            "cert_file = \"{}\"",
            root("tests/fixtures/tls/rsa.crt")
        ));
        assert!(all.contains("key_file"), "{all}");
    }
}
