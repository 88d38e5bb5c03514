//! Property tests for the pure parsers: handshake credentials (`voxrelay::auth`), the forwarded
//! query, model patterns and alias tables (`voxrelay::rewrite`), origins (`voxrelay::origin`).
//!
//! Each property is checked against a small reference model written here (percent-decoding,
//! glob matching, the expected pair list), never against the code under test.

use std::collections::BTreeMap;

use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use proptest::sample::select;
use voxrelay::auth::{AuthError, credential, offered_protocols};
use voxrelay::origin::{OriginPattern, presented};
use voxrelay::rewrite::{
    AliasTable, CLOUDFLARE_ALIASES, ClientQuery, DEEPGRAM_ALIASES, MappedModel, Pattern,
    QueryPolicy, RewriteError,
};

/// 256 cases per property (about a second for the whole file in a debug build), unless
/// `PROPTEST_CASES` asks for another number, e.g. `PROPTEST_CASES=20000` for a long run.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 256;
    }
    config
}

// ---------------------------------------------------------------------------------------------
// Reference helpers
// ---------------------------------------------------------------------------------------------

/// RFC 9110 `tchar`: what a token in a `Sec-WebSocket-Protocol` list may be made of.
const TCHARS: &str =
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A string of `tchar`s with a length in `len`.
fn rfc_token(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(select(TCHARS.chars().collect::<Vec<_>>()), len)
        .prop_map(|cs| cs.into_iter().collect())
}

/// `word` with each ASCII letter's case chosen by `upper`.
fn recase(word: &str, upper: &[bool]) -> String {
    word.chars()
        .zip(upper.iter().chain(std::iter::repeat(&false)))
        .map(|(c, &u)| {
            if u {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// `token` or `bearer` in any case.
fn scheme() -> impl Strategy<Value = String> {
    (
        select(vec!["token", "bearer"]),
        prop::collection::vec(any::<bool>(), 6),
    )
        .prop_map(|(w, upper)| recase(w, &upper))
}

/// A list separator: a comma with optional spaces or tabs around it.
fn comma() -> impl Strategy<Value = String> {
    ("[ \t]{0,2}", "[ \t]{0,2}").prop_map(|(a, b)| format!("{a},{b}"))
}

/// A lowercase v4-shaped UUID, as Deepgram's SDKs send in `x-deepgram-session-id`.
fn uuid() -> impl Strategy<Value = String> {
    "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
}

/// Joins subprotocol `items` with `seps`, starting a new header line wherever `split` says,
/// so the list may arrive in one `Sec-WebSocket-Protocol` header or several.
fn protocol_headers(items: &[String], seps: &[String], split: &[bool]) -> HeaderMap {
    let mut lines = vec![String::new()];
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            if split[i - 1] {
                lines.push(String::new());
            } else {
                lines.last_mut().unwrap().push_str(&seps[i - 1]);
            }
        }
        lines.last_mut().unwrap().push_str(item);
    }
    let mut h = HeaderMap::new();
    for line in lines {
        h.append(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_str(&line).unwrap(),
        );
    }
    h
}

/// Decodes a query component as the relay documents it: `+` is a space, `%XX` a byte, any
/// other `%` literal, and invalid UTF-8 becomes U+FFFD.
fn decode(raw: &str) -> String {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (b[i], hex) {
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The raw key of a `key=value` pair (the whole pair when it has no `=`).
fn raw_key(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(k, _)| k)
}

/// The raw value of a `key=value` pair (empty when it has no `=`).
fn raw_value(pair: &str) -> &str {
    pair.split_once('=').map_or("", |(_, v)| v)
}

/// Characters a name may hide that some servers ignore (spelled out here rather than taken from
/// the crate): soft hyphen, zero-width and direction marks, word joiners, BOM.
fn invisible(c: char) -> bool {
    c == '\u{AD}'
        || c == '\u{FEFF}'
        || ('\u{200B}'..='\u{200F}').contains(&c)
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2060}'..='\u{2064}').contains(&c)
}

/// A decoded name as the relay compares it: controls and invisible characters removed,
/// surrounding whitespace and any trailing `[]` stripped, lowercased.
fn norm(decoded: &str) -> String {
    let visible: String = decoded
        .chars()
        .filter(|c| !c.is_control() && !invisible(*c))
        .collect();
    let mut s = visible.trim().to_lowercase();
    while s.ends_with("[]") {
        s.truncate(s.len() - 2);
        s = s.trim_end().to_owned();
    }
    s
}

/// The name of a pair, decoded and normalised.
fn key(pair: &str) -> String {
    norm(&decode(raw_key(pair)))
}

/// Query parameters that carry credentials and must never be forwarded (spelled out here rather
/// than taken from the crate, so that shortening the crate's list is caught).
fn is_credential(k: &str) -> bool {
    ["token", "access_token", "api_key"].contains(&k)
}

/// `name` spelled the ways a server may still read as `name`: any letter case, then
/// whitespace, NUL, `[]` or invisible characters around it, raw or percent-encoded.
fn smuggled(name: &'static str) -> impl Strategy<Value = String> {
    let n = name.len();
    (
        prop::collection::vec(any::<bool>(), n),
        select(vec!["", "%20", "+", "%00", "%09", "%EF%BB%BF"]),
        select(vec![
            "",
            "[]",
            "%5B%5D",
            "%00",
            "[]%00",
            "%00[]",
            "+",
            "%0A",
            "%E2%80%8B",
            "[][]",
        ]),
    )
        .prop_map(move |(upper, before, after)| {
            let body: String = name
                .chars()
                .zip(upper)
                .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
                .collect();
            format!("{before}{body}{after}")
        })
}

/// A policy that allows every model, with `nova-3` as the default.
fn any_model() -> QueryPolicy {
    QueryPolicy {
        default_model: "nova-3".into(),
        models: vec![Pattern::new("*")].into(),
        ..QueryPolicy::default()
    }
}

/// A raw query key: well-known names in plain and encoded spellings, plus random ones.
fn query_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec![
            "keyterm", "key%74erm", "keywords", "language", "encoding", "smart%5Fformat",
            "key+term", "a%20b", "a+b", "mip_opt_out", "callback", "call%62ack",
            "token", "tok%65n", "%74oken", "access_token", "access%5ftoken", "api_key",
            "api%5Fkey", "Token", "TOKEN", "model", "mod%65l", "%6D%6F%64%65%6C", "Model",
            "token%00", "Access_Token[]", "MODEL%00", "model[]", "%20model", "Callback",
            "callback[]", "callback%00",
            "", "%", "%zz", "%E2%82%AC", "%FF",
        ])
        .prop_map(str::to_owned),
        2 => "([a-z_]|%20|%5F|%6[1-9A-F]|%7[0-9A]|\\+){1,6}",
    ]
}

