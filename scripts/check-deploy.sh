#!/usr/bin/env bash
# Lint and cross-check the deployment files without a container engine or a cluster:
#   Dockerfile                      hadolint (default threshold) + build-context checks
#   deploy/**.yml|yaml, .yamllint   yamllint --strict
#   deploy/k8s/*.yaml               kubernetes-validate --strict (built-in kinds); the ServiceMonitor
#                                   CRD has no bundled schema and gets a structural check instead;
#                                   labels, selectors, ports, Secret keys, probes, security context
#                                   and the drain time budget cross-checked
#   ConfigMap TOML, image config    `voxrelay check-config` with dummy secrets, as in the container
#   deploy/docker-compose.yml       YAML + referenced files/services/variables (and
#                                   `docker compose config` when the compose plugin exists)
#   deploy/prometheus/prometheus.yml  `promtool check config` when promtool exists
# Linters come from tests/deploy-requirements.txt, installed into .venv-deploy on first use.
# Usage: scripts/check-deploy.sh        (VOXRELAY_BIN=path to use another voxrelay binary)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-deploy
REQS=tests/deploy-requirements.txt
K8S_VERSIONS=(1.30.0 1.37.0)   # oldest and newest Kubernetes schemas checked
SKIP=77                        # a step's exit status for "could not run here"

# ---- tools -------------------------------------------------------------------------------------
reqs_sum=$(sha256sum "$REQS" | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$reqs_sum" ]]; then
    echo "==> installing linters into $VENV from $REQS"
    [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS"
    echo "$reqs_sum" >"$VENV/.requirements.sha256"
fi
PY=$VENV/bin/python
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "check-deploy: $VENV needs Python >= 3.11 (tomllib); remove it and rerun with a newer python3" >&2
    exit 1
}

VOXRELAY_BIN=${VOXRELAY_BIN:-target/debug/voxrelay}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

results=()
failures=0
step() { # step NAME COMMAND...: run, record PASS / FAIL / SKIP
    local name=$1 rc=0
    shift
    printf '\n==> %s\n' "$name"
    "$@" || rc=$?
    case $rc in
        0) results+=("PASS  $name") ;;
        "$SKIP") results+=("SKIP  $name") ;;
        *)
            results+=("FAIL  $name (exit $rc)")
            failures=$((failures + 1))
            ;;
    esac
}

# ---- steps -------------------------------------------------------------------------------------
versions() {
    "$VENV/bin/hadolint" --version
    "$VENV/bin/yamllint" --version
    echo "kubernetes-validate $("$VENV/bin/kubernetes-validate" --version)"
}

hadolint_dockerfile() {
    "$VENV/bin/hadolint" --no-color Dockerfile && echo "hadolint: no findings"
}

yamllint_deploy() {
    "$VENV/bin/yamllint" --strict deploy .yamllint && echo "yamllint: no findings"
}

