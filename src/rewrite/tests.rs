use super::*;

fn policy(models: &[&str]) -> QueryPolicy {
    QueryPolicy {
        default_model: "nova-3".into(),
        models: models.iter().map(|m| Pattern::new(m)).collect(),
        ..QueryPolicy::default()
    }
}

fn table(entries: &[(&str, &str)]) -> AliasTable {
    AliasTable::new(
        &entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn cloudflare() -> AliasTable {
    table(&[
        ("nova-3", "@cf/deepgram/nova-3"),
        ("aura-2-*-en", "@cf/deepgram/aura-2-en?speaker=*"),
        ("aura-*-en", "@cf/deepgram/aura-1?speaker=*"),
    ])
}

fn rewrite(raw: &str, p: &QueryPolicy, aliases: &AliasTable) -> Result<String, RewriteError> {
    let q = ClientQuery::parse(Some(raw), p)?;
    Ok(q.render(&aliases.map(&q.model), p))
}

#[test]
fn pattern_captures_and_rejects() {
    let p = Pattern::new("aura-2-*-en");
    assert_eq!(p.captures("aura-2-thalia-en"), Some(vec!["thalia"]));
    assert_eq!(p.captures("aura-2-thalia-es"), None);
    assert_eq!(p.captures("aura-2-en"), None);
    assert!(Pattern::new("*").matches(""));
    assert!(Pattern::new("nova-3").matches("nova-3"));
    assert!(!Pattern::new("nova-3").matches("nova-3-medical"));
    assert_eq!(
        Pattern::new("a*b*c").captures("axxbyyc"),
        Some(vec!["xx", "yy"])
    );
    assert_eq!(Pattern::new("ab*ba").captures("aba"), None);
}

#[test]
fn most_specific_alias_wins() {
    let t = cloudflare();
    let m = t.map("aura-2-thalia-en");
    assert_eq!(m.model, "@cf/deepgram/aura-2-en");
    assert_eq!(m.params, vec![("speaker".into(), "thalia".into())]);
    assert_eq!(t.map("aura-asteria-en").model, "@cf/deepgram/aura-1");
    assert_eq!(t.map("nova-3").model, "@cf/deepgram/nova-3");
}

#[test]
fn upstream_form_passes_through() {
    let t = cloudflare();
    assert_eq!(t.map("@cf/deepgram/nova-3").model, "@cf/deepgram/nova-3");
    let dg = table(&[
        ("@cf/deepgram/*", "*"),
        ("@cf/deepgram/flux", "flux-general-en"),
    ]);
    assert_eq!(dg.map("@cf/deepgram/nova-3").model, "nova-3");
    assert_eq!(dg.map("@cf/deepgram/flux").model, "flux-general-en");
    assert_eq!(dg.map("nova-2").model, "nova-2");
}

#[test]
fn query_is_forwarded_exactly_with_model_in_place() {
    let p = policy(&["nova-3"]);
    let raw = "encoding=linear16&model=nova-3&keyterm=foo%20bar&keyterm=baz+qux&sample_rate=16000";
    assert_eq!(
        rewrite(raw, &p, &cloudflare()).unwrap(),
        "encoding=linear16&model=@cf/deepgram/nova-3&keyterm=foo%20bar&keyterm=baz+qux&sample_rate=16000"
    );
}

#[test]
fn missing_model_uses_default_first() {
    let p = policy(&["nova-3"]);
    assert_eq!(
        rewrite("interim_results=true", &p, &cloudflare()).unwrap(),
        "model=@cf/deepgram/nova-3&interim_results=true"
    );
    assert_eq!(
        rewrite("", &p, &AliasTable::default()).unwrap(),
        "model=nova-3"
    );
}

#[test]
fn model_last_stays_last() {
    let p = policy(&["nova-3"]);
    assert_eq!(
        rewrite("a=1&model=nova-3", &p, &AliasTable::default()).unwrap(),
        "a=1&model=nova-3"
    );
}

#[test]
fn credentials_are_dropped() {
    let p = policy(&["nova-3"]);
    assert_eq!(
        rewrite(
            "token=abc&model=nova-3&access_token=x&a=1&api_key=k",
            &p,
            &AliasTable::default()
        )
        .unwrap(),
        "model=nova-3&a=1"
    );
    assert_eq!(
        rewrite(
            "Token=abc&ACCESS_TOKEN=x&model=nova-3",
            &p,
            &AliasTable::default()
        )
        .unwrap(),
        "model=nova-3",
        "credential names are matched in any case"
    );
}

#[test]
fn encoded_model_key_is_recognised() {
    let p = policy(&["nova-3"]);
    assert_eq!(
        rewrite("mod%65l=%40cf%2Fdeepgram%2Fnova-3", &p, &cloudflare()).unwrap(),
        "model=@cf/deepgram/nova-3"
    );
}

#[test]
fn disallowed_model_is_refused() {
    let p = policy(&["nova-3"]);
    assert_eq!(
        rewrite("model=nova-2", &p, &cloudflare()),
        Err(RewriteError::ModelNotAllowed("nova-2".into()))
    );
    assert_eq!(
        rewrite("model=a&model=b", &p, &cloudflare()),
        Err(RewriteError::DuplicateModel)
    );
}

#[test]
fn denied_and_forced_params() {
    let mut p = policy(&["aura-*"]);
    p.default_model = "aura-2-thalia-en".into();
    p.deny_params = vec!["callback".into()];
    p.force_params = vec![("mip_opt_out".into(), "true".into())];
    assert_eq!(
        rewrite("callback=http://x", &p, &cloudflare()),
        Err(RewriteError::ParamDenied("callback".into()))
    );
    assert_eq!(
        rewrite(
            "mip_opt_out=false&encoding=linear16&mip_opt_out=false",
            &p,
            &cloudflare()
        )
        .unwrap(),
        "model=@cf/deepgram/aura-2-en&mip_opt_out=true&encoding=linear16&speaker=thalia"
    );
}

#[test]
fn alias_params_replace_client_values_in_place() {
    let p = policy(&["aura-*"]);
    assert_eq!(
        rewrite("speaker=zeus&model=aura-2-luna-en", &p, &cloudflare()).unwrap(),
        "speaker=luna&model=@cf/deepgram/aura-2-en"
    );
}

#[test]
fn values_voxrelay_writes_are_escaped() {
    let p = policy(&["*"]);
    assert_eq!(
        rewrite("model=a%26b%3Dc", &p, &AliasTable::default()).unwrap(),
        "model=a%26b%3Dc"
    );
}

#[test]
fn captures_cannot_inject_parameters() {
    let dg = table(&[("@cf/deepgram/*", "*")]);
    let m = dg.map("@cf/deepgram/a?model=nova-2&callback=http://evil");
    assert_eq!(m.model, "a?model=nova-2&callback=http://evil");
    assert!(m.params.is_empty());
    let cf = cloudflare();
    let m = cf.map("aura-2-x&callback=http://evil-en");
    assert_eq!(
        m.params,
        vec![("speaker".into(), "x&callback=http://evil".into())]
    );
    let p = policy(&["*"]);
    let q = ClientQuery::parse(Some("model=aura-2-x%26callback%3Dhttp://evil-en"), &p).unwrap();
    let rendered = q.render(&cf.map(&q.model), &p);
    assert_eq!(
        rendered,
        "model=@cf/deepgram/aura-2-en&speaker=x%26callback%3Dhttp://evil"
    );
}

#[test]
fn smuggled_spellings_of_names_are_caught() {
    let mut p = policy(&["nova-3"]);
    p.deny_params = vec!["callback".into()];
    for raw in [
        "Callback=http://x",
        "callback[]=http://x",
        "callback%00=http://x",
        "CALL%62ACK=http://x",
        "%20callback%20=http://x",
    ] {
        assert_eq!(
            rewrite(raw, &p, &AliasTable::default()),
            Err(RewriteError::ParamDenied("callback".into())),
            "{raw}"
        );
    }
    assert_eq!(
        rewrite(
            "token%00=a&Access_Token[]=b&api%5Fkey%09=c&a=1",
            &p,
            &AliasTable::default()
        )
        .unwrap(),
        "model=nova-3&a=1"
    );
    assert_eq!(
        rewrite("model=nova-3&MODEL%00=nova-2", &p, &AliasTable::default()),
        Err(RewriteError::DuplicateModel)
    );
    assert_eq!(
        rewrite("Model=nova-2", &p, &AliasTable::default()),
        Err(RewriteError::ModelNotAllowed("nova-2".into()))
    );
}

#[test]
fn forced_params_replace_every_spelling() {
    let mut p = policy(&["nova-3"]);
    p.force_params = vec![("mip_opt_out".into(), "true".into())];
    assert_eq!(
        rewrite(
            "MIP_OPT_OUT=false&a=1&mip_opt_out%00=false&mip_opt_out[]=false",
            &p,
            &AliasTable::default()
        )
        .unwrap(),
        "model=nova-3&mip_opt_out=true&a=1"
    );
}

#[test]
fn allow_params_refuses_every_other_name() {
    let mut p = policy(&["nova-3"]);
    p.allow_params = Some(vec!["encoding".into(), "Sample_Rate".into()]);
    p.force_params = vec![("mip_opt_out".into(), "true".into())];
    assert_eq!(
        rewrite(
            "encoding=linear16&SAMPLE_RATE=16000&token=x&model=nova-3&mip_opt_out=false",
            &p,
            &AliasTable::default()
        )
        .unwrap(),
        "encoding=linear16&SAMPLE_RATE=16000&model=nova-3&mip_opt_out=true"
    );
    assert_eq!(
        rewrite(
            "encoding=linear16&Diarize%00=true",
            &p,
            &AliasTable::default()
        ),
        Err(RewriteError::ParamNotAllowed("diarize".into()))
    );
    p.allow_params = Some(Vec::new());
    assert_eq!(
        rewrite("a=1", &p, &AliasTable::default()),
        Err(RewriteError::ParamNotAllowed("a".into()))
    );
    assert!(rewrite("model=nova-3", &p, &AliasTable::default()).is_ok());
}

#[test]
fn a_modelless_param_without_a_model_sends_no_model_upstream() {
    let mut p = policy(&["nova-3"]);
    p.modelless_param = Some("intent");
    let render = |raw: &str, p: &QueryPolicy| {
        let q = ClientQuery::parse(Some(raw), p).unwrap();
        let mapped = q.mapped(&table(&[]), p).unwrap();
        q.render(&mapped, p)
    };
    assert_eq!(render("intent=transcription", &p), "intent=transcription");
    // with a model, or without the parameter, the model is sent as always
    assert_eq!(
        render("model=nova-3&intent=transcription", &p),
        "model=nova-3&intent=transcription"
    );
    assert_eq!(render("language=en", &p), "model=nova-3&language=en");
    p.modelless_param = None;
    assert_eq!(
        render("intent=transcription", &p),
        "model=nova-3&intent=transcription"
    );
}

#[test]
fn the_model_parameter_is_the_apis_own_name() {
    let mut p = policy(&["scribe*"]);
    p.default_model = "scribe_v2_realtime".into();
    p.model_param = Some("model_id".into());
    let q = ClientQuery::parse(Some("a=1&model_id=scribe_v1&model=x"), &p).unwrap();
    assert_eq!(q.model, "scribe_v1");
    let mapped = q.mapped(&AliasTable::default(), &p).unwrap();
    assert_eq!(q.render(&mapped, &p), "a=1&model_id=scribe_v1&model=x");
    assert!(ClientQuery::parse(Some("model_id=a&MODEL_ID=b"), &p).is_err());
    // an API naming no model in its URL: the default is the session's, nothing is added
    p.model_param = None;
    let q = ClientQuery::parse(Some("model=x"), &p).unwrap();
    assert_eq!(q.model, "scribe_v2_realtime");
    assert!(!q.names_model());
    let mapped = q.mapped(&AliasTable::default(), &p).unwrap();
    assert_eq!(q.render(&mapped, &p), "model=x");
}
