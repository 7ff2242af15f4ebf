#!/usr/bin/env bash
# Builds the container image (scripts/image.sh: a Debian 12 base made by mmdebstrap, then the
# Dockerfile) and runs it with podman on loopback, as Kubernetes would: read-only root
# filesystem, a writable /tmp, the registry on a volume. Checks that it serves a model trained
# by the host's pdm (probes, a prediction, the health check), runs as the non-root user, writes
# JSON logs, carries no compiler, links nothing missing, and stops gracefully (exit 0) on
# SIGTERM. Usage: check_image.sh PDM_BINARY. Exits non-zero naming the first check that failed.
set -euo pipefail
pdm=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3
image=${PDM_IMAGE:-localhost/pdm}:latest
work=$(mktemp -d)
name=pdm-image-test-$$
podman() { "$root/scripts/image.sh" podman "$@"; }
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "check_image: $*"; }
fail() {
  echo "check_image: FAILED: $*" >&2
  podman logs "$name" 2>&1 | tail -20 >&2 || true
  exit 1
}

step "scripts/image.sh build"
"$root/scripts/image.sh" build > "$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; fail "the image does not build"; }
tail -3 "$work/build.log"

step "a model for it: AI4I, registered as fleet@production by the host's pdm"
"$pdm" train --spec "$root/specs/ai4i2020.yaml" --models xgb --cv 2 --threads 2 \
  --out "$work/run" --register --name fleet --registry "$work/registry" > "$work/train.log" 2>&1 ||
  { cat "$work/train.log" >&2; fail "training the model"; }
"$pdm" models promote fleet 1 --alias production --registry "$work/registry" > /dev/null
chmod -R a+rwX "$work/registry"

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
step "podman run (read-only, non-root, port $port on loopback)"
podman run -d --name "$name" --network host --read-only --tmpfs /tmp \
  -v "$work/registry:/var/lib/pdm/registry" \
  -e PDM_ADDRESS=127.0.0.1 -e PDM_PORT="$port" -e PDM_SERVE_TOKEN=image-test-token \
  "$image" > /dev/null || fail "podman run"
ready=0
for _ in $(seq 100); do
  if curl -fsS "http://127.0.0.1:$port/readyz" > /dev/null 2>&1; then ready=1; break; fi
  sleep 0.2
done
[[ $ready == 1 ]] || fail "not ready within 20 s"

step "the image's health check passes"
podman healthcheck run "$name" || fail "health check"

step "a prediction"
features=$(curl -fsS "http://127.0.0.1:$port/api/v1/models" |
  "$py" -c 'import json,sys; print(json.dumps({"features": {f: 0.0 for f in json.load(sys.stdin)["models"][0]["features"]}}))')
body=$(echo "$features" | "$py" -c '
import json, sys
b = json.load(sys.stdin)
b["features"].update({"Air temperature [K]": 298.1, "Process temperature [K]": 308.6,
  "Rotational speed [rpm]": 1551, "Torque [Nm]": 42.8, "Tool wear [min]": 210, "Type=L": 1})
print(json.dumps(b))')
answer=$(curl -fsS -H 'Content-Type: application/json' -H 'X-Request-Id: image-test-1' \
  -d "$body" "http://127.0.0.1:$port/api/v1/predict") || fail "predict"
echo "$answer" | "$py" -c 'import json,sys; a=json.load(sys.stdin); assert a["version"] == 1 and 0 <= a["probability"] <= 1, a' ||
  fail "the prediction: $answer"

step "runs as uid 10001, not root"
[[ $(podman exec "$name" id -u) == 10001 ]] || fail "the server's user"
step "no compiler, and every linked library present"
if podman run --rm --entrypoint /bin/sh "$image" -c 'command -v c++ || command -v gcc || command -v cmake'; then
  fail "a compiler in the runtime image"
fi
podman run --rm --entrypoint /bin/sh "$image" -c 'ldd /usr/local/bin/pdm' > "$work/ldd.txt"
if grep -q "not found" "$work/ldd.txt"; then grep "not found" "$work/ldd.txt" >&2; fail "missing libraries"; fi

step "SIGTERM: graceful stop, exit 0"
podman stop -t 30 "$name" > /dev/null || fail "podman stop"
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[[ "$code" == 0 ]] || fail "exit code $code after SIGTERM"

step "the logs are JSON lines with the request"
podman logs "$name" > "$work/logs.txt" 2>&1
"$py" - "$work/logs.txt" <<'PY' || fail "JSON logs"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
parsed = [json.loads(l) for l in lines]
assert any(p.get("msg") == "request" and p.get("request_id") == "image-test-1" and
           p.get("status") == 200 for p in parsed), "the predict request is not logged"
assert any(p.get("msg", "").startswith("signal 15") for p in parsed), "no drain line"
print(f"{len(parsed)} JSON lines")
PY
size=$(podman image inspect --format '{{.Size}}' "$image")
step "ok (image $image, $((size / 1024 / 1024)) MiB)"
