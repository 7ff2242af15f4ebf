#!/usr/bin/env bash
# Checks .gitlab-ci.yml: it parses; the stages are build, test, sanitizers, image and deploy;
# every job names a declared stage, has a script and needs only jobs that exist; every
# repository script it runs exists and is executable; it runs what .ci/run runs (the same
# scripts, the same ASan exclusions); production is deployed only by hand.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
/usr/bin/python3 - "$root" <<'PY'
import os, re, sys, yaml
root = sys.argv[1]
ci = yaml.safe_load(open(os.path.join(root, ".gitlab-ci.yml")))
def fail(message):
    sys.exit(f"check_gitlab_ci: FAILED: {message}")
stages = ci.get("stages", [])
for stage in ["build", "test", "sanitizers", "image", "deploy"]:
    if stage not in stages:
        fail(f"stage {stage} missing")
reserved = {"stages", "variables", "default", "include", "workflow", "image", "services", "cache",
            "before_script", "after_script"}
jobs = {name: job for name, job in ci.items() if name not in reserved and not name.startswith(".")}
commands = []
for name, job in jobs.items():
    if job.get("stage") not in stages:
        fail(f"{name}: stage {job.get('stage')!r} is not declared")
    if not job.get("script"):
        fail(f"{name}: no script")
    for need in job.get("needs", []):
        if need not in jobs:
            fail(f"{name}: needs unknown job {need}")
    commands += [(name, line) for line in job["script"]]
used = set()
for name, line in commands:
    for path in re.findall(r"(?:^|[\s|;&])\.?/?((?:scripts|tests|\.ci|bench)/[\w./-]+)", line):
        full = os.path.join(root, path)
        if not os.path.isfile(full) or not os.access(full, os.X_OK):
            fail(f"{name}: {path} does not exist or is not executable")
        used.add(path)
run = open(os.path.join(root, ".ci", "run")).read()
for path in re.findall(r"(?:^|\s)\.?/?(scripts/[\w.-]+)", run, re.M):
    if path not in used:
        fail(f".ci/run runs {path}; .gitlab-ci.yml does not")
asan_ci = re.search(r"scripts/test\.sh asan -E '([^']+)'", run).group(1)
asan_gitlab = [l for _, l in commands if "scripts/test.sh asan" in l]
if not asan_gitlab or f"-E '{asan_ci}'" not in asan_gitlab[0]:
    fail("the ASan job's exclusions differ from .ci/run's")
production = [j for n, j in jobs.items() if j.get("environment", {}).get("name") == "production"]
if len(production) != 1:
    fail("one job deploys to production")
rules = production[0].get("rules", [])
if not rules or any(r.get("when") != "manual" for r in rules):
    fail("production is deployed only by hand (when: manual in every rule)")
print(f"check_gitlab_ci: {len(jobs)} jobs, {len(used)} scripts, ok")
PY
