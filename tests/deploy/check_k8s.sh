#!/usr/bin/env bash
# Checks the Kubernetes manifests (deploy/k8s, docs/deploy.md): each overlay is rendered with
# `kubectl kustomize`, every object validated against the Kubernetes schemas (kubernetes-models,
# npm, pinned in tests/deploy/k8s/package-lock.json), the server.yaml of its ConfigMap checked by
# `pdm serve --check-config`, and the deployment contracts asserted (probes, resources,
# non-root, read-only root filesystem, secrets by reference, HPA metrics, PDB below the replicas,
# ServiceMonitor, retraining CronJob); and the systemd timer that runs the same pipeline on one
# machine (`systemd-analyze verify`).
# Usage: check_k8s.sh PDM_BINARY. Exits non-zero naming the first check that failed.
set -euo pipefail
pdm=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/deploy/k8s
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { echo "check_k8s: $*"; }
fail() { echo "check_k8s: FAILED: $*" >&2; exit 1; }

command -v kubectl >/dev/null || fail "kubectl is missing: run scripts/setup.sh"
if [[ ! -d "$here/node_modules/kubernetes-models" ||
      "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --silent) || fail "npm ci in tests/deploy/k8s"
fi

# The overlays' Secrets are generated from files kept out of the repository: render a copy with
# the example files in their place.
cp -r "$root/deploy/k8s" "$work/k8s"
for overlay in "$work"/k8s/overlays/*/; do
  for example in "$overlay"*.example; do cp "$example" "${example%.example}"; done
done

for overlay_dir in "$work"/k8s/overlays/*/; do
  overlay=$(basename "$overlay_dir")
  step "$overlay: kubectl kustomize"
  kubectl kustomize "$overlay_dir" > "$work/$overlay.yaml" 2> "$work/$overlay.err" ||
    { cat "$work/$overlay.err" >&2; fail "$overlay does not render"; }
  step "$overlay: every object against the Kubernetes schemas"
  node "$here/validate.mjs" "$work/$overlay.yaml" > "$work/$overlay.jsonl" ||
    fail "$overlay: objects do not validate"
  step "$overlay: server.yaml of the ConfigMap (pdm serve --check-config)"
  "$py" - "$work/$overlay.jsonl" "$work/$overlay-server.yaml" <<'PY' || fail "$overlay: no server.yaml"
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["kind"] == "ConfigMap" and "server.yaml" in o["object"].get("data", {}):
        open(sys.argv[2], "w").write(o["object"]["data"]["server.yaml"])
        sys.exit(0)
sys.exit(1)
PY
  env -u PDM_CONFIG "$pdm" serve --config "$work/$overlay-server.yaml" --check-config ||
    fail "$overlay: the ConfigMap's server.yaml"
  step "$overlay: deployment contracts"
  "$py" - "$work/$overlay.jsonl" "$overlay" "$root/Dockerfile" <<'PY' || fail "$overlay: contracts"
import json, re, sys
objects = {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    objects.setdefault(o["kind"], []).append(o["object"])
overlay = sys.argv[2]
def one(kind):
    assert len(objects.get(kind, [])) == 1, f"expected one {kind}, got {len(objects.get(kind, []))}"
    return objects[kind][0]
for kind in ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
             "ConfigMap", "Secret", "ServiceMonitor", "CronJob", "PersistentVolumeClaim"]:
    one(kind)
dep = one("Deployment")
pod = dep["spec"]["template"]["spec"]
selector = dep["spec"]["selector"]["matchLabels"]
labels = dep["spec"]["template"]["metadata"]["labels"]
assert all(labels.get(k) == v for k, v in selector.items()), "selector does not match the pods"
(c,) = pod["containers"]
assert c["livenessProbe"]["httpGet"]["path"] == "/livez", "liveness probe on /livez"
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe on /readyz"
assert c["startupProbe"]["httpGet"]["path"] == "/livez", "startup probe"
for kind in ("requests", "limits"):
    assert {"cpu", "memory"} <= set(c["resources"][kind]), f"resources.{kind}"
sc, psc = c["securityContext"], pod["securityContext"]
assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0, "non-root"
user = re.search(r"^USER (\d+)", open(sys.argv[3]).read(), re.M).group(1)
assert str(psc["runAsUser"]) == user, f"runAsUser {psc['runAsUser']} is not the image's {user}"
assert sc["readOnlyRootFilesystem"] is True, "read-only root filesystem"
assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
mounts = {m["mountPath"] for m in c["volumeMounts"]}
assert {"/tmp", "/var/lib/pdm", "/etc/pdm"} <= mounts, f"writable paths mounted: {mounts}"
env = {e["name"]: e for e in c["env"]}
secret = one("Secret")
for name, key in [("PDM_SERVE_TOKEN", "token"), ("PDM_STORE", "database-url")]:
    ref = env[name]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["data"], name
grace = pod["terminationGracePeriodSeconds"]
server = one("ConfigMap")["data"]["server.yaml"]
drain = int(re.search(r"drain_ms: (\d+)", server).group(1))
graced = int(re.search(r"grace_ms: (\d+)", server).group(1))
assert grace * 1000 > drain + graced, "terminationGracePeriodSeconds below drain_ms + grace_ms"
assert "type: kafka" in server and "group_id:" in server, "telemetry scale-out by a consumer group"
svc = one("Service")
assert svc["spec"]["selector"] == {k: v for k, v in svc["spec"]["selector"].items() if labels.get(k) == v}, "service selects the pods"
hpa = one("HorizontalPodAutoscaler")
types = {m["type"]: m for m in hpa["spec"]["metrics"]}
assert types["Resource"]["resource"]["name"] == "cpu", "HPA on CPU"
assert types["Pods"]["pods"]["metric"]["name"] == "pdm_http_requests_per_second", "HPA on requests/s"
assert hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
pdb = one("PodDisruptionBudget")
assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"] or hpa["spec"]["minReplicas"] == 1, \
    "the PDB must let a node drain"
assert dep["spec"]["replicas"] >= hpa["spec"]["minReplicas"]
monitor = one("ServiceMonitor")
assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
assert monitor["spec"]["endpoints"][0]["port"] == svc["spec"]["ports"][0]["name"]
cron = one("CronJob")
job = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
assert cron["spec"]["concurrencyPolicy"] == "Forbid"
command = " ".join(job["containers"][0]["args"])
assert command == "pipeline run --config /etc/pdm/pipeline.yaml", command
assert "pipeline.yaml" in one("ConfigMap")["data"], "the retraining pipeline"
assert job["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
if overlay == "production":
    assert dep["spec"]["replicas"] >= 3 and pdb["spec"]["minAvailable"] >= 2
print(f"{overlay}: {sum(len(v) for v in objects.values())} objects, contracts hold")
PY
done
step "the CronJob's pipeline.yaml (pdm pipeline check)"
"$pdm" pipeline check --config "$root/deploy/k8s/base/pipeline.yaml" || fail "pipeline.yaml"
step "the systemd timer example (systemd-analyze verify), with this pdm as its ExecStart"
mkdir -p "$work/systemd"
sed "s|/usr/local/bin/pdm|$(realpath "$pdm")|" "$root/deploy/systemd/pdm-retrain.service" \
  > "$work/systemd/pdm-retrain.service"
cp "$root/deploy/systemd/pdm-retrain.timer" "$work/systemd/"
verify=$(systemd-analyze verify --man=no "$work/systemd/pdm-retrain.timer" \
  "$work/systemd/pdm-retrain.service" 2>&1) || { echo "$verify" >&2; fail "systemd units"; }
[[ -z "$verify" ]] || { echo "$verify" >&2; fail "systemd units: warnings"; }
step "ok"
