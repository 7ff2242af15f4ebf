#!/bin/sh
# The retraining CronJob's step (the pdm-config ConfigMap): train on the spec's data, register
# the new version, and move `production` to it only if it beats the current holder on the
# spec's newest data (`models promote --if-better`; exit 1 when not better, which is not a
# failure of the job).
set -eu
# The plant's export job keeps the spec and its data files on the registry volume.
spec=${PDM_RETRAIN_SPEC:-/var/lib/pdm/data/spec.yaml}
metric=${PDM_RETRAIN_METRIC:-pr_auc}
out=$(mktemp -d)
pdm train --spec "$spec" --out "$out/run" --register --name "${PDM_MODEL:-fleet}" \
  --description "scheduled retraining" | tee "$out/train.log"
version=$(sed -n 's/^registered: [^ ]* version \([0-9][0-9]*\) .*/\1/p' "$out/train.log")
[ -n "$version" ] || { echo "retrain: no version registered" >&2; exit 1; }
status=0
pdm models promote "${PDM_MODEL:-fleet}" "$version" --alias production --if-better "$metric" \
  --reason "scheduled retraining" || status=$?
rm -rf "$out"
# 1: the candidate was not better; production stays where it is.
[ "$status" -eq 0 ] || [ "$status" -eq 1 ]
