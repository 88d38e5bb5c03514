//! Validation reports each problem once, and warns about valid but suspicious settings.

#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error

use figment::Jail;

use super::super::from_toml;

/// Two upstreams and `routes` routes naming both; `dg` reads its key from `dg_env`.
fn config(routes: usize, dg_env: &str) -> String {
    let mut text = format!(
        r#"
        [[client_keys]]
        id = "web"
        sha256 = "{}"
        [upstreams.dg]
        kind = "deepgram"
        key_env = "{dg_env}"
        [upstreams.cf]
        kind = "cloudflare"
        account_id = "0123abcd"
        gateway_id = "voice"
        "#,
        "a".repeat(64)
    );
    for (i, kind) in ["listen", "speak", "flux"]
        .iter()
        .cycle()
        .take(routes)
        .enumerate()
    {
        text.push_str(&format!(
            r#"
            [[routes]]
            name = "r{i}"
            path = "/r{i}"
            kind = "{kind}"
            upstreams = ["cf", "dg"]
            default_model = "m"
            models = ["m"]
            "#
        ));
    }
    text
}

#[test]
fn a_missing_credential_is_one_error_not_one_per_route() {
    Jail::expect_with(|_| {
        let err = from_toml(&config(6, "NOT_SET_IN_THIS_JAIL")).expect_err("key unset");
        assert_eq!(
            err.0,
            vec!["upstreams.dg.key_env: environment variable NOT_SET_IN_THIS_JAIL is not set"],
        );
        Ok(())
    });
}

#[test]
fn an_undefined_upstream_is_still_unknown() {
    Jail::expect_with(|jail| {
        jail.set_env("DG_KEY", "k");
        let text = config(2, "DG_KEY").replace(r#"["cf", "dg"]"#, r#"["cf", "nope"]"#);
        let err = from_toml(&text).expect_err("unknown upstream");
        assert_eq!(
            err.0,
            vec![
                "routes[0].upstreams: unknown upstream 'nope'",
                "routes[1].upstreams: unknown upstream 'nope'",
            ],
        );
        Ok(())
    });
}

#[test]
fn a_clean_config_has_no_warnings() {
    Jail::expect_with(|jail| {
        jail.set_env("DG_KEY", "k");
        let s = from_toml(&config(3, "DG_KEY")).map_err(|e| e.to_string())?;
        assert_eq!(s.warnings, Vec::<String>::new());
        Ok(())
    });
}

#[test]
fn no_client_keys_warns_unless_no_route_needs_one() {
    Jail::expect_with(|jail| {
        jail.set_env("DG_KEY", "k");
        let keyless = config(2, "DG_KEY").replace("[[client_keys]]\n        id = \"web\"", "");
        let keyless = keyless.replace(&format!("sha256 = \"{}\"", "a".repeat(64)), "");
        let s = from_toml(&keyless).map_err(|e| e.to_string())?;
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].starts_with("client_keys: none configured"));
        let open = keyless.replace(
            "models = [\"m\"]",
            "models = [\"m\"]\n            require_auth = false",
        );
        let s = from_toml(&open).map_err(|e| e.to_string())?;
        assert_eq!(s.warnings, Vec::<String>::new());
        Ok(())
    });
}

#[test]
fn placeholder_ids_and_origins_warn() {
    Jail::expect_with(|jail| {
        jail.set_env("DG_KEY", "k");
        let text = config(1, "DG_KEY")
            .replace("0123abcd", "your-account-id")
            .replace("\"voice\"", "\"changeme\"")
            .replace(
                "models = [\"m\"]",
                "models = [\"m\"]\n            allowed_origins = [\"https://app.example.com\"]",
            );
        let s = from_toml(&text).map_err(|e| e.to_string())?;
        assert_eq!(
            s.warnings,
            vec![
                "upstreams.cf.account_id: \"your-account-id\" looks like a placeholder; set the real value",
                "upstreams.cf.gateway_id: \"changeme\" looks like a placeholder; set the real value",
                "routes[0].allowed_origins[0]: \"https://app.example.com\" looks like a placeholder; \
                 browsers on your real site will be refused (403) until it names it",
            ],
        );
        Ok(())
    });
}