# kubernetes-validate only WARNs (exit 0) for a kind it has no schema for, so a typo in a built-in
# kind's apiVersion would pass silently: treat that as a failure except for the known CRD kinds,
# which the structural check below covers.
k8s_validate() {
    local f out rc=0 kargs=()
    for v in "${K8S_VERSIONS[@]}"; do kargs+=(-k "$v"); done
    for f in deploy/k8s/*.yaml; do
        out=$("$VENV/bin/kubernetes-validate" --strict "${kargs[@]}" "$f" 2>&1) || rc=1
        printf '%s\n' "$out"
        if grep -q "Couldn't find schema" <<<"$out"; then
            if grep -q '^kind: ServiceMonitor$' "$f"; then
                echo "NOTE $f: ServiceMonitor is a Prometheus Operator CRD with no bundled schema;" \
                    "validated by the structural check instead"
            else
                echo "ERROR $f: no schema for a kind that should be built in (apiVersion/kind typo?)"
                rc=1
            fi
        fi
    done
    return $rc
}

k8s_cross_check() {
    "$PY" - <<'PY'
"""Structural check of the ServiceMonitor (CRD) and cross-references between the manifests."""
import glob, re, sys, tomllib
import yaml

errors = []
def err(msg): errors.append(msg)

docs = []
for path in sorted(glob.glob("deploy/k8s/*.yaml")):
    with open(path) as f:
        docs += [(path, d) for d in yaml.safe_load_all(f) if d]
# redis.yaml (component "cache", for [cluster]) is checked on its own; the rest is the relay
def component(d): return (d.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/component")
cache = [(p, d) for p, d in docs if component(d) == "cache"]
docs = [(p, d) for p, d in docs if component(d) != "cache"]
CACHE_LABELS = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "voxrelay-redis",
                "app.kubernetes.io/component": "cache", "app.kubernetes.io/part-of": "voxrelay"}
cache_kinds = {d.get("kind"): d for _, d in cache}
if sorted(cache_kinds) != ["Deployment", "Service"] or len(cache) != 2:
    errors.append(f"redis.yaml: expected one Deployment and one Service, found {[d.get('kind') for _, d in cache]}")
else:
    for path, d in cache:
        labels = d.get("metadata", {}).get("labels") or {}
        for k, v in CACHE_LABELS.items():
            if labels.get(k) != v:
                errors.append(f"{path}: {d['kind']} metadata.labels[{k}] should be {v!r}, is {labels.get(k)!r}")
    rdep, rsvc = cache_kinds["Deployment"], cache_kinds["Service"]
    pod_labels = rdep["spec"]["template"]["metadata"].get("labels") or {}
    sel = rsvc["spec"].get("selector") or {}
    if not sel or any(pod_labels.get(k) != v for k, v in sel.items()):
        errors.append("redis.yaml: the Service does not select the Redis pods")
    ports = [p.get("containerPort") for c in rdep["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
    if 6379 not in ports or [p.get("port") for p in rsvc["spec"]["ports"]] != [6379]:
        errors.append("redis.yaml: Redis listens on 6379 behind the Service's port 6379")
    print(f"redis.yaml: {rdep['metadata']['name']} Deployment behind Service {rsvc['metadata']['name']}:6379")
by_kind = {}
for path, d in docs:
    by_kind.setdefault(d.get("kind"), []).append((path, d))
def one(kind):
    items = by_kind.get(kind, [])
    if len(items) != 1:
        err(f"expected exactly one {kind}, found {len(items)}")
        return None
    return items[0][1]

LABELS = {"app.kubernetes.io/name": "voxrelay", "app.kubernetes.io/instance": "voxrelay",
          "app.kubernetes.io/component": "relay", "app.kubernetes.io/part-of": "voxrelay"}
for path, d in docs:
    labels = d.get("metadata", {}).get("labels") or {}
    for k, v in LABELS.items():
        if labels.get(k) != v:
            err(f"{path}: {d['kind']} metadata.labels[{k}] should be {v!r}, is {labels.get(k)!r}")

def subset(sel, labels): return bool(sel) and all(labels.get(k) == v for k, v in sel.items())

# --- ServiceMonitor (monitoring.coreos.com/v1; fields as in prometheus-operator 0.84's CRD) ---
SM_SPEC = {"attachMetadata", "bodySizeLimit", "convertClassicHistogramsToNHCB", "endpoints",
           "fallbackScrapeProtocol", "jobLabel", "keepDroppedTargets", "labelLimit",
           "labelNameLengthLimit", "labelValueLengthLimit", "namespaceSelector",
           "nativeHistogramBucketLimit", "nativeHistogramMinBucketFactor", "podTargetLabels",
           "sampleLimit", "scrapeClass", "scrapeClassicHistograms", "scrapeProtocols", "selector",
           "selectorMechanism", "targetLabels", "targetLimit"}
SM_ENDPOINT = {"authorization", "basicAuth", "bearerTokenFile", "bearerTokenSecret", "enableHttp2",
               "filterRunning", "followRedirects", "honorLabels", "honorTimestamps", "interval",
               "metricRelabelings", "noProxy", "oauth2", "params", "path", "port",
               "proxyConnectHeader", "proxyFromEnvironment", "proxyUrl", "relabelings", "scheme",
               "scrapeTimeout", "targetPort", "tlsConfig", "trackTimestampsStaleness"}
DURATION = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$")

def seconds(text):
    """'1h30m', '45s', '500ms' -> seconds (Go/humantime-style units used here)."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(n) * units[u] for n, u in parts)

svc, dep = one("Service"), one("Deployment")
sm = one("ServiceMonitor")
if sm:
    if sm.get("apiVersion") != "monitoring.coreos.com/v1":
        err(f"ServiceMonitor apiVersion {sm.get('apiVersion')!r} != 'monitoring.coreos.com/v1'")
    if set(sm) - {"apiVersion", "kind", "metadata", "spec"}:
        err(f"ServiceMonitor: unexpected top-level keys {sorted(set(sm) - {'apiVersion', 'kind', 'metadata', 'spec'})}")
    spec = sm.get("spec") or {}
    if set(spec) - SM_SPEC:
        err(f"ServiceMonitor spec: unknown fields {sorted(set(spec) - SM_SPEC)}")
    for req in ("selector", "endpoints"):
        if req not in spec:
            err(f"ServiceMonitor spec.{req} is required")
    eps = spec.get("endpoints") or []
    if not isinstance(eps, list) or not eps:
        err("ServiceMonitor spec.endpoints must be a non-empty list")
        eps = []
    svc_ports = {p.get("name") for p in (svc or {}).get("spec", {}).get("ports", [])}
    for i, ep in enumerate(eps):
        if set(ep) - SM_ENDPOINT:
            err(f"ServiceMonitor endpoints[{i}]: unknown fields {sorted(set(ep) - SM_ENDPOINT)}")
        for key in ("interval", "scrapeTimeout"):
            if key in ep and not (isinstance(ep[key], str) and DURATION.match(ep[key])):
                err(f"ServiceMonitor endpoints[{i}].{key} {ep[key]!r} is not a Prometheus duration")
        durations = [ep.get(k) for k in ("scrapeTimeout", "interval")]
        if all(isinstance(d, str) and DURATION.match(d) and d != "0" for d in durations) \
                and seconds(durations[0]) > seconds(durations[1]):
            err(f"ServiceMonitor endpoints[{i}]: scrapeTimeout exceeds interval (the operator rejects it)")
        if ep.get("port") not in svc_ports:
            err(f"ServiceMonitor endpoints[{i}].port {ep.get('port')!r} is not a Service port name {sorted(svc_ports)}")
        if not str(ep.get("path", "/metrics")).startswith("/"):
            err(f"ServiceMonitor endpoints[{i}].path must start with /")
    if svc and not subset(spec.get("selector", {}).get("matchLabels"), svc["metadata"].get("labels", {})):
        err("ServiceMonitor spec.selector.matchLabels does not select the Service's labels")
    if not errors:
        print("ServiceMonitor: structure, durations, Service selector and port name OK")

# --- Deployment and what points at it ---
if dep:
    pod = dep["spec"]["template"]
    pod_labels = pod["metadata"].get("labels", {})
    pspec = pod["spec"]
    if not subset(dep["spec"]["selector"].get("matchLabels"), pod_labels):
        err("Deployment spec.selector.matchLabels does not match its pod template labels")
    c = pspec["containers"][0]
    cports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    if cports.get("http") != 8080:
        err(f"container port 'http' should be 8080 (the image's listen address), is {cports.get('http')!r}")
    metrics_listen = tomllib.loads(one("ConfigMap")["data"]["voxrelay.toml"]).get("metrics", {}).get("listen") if one("ConfigMap") else None
    if metrics_listen:
        want = int(metrics_listen.rsplit(":", 1)[1])
        if cports.get("metrics") != want:
            err(f"container port 'metrics' should be {want} (the ConfigMap's metrics.listen), is {cports.get('metrics')!r}")
        sm = one("ServiceMonitor")
        if sm and any(ep.get("port") != "metrics" for ep in sm["spec"].get("endpoints", [])):
            err("ServiceMonitor should scrape the 'metrics' port: /metrics is not on 'http' when metrics.listen is set")
    probes = {k: c.get(k, {}).get("httpGet", {}) for k in ("livenessProbe", "readinessProbe")}
    for k, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        if probes[k].get("path") != path or probes[k].get("port") not in ("http", 8080):
            err(f"{k} should GET {path} on port http/8080, is {probes[k]}")
    if svc:
        if not subset(svc["spec"].get("selector"), pod_labels):
            err("Service spec.selector does not select the Deployment's pods")
        for p in svc["spec"].get("ports", []):
            if p.get("targetPort") not in cports and p.get("targetPort") not in cports.values():
                err(f"Service port {p.get('name')} targetPort {p.get('targetPort')!r} is not a container port")
    pdb = one("PodDisruptionBudget")
    if pdb and not subset(pdb["spec"].get("selector", {}).get("matchLabels"), pod_labels):
        err("PodDisruptionBudget selector does not select the Deployment's pods")
    hpa = one("HorizontalPodAutoscaler")
    if hpa:
        ref = hpa["spec"]["scaleTargetRef"]
        if (ref.get("kind"), ref.get("name")) != ("Deployment", dep["metadata"]["name"]):
            err(f"HPA scaleTargetRef {ref} does not name the Deployment")
        if hpa["spec"].get("minReplicas", 1) < 2:
            err("HPA minReplicas < 2: a single replica cannot roll or drain without refusing sessions")

    # security context (pod or container level)
    sc, psc = c.get("securityContext", {}), pspec.get("securityContext", {})
    def either(key): return sc.get(key, psc.get(key))
    want = {"runAsNonRoot": True, "runAsUser": 10001, "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False}
    for k, v in want.items():
        if either(k) != v:
            err(f"securityContext.{k} should be {v!r}, is {either(k)!r}")
    if "ALL" not in sc.get("capabilities", {}).get("drop", []):
        err("securityContext.capabilities.drop should contain ALL")
    if (either("seccompProfile") or {}).get("type") != "RuntimeDefault":
        err("seccompProfile should be RuntimeDefault")

    # config: the ConfigMap mounted at /etc/voxrelay holds voxrelay.toml
    cm = one("ConfigMap")
    vols = {v["name"]: v for v in pspec.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    m = mounts.get("/etc/voxrelay")
    if not m or vols.get(m["name"], {}).get("configMap", {}).get("name") != (cm or {}).get("metadata", {}).get("name"):
        err("the ConfigMap is not mounted at /etc/voxrelay")
    toml_text = (cm or {}).get("data", {}).get("voxrelay.toml")
    if toml_text is None:
        err("ConfigMap has no voxrelay.toml key")
        toml_text = ""
    cfg = tomllib.loads(toml_text)

    # every secret the config names is supplied by the container env, from the Secret
    needed = set()
    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("key_env", "signing_secret_env", "secret_env") and isinstance(x, str):
                    needed.add(x)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(cfg)
    env = {e["name"]: e for e in c.get("env", [])}
    secret = one("Secret")
    secret_keys = set((secret or {}).get("stringData", {})) | set((secret or {}).get("data", {}))
    for name in sorted(needed):
        ref = env.get(name, {}).get("valueFrom", {}).get("secretKeyRef")
        if not ref:
            err(f"the config reads ${name} but the container does not get it from a Secret")
        elif ref.get("name") != (secret or {}).get("metadata", {}).get("name") or ref.get("key") not in secret_keys:
            err(f"${name}: secretKeyRef {ref} does not match secret.example.yaml's name/keys")
    print(f"secrets the config reads, all from the Secret: {', '.join(sorted(needed))}")

    # the drain fits in the termination grace period
    server = cfg.get("server", {})
    # (defaults as in src/config.rs)
    grace = seconds(server.get("shutdown_grace", "10s"))
    spread = seconds(server.get("drain_spread", "5s"))
    finals = seconds(server.get("drain_timeout", "3s"))
    close = seconds(server.get("close_timeout", "2s"))
    cmd = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre = float(cmd[1]) if len(cmd) == 2 and cmd[0] == "sleep" else 0.0
    tgps = pspec.get("terminationGracePeriodSeconds", 30)
    budget = pre + grace + spread + finals + close
    parts = (f"preStop {pre:g}s + shutdown_grace {grace:g}s + drain_spread {spread:g}s"
             f" + drain_timeout {finals:g}s + close_timeout {close:g}s")
    if tgps <= budget:
        err(f"terminationGracePeriodSeconds {tgps} <= {parts}")
    else:
        print(f"drain budget: {parts} = {budget:g}s < terminationGracePeriodSeconds {tgps}")

for e in errors:
    print("ERROR", e)
if errors:
    sys.exit(1)
print("manifests consistent")
PY
}

# `voxrelay check-config` in a clean environment that mimics the container: the image's
# VOXRELAY_SERVER__LISTEN plus dummy secrets (nothing from the caller's VOXRELAY_* variables).
check_config_as_container() { # FILE [VAR=VALUE...]
    local file=$1
    shift
    env -i PATH="$PATH" HOME="${HOME:-/}" VOXRELAY_SERVER__LISTEN=0.0.0.0:8080 \
        CLOUDFLARE_AIG_TOKEN=dummy-cloudflare-token DEEPGRAM_API_KEY=dummy-deepgram-key \
        OPENAI_API_KEY=dummy-openai-key ASSEMBLYAI_API_KEY=dummy-assemblyai-key ELEVENLABS_API_KEY=dummy-elevenlabs-key CARTESIA_API_KEY=dummy-cartesia-key \
        VOXRELAY_SIGNING_SECRET=dummy-signing-secret-of-at-least-32-bytes "$@" \
        "$VOXRELAY_BIN" check-config --config "$file"
}

voxrelay_configs() {
    if [[ ! -x $VOXRELAY_BIN ]]; then
        echo "$VOXRELAY_BIN missing: cargo build -p voxrelay"
        cargo build -q -p voxrelay || return 1
    fi
    "$PY" - "$WORK/configmap.toml" <<'PY' || return 1
import sys, yaml
with open("deploy/k8s/configmap.yaml") as f:
    cm = yaml.safe_load(f)
with open(sys.argv[1], "w") as out:
    out.write(cm["data"]["voxrelay.toml"])
PY
    local rc=0
    echo "- deploy/k8s/configmap.yaml (data.voxrelay.toml), as mounted at /etc/voxrelay/voxrelay.toml:"
    check_config_as_container "$WORK/configmap.toml" || rc=1
    echo "- config/voxrelay.toml, the image's built-in /etc/voxrelay/voxrelay.toml:"
    check_config_as_container config/voxrelay.toml || rc=1
    echo "- config/local.toml, docker-compose.yml's keyless variant (no secrets):"
    env -i PATH="$PATH" HOME="${HOME:-/}" VOXRELAY_SERVER__LISTEN=0.0.0.0:8080 \
        "$VOXRELAY_BIN" check-config --config config/local.toml || rc=1
    return $rc
}

# Without a Docker engine the image cannot be built here: check what the build depends on instead.
dockerfile_context() {
    "$PY" - <<'PY'
import glob, os, re, sys, tomllib
errors = []
text = open("Dockerfile").read()
copies = [l.split()[1:-1] for l in text.splitlines() if l.startswith("COPY ") and "--from=" not in l]
sources = [s for srcs in copies for s in srcs]
for s in sources:
    if not os.path.exists(s):
        errors.append(f"Dockerfile COPYs {s}, which does not exist")
# every workspace member's manifest must be in the dependency layer, or `cargo build --locked` fails
cargo = tomllib.load(open("Cargo.toml", "rb"))
for member in cargo.get("workspace", {}).get("members", []):
    if member != "." and f"{member}/Cargo.toml" not in sources:
        errors.append(f"workspace member {member}: Dockerfile does not COPY {member}/Cargo.toml")
# files compiled in from outside src/ (include_str!/include_bytes!) must be copied too
for path in glob.glob("src/**/*.rs", recursive=True):
    for inc in re.findall(r'include_(?:str|bytes)!\("([^"]+)"\)', open(path).read()):
        target = os.path.normpath(os.path.join(os.path.dirname(path), inc))
        top = target.split(os.sep)[0]
        if top not in sources and target not in sources:
            errors.append(f"{path} includes {inc}: Dockerfile does not COPY {top}")
# nothing the build copies may be excluded by .dockerignore (plain prefixes only)
ignored = [l.strip().rstrip("/") for l in open(".dockerignore") if l.strip() and not l.startswith("#")]
for s in sources:
    for pat in ignored:
        if "*" not in pat and (s == pat or s.startswith(pat + "/")):
            errors.append(f".dockerignore excludes {s}, which the Dockerfile copies")
for e in errors:
    print("ERROR", e)
if errors:
    sys.exit(1)
print(f"COPY sources present and not ignored: {', '.join(sources)}")
PY
}

