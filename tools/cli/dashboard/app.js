// The Sluice dashboard: one page over the node's JSON (/v1/dashboard/...)
// and its live stream. Views: overview, pipeline graph, members, stage,
// key, dead letters, subscribers. Every value shown comes from the
// console's answers or the node's metrics; nothing is computed on the
// node for a page that is not open.
'use strict';

const S = {
  session: null, topo: null, samples: [], es: null,
  view: null, update: null, leave: null, charts: [],
};
const KEEP = 600; // samples (one a second): ten minutes

// -- small helpers -----------------------------------------------------------

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}
const $ = (id) => document.getElementById(id);
const fmt = (n) => (n === undefined || n === null) ? '–' :
  typeof n !== 'number' ? String(n) :
  Number.isInteger(n) ? n.toLocaleString('en-US') :
  n.toLocaleString('en-US', { maximumFractionDigits: n < 10 ? 2 : 1 });
const fmtBytes = (b) => b >= 1 << 30 ? (b / (1 << 30)).toFixed(2) + ' GiB' :
  b >= 1 << 20 ? (b / (1 << 20)).toFixed(1) + ' MiB' : (b / 1024).toFixed(0) + ' KiB';
const fmtMs = (ms) => ms === null || ms === undefined ? '–' : ms >= 1000 ? (ms / 1000).toFixed(2) + ' s' : ms.toFixed(ms < 10 ? 2 : 1) + ' ms';

function banner(text, kind) {
  const b = $('banner');
  b.textContent = text;
  b.className = 'banner' + (kind === 'info' ? ' info' : '') + (text ? '' : ' hidden');
  if (kind === 'info') setTimeout(() => { if (b.textContent === text) banner(''); }, 6000);
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options) {
  const res = await fetch(path, Object.assign({ credentials: 'same-origin' }, options || {}));
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error: text }; }
  if (!res.ok) {
    if (res.status === 401 && S.session && S.session.tokens) showLogin('the session ended: log in again');
    throw new ApiError(res.status, (body && body.error) || res.statusText);
  }
  return body;
}

// A console command that changes nothing (GET).
function ask(command, ...args) {
  const q = new URLSearchParams({ c: command });
  for (const a of args) q.append('a', a);
  return api('/v1/dashboard/console?' + q.toString());
}

// An action (POST, scope admin, with the session's CSRF header).
function act(command, args) {
  return api('/v1/dashboard/console', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Sluice-CSRF': (S.session && S.session.csrf) || '' },
    body: JSON.stringify({ command, args }),
  });
}

function actionButton(label, onclick, cls) {
  const can = S.session && S.session.can_act;
  return h('button', {
    type: 'button', class: cls, disabled: !can, onclick,
    title: can ? undefined : (S.session && S.session.tokens
      ? 'needs a token with scope admin' : 'read-only: this node knows no token'),
  }, label);
}

function table(columns, rows, onRow) {
  return h('table', {},
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : undefined }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', {
      class: onRow ? 'clickable' : undefined, onclick: onRow ? () => onRow(r) : undefined,
    }, columns.map((c) => {
      const v = c.get(r);
      return h('td', { class: c.num ? 'num' : undefined, 'data-col': c.key || c.label }, v instanceof Node ? v : fmt(v));
    })))));
}

// Every field of `rows` as a column (cluster answers have more fields).
function autoTable(rows) {
  const keys = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
  return table(keys.map((k) => ({
    key: k, label: k, num: rows.every((r) => typeof r[k] === 'number' || r[k] === undefined),
    get: (r) => k === 'status' || k === 'phase' ? pill(r[k]) :
      r[k] !== null && typeof r[k] === 'object' ? JSON.stringify(r[k]) : r[k],
  })), rows);
}

const pill = (text) => h('span', { class: 'pill ' + String(text || '') }, text === undefined ? '–' : String(text));

function card(label, value, id) {
  return h('div', { class: 'card' }, h('div', { class: 'label' }, label),
    h('div', { class: 'value', id }, value));
}

// -- samples: rates and latency from two moments ----------------------------

function stageMap(sample) {
  const m = {};
  for (const s of (sample && sample.stages && sample.stages.stages) || []) m[s.name] = s;
  return m;
}

// Events/s per stage between two samples: in (dispatched) and out (done,
// skipped or dead-lettered); null when no time passed between them.
const finished = (s) => s.done + s.skipped + s.dead_lettered;
function stageRates(prev, cur) {
  const dt = (cur.t - prev.t) / 1000;
  if (dt <= 0) return null;
  const a = stageMap(prev), out = {};
  for (const [name, s] of Object.entries(stageMap(cur))) {
    const p = a[name];
    out[name] = p ? { in: Math.max(0, (s.in - p.in) / dt), out: Math.max(0, (finished(s) - finished(p)) / dt) }
      : { in: 0, out: 0 };
  }
  return out;
}

