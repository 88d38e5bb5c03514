//! What a grant request may narrow its token to: `routes` (names the client key may use),
//! `models` (bare names or `*` patterns) and `providers` (upstream kinds), each a JSON array
//! of strings in the request body beside `ttl_seconds`.

use serde_json::{Map, Value};

use crate::error::Reject;
use crate::token::Scope;

/// The scope a grant body asks for, checked: every route must be one the key may use (and
/// configured), every provider a known upstream kind.
pub(super) fn requested(
    object: &Map<String, Value>,
    key_routes: Option<&[String]>,
    routes: &[&str],
) -> Result<Scope, Reject> {
    let asked_routes = strings(object, "routes")?;
    if let Some(asked) = &asked_routes {
        for r in asked {
            let allowed = key_routes.is_none_or(|k| k.iter().any(|x| x == r));
            if !routes.contains(&r.as_str()) || !allowed {
                return Err(Reject::BadGrant(format!(
                    "route '{}' is not one this key may use",
                    quoted(r)
                )));
            }
        }
    }
    let providers = strings(object, "providers")?;
    if let Some(asked) = &providers {
        let known = crate::provider::kind_names();
        if let Some(bad) = asked.iter().find(|p| !known.contains(&p.as_str())) {
            return Err(Reject::BadGrant(format!(
                "provider '{}' is not one of {}",
                quoted(bad),
                known.join(", ")
            )));
        }
    }
    Ok(Scope {
        // a key limited to routes keeps its limit when the request names none
        routes: asked_routes.or_else(|| key_routes.map(<[String]>::to_vec)),
        models: strings(object, "models")?,
        providers,
    })
}

/// `field` as a non-empty array of non-empty strings, if present.
fn strings(object: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, Reject> {
    let bad = || Reject::BadGrant(format!("{field} must be a non-empty array of names"));
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= 64 => items
            .iter()
            .map(|v| {
                v.as_str()
                    .filter(|s| !s.is_empty() && s.len() <= 128)
                    .map(str::to_owned)
                    .ok_or_else(bad)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

fn quoted(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ask(body: Value, key: Option<&[String]>) -> Result<Scope, Reject> {
        requested(body.as_object().unwrap(), key, &["listen", "speak", "tts"])
    }

    #[test]
    fn a_grant_narrows_to_routes_models_and_providers_the_key_allows() {
        let s = ask(
            json!({"routes": ["tts"], "models": ["eleven_*"], "providers": ["deepgram"]}),
            None,
        )
        .unwrap();
        assert_eq!(s.routes, Some(vec!["tts".to_owned()]));
        assert_eq!(s.models, Some(vec!["eleven_*".to_owned()]));
        assert_eq!(s.providers, Some(vec!["deepgram".to_owned()]));
        let key = vec!["listen".to_owned()];
        assert_eq!(
            ask(json!({}), Some(&key)).unwrap().routes,
            Some(key.clone())
        );
        assert!(ask(json!({"routes": ["speak"]}), Some(&key)).is_err());
        assert!(ask(json!({"routes": ["nope"]}), None).is_err());
        assert!(ask(json!({"providers": ["acme"]}), None).is_err());
        for bad in [
            json!({"models": []}),
            json!({"models": "x"}),
            json!({"routes": [1]}),
        ] {
            assert!(ask(bad, None).is_err());
        }
    }
}