compose_check() {
    "$PY" - <<'PY' || return 1
"""docker-compose.yml: YAML, services, and every file / service / variable it points at."""
import json, os, re, sys, tomllib
import yaml
errors = []
def err(m): errors.append(m)
base = "deploy"
compose = yaml.safe_load(open(f"{base}/docker-compose.yml"))
services = compose.get("services") or {}
named_volumes = set(compose.get("volumes") or {})
for want in ("voxrelay", "prometheus", "grafana"):
    if want not in services:
        err(f"service {want} missing")
for name, svc in services.items():
    if not ("image" in svc or "build" in svc):
        err(f"{name}: neither image nor build")
    b = svc.get("build")
    if b:
        ctx = os.path.normpath(os.path.join(base, b.get("context", ".")))
        df = os.path.join(ctx, b.get("dockerfile", "Dockerfile"))
        if not os.path.isfile(df):
            err(f"{name}: build dockerfile {df} not found")
    for v in svc.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith((".", "/")):
            if not os.path.exists(os.path.normpath(os.path.join(base, src))):
                err(f"{name}: bind mount source {src} not found (relative to {base}/)")
        elif src not in named_volumes:
            err(f"{name}: volume {src} is not declared under top-level volumes")
    for dep in svc.get("depends_on", []):
        if dep not in services:
            err(f"{name}: depends_on unknown service {dep}")

# the relay gets every secret its image config reads, required (${VAR:?...})
relay = services.get("voxrelay", {})
env = relay.get("environment", {})
cfg = tomllib.load(open("config/voxrelay.toml", "rb"))
needed = set(re.findall(r'(?:key_env|signing_secret_env|secret_env)\s*=\s*"([^"]+)"',
                        "\n".join(l for l in open("config/voxrelay.toml") if not l.lstrip().startswith("#"))))
for var in sorted(needed):
    if not re.fullmatch(r"\$\{" + re.escape(var) + r":\?[^}]*\}", str(env.get(var, ""))):
        err(f"voxrelay: environment {var} should be ${{{var}:?...}}")
def seconds(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+)(ms|s|m|h)", str(text))
    if not parts or "".join(n + u for n, u in parts) != str(text).replace(" ", ""):
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(n) * units[u] for n, u in parts)
server = cfg.get("server", {})
drain = sum(seconds(server.get(key, default)) for key, default in (
    ("shutdown_grace", "10s"), ("drain_spread", "5s"), ("drain_timeout", "3s"), ("close_timeout", "2s")))