#[test]
fn deepgram_upstreams_default_to_list_prices_and_can_be_overridden() {
    Jail::expect_with(|jail| {
        jail.set_env("DG_KEY", "k");
        let s = from_toml(&config(1, "DG_KEY")).map_err(|e| e.to_string())?;
        let prices = s.upstreams["dg"].prices;
        assert_eq!(prices, crate::provider::deepgram::PRICES);
        assert!(prices.listen_usd_per_minute > 0.0);
        assert!(prices.flux_usd_per_minute > 0.0);
        assert!(prices.speak_usd_per_1k_chars > 0.0);
        let text = config(1, "DG_KEY").replace(
            "key_env = \"DG_KEY\"",
            "key_env = \"DG_KEY\"\n        prices = { listen_usd_per_minute = 0.001 }",
        );
        let s = from_toml(&text).map_err(|e| e.to_string())?;
        assert_eq!(s.upstreams["dg"].prices.listen_usd_per_minute, 0.001);
        assert_eq!(s.upstreams["dg"].prices.speak_usd_per_1k_chars, 0.0);
        Ok(())
    });
}

#[test]
fn alias_templates_are_validated() {
    Jail::expect_with(|jail| {
        jail.set_env("DG_KEY", "k");
        let text = config(1, "DG_KEY").replace(
            "key_env = \"DG_KEY\"",
            "key_env = \"DG_KEY\"\n        aliases = { \"aura-1\" = \"aura-{speaker}-en\" }",
        );
        let err = from_toml(&text).expect_err("bad template");
        assert_eq!(err.0.len(), 1, "{:?}", err.0);
        assert!(
            err.0[0].starts_with("upstreams.dg.aliases.aura-1: braces"),
            "{:?}",
            err.0
        );
        Ok(())
    });
}

#[test]
fn workers_ai_path_goes_to_one_route_per_kind() {
    Jail::expect_with(|jail| {
        jail.set_env("DG_KEY", "k");
        // r0 listen, r1 speak, r2 flux, r3 listen, r4 speak, r5 flux
        let serving = |text: &str| -> Result<Vec<bool>, String> {
            let s = from_toml(text).map_err(|e| e.to_string())?;
            Ok(s.routes.iter().map(|r| r.workers_ai).collect())
        };
        let text = config(6, "DG_KEY");
        assert_eq!(serving(&text)?, [true, true, true, false, false, false]);
        let mark = |text: &str, route: &str, value: &str| {
            text.replace(
                &format!("name = \"{route}\""),
                &format!("name = \"{route}\"\n            workers_ai = {value}"),
            )
        };
        let text = mark(&mark(&config(6, "DG_KEY"), "r0", "false"), "r4", "true");
        assert_eq!(serving(&text)?, [false, false, true, true, true, false]);
        let text = mark(&mark(&config(6, "DG_KEY"), "r0", "true"), "r3", "true");
        let err = from_toml(&text).expect_err("two listen routes");
        assert_eq!(err.0.len(), 1, "{:?}", err.0);
        assert!(err.0[0].starts_with("routes[3].workers_ai: routes[0] already serves"));
        Ok(())
    });
}

