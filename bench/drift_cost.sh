#!/usr/bin/env bash
# What drift monitoring costs the telemetry route, end to end, in one run: the same simulated
# fleet replayed hour by hour (every machine's readings of an hour, after that hour's events, one
# request each) to two `pdm serve` processes of the same model, one with the default drift
# monitoring and one with --drift-window off. The cost is the servers' own CPU time (utime +
# stime from /proc) per accepted reading, so the client's speed does not enter; ROUNDS alternate
# the order and the best round of each counts.
#   MACHINES=20 DAYS=60 ROUNDS=3 bench/drift_cost.sh
#   DRIFT_ARGS="--drift-every 1h" bench/drift_cost.sh     # the monitored server's drift flags
# DENSE=N replays a dense fleet instead, as a loaded server sees one: N copies of each simulated
# machine (so MACHINES x N machines), each reporting every second, one request per second of
# data holding every machine's reading (REQUESTS of them, default 300), after one reading per
# machine 8 days earlier so that every feature is past its warm-up. The values are the simulated
# machines' hourly readings in turn. Data time then runs faster than wall time, so the server
# evaluates at least as often as it would live.
#   DENSE=50 bench/drift_cost.sh                           # 1,000 machines at 1 Hz
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
machines=${MACHINES:-20}
days=${DAYS:-60}
rounds=${ROUNDS:-3}
work=${WORK:-/tmp/pdm-drift-bench}
mkdir -p "$work"
pdm=$(bench/build_pdm.sh)
python=/usr/bin/python3

cd "$work"
registry=$("$root/bench/fleet_model.sh" "$pdm" "$machines" "$days")

result=$(DRIFT_ARGS=${DRIFT_ARGS:-} DENSE=${DENSE:-0} REQUESTS=${REQUESTS:-300} \
  $python - "$pdm" "$registry" sim "$rounds" <<'PY'
import csv, datetime, http.client, json, os, subprocess, sys, time
pdm, registry, sim, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
dense, requests = int(os.environ["DENSE"]), int(os.environ["REQUESTS"])

def rows(name):
    with open(os.path.join(sim, name)) as f:
        return list(csv.DictReader(f))

events = []
for name, kind, key in (("maintenance.csv", "maintenance", "component"),
                        ("failures.csv", "failure", "mode"), ("errors.csv", "error", "code")):
    for r in rows(name):
        events.append((r["timestamp"], {"machine": r["machine_id"], "time": r["timestamp"],
                                        "type": kind, "kind": r[key]}))
events.sort(key=lambda e: e[0])
attributes = {}
for r in rows("machines.csv"):
    m = r.pop("machine_id")
    attributes[m] = {k: (v if k == "model" else float(v)) for k, v in r.items()}
hours, seen = {}, set()
for r in rows("telemetry.csv"):
    t, m = r.pop("timestamp"), r.pop("machine_id")
    reading = {"machine": m, "time": t,
               "values": {k: (float(v) if v != "" else None) for k, v in r.items()}}
    if m not in seen:
        seen.add(m)
        reading["attributes"] = attributes[m]
    hours.setdefault(t, []).append(reading)
bodies, e = [], 0
for t in sorted(hours):
    body = {"readings": hours[t]}
    sent = []
    while e < len(events) and events[e][0] <= t:
        sent.append(events[e][1]); e += 1
    if sent:
        body["events"] = sent
    bodies.append(json.dumps(body).encode())

if dense > 0:
    # Each simulated machine's readings in time order, then its copies at 1 Hz.
    history = {}
    for t in sorted(hours):
        for reading in hours[t]:
            history.setdefault(reading["machine"], []).append(reading["values"])
    stamp = lambda s: datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    start = 1.8e9  # 2027-01-15: any time; data time is all the server sees
    first = [{"machine": f"{m}-{k}", "time": stamp(start - 8 * 86400), "values": rows[0],
              "attributes": attributes[m]} for m, rows in history.items() for k in range(dense)]
    bodies = [json.dumps({"readings": first}).encode()]
    for i in range(requests):
        readings = [{"machine": f"{m}-{k}", "time": stamp(start + i),
                     "values": rows[(i * 7 + k) % len(rows)]}
                    for m, rows in history.items() for k in range(dense)]
        bodies.append(json.dumps({"readings": readings}).encode())

def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def replay(extra):
    proc = subprocess.Popen([pdm, "serve", "--registry", registry, "--model", "fleet", "--port", "0",
                             "--threads", "1", "--no-store-telemetry"] + extra,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    while not line.startswith("serving "):
        line = proc.stdout.readline()
    port = int(line.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port)
    start_cpu, accepted = cpu(proc.pid), 0
    wall = time.perf_counter()
    for body in bodies:
        conn.request("POST", "/api/v1/telemetry", body, {"Content-Type": "application/json"})
        out = json.loads(conn.getresponse().read())
        accepted += out.get("accepted", 0)
    wall = time.perf_counter() - wall
    used = cpu(proc.pid) - start_cpu
    conn.request("GET", "/api/v1/drift?histograms=false")
    drift = json.loads(conn.getresponse().read())
    proc.terminate(); proc.wait()
    return used, wall, accepted, drift.get("evaluations", 0), drift.get("window", {})

best = {"on": None, "off": None}
for r in range(rounds):
    for name in (("on", "off") if r % 2 == 0 else ("off", "on")):
        used, wall, accepted, evaluations, window = replay(
            os.environ["DRIFT_ARGS"].split() if name == "on" else ["--drift-window", "off"])
        if best[name] is None or used < best[name][0]:
            best[name] = (used, wall, accepted, evaluations, window)
on, off = best["on"], best["off"]
print(json.dumps({"readings": on[2], "requests": len(bodies), "evaluations": on[3],
                  "window_rows": on[4].get("rows"), "sampled_rows": on[4].get("sampled_rows"),
                  "cpu_on_s": on[0], "cpu_off_s": off[0],
                  "us_per_reading_on": 1e6 * on[0] / on[2], "us_per_reading_off": 1e6 * off[0] / off[2],
                  "throughput_ratio": off[0] / on[0]}))
PY
)
echo "$result"
cd "$root"
mkdir -p bench/results
{
  echo
  echo "## $(date -u +%Y-%m-%dT%H:%MZ) $(git rev-parse --short HEAD): MACHINES=$machines DAYS=$days ROUNDS=$rounds DENSE=${DENSE:-0} DRIFT_ARGS=\"${DRIFT_ARGS:-}\" bench/drift_cost.sh"
  echo
  echo '```'
  echo "$result"
  echo '```'
} >> bench/results/drift.md
