//! Arbitrary text → `ClientQuery::parse` → `render`, under a permissive, a strict and an
//! `allow_params` policy and with no aliases, the Deepgram built-in table and the Cloudflare
//! built-in table.
//!
//! Every rendered query must hold exactly one `model` pair, no credential parameter, no denied
//! parameter (names compared normalised: `Token%00` is `token`), under `allow_params` no other
//! client name, and each forced parameter exactly once with its value; through the alias tables
//! too, so a model capture can never inject parameters (e.g. `model=@cf/deepgram/a?model=b`).

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use voxrelay::rewrite::{
    AliasTable, CLOUDFLARE_ALIASES, CREDENTIAL_PARAMS, ClientQuery, DEEPGRAM_ALIASES, Pattern,
    QueryPolicy,
};

/// `+` is a space, `%XX` a byte, any other `%` literal; invalid UTF-8 becomes U+FFFD.
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

/// A decoded name as the relay compares it: controls and invisible characters removed,
/// surrounding whitespace and trailing `[]` stripped, lowercased.
fn norm(decoded: &str) -> String {
    let invisible = |c: char| {
        c == '\u{AD}'
            || c == '\u{FEFF}'
            || ('\u{200B}'..='\u{200F}').contains(&c)
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2060}'..='\u{2064}').contains(&c)
    };
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

fn table(entries: &[(&str, &str)]) -> AliasTable {
    let map: BTreeMap<String, String> = entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    AliasTable::new(&map)
}

fn check(out: &str, policy: &QueryPolicy) {
    let pairs: Vec<(String, String)> = out
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (norm(&decode(k)), decode(v))
        })
        .collect();
    let count = |key: &str| pairs.iter().filter(|(k, _)| k == key).count();
    // Exactly one model, unless the route's modelless parameter opened a session that names
    // none upstream.
    let modelless = policy.modelless_param.is_some_and(|p| count(p) > 0);
    match count("model") {
        1 => {}
        0 => assert!(modelless, "no model and no modelless parameter: {out}"),
        n => panic!("{n} models: {out}"),
    }
    for c in CREDENTIAL_PARAMS {
        assert_eq!(count(c), 0, "{out}");
    }
    for d in &policy.deny_params {
        assert_eq!(count(&norm(d)), 0, "{out}");
    }
    if let Some(allowed) = &policy.allow_params {
        let allowed: Vec<String> = allowed.iter().map(|a| norm(a)).collect();
        for (k, _) in &pairs {
            let ok = k == "model"
                || k == "speaker"
                || allowed.contains(k)
                || policy.force_params.iter().any(|(f, _)| norm(f) == *k);
            assert!(ok, "{k:?} is not allowed: {out}");
        }
    }
    for (k, v) in &policy.force_params {
        let hits: Vec<_> = pairs.iter().filter(|(pk, _)| *pk == norm(k)).collect();
        assert_eq!(hits.len(), 1, "{out}");
        assert_eq!(&hits[0].1, v, "{out}");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let permissive = QueryPolicy {
        default_model: "nova-3".into(),
        models: vec![Pattern::new("*")].into(),
        ..QueryPolicy::default()
    };
    let strict = QueryPolicy {
        default_model: "nova-3".into(),
        models: vec![Pattern::new("nova-*"), Pattern::new("aura-2-*-en")].into(),
        deny_params: vec!["callback".into(), "api key".into()],
        force_params: vec![("mip_opt_out".into(), "true & sure".into())],
        allow_params: None,
        modelless_param: Some("intent"),
        model_param: Some("model".into()),
    };
    let allowlisted = QueryPolicy {
        allow_params: Some(vec!["keyterm".into(), "Encoding".into()]),
        ..strict.clone()
    };
    let tables = [
        AliasTable::default(),
        table(&DEEPGRAM_ALIASES),
        table(&CLOUDFLARE_ALIASES),
    ];
    for policy in [&permissive, &strict, &allowlisted] {
        let Ok(q) = ClientQuery::parse(Some(&text), policy) else {
            continue;
        };
        for aliases in &tables {
            check(&q.render(&aliases.map(&q.model), policy), policy);
        }
    }
});