#[test]
fn openai_upstreams_price_by_model_family_unless_the_config_sets_prices() {
    Jail::expect_with(|jail| {
        jail.set_env("DG_KEY", "k");
        jail.set_env("OA_KEY", "k");
        let openai = "[upstreams.oa]\nkind = \"openai\"\nkey_env = \"OA_KEY\"\n";
        let text = format!("{}\n{openai}", config(1, "DG_KEY"));
        let s = from_toml(&text).map_err(|e| e.to_string())?;
        let oa = &s.upstreams["oa"];
        assert_eq!(oa.prices_for("gpt-realtime"), oa.prices);
        assert_eq!(oa.prices.audio_output_usd_per_1m_tokens, 64.0);
        let mini = oa.prices_for("gpt-realtime-mini-2025-10-06");
        assert_eq!(mini.audio_input_usd_per_1m_tokens, 10.0);
        assert_eq!(mini.text_output_usd_per_1m_tokens, 2.4);
        // a table replaces the defaults for every model; keys left out are 0
        let priced = format!("{text}prices = {{ audio_input_usd_per_1m_tokens = 1.5 }}\n");
        let s = from_toml(&priced).map_err(|e| e.to_string())?;
        let mini = s.upstreams["oa"].prices_for("gpt-realtime-mini");
        assert_eq!(mini.audio_input_usd_per_1m_tokens, 1.5);
        assert_eq!(mini.audio_output_usd_per_1m_tokens, 0.0);
        let bad = format!("{text}prices = {{ transcription_usd_per_minute = -1.0 }}\n");
        let err = from_toml(&bad).expect_err("a negative price").to_string();
        assert!(err.contains("upstreams.oa.prices"), "{err}");
        Ok(())
    });
}

#[test]
fn a_generic_upstream_may_name_its_drain_and_no_other_kind_may() {
    use crate::relay::{Finalize, FinalsDone};
    Jail::expect_with(|jail| {
        jail.set_env("DG_KEY", "k");
        let generic = |extra: &str| {
            config(1, "DG_KEY")
                + &format!(
                    r#"
                    [upstreams.sm]
                    kind = "generic"
                    base_url = "wss://eu2.rt.speechmatics.com"
                    path = "/v2"
                    {extra}
                    "#
                )
        };
        let s = from_toml(&generic(
            "drain_message = '{\"message\":\"EndOfStream\",\"last_seq_no\":0}'\n\
             drain_done = \"EndOfTranscript\"",
        ))
        .map_err(|e| e.to_string())?;
        let kind = crate::config::RouteKind::Generic;
        assert_eq!(
            s.upstreams["sm"].finalize(kind),
            Some(&Finalize {
                message: r#"{"message":"EndOfStream","last_seq_no":0}"#,
                done: FinalsDone::TextContains(&["EndOfTranscript"]),
            })
        );
        // the same drain configured again (a reload) is the same one, not another
        let again = from_toml(&generic(
            "drain_message = '{\"message\":\"EndOfStream\",\"last_seq_no\":0}'\n\
             drain_done = \"EndOfTranscript\"",
        ))
        .map_err(|e| e.to_string())?;
        assert!(std::ptr::eq(
            s.upstreams["sm"].finalize(kind).unwrap(),
            again.upstreams["sm"].finalize(kind).unwrap()
        ));
        let s = from_toml(&generic("drain_message = \"close\"")).map_err(|e| e.to_string())?;
        assert_eq!(
            s.upstreams["sm"].finalize(kind).map(|f| &f.done),
            Some(&FinalsDone::UpstreamCloses)
        );
        let s = from_toml(&generic("")).map_err(|e| e.to_string())?;
        assert_eq!(s.upstreams["sm"].finalize(kind), None);
        // a Deepgram upstream keeps its built-in drain
        let listen = crate::config::RouteKind::Listen;
        let close_stream = s.upstreams["dg"].finalize(listen).map(|f| f.message);
        assert_eq!(close_stream, Some(r#"{"type":"CloseStream"}"#));
        let err = from_toml(&generic("drain_done = \"EndOfTranscript\"")).expect_err("no message");
        assert_eq!(err.0, vec!["upstreams.sm.drain_done: needs drain_message"]);
        let err = from_toml(&generic("drain_message = \"\"")).expect_err("empty");
        assert_eq!(err.0, vec!["upstreams.sm.drain_message: must not be empty"]);
        let text = config(1, "DG_KEY").replace(
            "key_env = \"DG_KEY\"",
            "key_env = \"DG_KEY\"\n        drain_message = \"bye\"",
        );
        let err = from_toml(&text).expect_err("not generic");
        assert_eq!(
            err.0,
            vec![
                "upstreams.dg.drain_message: only generic upstreams take one (the others' drain \
                 is built in)"
            ]
        );
        Ok(())
    });
}
