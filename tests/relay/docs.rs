//! The documentation stays true to the code: every setting, metric and subcommand is in its
//! reference page, and the README's deployment commands name the manifests' real objects.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use voxrelay::config::{PricesConfig, RawConfig, ServerTlsConfig, TokenKeyConfig};
use voxrelay::metrics::Metrics;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every `` `name` `` in a Markdown page.
fn code_spans(doc: &str) -> BTreeSet<String> {
    doc.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The keys of a serialized config value, one level down.
fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every setting: the sections' defaults, plus one element of each list/table from the shipped
/// configs (so optional keys, serialized as null, are present too).
fn every_setting() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    let defaults = serde_json::to_value(RawConfig::default()).unwrap();
    for (section, value) in defaults.as_object().unwrap() {
        all.insert(section.clone());
        all.extend(keys(value).into_iter().filter(|k| k != "keys"));
    }
    for file in ["config/voxrelay.toml", "config/local.toml"] {
        let raw: RawConfig = toml_value(&read(file));
        let raw = serde_json::to_value(raw).unwrap();
        for list in ["client_keys", "routes"] {
            for item in raw[list].as_array().unwrap() {
                all.extend(keys(item));
            }
        }
        for upstream in raw["upstreams"].as_object().unwrap().values() {
            all.extend(keys(upstream));
        }
    }
    all.extend(keys(&serde_json::to_value(PricesConfig::UNKNOWN).unwrap()));
    let tls: ServerTlsConfig =
        serde_json::from_value(serde_json::json!({"cert_file": "c", "key_file": "k"})).unwrap();
    all.extend(keys(&serde_json::to_value(tls).unwrap()));
    let token_key: TokenKeyConfig =
        serde_json::from_value(serde_json::json!({"algorithm": "HS256"})).unwrap();
    all.extend(keys(&serde_json::to_value(token_key).unwrap()));
    all
}

/// A config file as written, without validation (the production file needs its secrets set).
fn toml_value(text: &str) -> RawConfig {
    use figment::providers::{Format, Serialized, Toml};
    figment::Figment::from(Serialized::defaults(RawConfig::default()))
        .merge(Toml::string(text))
        .extract()
        .unwrap()
}

