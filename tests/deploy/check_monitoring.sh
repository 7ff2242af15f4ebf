#!/usr/bin/env bash
# Checks the shipped monitoring configuration with the real tools (docs/monitoring.md):
#  - deploy/prometheus: `promtool check config` (with the rule files), `promtool check rules`, and
#    the rules' unit tests (`promtool test rules alerts_test.yml`);
#  - deploy/alertmanager: `amtool check-config`, and every rule's labels routed to the receiver the
#    routing comment promises (`amtool config routes test --verify.receivers`);
#  - deploy/grafana: the dashboard's every panel query through promtool's parser (as a recording
#    rule), and every pdm series that the rules and the dashboard name is one pdm exports
#    (docs/serving.md's metrics table).
# Exits non-zero naming the first check that failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { echo "check_monitoring: $*"; }
fail() { echo "check_monitoring: FAILED: $*" >&2; exit 1; }

step "promtool check config"
(cd "$root/deploy/prometheus" && promtool check config prometheus.yml) || fail "prometheus.yml"
step "promtool check rules"
promtool check rules "$root/deploy/prometheus/alerts.yml" || fail "alerts.yml"
step "promtool test rules"
(cd "$root/deploy/prometheus" && promtool test rules alerts_test.yml) || fail "alerts_test.yml"

step "every rule has a unit test"
"$py" - "$root/deploy/prometheus" <<'PY' || fail "a rule without a test"
import sys, yaml
d = sys.argv[1]
rules = {r["alert"] for g in yaml.safe_load(open(f"{d}/alerts.yml"))["groups"] for r in g["rules"]}
tests = yaml.safe_load(open(f"{d}/alerts_test.yml"))["tests"]
fired, silent = set(), set()
for t in tests:
    for a in t.get("alert_rule_test", []):
        (fired if a.get("exp_alerts") else silent).add(a["alertname"])
missing = sorted((rules - fired) | (rules - silent))
if missing:
    sys.exit(f"rules without a firing and a silent case: {', '.join(missing)}")
print(f"{len(rules)} rules, each with a firing and a silent case")
PY

am="$root/deploy/alertmanager/alertmanager.yml"
step "amtool check-config"
amtool check-config "$am" || fail "alertmanager.yml"
step "routes: every rule reaches its receiver"
"$py" - "$root/deploy/prometheus/alerts.yml" >"$work/routes" <<'PY'
import sys, yaml
for g in yaml.safe_load(open(sys.argv[1]))["groups"]:
    for r in g["rules"]:
        labels = r.get("labels", {})
        if labels.get("team") == "maintenance":
            receiver = "maintenance-planning"
        elif labels.get("severity") == "page":
            receiver = "platform-oncall"
        elif labels.get("severity") == "warning":
            receiver = "platform-chat"
        else:
            sys.exit(f"{r['alert']}: severity {labels.get('severity')!r} has no documented route")
        print(receiver, f"alertname={r['alert']}", *[f"{k}={v}" for k, v in labels.items()])
PY
while read -r receiver labels; do
  # shellcheck disable=SC2086  # the labels are separate arguments
  amtool config routes test --config.file="$am" --verify.receivers="$receiver" $labels \
    >/dev/null 2>&1 || fail "route of {$labels}: expected $receiver, got $(
      amtool config routes test --config.file="$am" $labels 2>/dev/null)"
done <"$work/routes"
echo "$(wc -l <"$work/routes") rules routed as documented"

step "the dashboard's queries parse"
"$py" - "$root/deploy/grafana/dashboards/pdm.json" "$work/dashboard_rules.yml" <<'PY' || fail "pdm.json"
import json, sys, yaml
dash = json.load(open(sys.argv[1]))
# Grafana's variables, as Grafana substitutes them, so that promtool sees the query it would run.
subst = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "6h", "$instance": ".+"}
names = {v["name"] for v in dash["templating"]["list"]}
assert {"datasource", "instance"} <= names, f"variables {names}"
ids, rules = set(), []
for p in dash["panels"]:
    assert p["id"] not in ids, f"panel id {p['id']} twice"
    ids.add(p["id"])
    assert {"h", "w", "x", "y"} <= p["gridPos"].keys(), f"panel {p['title']}: gridPos"
    if p["type"] == "row":
        continue
    assert p.get("targets"), f"panel {p['title']!r} has no query"
    for t in p["targets"]:
        expr = t["expr"]
        for k, v in subst.items():
            expr = expr.replace(k, v)
        assert "$" not in expr, f"panel {p['title']!r}: unknown variable in {expr}"
        rules.append({"record": f"pdm_dashboard_query_{len(rules)}", "expr": expr})
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[2], "w"))
print(f"{len(rules)} queries in {sum(p['type'] != 'row' for p in dash['panels'])} panels")
PY
promtool check rules "$work/dashboard_rules.yml" || fail "a dashboard query does not parse"

step "every pdm series named is one pdm exports"
"$py" - "$root" <<'PY' || fail "an unknown series"
import re, sys
root = sys.argv[1]
table = open(f"{root}/docs/serving.md").read()
exported = set(re.findall(r"`(pdm_[a-z0-9_]+)`", table))
used = set(re.findall(r"\b(pdm_[a-z0-9_]+)", open(f"{root}/deploy/prometheus/alerts.yml").read()))
used |= set(re.findall(r"\b(pdm_[a-z0-9_]+)", open(f"{root}/deploy/grafana/dashboards/pdm.json").read()))
used = {re.sub(r"_(bucket|count|sum)$", "", u) for u in used if not u.startswith("pdm_dashboard_")}
unknown = sorted(u for u in used if u not in exported)
if unknown:
    sys.exit(f"not in docs/serving.md's metrics table: {', '.join(unknown)}")
print(f"{len(used)} series, all exported")
PY
step "ok"
