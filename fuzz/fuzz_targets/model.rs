//! Arbitrary strings → `Pattern::captures` / `matches` and `AliasTable::map`.
//!
//! The input is `pattern \0 subject \0 alias lines (key=template)`. Captures must rebuild the
//! subject around the pattern's literal parts and agree with a reference glob matcher; a
//! subject no alias key matches must pass through unchanged; an exact key (one without `*`)
//! must win with its template (when the template adds no parameters).

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use voxrelay::rewrite::{AliasTable, MappedModel, Pattern};

/// Reference glob (`*` = any run of bytes), dynamic programming over bytes.
fn glob(p: &[u8], s: &[u8]) -> bool {
    // row[j]: does the pattern prefix so far match s[..j]
    let mut row = vec![false; s.len() + 1];
    row[0] = true;
    for &c in p {
        let mut next = vec![false; s.len() + 1];
        if c == b'*' {
            let mut any = false;
            for j in 0..=s.len() {
                any |= row[j];
                next[j] = any;
            }
        } else {
            for j in 1..=s.len() {
                next[j] = row[j - 1] && s[j - 1] == c;
            }
        }
        row = next;
    }
    row[s.len()]
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\0');
    let pattern = parts.next().unwrap_or("");
    let subject = parts.next().unwrap_or("");
    let aliases = parts.next().unwrap_or("");

    let p = Pattern::new(pattern);
    let caps = p.captures(subject);
    if pattern.len() * subject.len() <= 1 << 16 {
        assert_eq!(caps.is_some(), glob(pattern.as_bytes(), subject.as_bytes()));
    }
    assert_eq!(p.matches(subject), caps.is_some());
    if let Some(caps) = caps {
        let literal: Vec<&str> = pattern.split('*').collect();
        assert_eq!(caps.len(), literal.len() - 1);
        let mut rebuilt = literal[0].to_owned();
        for (c, l) in caps.iter().zip(&literal[1..]) {
            rebuilt.push_str(c);
            rebuilt.push_str(l);
        }
        assert_eq!(rebuilt, subject);
    }

    let entries: BTreeMap<String, String> = aliases
        .lines()
        .take(16)
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let mapped = AliasTable::new(&entries).map(subject);
    if !entries.keys().any(|k| Pattern::new(k).matches(subject)) {
        assert_eq!(
            mapped,
            MappedModel {
                model: subject.to_owned(),
                params: Vec::new(),
                consumed: Vec::new(),
            }
        );
    }
    // a key without `*` is an exact entry (a subject with `*` would be a pattern key)
    if let Some(template) = entries.get(subject).filter(|_| !subject.contains('*'))
        && !template.contains(['*', '?', '{'])
    {
        assert_eq!(&mapped.model, template);
        assert!(mapped.params.is_empty());
    }
});
