#!/usr/bin/env bash
# Deploys pdm to the Kubernetes cluster of the current kubectl context (docs/deploy.md):
#   scripts/deploy.sh OVERLAY [IMAGE]     OVERLAY: dev or production (deploy/k8s/overlays);
#                                         IMAGE: the image to run (default: the overlay's)
# The Secret's values come from the environment, never the repository: PDM_K8S_TOKEN (the serve
# token) and PDM_K8S_DATABASE_URL (the store's libpq URL, with its password).
# PDM_DEPLOY_RENDER_ONLY=1 prints the manifests instead of applying them (no cluster needed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
overlay=${1:?usage: scripts/deploy.sh dev|production [IMAGE]}
image=${2:-}
[[ -d "$root/deploy/k8s/overlays/$overlay" ]] || { echo "deploy: no overlay '$overlay'" >&2; exit 2; }
: "${PDM_K8S_TOKEN:?deploy: set PDM_K8S_TOKEN (the serve token)}"
: "${PDM_K8S_DATABASE_URL:?deploy: set PDM_K8S_DATABASE_URL (the store URL)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/deploy/k8s" "$work/k8s"
umask 077
printf '%s' "$PDM_K8S_TOKEN" > "$work/k8s/overlays/$overlay/token.txt"
printf '%s' "$PDM_K8S_DATABASE_URL" > "$work/k8s/overlays/$overlay/database-url.txt"
if [[ -n "$image" ]]; then
  # The image as name[:tag] (a registry host may carry a port: split at the last colon after
  # the last slash).
  name=$image tag=latest
  if [[ "${image##*/}" == *:* ]]; then name=${image%:*}; tag=${image##*:}; fi
  file=$work/k8s/overlays/$overlay/kustomization.yaml
  sed -i -e "s|^    newName: .*|    newName: $name|" -e "s|^    newTag: .*|    newTag: \"$tag\"|" "$file"
  grep -q "newName: $name$" "$file" || { echo "deploy: $overlay has no images entry" >&2; exit 1; }
fi
kubectl kustomize "$work/k8s/overlays/$overlay" > "$work/manifests.yaml"
if [[ "${PDM_DEPLOY_RENDER_ONLY:-0}" == 1 ]]; then
  cat "$work/manifests.yaml"
  exit 0
fi
namespace=$(sed -n 's/^namespace: //p' "$work/k8s/overlays/$overlay/kustomization.yaml")
kubectl apply -f "$work/manifests.yaml"
kubectl -n "$namespace" rollout status deployment/pdm --timeout=10m
