// Validates rendered Kubernetes manifests (a multi-document YAML file) against the Kubernetes
// schemas of kubernetes-models (and the Prometheus Operator's, for the ServiceMonitor), then
// prints the objects as JSON lines ({"kind":...,"name":...,"object":...}) for the contract checks
// of check_k8s.sh. Exits 1 naming every object that does not validate or whose kind is unknown.
// Usage: node validate.mjs RENDERED.yaml
import fs from "node:fs";
import { loadAll } from "js-yaml";

const groups = {
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator/monitoring.coreos.com",
};

async function modelFor(apiVersion, kind) {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const base = groups[group] ?? (group === "" ? "kubernetes-models" : `kubernetes-models/${group}`);
  const module = await import(`${base}/${version}/${kind}`);
  return module[kind];
}

const documents = loadAll(fs.readFileSync(process.argv[2], "utf8")).filter(Boolean);
let failed = 0;
for (const object of documents) {
  const name = `${object.kind}/${object.metadata?.name}`;
  let Model;
  try {
    Model = await modelFor(object.apiVersion, object.kind);
  } catch (e) {
    console.error(`${name}: no schema for ${object.apiVersion} ${object.kind}`);
    failed++;
    continue;
  }
  // kustomize wraps long base64 values in Secrets; Kubernetes' decoder skips the newlines, the
  // schema's "byte" format does not.
  if (object.kind === "Secret" && object.data) {
    for (const key of Object.keys(object.data)) {
      object.data[key] = String(object.data[key]).replace(/\s+/g, "");
    }
  }
  try {
    new Model(object).validate();
  } catch (e) {
    console.error(`${name}: ${e.message}`);
    failed++;
    continue;
  }
  console.log(JSON.stringify({ kind: object.kind, name: object.metadata?.name, object }));
}
if (failed > 0) process.exit(1);
