#!/usr/bin/env bash
# Checks deploy/compose.yaml (docs/deploy.md) with the services' own tools:
#  - the file against the Compose schema (`docker-compose config`), and that it refuses to
#    start without its secrets;
#  - every file it mounts from the repository exists;
#  - each service's config passes its checker: pdm's server.yaml (`pdm serve --check-config`),
#    Prometheus (`promtool check config`, with the rules), Alertmanager (`amtool check-config`),
#    InfluxDB (`influxd config -config`), mosquitto (started on a loopback port with the config,
#    it must come up: mosquitto has no check mode), Grafana's provisioning (YAML) and dashboard
#    (JSON);
#  - the container's own server.yaml (`pdm serve --check-config`).
# Usage: check_compose.sh PDM_BINARY. Exits non-zero naming the first check that failed.
set -euo pipefail
pdm=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
deploy=$root/deploy
py=/usr/bin/python3
work=$(mktemp -d)
broker=""
cleanup() {
  [[ -n "$broker" ]] && kill "$broker" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "check_compose: $*"; }
fail() { echo "check_compose: FAILED: $*" >&2; exit 1; }

step "docker-compose config (the Compose schema)"
(cd "$deploy" && PDM_DB_PASSWORD=x PDM_SERVE_TOKEN=x GRAFANA_ADMIN_PASSWORD=x \
   docker-compose -f compose.yaml config -q) || fail "compose.yaml does not validate"
step "it refuses to start without its secrets"
if (cd "$deploy" && env -u PDM_DB_PASSWORD -u PDM_SERVE_TOKEN -u GRAFANA_ADMIN_PASSWORD \
      docker-compose -f compose.yaml config -q >/dev/null 2>&1); then
  fail "compose.yaml interpolates without PDM_DB_PASSWORD"
fi

step "every mounted file exists; the services the issue names are there"
"$py" - "$deploy" <<'PY' || fail "compose.yaml's services or mounts"
import os, sys, yaml
deploy = sys.argv[1]
compose = yaml.safe_load(open(os.path.join(deploy, "compose.yaml")))
services = compose["services"]
wanted = {"pdm", "postgres", "mosquitto", "prometheus", "alertmanager", "grafana", "influxdb"}
missing = wanted - set(services)
assert not missing, f"services missing: {sorted(missing)}"
for name, service in services.items():
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("./") or source.startswith("../"):
            path = os.path.normpath(os.path.join(deploy, source))
            assert os.path.exists(path), f"{name}: {source} does not exist"
    for port in service.get("ports", []):
        # Only the broker faces the plant network; the rest listen on the host's loopback.
        if name != "mosquitto":
            assert str(port).startswith("127.0.0.1:"), f"{name}: port {port} is not loopback"
pdm = services["pdm"]
assert pdm.get("read_only") is True, "pdm: read_only root filesystem"
print(f"{len(services)} services, mounts present")
PY

step "pdm serve --check-config (compose and container server.yaml)"
for config in "$deploy/compose/server.yaml" "$deploy/container/server.yaml"; do
  env -u PDM_CONFIG "$pdm" serve --config "$config" --check-config || fail "$config"
done
step "promtool check config"
(cd "$deploy/prometheus" && promtool check config prometheus.yml >/dev/null) || fail prometheus.yml
step "amtool check-config"
amtool check-config "$deploy/alertmanager/alertmanager.yml" >/dev/null || fail alertmanager.yml
step "influxd config -config"
influxd config -config "$deploy/influxdb/influxdb.conf" >/dev/null 2>&1 || fail influxdb.conf

step "mosquitto starts with mosquitto.conf (on a loopback port)"
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/data"
sed -e "s|^listener 1883$|listener $port 127.0.0.1|" \
    -e "s|^persistence_location .*|persistence_location $work/data/|" \
    -e "s|^log_dest stdout$|log_dest file $work/mosquitto.log|" \
    "$deploy/mosquitto/mosquitto.conf" > "$work/mosquitto.conf"
grep -q "listener $port 127.0.0.1" "$work/mosquitto.conf" || fail "mosquitto.conf has no 'listener 1883' line"
/usr/sbin/mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.out" 2>&1 &
broker=$!
up=0
for _ in $(seq 50); do
  if ! kill -0 "$broker" 2>/dev/null; then break; fi
  if "$py" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
    up=1
    break
  fi
  sleep 0.1
done
[[ $up == 1 ]] || { cat "$work/mosquitto.out" "$work/mosquitto.log" 2>/dev/null >&2; fail "mosquitto.conf"; }

step "grafana provisioning and dashboard parse"
"$py" - "$deploy/grafana" <<'PY' || fail "grafana provisioning"
import glob, json, os, sys, yaml
d = sys.argv[1]
files = glob.glob(os.path.join(d, "provisioning", "*", "*.yaml"))
assert files, "no provisioning files"
for f in files:
    doc = yaml.safe_load(open(f))
    assert isinstance(doc, dict) and "apiVersion" in doc, f"{f}: not a provisioning file"
for f in glob.glob(os.path.join(d, "dashboards", "*.json")):
    assert json.load(open(f))["panels"], f"{f}: no panels"
PY
step "ok"
