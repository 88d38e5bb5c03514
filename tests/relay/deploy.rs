//! deploy/: the Grafana dashboard and the Prometheus rules reference only metrics voxrelay exports.

use std::collections::BTreeSet;

use serde_json::Value;
use voxrelay::metrics::Metrics;

const DASHBOARD: &str = "deploy/grafana/voxrelay-dashboard.json";
const ALERTS: &str = "deploy/prometheus/alerts.yml";
const ALERT_TESTS: &str = "deploy/prometheus/alerts.test.yml";

/// Families the dashboard must chart, each in at least one panel.
const DASHBOARD_MUST_CHART: [&str; 7] = [
    "voxrelay_sessions_active",
    "voxrelay_tokens_total",
    "voxrelay_handshake_rejections_total",
    "voxrelay_upstream_attempts_total",
    "voxrelay_first_response_seconds",
    "voxrelay_audio_seconds_total",
    "voxrelay_estimated_cost_usd_total",
];

/// Families the alert rules must watch.
const ALERTS_MUST_WATCH: [&str; 7] = [
    "voxrelay_rest_requests_total",
    "voxrelay_upstream_attempts_total",
    "voxrelay_upstream_circuit_open",
    "voxrelay_handshake_rejections_total",
    "voxrelay_first_response_seconds",
    "voxrelay_sessions_active",
    "voxrelay_sessions_limit",
];

fn read(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The exported metric families, and which of them are histograms.
struct Known {
    names: BTreeSet<String>,
    histograms: BTreeSet<String>,
}

impl Known {
    fn new() -> Self {
        let m = Metrics::default();
        let names: BTreeSet<String> = m.names().iter().cloned().collect();
        // Empty vectors do not render, so observe each histogram once to see its TYPE line. A new
        // histogram charted through `_bucket` fails `family` below until it is added here.
        m.upstream_connect_seconds
            .with_label_values(&["x"])
            .observe(0.0);
        m.session_seconds.with_label_values(&["x"]).observe(0.0);
        m.rest_request_seconds
            .with_label_values(&["x"])
            .observe(0.0);
        m.first_response_seconds
            .with_label_values(&["x"])
            .observe(0.0);
        let histograms: BTreeSet<String> = m
            .render()
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" histogram"))
            .map(str::to_owned)
            .collect();
        assert_eq!(histograms.len(), 4, "{histograms:?}");
        assert!(histograms.is_subset(&names), "{histograms:?}");
        Self { names, histograms }
    }

    /// The family a series name belongs to: itself, or a histogram's `_bucket`/`_sum`/`_count`.
    fn family<'a>(&self, series: &'a str) -> Option<&'a str> {
        if self.names.contains(series) {
            return Some(series);
        }
        ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|suffix| series.strip_suffix(suffix))
            .find(|base| self.histograms.contains(*base))
    }

    /// Families of every `voxrelay_` token in `text`, or the tokens that name no exported family.
    fn try_families(&self, text: &str) -> Result<BTreeSet<String>, Vec<String>> {
        let tokens = metric_tokens(text);
        let unknown: Vec<String> = tokens
            .iter()
            .filter(|t| self.family(t).is_none())
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        Ok(tokens
            .iter()
            .filter_map(|t| self.family(t))
            .map(str::to_owned)
            .collect())
    }

    /// [`Self::try_families`], panicking with the unknown names and where they are.
    fn families(&self, what: &str, text: &str) -> BTreeSet<String> {
        self.try_families(text).unwrap_or_else(|unknown| {
            panic!(
                "{what} references metrics voxrelay does not export: {unknown:?}\nexported: {:?}",
                self.names
            )
        })
    }
}

/// Every `voxrelay_[a-z0-9_]*` token in `text` that is not the tail of a longer identifier.
fn metric_tokens(text: &str) -> BTreeSet<String> {
    const PREFIX: &str = "voxrelay_";
    let bytes = text.as_bytes();
    let mut tokens = BTreeSet::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find(PREFIX) {
        let start = from + pos;
        let mut end = start + PREFIX.len();
        while end < bytes.len()
            && (bytes[end].is_ascii_lowercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'_')
        {
            end += 1;
        }
        let inside_word = start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || matches!(bytes[start - 1], b'_' | b':'));
        if !inside_word {
            tokens.insert(text[start..end].to_owned());
        }
        from = end;
    }
    tokens
}

/// Every string under an `expr` key anywhere in `value`.
fn exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// Every panel, including those nested in (collapsed) rows.
fn panels<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    for panel in value["panels"].as_array().into_iter().flatten() {
        out.push(panel);
        panels(panel, out);
    }
}

fn dashboard() -> Value {
    serde_json::from_str(&read(DASHBOARD)).unwrap_or_else(|e| panic!("{DASHBOARD}: {e}"))
}

