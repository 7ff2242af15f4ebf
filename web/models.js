// Models: the registry's versions with their aliases, metrics and lineage; the champion (the
// served alias's holder) against the challenger; promote and roll back (with the operator
// token: POST /api/v1/models/{name}/aliases/{alias}); each version's training report.
import { act, api, badge, errorText, h, num, table, time, toast } from './lib.js';

// The headline metrics of a task, in the order shown.
const CLASSIFY = [['roc_auc', 'ROC AUC'], ['pr_auc', 'PR AUC'], ['precision', 'Precision'], ['recall', 'Recall'], ['f1', 'F1'], ['brier', 'Brier'], ['threshold', 'Threshold']];
const RUL = [['rmse', 'RMSE'], ['mae', 'MAE'], ['nasa_score', 'NASA score'], ['r2', 'R²']];

function metricsOf(version) {
  const m = version.metrics && (version.metrics.ensemble || version.metrics);
  return m || {};
}

export async function render(view, _args, { served }) {
  const content = h('div');
  view.append(h('h1', {}, 'Models'), content);

  async function load() {
    let current;
    try {
      ({ models: [current] } = await api('/api/v1/models'));
    } catch (error) {
      content.replaceChildren(h('p.error', {}, errorText(error)));
      return;
    }
    if (!current) {
      content.replaceChildren(h('p.muted', {}, 'No model is served.'));
      return;
    }
    const data = await api(`/api/v1/models/${encodeURIComponent(current.name)}/versions`);
    const alias = current.alias;
    const metricNames = current.task === 'rul' ? RUL : CLASSIFY;
    const champion = data.versions.find((v) => v.version === data.aliases[alias]);
    // The challenger: the holder of "challenger" when that alias exists, else the newest other.
    const others = data.versions.filter((v) => v !== champion);
    const challenger = others.find((v) => v.version === data.aliases.challenger) || others[others.length - 1];

    async function move(body, what) {
      try {
        const out = await act(`/api/v1/models/${encodeURIComponent(data.name)}/aliases/${encodeURIComponent(alias)}`, body);
        toast(`${what}: ${alias} → v${out.version}${out.served_version ? ` (serving v${out.served_version})` : ''}`);
        await load();
      } catch (error) { toast(errorText(error), 'error'); }
    }

    const compare = h('section', { 'aria-labelledby': 'cmp-title' }, h('h2', { id: 'cmp-title' }, 'Champion against challenger'));
    if (champion && challenger) {
      const mc = metricsOf(champion);
      const mh = metricsOf(challenger);
      compare.append(table(['Metric', `Champion v${champion.version} (${alias})`, `Challenger v${challenger.version}`, 'Difference'],
        metricNames.filter(([k]) => mc[k] !== undefined || mh[k] !== undefined).map(([k, label]) => [label, num(mc[k], 4), num(mh[k], 4),
          mc[k] !== undefined && mh[k] !== undefined ? `${mh[k] - mc[k] >= 0 ? '+' : ''}${num(mh[k] - mc[k], 4)}` : '–'])),
      h('p', {}, h('button', { type: 'button', id: 'promote-challenger', onclick: () => move({ version: challenger.version, reason: 'promoted from the dashboard', by: 'dashboard' }, 'Promoted') }, `Promote v${challenger.version} to ${alias}`)));
    } else {
      compare.append(h('p.muted', {}, 'One version only: nothing to compare yet.'));
    }

    const versions = h('section', { 'aria-labelledby': 'versions-title' }, h('h2', { id: 'versions-title' }, `Versions of ${data.name}`),
      table(['Version', 'Aliases', 'Created', ...metricNames.slice(0, 4).map(([, l]) => l), 'Data', 'Report', ''], data.versions.slice().reverse().map((v) => {
        const m = metricsOf(v);
        const serving = data.served && data.served.version === v.version;
        return [
          h('span', {}, `v${v.version} `, serving ? badge('ok', 'served') : null),
          v.aliases.join(', ') || '–',
          time(v.created),
          ...metricNames.slice(0, 4).map(([k]) => num(m[k], 4)),
          h('code', { title: `dataset fingerprint ${v.dataset_fingerprint}; features ${v.feature_spec_hash}` }, (v.dataset_fingerprint || '').slice(0, 10)),
          h('a', { href: `/api/v1/models/${encodeURIComponent(data.name)}/versions/${v.version}/report`, target: '_blank', rel: 'noopener' }, 'report'),
          v.version === data.aliases[alias] ? '' : h('button.secondary', { type: 'button', dataset: { version: v.version }, onclick: () => move({ version: v.version, reason: 'promoted from the dashboard', by: 'dashboard' }, 'Promoted') }, `Promote to ${alias}`),
        ];
      }), { className: 'versions' }),
      h('p', {}, h('button.secondary', { type: 'button', onclick: () => move({ rollback: true, reason: 'rolled back from the dashboard', by: 'dashboard' }, 'Rolled back') }, `Roll back ${alias}`)));

    const audit = h('section', { 'aria-labelledby': 'audit-title' }, h('h2', { id: 'audit-title' }, 'Audit trail'),
      table(['Time', 'Action', 'Alias', 'From', 'To', 'Actor', 'Reason'], data.audit.slice(0, 50).map((e) => [
        time(e.time), e.action, e.alias || '–', e.from_version ? `v${e.from_version}` : '–', e.to_version ? `v${e.to_version}` : '–', e.actor, e.reason])));

    content.replaceChildren(
      h('p.summary', {}, 'Serving ', h('strong', { id: 'served-version' }, `${data.name} v${current.version}`), ` (${alias}) · task ${current.task} · members ${current.members.join(', ')} · ${current.features.length} features`),
      compare, versions, audit);
    served.version = current.version;
  }
  await load();
  render.onEvent = (type) => { if (type === 'model' || type === 'poll') load(); };
  return () => { render.onEvent = null; };
}

export function onEvent(type, data) {
  if (render.onEvent) render.onEvent(type, data);
}