/// A raw query value made of percent-encoding-friendly pieces, including invalid escapes.
fn query_value() -> impl Strategy<Value = String> {
    "([A-Za-z0-9._~:/@=-]|%20|%2B|%26|%3D|%3F|%25|\\+|%|%4|%E2%82%AC|%FF){0,8}"
}

/// One raw pair: `key`, `key=` or `key=value`; an empty key and value make `&&` in the query.
fn query_pair() -> impl Strategy<Value = String> {
    (query_key(), prop::option::of(query_value())).prop_map(|(k, v)| match v {
        Some(v) => format!("{k}={v}"),
        None => k,
    })
}

/// A pair whose key does not decode to `model`.
fn non_model_pair() -> impl Strategy<Value = String> {
    query_pair().prop_filter("not model", |p| key(p) != "model")
}

/// What `render` must produce when no alias adds parameters: the client's pairs minus
/// credentials and `model`, with `model` where the client put it (first when absent), each
/// forced key set at its first occurrence (later ones dropped) or appended in order.
///
/// Raw pairs are expected byte for byte; pairs the relay writes are `\0key\0value` (decoded),
/// see [`segment_matches`].
fn expected_render(pairs: &[String], model: &str, forced: &[(String, String)]) -> Vec<String> {
    let written = |k: &str, v: &str| format!("\u{0}{k}\u{0}{v}");
    let forwarded: Vec<&String> = pairs
        .iter()
        .filter(|p| !p.is_empty() && !is_credential(&key(p)))
        .collect();
    let model_at = forwarded
        .iter()
        .position(|p| key(p) == "model")
        .unwrap_or(0);
    let kept: Vec<&String> = forwarded
        .into_iter()
        .filter(|p| key(p) != "model")
        .collect();
    let mut used = vec![false; forced.len()];
    let mut out = Vec::new();
    for (i, p) in kept.iter().enumerate() {
        if i == model_at {
            out.push(written("model", model));
        }
        match forced.iter().position(|(k, _)| *k == key(p)) {
            Some(f) if used[f] => {}
            Some(f) => {
                used[f] = true;
                out.push(written(&forced[f].0, &forced[f].1));
            }
            None => out.push((*p).clone()),
        }
    }
    if model_at >= kept.len() {
        out.push(written("model", model));
    }
    for (f, (k, v)) in forced.iter().enumerate() {
        if !used[f] {
            out.push(written(k, v));
        }
    }
    out
}

/// Compares one rendered segment with one expected entry: raw pairs byte for byte, relay-written
/// pairs (`\0key\0value`) after decoding.
fn segment_matches(seg: &str, want: &str) -> bool {
    match want.strip_prefix('\u{0}') {
        Some(kv) => {
            let (k, v) = kv.split_once('\u{0}').unwrap();
            seg.contains('=') && key(seg) == k && decode(raw_value(seg)) == v
        }
        None => seg == want,
    }
}

/// Reference glob: `*` matches any run of bytes.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

