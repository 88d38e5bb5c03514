//! Reading the layers: built-in defaults, the TOML file, `VOXRELAY_*` env; every malformed
//! section reported at once with its key path.

use std::collections::BTreeMap;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::Value;
use serde::de::DeserializeOwned;

use super::{ConfigError, ENV_PREFIX, RawConfig, Settings, validate};

/// The figment layers: built-in defaults, then the TOML file, then `VOXRELAY_*` env.
pub fn figment(path: &Path) -> Figment {
    Figment::from(Serialized::defaults(RawConfig::default()))
        .merge(Toml::file_exact(path))
        .merge(env())
}

/// `VOXRELAY_<SECTION>__<KEY>` variables. Every setting lives in a section, so variables
/// without `__` (`VOXRELAY_CONFIG`, secrets such as `VOXRELAY_SIGNING_SECRET`) are not settings.
fn env() -> Env {
    Env::prefixed(ENV_PREFIX)
        .filter(|key| key.as_str().contains("__"))
        .split("__")
}

/// Reads and validates the configuration at `path` (plus env).
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    validate::validate(extract(&figment(path))?)
}

/// Validates a configuration file's contents, already read, plus env (a reload, which has read
/// the file to compare it with the one applied).
pub(crate) fn load_text(text: &str) -> Result<Settings, ConfigError> {
    let figment = Figment::from(Serialized::defaults(RawConfig::default()))
        .merge(Toml::string(text))
        .merge(env());
    validate::validate(extract(&figment)?)
}

/// Reads and validates configuration from TOML text, without env (tests, embedded configs).
pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
    let figment =
        Figment::from(Serialized::defaults(RawConfig::default())).merge(Toml::string(text));
    validate::validate(extract(&figment)?)
}

/// Extracts [`RawConfig`] section by section, collecting every error with its key path.
pub fn extract(figment: &Figment) -> Result<RawConfig, ConfigError> {
    let mut errors = Vec::new();
    let root = match figment.extract::<BTreeMap<String, Value>>() {
        Ok(root) => root,
        Err(e) => return Err(ConfigError(errors_of(e))),
    };
    const SECTIONS: [&str; 12] = [
        "cluster",
        "demo",
        "reload",
        "metrics",
        "server",
        "log",
        "client_keys",
        "upstreams",
        "routes",
        "simulator",
        "tokens",
        "limits",
    ];
    for key in root.keys().filter(|k| !SECTIONS.contains(&k.as_str())) {
        errors.push(format!("{key}: unknown key"));
    }
    let mut raw = RawConfig {
        server: section(&root, "server", &mut errors),
        log: section(&root, "log", &mut errors),
        simulator: section(&root, "simulator", &mut errors),
        tokens: section(&root, "tokens", &mut errors),
        limits: section(&root, "limits", &mut errors),
        metrics: section(&root, "metrics", &mut errors),
        demo: section(&root, "demo", &mut errors),
        cluster: section(&root, "cluster", &mut errors),
        reload: section(&root, "reload", &mut errors),
        ..RawConfig::default()
    };
    raw.client_keys = list(&root, "client_keys", &mut errors);
    raw.routes = list(&root, "routes", &mut errors);
    raw.upstreams = map(&root, "upstreams", &mut errors);
    if errors.is_empty() {
        Ok(raw)
    } else {
        Err(ConfigError(errors))
    }
}

fn errors_of(e: figment::Error) -> Vec<String> {
    located(e, "")
}

/// Flattens a figment error into `path: problem` lines, paths prefixed by `prefix`.
fn located(e: figment::Error, prefix: &str) -> Vec<String> {
    e.into_iter()
        .map(|e| {
            let path: Vec<&str> = std::iter::once(prefix)
                .chain(e.path.iter().map(String::as_str))
                .filter(|p| !p.is_empty())
                .collect();
            match path.is_empty() {
                true => e.kind.to_string(),
                false => format!("{}: {}", path.join("."), e.kind),
            }
        })
        .collect()
}

fn decode<T: DeserializeOwned>(value: &Value, path: &str, errors: &mut Vec<String>) -> Option<T> {
    value
        .deserialize::<T>()
        .map_err(|e| errors.extend(located(e, path)))
        .ok()
}

fn section<T: DeserializeOwned + Default>(
    root: &BTreeMap<String, Value>,
    key: &str,
    errors: &mut Vec<String>,
) -> T {
    root.get(key)
        .and_then(|v| decode(v, key, errors))
        .unwrap_or_default()
}

fn list<T: DeserializeOwned>(
    root: &BTreeMap<String, Value>,
    key: &str,
    errors: &mut Vec<String>,
) -> Vec<T> {
    let Some(value) = root.get(key) else {
        return Vec::new();
    };
    let Some(items) = value.as_array() else {
        errors.push(format!("{key}: expected an array of tables"));
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| decode(v, &format!("{key}[{i}]"), errors))
        .collect()
}

fn map<T: DeserializeOwned>(
    root: &BTreeMap<String, Value>,
    key: &str,
    errors: &mut Vec<String>,
) -> BTreeMap<String, T> {
    let Some(value) = root.get(key) else {
        return BTreeMap::new();
    };
    let Some(dict) = value.as_dict() else {
        errors.push(format!("{key}: expected a table"));
        return BTreeMap::new();
    };
    dict.iter()
        .filter_map(|(name, v)| Some((name.clone(), decode(v, &format!("{key}.{name}"), errors)?)))
        .collect()
}
