use super::*;
use crate::rewrite::{CLOUDFLARE_ALIASES, ClientQuery, DEEPGRAM_ALIASES, QueryPolicy};

fn builtin(entries: &[(&str, &str)]) -> AliasTable {
    AliasTable::new(
        &entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn deepgram() -> AliasTable {
    builtin(&DEEPGRAM_ALIASES)
}

fn cloudflare() -> AliasTable {
    builtin(&CLOUDFLARE_ALIASES)
}

fn policy() -> QueryPolicy {
    QueryPolicy {
        default_model: "nova-3".into(),
        models: vec![Pattern::new("*")].into(),
        ..QueryPolicy::default()
    }
}

/// The upstream query for `raw` through `aliases`, as the relay renders it.
fn upstream_query(raw: &str, aliases: &AliasTable) -> Result<String, RewriteError> {
    let p = policy();
    let q = ClientQuery::parse(Some(raw), &p)?;
    Ok(q.render(&q.mapped(aliases, &p)?, &p))
}

/// Every Deepgram model the gateway lists, bare or with `@cf/deepgram/`, reaches Cloudflare as
/// its Workers AI name.
#[test]
fn cloudflare_gets_workers_ai_names_in_either_form() {
    let cf = cloudflare();
    for (model, want) in [
        ("nova-3", "@cf/deepgram/nova-3"),
        ("flux", "@cf/deepgram/flux"),
        ("flux-general-en", "@cf/deepgram/flux"),
        ("aura-1", "@cf/deepgram/aura-1"),
        ("aura-2-en", "@cf/deepgram/aura-2-en"),
        ("aura-2-es", "@cf/deepgram/aura-2-es"),
    ] {
        for form in [model.to_owned(), format!("@cf/deepgram/{model}")] {
            let m = cf.map(&form);
            assert_eq!(m.model, want, "{form}");
            assert!(
                m.params.is_empty() && m.consumed.is_empty(),
                "{form}: {m:?}"
            );
        }
    }
}

/// A client's `speaker` goes to Cloudflare untouched with the Workers AI model.
#[test]
fn cloudflare_keeps_the_clients_speaker() {
    assert_eq!(
        upstream_query("model=aura-1&speaker=asteria", &cloudflare()).unwrap(),
        "model=@cf/deepgram/aura-1&speaker=asteria"
    );
    assert_eq!(
        upstream_query(
            "speaker=sirio&model=%40cf%2Fdeepgram%2Faura-2-es",
            &cloudflare()
        )
        .unwrap(),
        "speaker=sirio&model=@cf/deepgram/aura-2-es"
    );
}

/// Deepgram direct: the gateway's Aura models become the voice `speaker` names, or Cloudflare's
/// default voice for that model; `speaker` is then not forwarded.
#[test]
fn deepgram_gets_the_voice_named_by_speaker() {
    let dg = deepgram();
    for (raw, want) in [
        ("model=aura-1", "model=aura-angus-en"),
        ("model=%40cf%2Fdeepgram%2Faura-1", "model=aura-angus-en"),
        ("model=aura-1&speaker=asteria", "model=aura-asteria-en"),
        (
            "speaker=Thalia&model=@cf/deepgram/aura-2-en&encoding=linear16",
            "model=aura-2-thalia-en&encoding=linear16",
        ),
        ("model=aura-2-en", "model=aura-2-luna-en"),
        ("model=aura-2-es&speaker=", "model=aura-2-aquila-es"),
        (
            "model=@cf/deepgram/aura-2-es&speaker=sirio",
            "model=aura-2-sirio-es",
        ),
    ] {
        assert_eq!(upstream_query(raw, &dg).unwrap(), want, "{raw}");
    }
}

/// Deepgram's own names keep working on both kinds; other `@cf/deepgram/` names lose the prefix.
#[test]
fn deepgram_names_are_unchanged_on_deepgram_and_mapped_on_cloudflare() {
    let dg = deepgram();
    assert_eq!(dg.map("aura-2-thalia-en").model, "aura-2-thalia-en");
    assert_eq!(dg.map("aura-asteria-en").model, "aura-asteria-en");
    assert_eq!(dg.map("@cf/deepgram/nova-3").model, "nova-3");
    assert_eq!(dg.map("@cf/deepgram/flux").model, "flux-general-en");
    assert_eq!(
        dg.map("@cf/deepgram/flux-general-en").model,
        "flux-general-en"
    );
    let cf = cloudflare();
    let m = cf.map("aura-2-thalia-en");
    assert_eq!(m.model, "@cf/deepgram/aura-2-en");
    assert_eq!(m.params, vec![("speaker".to_owned(), "thalia".to_owned())]);
    assert_eq!(cf.map("aura-asteria-en").model, "@cf/deepgram/aura-1");
}

/// The speaker lands inside a model name: only letters and digits, so it cannot pick a model
/// family (`2-thalia`) or smuggle parameters.
#[test]
fn speaker_for_a_model_name_must_be_letters_and_digits() {
    for raw in [
        "model=aura-1&speaker=2-thalia",
        "model=aura-1&speaker=a%26callback%3Dx",
        "model=aura-2-en&speaker=luna%20",
    ] {
        assert_eq!(
            upstream_query(raw, &deepgram()),
            Err(RewriteError::MappingParam("speaker".into())),
            "{raw}"
        );
    }
}

#[test]
fn placeholders_take_defaults_without_a_lookup_and_ignore_captured_braces() {
    let t = builtin(&[("v-*", "x-*-{speaker:luna}")]);
    assert_eq!(t.map("v-{speaker:zeus}").model, "x-{speaker:zeus}-luna");
    let m = t
        .map_with("v-a", |k| (k == "speaker").then(|| "zeus".to_owned()))
        .unwrap();
    assert_eq!(m.model, "x-a-zeus");
    assert_eq!(m.consumed, vec!["speaker".to_owned()]);
}

#[test]
fn templates_are_checked() {
    for ok in [
        "aura-{speaker:angus}-en",
        "@cf/deepgram/aura-2-en?speaker=*",
        "*",
    ] {
        assert_eq!(check_template(ok), Ok(()), "{ok}");
    }
    for bad in [
        "aura-{speaker}-en",
        "aura-{speaker:}-en",
        "aura-{Speaker:a}-en",
        "aura-{speaker:a-b}-en",
        "aura-{speaker:a",
        "aura-}",
        "m?speaker={speaker:a}",
    ] {
        assert!(check_template(bad).is_err(), "{bad}");
    }
}
