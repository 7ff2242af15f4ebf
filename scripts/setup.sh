#!/usr/bin/env bash
# Installs every Debian 12 package pdm needs to build, test and benchmark.
# Idempotent: when every package is already present it installs nothing and touches no network.
# Later capabilities add their packages to PACKAGES below, never a second script.
set -euo pipefail

# What building the pdm binary needs (the container image's build stage: `setup.sh build`).
BUILD_PACKAGES=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config git
  # libraries
  libabsl-dev libyaml-cpp-dev libcli11-dev libfmt-dev libfast-float-dev libssl-dev nlohmann-json3-dev
  libxgboost-dev libsqlite3-dev libpqxx-dev libboost-dev
  # the server's metrics; alert webhooks and the export sinks (HTTP(S) client)
  prometheus-cpp-dev libcurl4-openssl-dev
  # the web dashboard's Chart.js, embedded at build time
  libjs-chart.js
  # the MQTT source (Eclipse Paho C and C++), the Modbus TCP source, the Kafka source and sink,
  # the fast JSON readers, the Redis sink
  libpaho-mqtt-dev libpaho-mqttpp-dev libmodbus-dev librdkafka-dev libsimdjson-dev libhiredis-dev
)

# What the tests, the checks and the benchmarks need besides.
PACKAGES=(
  "${BUILD_PACKAGES[@]}"
  clang-format clang-tidy
  # the libFuzzer targets (fuzz/, scripts/fuzz.sh): clang with its fuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
  # the PostgreSQL backend's tests and benchmarks run a real server on loopback
  postgresql-15
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3-pandas
  # the reference stack (scikit-learn + XGBoost) that training benchmarks compare against
  python3-sklearn python3-xgboost
  # scipy's drift statistics, which the monitor's tests compare against
  python3-scipy
  # the reference stack's server, and wrk, for the serving benchmark
  python3-flask python3-flask-cors python3-prometheus-client gunicorn wrk
  # the real Prometheus that scrapes the server in a test, and Alertmanager's amtool that checks
  # the shipped config
  prometheus prometheus-alertmanager
  # the deploy checks read the alert rules, the dashboard, compose.yaml and .gitlab-ci.yml
  python3-yaml
  # the dashboard's browser tests run Debian's Chromium driven by playwright-core (npm,
  # tests/browser); the Kubernetes manifests are validated with kubernetes-models (npm)
  chromium nodejs
  # the real broker the MQTT tests start on loopback
  mosquitto
  # the real servers the export sinks' tests start on loopback
  redis-server influxdb
  # the container image, built and run by its test (tests/deploy/check_image.sh): a Debian base
  # made locally by mmdebstrap, built and run by podman (runc: see scripts/image.sh)
  podman mmdebstrap runc uidmap
  # the retraining timer example is checked by systemd-analyze
  systemd
  # deploy/compose.yaml is validated against the Compose schema (`docker-compose config`: the
  # checker only; no Docker engine runs)
  docker-compose
)

if [[ "${1:-}" == "build" ]]; then PACKAGES=("${BUILD_PACKAGES[@]}"); fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

# kubectl renders the Kubernetes manifests (`kubectl kustomize`): Debian's kubernetes-client,
# unless a kubectl is already installed (another vendor's package would conflict).
if [[ "${1:-}" != "build" ]] && ! command -v kubectl >/dev/null 2>&1; then
  missing+=(kubernetes-client)
fi

# npm comes with NodeSource's nodejs; with Debian's nodejs it is a package of its own (installing
# it beside NodeSource's would conflict).
if [[ "${1:-}" != "build" ]] && ! command -v npm >/dev/null 2>&1; then
  status=$(dpkg-query -W -f='${Status}' npm 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=(npm)
fi

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