stop = seconds(relay.get("stop_grace_period", "10s"))
if stop <= drain:
    err(f"voxrelay: stop_grace_period {stop:g}s should exceed server.shutdown_grace + drain_spread"
        f" + drain_timeout + close_timeout ({drain:g}s)")
if not any(str(p).split(":")[-1] == "8080" for p in relay.get("ports", [])):
    err("voxrelay: port 8080 not published")

# prometheus.yml scrapes the relay service and its rule files exist next to it
prom = yaml.safe_load(open(f"{base}/prometheus/prometheus.yml"))
for rf in prom.get("rule_files", []):
    if not os.path.isfile(os.path.join(base, "prometheus", rf)):
        err(f"prometheus.yml rule_files: {rf} not found")
mounted = {v.split(":")[1] for v in services.get("prometheus", {}).get("volumes", []) if ":" in v}
for rf in prom.get("rule_files", []):
    if f"/etc/prometheus/{rf}" not in mounted:
        err(f"prometheus: rule file {rf} is not mounted at /etc/prometheus/{rf}")
targets = [t for sc in prom.get("scrape_configs", []) for s in sc.get("static_configs", []) for t in s.get("targets", [])]
metrics_listen = cfg.get("metrics", {}).get("listen")
scrape = f"voxrelay:{metrics_listen.rsplit(':', 1)[1]}" if metrics_listen else "voxrelay:8080"
if scrape not in targets:
    err(f"prometheus.yml does not scrape {scrape} (metrics.listen in config/voxrelay.toml; targets: {targets})")

