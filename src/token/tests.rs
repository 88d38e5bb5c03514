use jsonwebtoken::EncodingKey;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ED25519};

use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const HOUR: Duration = Duration::from_secs(3600);

fn tokens(extra: Vec<VerifyKey>) -> Tokens {
    let leeway = Duration::from_secs(5);
    Tokens::new(
        SECRET,
        extra,
        "voxrelay".into(),
        "voxrelay".into(),
        leeway,
        HOUR,
        HOUR,
    )
}

fn claims(sub: &str) -> Claims {
    Claims {
        sub: sub.into(),
        exp: now() + 60,
        iss: "voxrelay".into(),
        aud: "voxrelay".into(),
        ..Claims::default()
    }
}

fn sign(alg: Algorithm, kid: Option<&str>, c: &Claims, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(String::from);
    jsonwebtoken::encode(&header, c, key).unwrap()
}

fn hs(c: &Claims) -> String {
    sign(
        Algorithm::HS256,
        Some(GRANT_KID),
        c,
        &EncodingKey::from_secret(SECRET),
    )
}

#[test]
fn minted_grants_verify() {
    let t = tokens(vec![]);
    let jwt = t.mint("web", Some(vec!["listen".into()]), Duration::from_secs(30));
    let c = t.verify(&jwt).unwrap();
    assert_eq!(
        (c.sub.as_str(), c.routes),
        ("web", Some(vec!["listen".to_owned()]))
    );
    assert!(c.exp >= now() + 29);
}

#[test]
fn expired_and_not_yet_valid_are_told_apart() {
    let t = tokens(vec![]);
    let mut c = claims("web");
    c.exp = now() - 60;
    assert_eq!(t.verify(&hs(&c)), Err(TokenError::Expired));
    let mut c = claims("web");
    c.nbf = Some(now() + 600);
    assert_eq!(t.verify(&hs(&c)), Err(TokenError::NotYetValid));
    // within the leeway both still pass
    let mut c = claims("web");
    c.exp = now() - 2;
    c.nbf = Some(now() + 2);
    assert!(t.verify(&hs(&c)).is_ok());
}

#[test]
fn wrong_audience_issuer_key_or_tampering_are_invalid() {
    let t = tokens(vec![]);
    let mut c = claims("web");
    c.aud = "someone-else".into();
    assert_eq!(t.verify(&hs(&c)), Err(TokenError::Invalid));
    let mut c = claims("web");
    c.iss = "evil".into();
    assert_eq!(t.verify(&hs(&c)), Err(TokenError::Invalid));
    let other = EncodingKey::from_secret(b"another-secret-another-secret-xx");
    assert_eq!(
        t.verify(&sign(
            Algorithm::HS256,
            Some(GRANT_KID),
            &claims("web"),
            &other
        )),
        Err(TokenError::Invalid)
    );
    let jwt = hs(&claims("web"));
    let mut parts: Vec<String> = jwt.split('.').map(String::from).collect();
    let mut forged = claims("admin");
    forged.routes = Some(vec!["*".into()]);
    parts[1] = base64url(&serde_json::to_vec(&forged).unwrap());
    assert_eq!(t.verify(&parts.join(".")), Err(TokenError::Invalid));
}

#[test]
fn alg_none_is_refused() {
    let t = tokens(vec![]);
    let header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
    let body = base64url(&serde_json::to_vec(&claims("web")).unwrap());
    assert_eq!(
        t.verify(&format!("{header}.{body}.")),
        Err(TokenError::Invalid)
    );
}

#[test]
fn missing_exp_is_refused() {
    let t = tokens(vec![]);
    let mut v = serde_json::to_value(claims("web")).unwrap();
    v.as_object_mut().unwrap().remove("exp");
    let jwt = jsonwebtoken::encode(
        &{
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some(GRANT_KID.into());
            h
        },
        &v,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(t.verify(&jwt), Err(TokenError::Invalid));
}

#[test]
fn es256_and_eddsa_public_keys_verify_their_own_algorithm_only() {
    let ec = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let ed = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let t = tokens(vec![
        VerifyKey {
            algorithm: Algorithm::ES256,
            kid: None,
            key: DecodingKey::from_ec_pem(ec.public_key_pem().as_bytes()).unwrap(),
            clients: None,
        },
        VerifyKey {
            algorithm: Algorithm::EdDSA,
            kid: Some("ed".into()),
            key: DecodingKey::from_ed_pem(ed.public_key_pem().as_bytes()).unwrap(),
            clients: Some(vec!["web".into()]),
        },
    ]);
    let ec_key = EncodingKey::from_ec_pem(ec.serialize_pem().as_bytes()).unwrap();
    let ed_key = EncodingKey::from_ed_pem(ed.serialize_pem().as_bytes()).unwrap();
    assert!(
        t.verify(&sign(Algorithm::ES256, None, &claims("web"), &ec_key))
            .is_ok()
    );
    assert!(
        t.verify(&sign(Algorithm::EdDSA, Some("ed"), &claims("web"), &ed_key))
            .is_ok()
    );
    // the EdDSA key vouches only for `web`
    let other = sign(Algorithm::EdDSA, Some("ed"), &claims("other"), &ed_key);
    assert_eq!(t.verify(&other), Err(TokenError::Invalid));
    // algorithm confusion: an HS256 token keyed with the public key's bytes
    let public = EncodingKey::from_secret(ec.public_key_pem().as_bytes());
    let confused = sign(Algorithm::HS256, None, &claims("web"), &public);
    assert_eq!(t.verify(&confused), Err(TokenError::Invalid));
}

fn base64url(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

#[test]
fn a_crit_header_naming_anything_is_refused() {
    let t = tokens(vec![]);
    for crit in [vec!["exp".to_owned()], vec!["b64".to_owned()], vec![]] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(GRANT_KID.into());
        header.crit = Some(crit.clone());
        let jwt = jsonwebtoken::encode(&header, &claims("web"), &EncodingKey::from_secret(SECRET))
            .unwrap();
        assert_eq!(t.verify(&jwt), Err(TokenError::Invalid), "crit {crit:?}");
    }
    assert!(
        t.verify(&hs(&claims("web"))).is_ok(),
        "the same token without crit"
    );
}

#[test]
fn expiry_arithmetic_saturates_instead_of_overflowing() {
    assert_eq!(expiry(u64::MAX - 5, Duration::from_secs(60)), u64::MAX);
    assert_eq!(expiry(100, Duration::MAX), u64::MAX);
    assert_eq!(expiry(100, Duration::from_secs(30)), 130);
    let t = Tokens::new(
        SECRET,
        vec![],
        "voxrelay".into(),
        "voxrelay".into(),
        Duration::MAX,
        HOUR,
        HOUR,
    );
    let jwt = t.mint("web", None, Duration::MAX);
    assert!(
        t.verify(&jwt).is_ok(),
        "a huge leeway and TTL neither panic nor wrap"
    );
}
