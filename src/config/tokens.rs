//! `[tokens]` → [`Tokens`]: the grant-signing secret and the verification keys.

use std::collections::BTreeSet;
use std::time::Duration;

use humantime_serde::re::humantime;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};

use super::{TokenAlgorithm, TokenKeyConfig, TokensConfig};
use crate::token::{Tokens, VerifyKey};

/// Longest `tokens.leeway` accepted.
const MAX_LEEWAY: Duration = Duration::from_secs(5 * 60);
/// Longest `tokens.grant_max_ttl` accepted.
const MAX_GRANT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Shortest HS256 secret accepted (bytes).
const MIN_SECRET_BYTES: usize = 32;

pub(super) fn tokens(
    t: &TokensConfig,
    clients: &BTreeSet<&str>,
    errors: &mut Vec<String>,
) -> Option<Tokens> {
    let before = errors.len();
    let secret = match (&t.signing_secret_env, &t.signing_secret_file) {
        (None, None) => Some(random_secret()),
        (env, file) => secret(
            "tokens.signing_secret",
            env.as_deref(),
            file.as_deref(),
            errors,
        ),
    };
    if t.leeway > MAX_LEEWAY {
        errors.push(format!(
            "tokens.leeway: at most {} (clock skew between hosts is seconds, not minutes)",
            humantime::format_duration(MAX_LEEWAY)
        ));
    }
    if t.grant_max_ttl > MAX_GRANT_TTL {
        errors.push(format!(
            "tokens.grant_max_ttl: at most {} (grants are short-lived; mint a new one instead)",
            humantime::format_duration(MAX_GRANT_TTL)
        ));
    }
    if t.grant_ttl.is_zero() || t.grant_ttl > t.grant_max_ttl {
        errors.push("tokens.grant_ttl: must be positive and at most grant_max_ttl".into());
    }
    let mut keys = Vec::new();
    for (i, k) in t.keys.iter().enumerate() {
        let at = format!("tokens.keys[{i}]");
        for c in k.clients.iter().flatten() {
            if !clients.contains(c.as_str()) {
                errors.push(format!("{at}.clients: unknown client '{c}'"));
            }
        }
        keys.extend(verify_keys(k, &at, errors));
    }
    let secret = secret?;
    (errors.len() == before).then(|| {
        Tokens::new(
            &secret,
            keys,
            t.issuer.clone(),
            t.audience.clone(),
            t.leeway,
            t.grant_ttl,
            t.grant_max_ttl,
        )
    })
}

fn random_secret() -> Vec<u8> {
    use ring::rand::SecureRandom;
    let mut secret = vec![0u8; MIN_SECRET_BYTES];
    // the OS random source does not fail on supported platforms
    let _ = ring::rand::SystemRandom::new().fill(&mut secret);
    secret
}

fn secret(
    at: &str,
    env: Option<&str>,
    file: Option<&std::path::Path>,
    errors: &mut Vec<String>,
) -> Option<Vec<u8>> {
    let value = match (env, file) {
        (Some(_), Some(_)) => {
            errors.push(format!("{at}: set _env or _file, not both"));
            return None;
        }
        (Some(var), None) => std::env::var(var).ok().or_else(|| {
            errors.push(format!("{at}_env: environment variable {var} is not set"));
            None
        })?,
        (None, Some(path)) => std::fs::read_to_string(path).ok().or_else(|| {
            errors.push(format!("{at}_file: cannot read {}", path.display()));
            None
        })?,
        (None, None) => {
            errors.push(format!("{at}: HS256 needs secret_env or secret_file"));
            return None;
        }
    };
    let value = value.trim().as_bytes().to_vec();
    if value.len() < MIN_SECRET_BYTES {
        errors.push(format!("{at}: must be at least {MIN_SECRET_BYTES} bytes"));
        return None;
    }
    Some(value)
}

fn verify_keys(k: &TokenKeyConfig, at: &str, errors: &mut Vec<String>) -> Vec<VerifyKey> {
    let algorithm = match k.algorithm {
        TokenAlgorithm::HS256 => Algorithm::HS256,
        TokenAlgorithm::ES256 => Algorithm::ES256,
        TokenAlgorithm::EdDSA => Algorithm::EdDSA,
    };
    let one = |key: DecodingKey, kid: Option<String>| VerifyKey {
        algorithm,
        kid,
        key,
        clients: k.clients.clone(),
    };
    if algorithm == Algorithm::HS256 {
        let s = secret(
            &format!("{at}.secret"),
            k.secret_env.as_deref(),
            k.secret_file.as_deref(),
            errors,
        );
        return s
            .map(|s| vec![one(DecodingKey::from_secret(&s), k.kid.clone())])
            .unwrap_or_default();
    }
    match (&k.public_key_file, &k.jwks_file) {
        (Some(path), None) => {
            let pem = std::fs::read(path).unwrap_or_default();
            let key = match algorithm {
                Algorithm::ES256 => DecodingKey::from_ec_pem(&pem),
                _ => DecodingKey::from_ed_pem(&pem),
            };
            match key {
                Ok(key) => vec![one(key, k.kid.clone())],
                Err(_) => {
                    errors.push(format!(
                        "{at}.public_key_file: {} is not a {algorithm:?} public key PEM",
                        path.display()
                    ));
                    Vec::new()
                }
            }
        }
        (None, Some(path)) => {
            let set = std::fs::read(path)
                .ok()
                .and_then(|b| serde_json::from_slice::<JwkSet>(&b).ok());
            let Some(set) = set else {
                errors.push(format!(
                    "{at}.jwks_file: {} is not a readable JWKS",
                    path.display()
                ));
                return Vec::new();
            };
            let keys: Vec<VerifyKey> = set
                .keys
                .iter()
                .filter_map(|jwk| {
                    let key = DecodingKey::from_jwk(jwk).ok()?;
                    (key.family() == algorithm.family())
                        .then(|| one(key, jwk.common.key_id.clone()))
                })
                .collect();
            if keys.is_empty() {
                errors.push(format!(
                    "{at}.jwks_file: no {algorithm:?} keys in {}",
                    path.display()
                ));
            }
            keys
        }
        _ => {
            errors.push(format!(
                "{at}: {algorithm:?} needs exactly one of public_key_file or jwks_file"
            ));
            Vec::new()
        }
    }
}