# grafana: datasource points at the prometheus service; the dashboard lands where the provider looks
gdir = f"{base}/grafana/provisioning"
ds = yaml.safe_load(open(f"{gdir}/datasources/prometheus.yml"))["datasources"]
if not any(d.get("type") == "prometheus" and d.get("url") == "http://prometheus:9090" and d.get("isDefault") for d in ds):
    err("grafana datasource: no default prometheus datasource at http://prometheus:9090")
prov = yaml.safe_load(open(f"{gdir}/dashboards/voxrelay.yml"))["providers"]
paths = {p["options"]["path"] for p in prov}
gmounts = dict(reversed(v.split(":")[:2]) for v in services.get("grafana", {}).get("volumes", []) if ":" in v)
dash = [t for t, s in gmounts.items() if s.endswith("voxrelay-dashboard.json")]
if not dash or os.path.dirname(dash[0]) not in paths:
    err(f"grafana: the dashboard is not mounted under a provider path {sorted(paths)}")
if gmounts.get("/etc/grafana/provisioning") != "./grafana/provisioning":
    err("grafana: ./grafana/provisioning is not mounted at /etc/grafana/provisioning")
json.load(open(f"{base}/grafana/voxrelay-dashboard.json"))

for e in errors:
    print("ERROR", e)