fn table(entries: &[(&str, &str)]) -> AliasTable {
    AliasTable::new(
        &entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

/// The built-in Deepgram-direct table.
fn deepgram_aliases() -> AliasTable {
    table(&DEEPGRAM_ALIASES)
}

/// The built-in Cloudflare table.
fn cloudflare_aliases() -> AliasTable {
    table(&CLOUDFLARE_ALIASES)
}

// ---------------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------------

/// Visible ASCII plus fragments of every credential form, to reach the deeper branches.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,60}",
        prop::collection::vec(
            select(vec![
                "token",
                "Bearer",
                "BEARER",
                ",",
                ", ",
                " ",
                "\t",
                "cf-aig-authorization.",
                "CF-AIG-AUTHORIZATION.",
                "cf-aig",
                "abc",
                "Token ",
                "Basic ",
                "é",
                "x-deepgram-session-id",
            ]),
            0..8,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// `credential` never panics, only ever reports `Missing`, and echoes only what was offered.
    #[test]
    fn credential_never_panics_and_echoes_an_offered_value(
        swp in prop::collection::vec(header_text(), 0..3),
        authorization in prop::option::of(header_text()),
        cf in prop::option::of(header_text()),
    ) {
        let mut h = HeaderMap::new();
        for v in &swp {
            h.append(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_str(v).unwrap());
        }
        if let Some(v) = &authorization {
            h.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        if let Some(v) = &cf {
            h.insert(HeaderName::from_static("cf-aig-authorization"), HeaderValue::from_str(v).unwrap());
        }
        let offered = offered_protocols(&h);
        for p in &offered {
            prop_assert!(!p.is_empty() && !p.contains(',') && p.trim() == *p, "{p:?}");
        }
        match credential(&h) {
            Ok(c) => {
                if let Some(echo) = &c.echo {
                    prop_assert!(offered.contains(&echo.as_str()), "echo {echo:?} not in {offered:?}");
                }
            }
            Err(e) => prop_assert_eq!(e, AuthError::Missing),
        }
    }

    /// Arbitrary bytes (including obs-text, which is not UTF-8 text) never panic either.
    #[test]
    fn credential_never_panics_on_arbitrary_bytes(
        values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..4),
    ) {
        let names = [SEC_WEBSOCKET_PROTOCOL, AUTHORIZATION, HeaderName::from_static("cf-aig-authorization")];
        let mut h = HeaderMap::new();
        for (i, v) in values.iter().enumerate() {
            if let Ok(v) = HeaderValue::from_bytes(v) {
                h.append(names[i % names.len()].clone(), v);
            }
        }
        let _ = offered_protocols(&h);
        if let Err(e) = credential(&h) {
            prop_assert_eq!(e, AuthError::Missing);
        }
    }

    /// `token|bearer, <T>` (any case, any spacing, optionally with the session-id pair before
    /// or after, in one header or several) yields T and echoes the scheme exactly as offered.
    #[test]
    fn scheme_form_yields_token_and_echoes_only_the_scheme(
        scheme in scheme(),
        token in rfc_token(8..=64),
        session in prop::option::of((uuid(), any::<bool>())),
        seps in prop::collection::vec(comma(), 3),
        split in prop::collection::vec(any::<bool>(), 3),
    ) {
        let mut items = vec![scheme.clone(), token.clone()];
        match &session {
            Some((id, true)) => items = [vec!["x-deepgram-session-id".to_owned(), id.clone()], items].concat(),
            Some((id, false)) => items.extend(["x-deepgram-session-id".to_owned(), id.clone()]),
            None => {}
        }
        let h = protocol_headers(&items, &seps, &split);
        prop_assert_eq!(offered_protocols(&h), items.iter().map(String::as_str).collect::<Vec<_>>());
        let c = credential(&h).unwrap();
        prop_assert_eq!(c.token.expose(), token.as_str());
        let echo = c.echo.unwrap();
        prop_assert_eq!(&echo, &scheme);
        prop_assert!(echo != token && !echo.contains(&token));
    }

    /// Short tokens too, including ones spelled like a scheme: the value after the first
    /// scheme is the token, and the scheme is what is echoed.
    #[test]
    fn scheme_form_with_short_or_scheme_like_tokens(
        scheme in scheme(),
        token in prop_oneof![rfc_token(1..=8), scheme()],
        sep in comma(),
    ) {
        let h = protocol_headers(&[scheme.clone(), token.clone()], &[sep], &[false]);
        let c = credential(&h).unwrap();
        prop_assert_eq!(c.token.expose(), token.as_str());
        prop_assert_eq!(c.echo, Some(scheme));
    }

    /// `cf-aig-authorization.<T>` (prefix in any case, among other offered protocols) yields T
    /// and echoes the whole offered value.
    #[test]
    fn cloudflare_form_yields_token_and_echoes_whole_value(
        upper in prop::collection::vec(any::<bool>(), 21),
        token in rfc_token(1..=64),
        others in prop::collection::vec(
            "[a-z][a-z0-9.]{0,8}".prop_filter("not a credential form", |p| {
                !p.eq_ignore_ascii_case("token") && !p.eq_ignore_ascii_case("bearer")
                    && !p.starts_with("cf-aig-authorization.")
            }),
            0..3,
        ),
        at in any::<prop::sample::Index>(),
        seps in prop::collection::vec(comma(), 3),
        split in prop::collection::vec(any::<bool>(), 3),
    ) {
        let value = format!("{}{token}", recase("cf-aig-authorization.", &upper));
        let mut items = others;
        items.insert(at.index(items.len() + 1), value.clone());
        let h = protocol_headers(&items, &seps, &split);
        let c = credential(&h).unwrap();
        prop_assert_eq!(c.token.expose(), token.as_str());
        prop_assert_eq!(c.echo, Some(value));
    }

    /// `Authorization: Token|Bearer <T>` yields T; the echo is the first offered subprotocol
    /// (none when none was offered), never the token.
    #[test]
    fn authorization_header_yields_token(
        scheme in scheme(),
        gap in " {1,3}",
        pad in (" {0,2}", " {0,2}"),
        token in rfc_token(1..=64),
        offered in prop::collection::vec("[a-z][a-z0-9.]{0,8}".prop_filter("not a credential form", |p| {
            !p.eq_ignore_ascii_case("token") && !p.eq_ignore_ascii_case("bearer")
        }), 0..3),
    ) {
        let mut h = HeaderMap::new();
        let value = format!("{}{scheme}{gap}{token}{}", pad.0, pad.1);
        h.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        if !offered.is_empty() {
            h.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_str(&offered.join(", ")).unwrap());
        }
        let c = credential(&h).unwrap();
        prop_assert_eq!(c.token.expose(), token.as_str());
        prop_assert_eq!(c.echo, offered.first().cloned());
    }

    /// The subprotocol form wins over the `Authorization` header.
    #[test]
    fn subprotocol_wins_over_authorization_header(
        scheme in scheme(),
        from_protocol in rfc_token(1..=32),
        from_header in rfc_token(1..=32),
    ) {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {from_header}")).unwrap());
        h.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_str(&format!("{scheme}, {from_protocol}")).unwrap());
        let c = credential(&h).unwrap();
        prop_assert_eq!(c.token.expose(), from_protocol.as_str());
    }
}

