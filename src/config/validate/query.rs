//! Validating a route's query rules: parameter names and forced metered values.

use super::super::RouteConfig;
use crate::rewrite::params;

/// Every configured parameter name must be a name once normalised (`Callback[]` is
/// `callback`); a forced value of a parameter voxrelay meters must be one it accepts.
pub(super) fn param_rules(r: &RouteConfig, at: &str, errors: &mut Vec<String>) {
    let lists = [
        ("deny_params", r.deny_params.iter().collect::<Vec<_>>()),
        (
            "allow_params",
            r.allow_params.iter().flatten().collect::<Vec<_>>(),
        ),
    ];
    for (key, names) in lists {
        for (i, name) in names.into_iter().enumerate() {
            if params::normalise(name).is_empty() {
                errors.push(format!("{at}.{key}[{i}]: a parameter name is required"));
            }
        }
    }
    for (name, value) in &r.force_params {
        if params::normalise(name).is_empty() {
            errors.push(format!("{at}.force_params: a parameter name is required"));
        } else if let Err(e) = crate::usage::format::check_forced(name, value) {
            errors.push(format!("{at}.force_params.{name}: {e}"));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    /// A valid one-route config with `extra` added to the route.
    pub(crate) fn route_config(extra: &str) -> String {
        let key = std::env::temp_dir().join(format!("voxrelay-unit-{}.key", std::process::id()));
        std::fs::write(&key, "k\n").unwrap();
        format!(
            r#"
[upstreams.dg]
kind = "deepgram"
base_url = "ws://127.0.0.1:1"
key_file = "{}"

[[routes]]
name = "listen"
path = "/v1/listen"
kind = "listen"
upstreams = ["dg"]
default_model = "nova-3"
models = ["nova-3"]
{extra}
"#,
            key.display()
        )
    }

    fn errors(extra: &str) -> String {
        match crate::config::from_toml(&route_config(extra)) {
            Ok(_) => String::new(),
            Err(e) => e.0.join("\n"),
        }
    }

    #[test]
    fn param_names_and_forced_metered_values_are_checked() {
        assert_eq!(errors(""), "");
        let ok = "deny_params = [\"Callback[]\"]\nallow_params = [\"encoding\"]\nforce_params = { sample_rate = \"16000\" }";
        assert_eq!(errors(ok), "");
        let all = errors("deny_params = [\"\\u0000\", \"[]\"]\nallow_params = [\" \"]");
        for needle in [
            "routes[0].deny_params[0]: a parameter name is required",
            "routes[0].deny_params[1]",
            "routes[0].allow_params[0]",
        ] {
            assert!(all.contains(needle), "missing '{needle}' in:\n{all}");
        }
        let all = errors("force_params = { sample_rate = \"1e-320\", CHANNELS = \"0\" }");
        assert!(
            all.contains("force_params.sample_rate: query parameter 'sample_rate' must be"),
            "{all}"
        );
        assert!(all.contains("force_params.CHANNELS"), "{all}");
    }
}
