//! Short-lived signed tokens (JWT): verification against configured keys, each bound to one
//! algorithm (so `alg: none` and algorithm confusion cannot happen), and minting for grants.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header,
};
use serde::{Deserialize, Serialize};

/// `kid` of the tokens voxrelay mints.
pub const GRANT_KID: &str = "voxrelay";

/// What a minted token is narrowed to (each `None`: whatever its client key allows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Route names.
    pub routes: Option<Vec<String>>,
    /// Bare model names or `*` patterns.
    pub models: Option<Vec<String>>,
    /// Upstream kinds.
    pub providers: Option<Vec<String>>,
}

/// What a token may carry; only `sub`, `exp`, `iss` and `aud` are required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Client id: must name a configured client key, whose grants bound the token's.
    pub sub: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Route names the token may use (narrows the client key's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<String>>,
    /// Bare model names or `*` patterns the token may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// Upstream kinds (`deepgram`, `elevenlabs`…) the token's sessions may be served by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<String>>,
    /// Longest session the token allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_seconds: Option<u64>,
    /// Most concurrent sessions for the client while this token is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_sessions: Option<u32>,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Valid signature, but past `exp` (plus leeway).
    Expired,
    /// Valid signature, but before `nbf` (minus leeway).
    NotYetValid,
    /// Anything else: malformed, unknown key, bad signature, wrong issuer or audience.
    Invalid,
}

/// A verification key and the one algorithm it verifies.
pub struct VerifyKey {
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// Its key id, when it has one.
    pub kid: Option<String>,
    /// The key.
    pub key: DecodingKey,
    /// Client ids it may vouch for (`None`: any configured client).
    pub clients: Option<Vec<String>>,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Token verification and minting.
pub struct Tokens {
    keys: Vec<VerifyKey>,
    signing: EncodingKey,
    /// Required issuer.
    pub issuer: String,
    /// Required audience.
    pub audience: String,
    /// Clock skew allowed.
    pub leeway: Duration,
    /// Default grant TTL.
    pub grant_ttl: Duration,
    /// Longest grant TTL.
    pub grant_max_ttl: Duration,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("keys", &self.keys)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `now + ttl` in seconds since the epoch, saturating instead of overflowing.
pub fn expiry(now: u64, ttl: Duration) -> u64 {
    now.saturating_add(ttl.as_secs())
}

/// True when `s` has the shape of a compact JWT (three dot-separated parts).
pub fn looks_like_jwt(s: &str) -> bool {
    s.split('.').count() == 3 && s.len() > 20
}

impl Tokens {
    /// Builds from the grant-signing secret (HS256), which also verifies, plus extra keys.
    pub fn new(
        signing_secret: &[u8],
        mut keys: Vec<VerifyKey>,
        issuer: String,
        audience: String,
        leeway: Duration,
        grant_ttl: Duration,
        grant_max_ttl: Duration,
    ) -> Self {
        keys.insert(
            0,
            VerifyKey {
                algorithm: Algorithm::HS256,
                kid: Some(GRANT_KID.into()),
                key: DecodingKey::from_secret(signing_secret),
                clients: None,
            },
        );
        Self {
            keys,
            signing: EncodingKey::from_secret(signing_secret),
            issuer,
            audience,
            leeway,
            grant_ttl,
            grant_max_ttl,
        }
    }

    /// Verifies signature, `exp` (required), `nbf`, `iss` and `aud`, and that the key may vouch
    /// for the token's `sub`.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Invalid)?;
        // `crit` names extensions the verifier must understand; voxrelay understands none
        if header.crit.is_some() {
            return Err(TokenError::Invalid);
        }
        let mut refusal = TokenError::Invalid;
        let candidates = self.keys.iter().filter(|k| {
            k.algorithm == header.alg
                && match (&k.kid, &header.kid) {
                    (Some(want), Some(got)) => want == got,
                    (Some(_), None) => false,
                    (None, _) => true,
                }
        });
        for key in candidates {
            match decode::<Claims>(token, &key.key, &self.validation(key.algorithm)) {
                Ok(data) => {
                    let allowed = key
                        .clients
                        .as_ref()
                        .is_none_or(|c| c.contains(&data.claims.sub));
                    return if allowed {
                        Ok(data.claims)
                    } else {
                        Err(TokenError::Invalid)
                    };
                }
                // claims are only checked once the signature verified
                Err(e) => match e.kind() {
                    ErrorKind::ExpiredSignature => refusal = TokenError::Expired,
                    ErrorKind::ImmatureSignature => refusal = TokenError::NotYetValid,
                    _ => {}
                },
            }
        }
        Err(refusal)
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut v = Validation::new(algorithm);
        v.algorithms = vec![algorithm];
        // bounded at config validation; capped again so the library's `now ± leeway` cannot wrap
        v.leeway = self.leeway.as_secs().min(now());
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        v
    }

    /// Mints a grant for client `sub` valid for `ttl`, carrying the key's route grants.
    pub fn mint(&self, sub: &str, routes: Option<Vec<String>>, ttl: Duration) -> String {
        let scope = Scope {
            routes,
            ..Scope::default()
        };
        self.mint_for(sub, scope, ttl).0
    }

    /// Mints a grant for client `sub` valid for `ttl`, narrowed to `scope`; also returns its
    /// expiry (seconds since the epoch).
    pub fn mint_for(&self, sub: &str, scope: Scope, ttl: Duration) -> (String, u64) {
        let Scope {
            routes,
            models,
            providers,
        } = scope;
        let now = now();
        let claims = Claims {
            sub: sub.to_owned(),
            exp: expiry(now, ttl),
            iat: Some(now),
            nbf: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: Some(uuid::Uuid::new_v4().to_string()),
            routes,
            models,
            providers,
            ..Claims::default()
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(GRANT_KID.into());
        // HS256 signing with an in-memory key cannot fail
        let token = jsonwebtoken::encode(&header, &claims, &self.signing).unwrap_or_default();
        (token, claims.exp)
    }
}

#[cfg(test)]
mod tests;