// Events/s per stage over the last `back` samples (seconds).
function rates(back) {
  const n = S.samples.length;
  if (n < 2) return {};
  return stageRates(S.samples[Math.max(0, n - 1 - back)], S.samples[n - 1]) || {};
}

// The upper bound (ms) of the bucket holding quantile q of the latencies
// recorded between two samples; null when none was.
function windowQuantile(prev, cur, stage, q) {
  const b = cur.metrics.stages[stage] && cur.metrics.stages[stage].latency_buckets;
  if (!b) return null;
  const a = (prev.metrics.stages[stage] && prev.metrics.stages[stage].latency_buckets) || [];
  const d = b.map((v, i) => Math.max(0, v - (a[i] || 0)));
  const total = d.reduce((x, y) => x + y, 0);
  if (total === 0) return null;
  let seen = 0;
  for (let i = 0; i < d.length; i++) {
    seen += d[i];
    if (seen >= q * total) return i < d.length - 1 ? Math.pow(2, i) / 1000 : Math.pow(2, d.length - 1) / 1000;
  }
  return null;
}

// -- charts (Chart.js from Debian's libjs-chart.js) -------------------------

const COLORS = ['#2364aa', '#c0392b', '#2e8540', '#8e44ad', '#c77c02', '#16a085', '#7f8c8d', '#d35400', '#34495e', '#e84393'];

function lineChart(parent, title, names, unit) {
  const canvas = h('canvas', {});
  parent.append(h('div', { class: 'chart' }, h('div', { class: 'title' }, title), canvas));
  const chart = new Chart(canvas, {
    type: 'line',
    data: { labels: [], datasets: names.map((n, i) => ({ label: n, data: [], borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length], borderWidth: 1.5, pointRadius: 0, spanGaps: true })) },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, normalized: true,
      interaction: { mode: 'index', intersect: false },
      plugins: { legend: { display: names.length > 1, labels: { boxWidth: 10 } } },
      scales: { x: { ticks: { maxTicksLimit: 8 } }, y: { beginAtZero: true, title: { display: !!unit, text: unit } } },
    },
  });
  S.charts.push(chart);
  return chart;
}