// ---------------------------------------------------------------------------------------------
// Query rewrite
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// `parse` and `render` never panic on arbitrary text, under permissive and strict policies.
    #[test]
    fn query_parse_never_panics(
        raw in prop_oneof![any::<String>(), "[ -~]{0,80}", prop::collection::vec(query_pair(), 0..10).prop_map(|p| p.join("&"))],
        absent in any::<bool>(),
    ) {
        let strict = QueryPolicy {
            default_model: "nova-3".into(),
            models: vec![Pattern::new("nova-*"), Pattern::new("aura-2-*-en")].into(),
            deny_params: vec!["callback".into()],
            force_params: vec![("mip_opt_out".into(), "true".into())],
            allow_params: Some(vec!["keyterm".into(), "encoding".into()]),
            modelless_param: Some("intent"),
            model_param: Some("model".into()),
        };
        for policy in [any_model(), strict] {
            let raw = (!absent).then_some(raw.as_str());
            if let Ok(q) = ClientQuery::parse(raw, &policy) {
                for aliases in [AliasTable::default(), deepgram_aliases(), cloudflare_aliases()] {
                    let _ = q.render(&aliases.map(&q.model), &policy);
                }
            }
        }
    }

    /// With every model allowed and no aliases: everything except `model` and credentials is
    /// forwarded exactly once, byte for byte, in order; exactly one `model=` pair carries the
    /// client's model (decoded) at the client's position, or the default first.
    #[test]
    fn query_forwards_every_other_pair_exactly(pairs in prop::collection::vec(query_pair(), 0..12)) {
        let raw = pairs.join("&");
        let policy = any_model();
        let models: Vec<&String> = pairs.iter().filter(|p| !p.is_empty() && key(p) == "model").collect();
        let parsed = ClientQuery::parse(Some(&raw), &policy);
        if models.len() > 1 {
            prop_assert_eq!(parsed.unwrap_err(), RewriteError::DuplicateModel);
            return Ok(());
        }
        let q = parsed.unwrap();
        let model = models.first().map_or("nova-3".to_owned(), |p| decode(raw_value(p)));
        prop_assert_eq!(&q.model, &model);
        let out = q.render(&AliasTable::default().map(&q.model), &policy);
        let segs: Vec<&str> = out.split('&').collect();

        let model_segs: Vec<usize> = (0..segs.len()).filter(|&i| key(segs[i]) == "model").collect();
        prop_assert_eq!(model_segs.len(), 1, "{}", out);
        let at = model_segs[0];
        prop_assert!(segs[at].starts_with("model="), "{}", out);
        prop_assert_eq!(decode(raw_value(segs[at])), model);
        prop_assert!(segs.iter().all(|s| !is_credential(&key(s))), "credential forwarded: {}", out);

        let expected = expected_render(&pairs, &q.model, &[]);
        prop_assert_eq!(segs.len(), expected.len(), "{} vs {:?}", out, expected);
        for (seg, want) in segs.iter().zip(&expected) {
            prop_assert!(segment_matches(seg, want), "{:?} vs {:?} in {}", seg, want, out);
        }
    }

    /// A denied key, however it is spelled, refuses the query; without one there is no refusal.
    #[test]
    fn denied_params_are_refused_in_any_spelling(
        before in prop::collection::vec(non_model_pair(), 0..6),
        after in prop::collection::vec(non_model_pair(), 0..6),
        denied in select(vec![
            ("callback", vec!["callback", "call%62ack", "%63allback", "callbac%6B", "Callback", "callback[]", "callback%00", "CALLBACK%5B%5D"]),
            ("keyterm", vec!["keyterm", "key%74erm", "KeyTerm", "keyterm%09"]),
            ("a b", vec!["a+b", "a%20b", "A+B[]"]),
        ]),
        spelling in any::<prop::sample::Index>(),
        value in prop::option::of(query_value()),
        include in any::<bool>(),
    ) {
        let (name, spellings) = denied;
        let policy = QueryPolicy {
            deny_params: vec![name.to_owned()],
            ..any_model()
        };
        let mut pairs = before;
        if include {
            let k = spelling.get(&spellings);
            pairs.push(value.map_or(k.to_string(), |v| format!("{k}={v}")));
        }
        pairs.extend(after);
        let present = pairs.iter().any(|p| !p.is_empty() && key(p) == name);
        let raw = pairs.join("&");
        let result = ClientQuery::parse(Some(&raw), &policy);
        if present {
            prop_assert_eq!(result.unwrap_err(), RewriteError::ParamDenied(name.to_owned()));
        } else {
            prop_assert!(result.is_ok(), "{:?}", result);
        }
    }

    /// A name spelled with another case, `[]`, NUL, whitespace or invisible characters is
    /// still the name: denied → refused, credential → dropped, `model` → a duplicate model,
    /// forced → replaced by the forced value.
    #[test]
    fn smuggled_names_are_caught(
        callback in smuggled("callback"),
        credential in prop_oneof![smuggled("token"), smuggled("access_token"), smuggled("api_key")],
        model in smuggled("model"),
        forced in smuggled("mip_opt_out"),
        others in prop::collection::vec(non_model_pair(), 0..4),
    ) {
        let policy = QueryPolicy {
            deny_params: vec!["callback".into()],
            force_params: vec![("mip_opt_out".into(), "true".into())],
            ..any_model()
        };
        let others: Vec<String> = others.into_iter().filter(|p| key(p) != "callback").collect();
        let with = |extra: &str| {
            let mut pairs = others.clone();
            pairs.push(extra.to_owned());
            pairs.join("&")
        };
        prop_assert_eq!(
            ClientQuery::parse(Some(&with(&format!("{callback}=http://x"))), &policy).unwrap_err(),
            RewriteError::ParamDenied("callback".into())
        );
        prop_assert_eq!(
            ClientQuery::parse(Some(&with(&format!("model=nova-3&{model}=nova-2"))), &policy).unwrap_err(),
            RewriteError::DuplicateModel
        );
        let raw = with(&format!("{credential}=secret-9&{forced}=false"));
        let q = ClientQuery::parse(Some(&raw), &policy).unwrap();
        let out = q.render(&AliasTable::default().map(&q.model), &policy);
        prop_assert!(!out.contains("secret-9"), "credential forwarded: {}", out);
        let segs: Vec<&str> = out.split('&').collect();
        let forced_segs: Vec<&&str> = segs.iter().filter(|s| key(s) == "mip_opt_out").collect();
        prop_assert_eq!(forced_segs, vec![&"mip_opt_out=true"], "{}", out);
    }

    /// With `allow_params`, a query passes only when every name (normalised) is `model`, a
    /// credential, a forced name or listed; the refusal names the first other one.
    #[test]
    fn allow_params_admit_only_listed_names(pairs in prop::collection::vec(query_pair(), 0..8)) {
        let policy = QueryPolicy {
            allow_params: Some(vec!["KeyTerm".into(), "encoding".into()]),
            force_params: vec![("language".into(), "en".into())],
            ..any_model()
        };
        let admitted = |k: &str| {
            k == "model" || is_credential(k) || ["keyterm", "encoding", "language"].contains(&k)
        };
        let raw = pairs.join("&");
        let names: Vec<String> = pairs.iter().filter(|p| !p.is_empty()).map(|p| key(p)).collect();
        let duplicate_model = names.iter().filter(|k| *k == "model").count() > 1;
        let result = ClientQuery::parse(Some(&raw), &policy);
        match names.iter().find(|k| !admitted(k)) {
            // the first failing pair decides; a second `model` before it fails first
            Some(bad) => {
                let at = names.iter().position(|k| k == bad).unwrap();
                let second_model = names.iter().enumerate().filter(|(_, k)| *k == "model").nth(1);
                match second_model {
                    Some((i, _)) if i < at => prop_assert_eq!(result.unwrap_err(), RewriteError::DuplicateModel),
                    _ => prop_assert_eq!(
                        result.unwrap_err(),
                        RewriteError::ParamNotAllowed(bad.chars().take(64).collect())
                    ),
                }
            }
            None if duplicate_model => prop_assert_eq!(result.unwrap_err(), RewriteError::DuplicateModel),
            None => {
                let q = result.unwrap();
                let out = q.render(&AliasTable::default().map(&q.model), &policy);
                prop_assert!(out.split('&').all(|s| admitted(&key(s)) && !is_credential(&key(s))), "{}", out);
            }
        }
    }

    /// Forced parameters appear exactly once with the forced value: at the client's first
    /// occurrence (later ones dropped) or appended; everything else is untouched.
    #[test]
    fn forced_params_appear_exactly_once(
        pairs in prop::collection::vec(query_pair(), 0..12),
        forced in prop::collection::btree_map(
            select(vec!["keyterm", "mip_opt_out", "language", "a b", "callback"]).prop_map(str::to_owned),
            "[ -~]{0,8}",
            1..3,
        ),
    ) {
        let forced: Vec<(String, String)> = forced.into_iter().collect();
        let policy = QueryPolicy {
            force_params: forced.clone(),
            ..any_model()
        };
        let raw = pairs.join("&");
        let Ok(q) = ClientQuery::parse(Some(&raw), &policy) else {
            // only a duplicated model can fail under this policy
            prop_assert!(pairs.iter().filter(|p| !p.is_empty() && key(p) == "model").count() > 1);
            return Ok(());
        };
        let out = q.render(&AliasTable::default().map(&q.model), &policy);
        let segs: Vec<&str> = out.split('&').collect();
        for (k, v) in &forced {
            let hits: Vec<&&str> = segs.iter().filter(|s| key(s) == *k).collect();
            prop_assert_eq!(hits.len(), 1, "{:?} in {}", k, out);
            prop_assert_eq!(&decode(raw_value(hits[0])), v, "{}", out);
        }
        let expected = expected_render(&pairs, &q.model, &forced);
        prop_assert_eq!(segs.len(), expected.len(), "{} vs {:?}", out, expected);
        for (seg, want) in segs.iter().zip(&expected) {
            prop_assert!(segment_matches(seg, want), "{:?} vs {:?} in {}", seg, want, out);
        }
    }

    /// The allowlist is checked on the bare name: `@cf/deepgram/` is stripped first.
    #[test]
    fn model_allowlist_checks_the_bare_name(
        prefix in any::<bool>(),
        name in "(nova|aura|flux)-[a-z0-9-]{0,8}",
    ) {
        let model = if prefix { format!("@cf/deepgram/{name}") } else { name.clone() };
        let patterns = ["nova-*", "aura-2-*-en"];
        let policy = QueryPolicy {
            default_model: "nova-3".into(),
            models: patterns.iter().map(|p| Pattern::new(p)).collect(),
            ..QueryPolicy::default()
        };
        let raw = format!("model={model}");
        let allowed = patterns.iter().any(|p| glob(p.as_bytes(), name.as_bytes()));
        match ClientQuery::parse(Some(&raw), &policy) {
            Ok(q) => {
                prop_assert!(allowed);
                prop_assert_eq!(q.model, model);
            }
            Err(e) => {
                prop_assert!(!allowed);
                prop_assert_eq!(e, RewriteError::ModelNotAllowed(model));
            }
        }
    }

    /// A refused model (any Unicode, any length, percent-encoded byte by byte) is decoded
    /// exactly and quoted back cut to its first 64 characters, never mid-character.
    #[test]
    fn refused_model_is_decoded_and_quoted_briefly(model in "x\\PC{0,100}") {
        let policy = QueryPolicy {
            default_model: "nova-3".into(),
            models: vec![Pattern::new("nova-*")].into(),
            ..QueryPolicy::default()
        };
        let encoded: String = model.bytes().map(|b| format!("%{b:02X}")).collect();
        let raw = format!("model={encoded}");
        let quoted: String = model.chars().take(64).collect();
        prop_assert_eq!(
            ClientQuery::parse(Some(&raw), &policy).unwrap_err(),
            RewriteError::ModelNotAllowed(quoted)
        );
    }

    /// Aura voices on the Cloudflare table become `speaker`, rendered once: in place of the
    /// client's own `speaker`, else after everything; a route's forced `speaker` beats the alias.
    #[test]
    fn aura_voice_becomes_speaker(
        voice in "[a-z]{1,10}",
        speaker_sent in prop::option::of("[a-z]{1,5}"),
        forced in prop::option::of("[a-z]{1,5}"),
    ) {
        let model = format!("aura-2-{voice}-en");
        let mapped = cloudflare_aliases().map(&model);
        prop_assert_eq!(&mapped, &MappedModel {
            model: "@cf/deepgram/aura-2-en".into(),
            params: vec![("speaker".into(), voice.clone())],
            consumed: vec![],
        });
        let raw = match &speaker_sent {
            Some(s) => format!("speaker={s}&model={model}"),
            None => format!("model={model}"),
        };
        let policy = QueryPolicy {
            force_params: forced.iter().map(|f| ("speaker".to_owned(), f.clone())).collect(),
            ..any_model()
        };
        let out = ClientQuery::parse(Some(&raw), &policy).unwrap().render(&mapped, &policy);
        let speaker = forced.unwrap_or(voice);
        let want = match speaker_sent {
            Some(_) => format!("speaker={speaker}&model=@cf/deepgram/aura-2-en"),
            None => format!("model=@cf/deepgram/aura-2-en&speaker={speaker}"),
        };
        prop_assert_eq!(out, want);
    }

    /// An alias capture is client input: it lands inside one value and never adds parameters,
    /// so a model such as `@cf/deepgram/a?model=nova-2` (Deepgram table) or
    /// `aura-2-a&callback=x-en` (Cloudflare table) can neither add a second `model` nor get a
    /// denied parameter past `deny_params`.
    #[test]
    fn aliases_cannot_inject_parameters(
        form in select(vec!["@cf/deepgram/{}", "aura-2-{}-en", "aura-{}-en", "aura-2-{}-es"]),
        name in "[a-z0-9-]{1,6}",
        inject in prop_oneof![
            Just(String::new()),
            "[?&=a-z]{0,4}",
            select(vec!["?callback=x", "&callback=x", "?model=nova-2", "&model=x", "?a&callback"])
                .prop_map(str::to_owned),
        ],
        encode_all in any::<bool>(),
    ) {
        let capture = format!("{name}{inject}");
        let model = form.replace("{}", &capture);
        let policy = QueryPolicy {
            deny_params: vec!["callback".into()],
            ..any_model()
        };
        // `&` must be escaped to stay inside the value; `?` and `=` may be sent raw
        let escaped = model.replace('&', "%26");
        let escaped = if encode_all { escaped.replace('?', "%3F").replace('=', "%3D") } else { escaped };
        let raw = format!("model={escaped}");
        let q = ClientQuery::parse(Some(&raw), &policy).unwrap();
        prop_assert_eq!(&q.model, &model);
        for aliases in [deepgram_aliases(), cloudflare_aliases()] {
            let mapped = aliases.map(&q.model);
            prop_assert!(mapped.params.iter().all(|(k, _)| k == "speaker"), "{:?}", mapped);
            let out = q.render(&mapped, &policy);
            let segs: Vec<&str> = out.split('&').collect();
            let keys: Vec<String> = segs.iter().map(|s| key(s)).collect();
            prop_assert_eq!(keys.iter().filter(|k| *k == "model").count(), 1, "{}", out);
            prop_assert!(!keys.iter().any(|k| k == "callback"), "{}", out);
            for (k, v) in &mapped.params {
                let hits: Vec<&&str> = segs.iter().filter(|s| key(s) == *k).collect();
                prop_assert_eq!(hits.len(), 1, "{}", out);
                prop_assert_eq!(&decode(raw_value(hits[0])), v, "{}", out);
            }
        }
        // the capture arrives whole: as the model (Deepgram) or as `speaker` (Cloudflare Aura)
        match form {
            // (Cloudflare's own model names have aliases of their own on the Deepgram table)
            "@cf/deepgram/{}"
                if !DEEPGRAM_ALIASES.iter().any(|(k, _)| *k == model) =>
            {
                prop_assert_eq!(deepgram_aliases().map(&model).model, capture);
            }
            "aura-2-{}-en" | "aura-2-{}-es" => {
                prop_assert_eq!(
                    cloudflare_aliases().map(&model).params,
                    vec![("speaker".to_owned(), capture)]
                );
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Patterns and alias tables
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// A pattern without `*` matches exactly itself, with no captures.
    #[test]
    fn literal_pattern_matches_only_itself(lit in "[^*]{0,12}", other in "[^*]{0,12}") {
        let p = Pattern::new(&lit);
        prop_assert_eq!(p.captures(&lit), Some(vec![]));
        prop_assert_eq!(p.matches(&other), other == lit);
        prop_assert_eq!(p.specificity(), lit.len());
    }

    /// `prefix*suffix` matches `prefix + anything + suffix` and captures the middle; it matches
    /// nothing that lacks the prefix or the suffix or is too short to hold both.
    #[test]
    fn one_star_captures_the_middle(
        prefix in "[^*]{0,6}",
        middle in ".{0,8}",
        suffix in "[^*]{0,6}",
        other in ".{0,16}",
    ) {
        let p = Pattern::new(&format!("{prefix}*{suffix}"));
        let s = format!("{prefix}{middle}{suffix}");
        prop_assert_eq!(p.captures(&s), Some(vec![middle.as_str()]));
        let fits = other.len() >= prefix.len() + suffix.len()
            && other.starts_with(&prefix)
            && other.ends_with(&suffix);
        prop_assert_eq!(p.matches(&other), fits);
    }

    /// Any glob agrees with a reference matcher, and its captures rebuild the input.
    #[test]
    fn glob_agrees_with_reference(pattern in "[ab*]{0,7}", s in "[ab]{0,10}") {
        let p = Pattern::new(&pattern);
        let caps = p.captures(&s);
        prop_assert_eq!(caps.is_some(), glob(pattern.as_bytes(), s.as_bytes()), "{} vs {}", pattern, s);
        prop_assert_eq!(p.specificity(), pattern.len() - pattern.matches('*').count());
        if let Some(caps) = caps {
            let parts: Vec<&str> = pattern.split('*').collect();
            prop_assert_eq!(caps.len(), parts.len() - 1);
            let mut rebuilt = parts[0].to_owned();
            for (c, part) in caps.iter().zip(&parts[1..]) {
                rebuilt.push_str(c);
                rebuilt.push_str(part);
            }
            prop_assert_eq!(rebuilt, s);
        }
    }

    /// A model no alias matches passes through unchanged, without parameters.
    #[test]
    fn unmatched_model_passes_through(
        entries in prop::collection::btree_map("[a-c*-]{0,5}", "[a-z*?=&-]{0,8}", 0..5),
        model in "[a-c@/?&=-]{0,8}",
    ) {
        let mapped = AliasTable::new(&entries).map(&model);
        // (no `prop_assume!`: keys such as `*` match so often that long runs hit the reject cap)
        if !entries.keys().any(|k| glob(k.as_bytes(), model.as_bytes())) {
            prop_assert_eq!(mapped, MappedModel { model, params: vec![], consumed: vec![] });
        }
    }

    /// An exact entry wins over every pattern that also matches, however specific.
    #[test]
    fn exact_alias_wins_over_patterns(
        model in "[a-z0-9-]{1,12}",
        cuts in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
        others in prop::collection::btree_map("[a-z*-]{0,6}", "[a-z-]{1,6}", 0..4),
    ) {
        let (a, b) = (cuts.0.index(model.len() + 1), cuts.1.index(model.len() + 1));
        let (a, b) = (a.min(b), a.max(b));
        let mut entries = others;
        // patterns that match `model`, from the widest to one a single `*` short of exact
        entries.insert("*".into(), "wide".into());
        entries.insert(format!("{}*", &model[..a]), "prefix".into());
        entries.insert(format!("*{}", &model[b..]), "suffix".into());
        entries.insert(format!("{}*{}", &model[..a], &model[b..]), "both".into());
        entries.insert(model.clone(), "EXACT".into());
        let mapped = AliasTable::new(&entries).map(&model);
        prop_assert_eq!(mapped.model, "EXACT");
    }

    /// Among matching patterns the one with more literal characters wins, and its `*` in the
    /// template takes the first capture.
    #[test]
    fn most_specific_pattern_wins(
        prefix in "[a-z]{1,4}",
        extra in "[a-z]{1,4}",
        rest in "[a-z0-9]{0,6}",
    ) {
        let model = format!("{prefix}{extra}{rest}");
        let entries = BTreeMap::from([
            (format!("{prefix}*"), "short-*".to_owned()),
            (format!("{prefix}{extra}*"), "long-*".to_owned()),
        ]);
        prop_assert_eq!(AliasTable::new(&entries).map(&model).model, format!("long-{rest}"));
    }

    /// Built-in tables: the Deepgram table strips Cloudflare's prefix; Cloudflare's adds it.
    #[test]
    fn builtin_tables_translate_names(name in "(nova|whisper)-[a-z0-9-]{0,8}") {
        prop_assert_eq!(deepgram_aliases().map(&format!("@cf/deepgram/{name}")).model, name.clone());
        prop_assert_eq!(deepgram_aliases().map(&name).model, name.clone());
        let cf = cloudflare_aliases().map(&name).model;
        if name == "nova-3" {
            prop_assert_eq!(cf, "@cf/deepgram/nova-3");
        } else {
            prop_assert_eq!(cf, name);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Origins
// ---------------------------------------------------------------------------------------------

/// Whether `pattern` admits the single `Origin` header `origin`.
fn origin_allowed(pattern: &str, origin: &str) -> bool {
    let mut headers = HeaderMap::new();
    headers.insert(
        axum::http::header::ORIGIN,
        HeaderValue::from_str(origin).unwrap(),
    );
    OriginPattern::parse(pattern)
        .unwrap()
        .matches(&presented(&headers))
}

proptest! {
    #![proptest_config(config())]

    /// `https://*.example.com` admits exactly one label of letters, digits, `-` and `_` in front
    /// of `.example.com`, whatever separators the text around it holds.
    #[test]
    fn host_wildcard_is_one_label(label in "[a-zA-Z0-9_.:@?/#\\[\\]%-]{0,12}") {
        let one_label = !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let origin = format!("https://{label}.example.com");
        prop_assert_eq!(origin_allowed("https://*.example.com", &origin), one_label, "{}", origin);
    }

    /// `http://localhost:*` admits a port of up to five digits no larger than 65535, and
    /// nothing that merely starts like one.
    #[test]
    fn port_wildcard_is_a_number(port in "[0-9]{0,6}", tail in "|[.@?/#:a-z]{1,6}") {
        let numeric = !port.is_empty() && port.len() <= 5 && port.parse::<u32>().unwrap() <= 65535;
        let origin = format!("http://localhost:{port}{tail}");
        prop_assert_eq!(
            origin_allowed("http://localhost:*", &origin),
            numeric && tail.is_empty(),
            "{}", origin
        );
    }
}