if errors:
    sys.exit(1)
print(f"compose: services {', '.join(services)}; mounts, build context, secrets, scrape target, "
      "rule files and Grafana provisioning consistent")
PY
    if docker compose version >/dev/null 2>&1; then
        CLOUDFLARE_AIG_TOKEN=x DEEPGRAM_API_KEY=x OPENAI_API_KEY=x ASSEMBLYAI_API_KEY=x ELEVENLABS_API_KEY=x CARTESIA_API_KEY=x VOXRELAY_SIGNING_SECRET=x \
            docker compose -f deploy/docker-compose.yml config --quiet && echo "docker compose config: OK"
    else
        echo "(docker compose plugin not installed: \`docker compose config\` not run)"
    fi
}

promtool_config() {
    if ! command -v promtool >/dev/null 2>&1; then
        echo "promtool not installed (apt-get install --no-install-recommends prometheus): skipped"
        return "$SKIP"
    fi
    promtool check config deploy/prometheus/prometheus.yml
}

step "linter versions" versions
step "hadolint Dockerfile" hadolint_dockerfile
step "Dockerfile build context (no Docker engine: COPY sources, workspace members, includes)" dockerfile_context
step "yamllint --strict deploy/ .yamllint" yamllint_deploy
step "kubernetes-validate --strict (k8s ${K8S_VERSIONS[*]}) deploy/k8s/*.yaml" k8s_validate
step "ServiceMonitor (CRD) structure and manifest cross-references" k8s_cross_check
step "voxrelay check-config: ConfigMap, image config, compose keyless config" voxrelay_configs
step "docker-compose.yml references" compose_check
step "promtool check config deploy/prometheus/prometheus.yml" promtool_config

printf '\n==> summary\n'
printf '  %s\n' "${results[@]}"
if ((failures)); then
    echo "check-deploy: $failures step(s) failed"
    exit 1
fi
echo "check-deploy: all checks passed"