function barChart(parent, title, unit) {
  const canvas = h('canvas', {});
  parent.append(h('div', { class: 'chart' }, h('div', { class: 'title' }, title), canvas));
  const chart = new Chart(canvas, {
    type: 'bar',
    data: { labels: [], datasets: [{ label: unit, data: [], backgroundColor: '#2364aa' }] },
    options: { animation: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
  S.charts.push(chart);
  return chart;
}

// Fills `chart` with one point per sample: fn(prev, cur) gives each
// dataset's value.
function plot(chart, fn) {
  const labels = [], series = chart.data.datasets.map(() => []);
  for (let i = 1; i < S.samples.length; i++) {
    const prev = S.samples[i - 1], cur = S.samples[i];
    const d = new Date(cur.t);
    labels.push(d.toTimeString().slice(0, 8));
    const v = fn(prev, cur);
    series.forEach((s, k) => s.push(v[k]));
  }
  chart.data.labels = labels;
  chart.data.datasets.forEach((ds, k) => { ds.data = series[k]; });
  chart.update('none');
}

// -- views -------------------------------------------------------------------

const views = {};

views.overview = function (root) {
  root.append(h('h1', {}, 'Overview'));
  const cards = h('div', { class: 'cards' });
  root.append(cards);
  const charts = h('div', { class: 'charts' });
  const stagesBox = h('div', {});
  root.append(charts, h('h2', {}, 'Stages'), stagesBox);
  const names = S.topo.stages.map((s) => s.name).slice(0, 10);
  const flow = lineChart(charts, 'events/s, every stage', ['in', 'out'], 'events/s');
  const queued = lineChart(charts, 'queued events', ['urgent', 'normal'], 'events');
  const p99 = lineChart(charts, 'p99 latency by stage, each second (ms)', names, 'ms');
  return (sample) => {
    const st = (sample.stages && sample.stages.stages) || [];
    const nodes = (sample.nodes && sample.nodes.nodes) || [];
    const sum = (f) => st.reduce((a, s) => a + f(s), 0);
    const r = rates(5);
    const rin = Object.values(r).reduce((a, x) => a + x.in, 0);
    const rout = Object.values(r).reduce((a, x) => a + x.out, 0);
    const m = sample.metrics || {};
    const up = nodes.filter((n) => n.status === 'up').length;
    cards.replaceChildren(
      card('members up', `${up} / ${nodes.length}`, 'ov-members'),
      card('events/s in (5 s)', fmt(Math.round(rin)), 'ov-rate-in'),
      card('events/s out (5 s)', fmt(Math.round(rout)), 'ov-rate-out'),
      card('events done', fmt(sum((s) => s.done)), 'ov-done'),
      card('dead-lettered', fmt(sum((s) => s.dead_lettered)), 'ov-dead'),
      card('retries', fmt(sum((s) => s.retried)), 'ov-retried'),
      card('queued', fmt(sum((s) => s.queued_urgent + s.queued_normal)), 'ov-queued'),
      card('in flight', fmt(sum((s) => s.in_flight)), 'ov-in-flight'),
      card('outbox', fmt(m.outbox_depth || 0), 'ov-outbox'),
      card('store used', m.store_used_bytes !== undefined ? fmtBytes(m.store_used_bytes) : '–', 'ov-store'));
    stagesBox.replaceChildren(table([
      { key: 'name', label: 'stage', get: (s) => s.name },
      { key: 'state', label: 'state', get: (s) => pill(s.paused ? 'paused' : 'running') },
      { key: 'in', label: 'in', num: true, get: (s) => s.in },
      { key: 'done', label: 'done', num: true, get: (s) => s.done },
      { key: 'skipped', label: 'skipped', num: true, get: (s) => s.skipped },
      { key: 'retried', label: 'retried', num: true, get: (s) => s.retried },
      { key: 'dead_lettered', label: 'dead-lettered', num: true, get: (s) => s.dead_lettered },
      { key: 'queued_urgent', label: 'queued urgent', num: true, get: (s) => s.queued_urgent },
      { key: 'queued_normal', label: 'queued normal', num: true, get: (s) => s.queued_normal },
      { key: 'in_flight', label: 'in flight', num: true, get: (s) => s.in_flight },
      { key: 'rate', label: 'events/s', num: true, get: (s) => Math.round((r[s.name] || { out: 0 }).out) },
      { key: 'p50', label: 'p50 (since start)', num: true, get: (s) => fmtMs(s.latency.normal.p50_ms) },
      { key: 'p99', label: 'p99 (since start)', num: true, get: (s) => fmtMs(s.latency.normal.p99_ms) },
    ], st, (s) => { location.hash = '#/stage/' + encodeURIComponent(s.name); }));
    plot(flow, (a, b) => {
      const r = stageRates(a, b);
      if (!r) return [null, null];
      const all = Object.values(r);
      return [all.reduce((t, x) => t + x.in, 0), all.reduce((t, x) => t + x.out, 0)];
    });
    plot(queued, (a, b) => {
      const x = (b.stages && b.stages.stages) || [];
      return [x.reduce((t, s) => t + s.queued_urgent, 0), x.reduce((t, s) => t + s.queued_normal, 0)];
    });
    plot(p99, (a, b) => names.map((n) => windowQuantile(a, b, n, 0.99)));
  };
};

views.graph = function (root) {
  root.append(h('h1', {}, 'Pipeline ', h('span', { class: 'muted' }, S.topo.name)));
  root.append(h('div', { class: 'legend' },
    h('span', {}, h('span', { class: 'swatch sw0' }), 'idle'),
    h('span', {}, h('span', { class: 'swatch sw1' }), 'queue < 1k or ≥ 25% of its credit in flight'),
    h('span', {}, h('span', { class: 'swatch sw2' }), 'queue < 100k or ≥ 50% busy'),
    h('span', {}, h('span', { class: 'swatch sw3' }), 'queue ≥ 100k or ≥ 90% busy'),
    h('span', {}, 'edges: events/s over 5 s; dashed: paused')));
  const box = h('div', { id: 'graph' });
  root.append(box);
  // A new topology from a file on the node's machine: what it changes,
  // then applied without a restart (the console's `topology diff|apply`).
  const path = h('input', { id: 'topo-path', placeholder: '/etc/sluice/pipeline.yaml', required: true, size: 48 });
  const out = h('div', { id: 'topo-result' });
  const showChanges = (verb, a) => out.replaceChildren(
    h('p', { class: 'ok' }, `${verb}: ${a.changes.length ? a.changes.length + ' change' + (a.changes.length === 1 ? '' : 's') : 'nothing changes'}`),
    a.changes.length ? h('pre', {}, a.changes.join('\n')) : '');
  const diffBtn = h('button', { type: 'button', id: 'topo-diff', class: 'secondary', onclick: async () => {
    try { showChanges('diff', await ask('topology', 'diff', path.value.trim())); } catch (e) { out.replaceChildren(h('p', { class: 'error' }, e.message)); }
  } }, 'Diff');
  const applyBtn = actionButton('Apply', async () => {
    try {
      const a = await act('topology', ['apply', path.value.trim()]);
      showChanges(a.applied ? 'applied' : 'not applied', a);
      S.topo = await api('/v1/dashboard/topology');
    } catch (e) { out.replaceChildren(h('p', { class: 'error' }, e.message)); }
  });
  applyBtn.id = 'topo-apply';
  root.append(h('h2', {}, 'A new topology'),
    h('form', { class: 'row', onsubmit: (e) => e.preventDefault() }, h('label', {}, 'file on the node\'s machine', path), diffBtn, applyBtn), out);
  return (sample) => {
    window.sluiceGraph.draw(box, S.topo, stageMap(sample), rates(5),
      (name) => { location.hash = '#/stage/' + encodeURIComponent(name); });
  };
};

views.members = function (root) {
  root.append(h('h1', {}, 'Members and shards'));
  const cards = h('div', { class: 'cards' });
  const nodesBox = h('div', {}), shardsBox = h('div', {}), noteBox = h('p', { class: 'muted' });
  root.append(cards, h('h2', {}, 'Members'), nodesBox, h('h2', {}, 'Shards'), noteBox, shardsBox);
  let shardsAt = 0;
  const loadShards = async () => {
    try {
      const s = await ask('shards');
      if (!s.cluster && Array.isArray(s.shards)) {
        noteBox.textContent = s.note || '';
        shardsBox.replaceChildren(autoTable(s.shards));
        return;
      }
      // A cluster member: the shard map's owners, this member's own
      // shards and hand-offs, and replication when it is on.
      noteBox.textContent = `${s.count} shards; owners by the shard map, then this member's own`;
      const owners = Object.entries(s.owners || {}).map(([member, shards]) => ({ member, shards }));
      const parts = [
        h('div', { class: 'cards' },
          card('owned here', fmt(s.owned_here), 'sh-owned'), card('leaving', fmt(s.leaving), 'sh-leaving'),
          card('to hand off', fmt(s.to_hand_off), 'sh-to-hand-off'), card('hand-offs coming in', fmt(s.incoming), 'sh-incoming')),
        h('h2', {}, 'Owners'), autoTable(owners),
      ];
      const r = s.replication;
      if (r) {
        parts.push(h('h2', {}, 'Replication'),
          h('div', { class: 'cards' },
            card('replicas per shard', fmt(r.factor), 'sh-factor'), card('min in sync', fmt(r.min_insync), 'sh-min-insync'),
            card('under-replicated here', fmt(r.under_replicated_here), 'sh-under'), card('max follower lag', fmt(r.max_follower_lag), 'sh-lag'),
            card('without owner', fmt(r.without_owner), 'sh-orphans'), card('controller lease', r.lease ? 'held' : 'lost', 'sh-lease')),
          h('h2', {}, 'Shards owned here: replicas and in-sync set'), autoTable(r.owned || []));
        if (r.rebalance) parts.push(h('h2', {}, 'Rebalance (controller)'), autoTable([r.rebalance]));
      }
      shardsBox.replaceChildren(...parts);
    } catch (e) { shardsBox.replaceChildren(h('p', { class: 'error' }, e.message)); }
  };
  return (sample) => {
    const m = sample.metrics || {};
    const n = sample.nodes || {};
    const used = m.store_used_bytes || 0, max = m.store_max_bytes || 0;
    cards.replaceChildren(
      card('members', fmt((n.nodes || []).length), 'mem-count'),
      card('outbox', fmt(m.outbox_depth || 0), 'mem-outbox'),
      card('commits', fmt(m.store_commits_total || 0), 'mem-commits'),
      card('LMDB map used', max ? `${fmtBytes(used)} (${(100 * used / max).toFixed(2)}%)` : fmtBytes(used), 'mem-store'));
    nodesBox.replaceChildren(autoTable(n.nodes || []));
    if (n.cluster) nodesBox.append(h('pre', {}, JSON.stringify(Object.fromEntries(Object.entries(n).filter(([k]) => k !== 'nodes')), null, 2)));
    if (sample.t - shardsAt > 5000) { shardsAt = sample.t; loadShards(); }
  };
};

views.stage = function (root, args) {
  const names = S.topo.stages.map((s) => s.name);
  const name = args[0] && names.includes(args[0]) ? args[0] : names[0];
  const select = h('select', { id: 'stage-select', onchange: (e) => { location.hash = '#/stage/' + encodeURIComponent(e.target.value); } },
    names.map((n) => h('option', { value: n, selected: n === name }, n)));
  const pauseBtn = actionButton('Pause', async () => {
    const st = stageMap(S.samples[S.samples.length - 1])[name];
    const cmd = st && st.paused ? 'resume' : 'pause';
    try { await act(cmd, [name]); banner(`${cmd}d ${name}`, 'info'); } catch (e) { banner(`${cmd} ${name}: ${e.message}`); }
  }, 'secondary');
  pauseBtn.id = 'stage-pause';
  root.append(h('div', { class: 'row' }, h('h1', {}, 'Stage'), select, pauseBtn));
  const spec = S.topo.stages.find((s) => s.name === name);
  root.append(h('p', { class: 'muted' }, `behaviour ${spec.behaviour}; takes ${spec.subscribe.join(', ')}`,
    spec.emits.length ? `; emits ${spec.emits.join(', ')}` : '', spec.changelog ? '; keeps a changelog' : ''));
  const cards = h('div', { class: 'cards' });
  const charts = h('div', { class: 'charts' });
  const keysBox = h('div', {});
  root.append(cards, charts, h('h2', {}, 'Busiest keys'), keysBox);
  const flow = lineChart(charts, 'events/s', ['in', 'out'], 'events/s');
  const lat = lineChart(charts, 'latency from ingest to this stage\'s commit, each second', ['p50', 'p99'], 'ms');
  const queue = lineChart(charts, 'queued', ['urgent', 'normal'], 'events');
  const hist = barChart(charts, 'latency histogram, last minute (events per bucket)', 'events');
  let keysAt = 0;
  const loadKeys = async () => {
    try {
      const a = await ask('actors', name);
      const rows = (a.actors || []).slice(0, 15);
      keysBox.replaceChildren(rows.length ? table([
        { key: 'key', label: 'key', get: (r) => r.key },
        { key: 'urgent', label: 'mailbox urgent', num: true, get: (r) => r.mailbox.urgent },
        { key: 'normal', label: 'mailbox normal', num: true, get: (r) => r.mailbox.normal },
        { key: 'parked', label: 'parked', num: true, get: (r) => r.mailbox.parked },
        { key: 'restarts', label: 'restarts', num: true, get: (r) => r.restarts },
        { key: 'retrying', label: 'retrying', get: (r) => r.retrying ? 'yes' : '' },
      ], rows, (r) => { location.hash = '#/key/' + encodeURIComponent(name) + '/' + encodeURIComponent(r.key); })
        : h('p', { class: 'muted' }, 'no live key actors'));
    } catch (e) { keysBox.replaceChildren(h('p', { class: 'error' }, e.message)); }
  };
  return (sample) => {
    const st = stageMap(sample)[name];
    if (!st) return;
    const mm = (sample.metrics.stages || {})[name] || {};
    pauseBtn.textContent = st.paused ? 'Resume' : 'Pause';
    const r = rates(5)[name] || { in: 0, out: 0 };
    cards.replaceChildren(
      card('state', st.paused ? 'paused' : 'running', 'st-state'),
      card('in', fmt(st.in), 'st-in'), card('done', fmt(st.done), 'st-done'),
      card('skipped', fmt(st.skipped), 'st-skipped'), card('retried', fmt(st.retried), 'st-retried'),
      card('dead-lettered', fmt(st.dead_lettered), 'st-dead'),
      card('queued urgent', fmt(st.queued_urgent), 'st-q-urgent'), card('queued normal', fmt(st.queued_normal), 'st-q-normal'),
      card('in flight', fmt(st.in_flight), 'st-in-flight'), card('live keys', fmt(st.live_keys), 'st-live-keys'),
      card('key restarts', fmt(mm.restarts || 0), 'st-restarts'), card('retries waiting', fmt(mm.retrying || 0), 'st-retrying'),
      card('events/s (5 s)', fmt(Math.round(r.out)), 'st-rate'),
      card('p50 / p99 (since start)', `${fmtMs(st.latency.normal.p50_ms)} / ${fmtMs(st.latency.normal.p99_ms)}`, 'st-latency'));
    plot(flow, (a, b) => {
      const r = (stageRates(a, b) || {})[name];
      return r ? [r.in, r.out] : [null, null];
    });
    plot(lat, (a, b) => [windowQuantile(a, b, name, 0.5), windowQuantile(a, b, name, 0.99)]);
    plot(queue, (a, b) => { const y = stageMap(b)[name]; return y ? [y.queued_urgent, y.queued_normal] : [null, null]; });
    const first = S.samples[Math.max(0, S.samples.length - 61)];
    const now = (sample.metrics.stages[name] || {}).latency_buckets || [];
    const then = ((first.metrics.stages || {})[name] || {}).latency_buckets || [];
    const labels = now.map((_, i) => i < now.length - 1 ? '≤' + fmtMs(Math.pow(2, i) / 1000) : '> ' + fmtMs(Math.pow(2, i - 1) / 1000));
    const d = now.map((v, i) => Math.max(0, v - (then[i] || 0)));
    let lo = d.findIndex((v) => v > 0), hi = d.length - 1 - [...d].reverse().findIndex((v) => v > 0);
    if (lo < 0) { lo = 0; hi = -1; }
    hist.data.labels = labels.slice(lo, hi + 1);
    hist.data.datasets[0].data = d.slice(lo, hi + 1);
    hist.update('none');
    if (sample.t - keysAt > 2000) { keysAt = sample.t; loadKeys(); }
  };
};

views.key = function (root, args) {
  const names = S.topo.stages.map((s) => s.name);
  const stage = args[0] && names.includes(args[0]) ? args[0] : names[names.length - 1];
  const key = args[1] || '';
  const select = h('select', { id: 'key-stage' }, names.map((n) => h('option', { value: n, selected: n === stage }, n)));
  const input = h('input', { id: 'key-input', value: key, placeholder: 'a key, e.g. npm/react', required: true });
  const form = h('form', { class: 'row', onsubmit: (e) => {
    e.preventDefault();
    location.hash = '#/key/' + encodeURIComponent(select.value) + '/' + encodeURIComponent(input.value.trim());
  } }, h('label', {}, 'stage', select), h('label', {}, 'key', input), h('button', { type: 'submit' }, 'Show'));
  root.append(h('h1', {}, 'Key'), form);
  if (!key) { root.append(h('p', { class: 'muted' }, 'Search a key to see its state, its path through the stages and its changes as they happen.')); return null; }
  const status = h('div', { class: 'cards' });
  const stateBox = h('pre', { id: 'key-state' });
  const traceBox = h('div', {});
  const changes = [];
  const changesBox = h('div', { id: 'key-changes' });
  const errorBox = h('p', { class: 'error', id: 'key-error' });
  root.append(errorBox, status, h('div', { class: 'split' },
    h('div', {}, h('h2', {}, 'State'), stateBox, h('h2', {}, 'Changes while this page is open'), changesBox),
    h('div', {}, h('h2', {}, 'Trace'), traceBox)));
  const spec = S.topo.stages.find((x) => x.name === stage);
  const showChanges = () => changesBox.replaceChildren(changes.length ? table([
    { label: 'at (UTC)', get: (c) => c.at }, { label: 'version', num: true, get: (c) => c.version },
    { label: 'what', get: (c) => c.what }, { label: 'event', get: (c) => c.event },
  ], changes.slice(0, 50)) : h('p', { class: 'muted' }, 'none yet'));
  showChanges();
  // A stage with a changelog streams every change of the key (its change
  // feed, filtered by key); otherwise each new version is seen when the
  // key is read again, once a second.
  if (spec && spec.changelog) {
    const feed = new EventSource(`/v1/feed/${encodeURIComponent(stage)}?key=${encodeURIComponent(key)}`);
    const onChange = (e) => {
      const c = JSON.parse(e.data);
      changes.unshift({ at: (c.ts || '').replace('T', ' ').replace('Z', ''), version: c.version, what: c.type, event: c.event_id || '' });
      showChanges();
    };
    feed.addEventListener('change', onChange);
    feed.addEventListener('removed', onChange);
    S.leave = () => feed.close();
  }
  let last = null, busy = false;
  const load = async () => {
    if (busy) return;
    busy = true;
    try {
      const k = await ask('inspect', stage, key);
      errorBox.textContent = '';
      const st = k.status || {};
      status.replaceChildren(
        card('version', fmt(k.version), 'key-version'),
        card('events processed', fmt(k.events_processed), 'key-events'),
        card('status', `${st.stage || '–'} / ${st.phase || '–'}`, 'key-status'),
        card('mailbox', k.mailbox ? `${k.mailbox.urgent} urgent, ${k.mailbox.normal} normal` : '–', 'key-mailbox'),
        card('dead letters', fmt((k.dead_letters || []).length), 'key-dead'),
        card('restarts', fmt(k.restarts), 'key-restarts'));
      if (k.last_error) status.append(card('last error', k.last_error, 'key-last-error'));
      const text = JSON.stringify(k.state, null, 2);
      if (stateBox.textContent !== text) stateBox.textContent = text;
      if (last !== null && k.version !== last && !(spec && spec.changelog)) {
        changes.unshift({ at: (k.updated || '').replace('T', ' ').replace('Z', ''), version: k.version, what: 'change', event: k.last_event_id || '' });
        showChanges();
      }
      last = k.version;
      const t = await ask('trace', key);
      traceBox.replaceChildren(autoTable(t.path || []), t.waiting ? h('pre', {}, JSON.stringify(t.waiting, null, 2)) : '');
    } catch (e) {
      errorBox.textContent = e.message;
    } finally { busy = false; }
  };
  load();
  return () => load();
};

views.dlq = function (root) {
  const names = S.topo.stages.map((s) => s.name);
  const stageSel = h('select', { id: 'dlq-stage' }, h('option', { value: '' }, 'every stage'), names.map((n) => h('option', { value: n }, n)));
  const keyIn = h('input', { id: 'dlq-key', placeholder: 'key' });
  const grepIn = h('input', { id: 'dlq-grep', placeholder: 'text in the error or payload' });
  const listBox = h('div', { id: 'dlq-list' }), showBox = h('div', {});
  const selected = new Set();
  const result = h('p', { id: 'dlq-result' });
  let confirmDrop = false;
  const dropBtn = actionButton('Drop selected', async () => {
    if (!confirmDrop) { confirmDrop = true; dropBtn.textContent = `Confirm: drop ${selected.size}`; return; }
    await run('drop');
  }, 'danger');
  dropBtn.id = 'dlq-drop';
  const redriveBtn = actionButton('Redrive selected', () => run('redrive'));
  redriveBtn.id = 'dlq-redrive';
  const run = async (what) => {
    confirmDrop = false; dropBtn.textContent = 'Drop selected';
    if (selected.size === 0) { result.textContent = 'select dead letters first'; result.className = 'error'; return; }
    try {
      const a = await act('dlq', [what, ...selected]);
      result.className = 'ok';
      result.textContent = `${what}: ` + Object.entries(a).map(([k, v]) => `${k} ${Array.isArray(v) ? v.length : typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
      selected.clear();
      await load();
    } catch (e) { result.className = 'error'; result.textContent = `${what}: ${e.message}`; }
  };
  const load = async () => {
    const args = ['list'];
    if (stageSel.value) args.push('--stage', stageSel.value);
    if (keyIn.value.trim()) args.push('--key', keyIn.value.trim());
    if (grepIn.value.trim()) args.push('--grep', grepIn.value.trim());
    try {
      const a = await ask('dlq', ...args);
      const rows = a.dead_letters || [];
      listBox.replaceChildren(h('p', { class: 'muted' }, `${rows.length} dead letter${rows.length === 1 ? '' : 's'}`),
        rows.length ? table([
          { label: '', get: (r) => h('input', { type: 'checkbox', class: 'dlq-check', 'data-id': r.id, checked: selected.has(r.id),
            onclick: (e) => { e.stopPropagation(); if (e.target.checked) selected.add(r.id); else selected.delete(r.id); } }) },
          { key: 'id', label: 'id', get: (r) => r.id }, { key: 'stage', label: 'stage', get: (r) => r.stage },
          { key: 'key', label: 'key', get: (r) => r.key }, { key: 'attempts', label: 'attempts', num: true, get: (r) => r.attempts },
          { key: 'error', label: 'last error', get: (r) => r.last_error },
        ], rows, (r) => show(r.id)) : '');
    } catch (e) { listBox.replaceChildren(h('p', { class: 'error' }, e.message)); }
  };
  const show = async (id) => {
    try {
      const d = await ask('dlq', 'show', id);
      showBox.replaceChildren(h('h2', {}, 'Dead letter ' + id), h('pre', { id: 'dlq-detail' }, JSON.stringify(d, null, 2)));
    } catch (e) { showBox.replaceChildren(h('p', { class: 'error' }, e.message)); }
  };
  root.append(h('h1', {}, 'Dead letters'),
    h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); load(); } },
      h('label', {}, 'stage', stageSel), h('label', {}, 'key', keyIn), h('label', {}, 'text', grepIn),
      h('button', { type: 'submit', id: 'dlq-filter' }, 'Filter'), redriveBtn, dropBtn),
    result, listBox, showBox);
  load();
  return null;
};

views.subscribers = function (root) {
  root.append(h('h1', {}, 'Change-feed subscribers'));
  const subsBox = h('div', { id: 'subs-list' }), logsBox = h('div', {});
  root.append(subsBox, h('h2', {}, 'Changelogs'), logsBox);
  let at = 0;
  const load = async () => {
    try {
      const a = await ask('subscribers');
      subsBox.replaceChildren((a.subscribers || []).length ? autoTable(a.subscribers)
        : h('p', { class: 'muted' }, 'No subscriber is connected (GET /v1/feed/STAGE, sluice subscribe).'));
      logsBox.replaceChildren((a.changelogs || []).length ? autoTable(a.changelogs)
        : h('p', { class: 'muted' }, 'No stage keeps a changelog (changelog: in the topology).'));
    } catch (e) { subsBox.replaceChildren(h('p', { class: 'error' }, e.message)); }
  };
  load();
  return (sample) => { if (sample.t - at > 2000) { at = sample.t; load(); } };
};

// -- routing, stream, session -----------------------------------------------

function route() {
  const parts = (location.hash || '#/overview').slice(2).split('/').map(decodeURIComponent);
  const name = views[parts[0]] ? parts[0] : 'overview';
  for (const c of S.charts) c.destroy();
  S.charts = [];
  if (S.leave) S.leave();
  S.leave = null;
  const root = $('view');
  root.replaceChildren();
  S.view = name;
  banner('');
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === name);
  S.update = views[name](root, parts.slice(1));
  root.dataset.view = name;
  if (S.update && S.samples.length) S.update(S.samples[S.samples.length - 1]);
}

function connect() {
  if (S.es) S.es.close();
  const es = new EventSource('/v1/dashboard/stream');
  S.es = es;
  const live = $('live');
  es.addEventListener('open', () => { live.className = 'live on'; live.textContent = '● live'; });
  es.addEventListener('history', (e) => {
    S.samples = JSON.parse(e.data);
    if (S.update && S.samples.length) S.update(S.samples[S.samples.length - 1]);
  });
  es.addEventListener('sample', (e) => {
    const s = JSON.parse(e.data);
    S.samples.push(s);
    if (S.samples.length > KEEP) S.samples.splice(0, S.samples.length - KEEP);
    document.body.dataset.samples = String(S.samples.length);
    document.body.dataset.sampleBytes = String(e.data.length);
    // How long the view took to draw this sample (bench/dashboard_page.sh).
    const t0 = performance.now();
    if (S.update) S.update(s);
    document.body.dataset.updateMs = (performance.now() - t0).toFixed(2);
  });
  es.addEventListener('down', (e) => {
    live.className = 'live off'; live.textContent = '● node down';
    banner('the node is not serving: ' + JSON.parse(e.data).reason);
  });
  es.addEventListener('error', () => {
    live.className = 'live off'; live.textContent = '● reconnecting';
    if (es.readyState === EventSource.CLOSED) setTimeout(start, 3000);
  });
}

function showLogin(why) {
  if (S.es) { S.es.close(); S.es = null; }
  $('login').classList.remove('hidden');
  $('view').classList.add('hidden');
  $('login-error').textContent = why || '';
}

async function start() {
  try {
    S.session = await api('/v1/dashboard/session');
  } catch (e) { banner('cannot reach the node: ' + e.message); return; }
  const s = S.session;
  $('pipeline').textContent = s.pipeline ? 'pipeline ' + s.pipeline : '';
  $('who').textContent = s.who ? `${s.who} (${s.can_act ? 'may act' : 'read-only'})` : s.tokens ? '' : 'read-only: this node knows no token';
  $('logout').classList.toggle('hidden', !s.csrf);
  if (s.tokens && !s.who) return showLogin();
  $('login').classList.add('hidden');
  $('view').classList.remove('hidden');
  try { S.topo = await api('/v1/dashboard/topology'); } catch (e) { banner(e.message); return; }
  route();
  connect();
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('/v1/dashboard/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: $('login-token').value }) });
      $('login-token').value = '';
      await start();
    } catch (err) { $('login-error').textContent = err.message; }
  });
  $('logout').addEventListener('click', async () => {
    try {
      await api('/v1/dashboard/logout', { method: 'POST', headers: { 'X-Sluice-CSRF': S.session.csrf || '' } });
    } catch (e) { /* the session may have ended already */ }
    location.reload();
  });
  window.addEventListener('hashchange', route);
  start();
});