#[test]
fn the_metric_name_check_catches_names_that_do_not_exist() {
    let known = Known::new();
    for real in [
        "voxrelay_sessions_total",
        "voxrelay_sessions_limit",
        "voxrelay_first_response_seconds_bucket",
        "voxrelay_session_duration_seconds_count",
    ] {
        assert!(known.family(real).is_some(), "{real}");
    }
    for bogus in [
        "voxrelay_sessions",
        "voxrelay_bogus_total",
        "voxrelay_sessions_total_bucket",
        "voxrelay_sessions_active_count",
        "voxrelay_",
    ] {
        assert!(known.family(bogus).is_none(), "{bogus}");
    }
    let text = r#"rate(voxrelay_sessions_total[5m]) / myvoxrelay_x + job:voxrelay_y:rate5m"#;
    assert_eq!(
        metric_tokens(text).into_iter().collect::<Vec<_>>(),
        ["voxrelay_sessions_total"]
    );
    assert_eq!(
        known.try_families(
            "sum(rate(voxrelay_handshake_rejection_total[5m])) / voxrelay_sessions_limit"
        ),
        Err(vec!["voxrelay_handshake_rejection_total".to_owned()]),
        "a misspelt family fails the check"
    );
}

#[test]
fn dashboard_queries_use_only_exported_metrics() {
    let known = Known::new();
    let dash = dashboard();
    let mut all = Vec::new();
    exprs(&dash, &mut all);
    assert!(all.len() >= 20, "only {} queries in {DASHBOARD}", all.len());
    for e in &all {
        assert!(
            !known.families(DASHBOARD, e).is_empty(),
            "query charts no voxrelay metric: {e}"
        );
    }
    // stricter still: every token anywhere in the file (template variables, descriptions)
    known.families(DASHBOARD, &read(DASHBOARD));
}

#[test]
fn dashboard_charts_the_key_metrics() {
    let known = Known::new();
    let dash = dashboard();
    let mut all = Vec::new();
    panels(&dash, &mut all);
    let charted: Vec<BTreeSet<String>> = all
        .iter()
        .map(|p| {
            let mut es = Vec::new();
            exprs(p, &mut es);
            known.families(DASHBOARD, &es.join("\n"))
        })
        .collect();
    for family in DASHBOARD_MUST_CHART {
        assert!(
            charted.iter().any(|fs| fs.contains(family)),
            "no panel in {DASHBOARD} charts {family}"
        );
    }
}

#[test]
fn dashboard_is_importable() {
    let dash = dashboard();
    assert!(
        dash["schemaVersion"].as_u64().is_some_and(|v| v >= 36),
        "schemaVersion"
    );
    assert!(dash["uid"].is_string() && dash["title"].is_string());
    let vars = dash["templating"]["list"].as_array().expect("templating");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("template variable {name}"))
    };
    let ds = var("DS_PROMETHEUS");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    for name in ["route", "client"] {
        let v = var(name);
        assert_eq!(v["type"], "query", "{name}");
        assert!(
            v["definition"]
                .as_str()
                .is_some_and(|d| d.starts_with("label_values(") && d.contains(name)),
            "{name}: {}",
            v["definition"]
        );
    }
    let mut all = Vec::new();
    panels(&dash, &mut all);
    let mut ids = BTreeSet::new();
    for p in &all {
        let id = p["id"].as_u64().expect("panel id");
        assert!(ids.insert(id), "duplicate panel id {id}");
        assert!(
            p["gridPos"]["w"].is_u64() && p["gridPos"]["h"].is_u64(),
            "gridPos of {id}"
        );
        for t in p["targets"].as_array().into_iter().flatten() {
            // bound to the variable, never to one Grafana's datasource uid
            assert_eq!(t["datasource"]["uid"], "${DS_PROMETHEUS}", "panel {id}");
        }
    }
}

#[test]
fn alert_rules_use_only_exported_metrics() {
    let known = Known::new();
    let text = read(ALERTS);
    let watched = known.families(ALERTS, &text);
    for family in ALERTS_MUST_WATCH {
        assert!(
            watched.contains(family),
            "no alert in {ALERTS} watches {family}"
        );
    }
    // the promtool unit tests' input series must be real series too
    let tests_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(ALERT_TESTS);
    if tests_path.exists() {
        known.families(ALERT_TESTS, &read(ALERT_TESTS));
    }
}

#[test]
fn every_alert_has_a_severity_summary_and_description() {
    let text = read(ALERTS);
    let blocks: Vec<&str> = text.split("- alert:").skip(1).collect();
    assert!(
        blocks.len() >= 6,
        "only {} alerts in {ALERTS}",
        blocks.len()
    );
    let mut names = BTreeSet::new();
    for block in blocks {
        let name = block.split_whitespace().next().unwrap_or_default();
        assert!(names.insert(name.to_owned()), "duplicate alert {name}");
        for key in ["expr:", "severity:", "summary:", "description:"] {
            assert!(block.contains(key), "alert {name} has no {key}");
        }
    }
}
