#!/usr/bin/env bash
# Installs every Debian 12 package pdm needs to build, test and benchmark.
# Idempotent: when every package is already present it installs nothing and touches no network.
# Later capabilities add their packages to PACKAGES below, never a second script.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config clang-format clang-tidy
  # libraries
  libabsl-dev libyaml-cpp-dev libcli11-dev libfmt-dev libfast-float-dev libssl-dev nlohmann-json3-dev
  libxgboost-dev libsqlite3-dev libpqxx-dev libboost-dev
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
  # the server's metrics, and the real Prometheus that scrapes them in a test
  prometheus-cpp-dev prometheus
  # alert webhooks (HTTP(S) client), and Alertmanager's amtool that checks the shipped config
  libcurl4-openssl-dev prometheus-alertmanager
  # the deploy checks read the alert rules and the dashboard (tests/deploy/check_monitoring.sh)
  python3-yaml
  # the web dashboard: Chart.js, embedded at build time; its browser tests run Debian's Chromium
  # driven by playwright-core (npm, tests/browser)
  libjs-chart.js chromium nodejs
  # the MQTT source (Eclipse Paho C and C++), and the real broker its tests start on loopback
  libpaho-mqtt-dev libpaho-mqttpp-dev mosquitto
  # the Modbus TCP source (its tests serve registers with libmodbus too)
  libmodbus-dev
  # the Kafka source (its tests run librdkafka's mock cluster: no broker to install)
  librdkafka-dev libsimdjson-dev
  # the export sinks (hiredis; libcurl above), and the real servers their tests start on loopback
  libhiredis-dev redis-server influxdb
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

# npm comes with NodeSource's nodejs; with Debian's nodejs it is a package of its own (installing
# it beside NodeSource's would conflict).
if ! command -v npm >/dev/null 2>&1; then
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