#[test]
fn every_setting_is_documented() {
    let doc = code_spans(&read("docs/configuration.md"));
    let missing: Vec<_> = every_setting()
        .into_iter()
        .filter(|key| {
            !doc.iter().any(|span| {
                span == key
                    || span.trim_matches(|c| c == '[' || c == ']') == key
                    || span.starts_with(&format!("{key} "))
                    || span.starts_with(&format!("[{key}"))
                    || span.starts_with(&format!("[[{key}"))
                    || span.starts_with(&format!("{key}."))
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md lacks: {missing:?}"
    );
}

#[test]
fn every_metric_is_documented_and_every_documented_metric_exists() {
    let doc = read("docs/metrics.md");
    let spans = code_spans(&doc);
    let metrics = Metrics::default();
    let names: BTreeSet<String> = metrics.names().iter().cloned().collect();
    let undocumented: Vec<_> = names.iter().filter(|n| !spans.contains(*n)).collect();
    assert!(
        undocumented.is_empty(),
        "docs/metrics.md lacks {undocumented:?}"
    );
    let unknown: Vec<_> = spans
        .iter()
        .filter(|s| s.starts_with("voxrelay_") && !s.contains(' '))
        .filter(|s| !names.contains(*s))
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/metrics.md names unknown metrics {unknown:?}"
    );
}

#[test]
fn every_subcommand_is_documented() {
    let help = Command::new(env!("CARGO_BIN_EXE_voxrelay"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.contains(&"serve"), "{help}");
    let doc = read("docs/commands.md");
    for command in commands {
        assert!(
            doc.contains(&format!("`voxrelay {command}")) || doc.contains(&format!("[{command}]")),
            "docs/commands.md lacks `voxrelay {command}`"
        );
    }
}

/// `name: <x>` values under `secretKeyRef:` / `configMap:` in a manifest.
fn referenced_names(manifest: &str, under: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = manifest.lines().collect();
    let mut names = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == under {
            let name = lines[i + 1..]
                .iter()
                .find_map(|l| l.trim().strip_prefix("name: "))
                .unwrap();
            names.insert(name.trim().to_owned());
        }
    }
    names
}

#[test]
fn readme_commands_name_the_manifests_objects() {
    let readme = read("README.md");
    let deployment = read("deploy/k8s/deployment.yaml");
    let secrets = referenced_names(&deployment, "secretKeyRef:");
    assert!(!secrets.is_empty());
    let created: BTreeSet<String> = readme
        .split("kubectl create secret generic ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(
        !created.is_empty(),
        "the README shows no kubectl create secret"
    );
    assert_eq!(
        created, secrets,
        "README creates {created:?}, the Deployment reads {secrets:?}"
    );
    // every manifest the README applies exists
    for applied in readme.split("-f ").skip(1) {
        let path = applied.split_whitespace().next().unwrap();
        if path.starts_with("deploy/") {
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(path).exists(),
                "README applies {path}, which does not exist"
            );
        }
    }
    // the ConfigMap the Deployment mounts is the one shipped
    let configmap = read("deploy/k8s/configmap.yaml");
    for name in referenced_names(&deployment, "configMap:") {
        assert!(
            configmap.contains(&format!("name: {name}")),
            "no ConfigMap {name}"
        );
    }
}

/// The README leads with the two commands and a local tour, states the prerequisites the build
/// really has, and keeps reference material in docs/.
#[test]
fn readme_leads_with_the_two_commands_and_states_true_prerequisites() {
    let readme = read("README.md");
    let manifest = read("Cargo.toml");
    let rust_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    let prerequisites = readme
        .split("## Prerequisites")
        .nth(1)
        .expect("a Prerequisites section")
        .split("\n## ")
        .next()
        .unwrap();
    assert!(
        prerequisites.contains(&format!("Rust {rust_version}")),
        "Prerequisites must name Rust {rust_version} (Cargo.toml's rust-version)"
    );
    for needed in ["rustfmt", "clippy", "C compiler", "Python 3.10", "venv"] {
        assert!(
            prerequisites.contains(needed),
            "Prerequisites lack {needed}"
        );
    }
    // the two commands come first, before any deployment material
    let commands = readme
        .find("## The two commands")
        .expect("the two commands");
    let tour = readme
        .find("## A five-minute local tour")
        .expect("a local tour");
    for later in ["docker build", "kubectl"] {
        let at = readme.find(later).unwrap_or(usize::MAX);
        assert!(
            commands < at && tour < at,
            "{later} comes before the local tour"
        );
    }
    assert!(readme.contains("    cargo run -- --config config/local.toml\n"));
    assert!(readme.contains("    scripts/test.sh\n"));
    assert!(
        read(".ci/run")
            .lines()
            .any(|l| l.trim() == "scripts/test.sh")
    );
    // where the browser connects in local mode, and that it is plain ws:// without TLS
    let local = read("config/local.toml");
    assert!(local.contains("listen = \"127.0.0.1:8080\""));
    assert!(readme.contains("ws://127.0.0.1:8080/v1/listen"));
    assert!(readme.contains("speaks plain `ws://`"));
    // how to make a client key, in order: generate, hash-key, config, connect
    let key = readme.split("## Making a client key").nth(1).unwrap();
    let steps = [
        "openssl rand",
        "hash-key",
        "[[client_keys]]",
        "check-config",
    ];
    let at: Vec<usize> = steps.iter().map(|s| key.find(s).unwrap()).collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "steps out of order: {at:?}"
    );
    // reference tables live in docs/, not the README
    assert!(
        readme.lines().count() < 300,
        "the README grew past 300 lines"
    );
    assert!(!readme.contains("| `max_message_bytes` |"));
}
