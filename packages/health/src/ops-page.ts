// The ops page: one self-contained HTML document (no CDN, no external file, works offline). Its
// style and script are inline and allowed by their SHA-256 hashes in a strict CSP, so nothing
// else can run or load on the page. It polls `<path>/state` and renders with textContent only
// (check errors are data, never markup).
import { createHash } from 'node:crypto';

const STYLE = `
:root{color-scheme:light dark;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--muted:#6e7781;--line:#d0d7de}
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;padding:1rem 1.5rem;max-width:78rem}
header{display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap;border-bottom:1px solid var(--line);padding-bottom:.5rem}
h1{font-size:1.3rem;margin:0}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted)}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass,.closed,.healthy,.shared,.ok{color:var(--ok);font-weight:600}.degraded,.half-open,.pending,.fallback{color:var(--warn);font-weight:600}
.fail,.open,.unhealthy,.error{color:var(--bad);font-weight:600}.muted{color:var(--muted)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:.5rem}
.tile{border:1px solid var(--line);border-radius:6px;padding:.5rem .75rem}.tile b{display:block;font-size:1.3rem}
[hidden]{display:none!important}#auth{margin:1rem 0}input{font:inherit;padding:.25rem}button{font:inherit;cursor:pointer}
`;

const SCRIPT = `
(() => {
  const base = location.pathname.replace(/\\/+$/, '');
  const refreshMs = Number(document.body.dataset.refreshMs) || 2000;
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem('bulwark-ops-token') || '';
  const headers = () => (token ? { authorization: 'Bearer ' + token } : {});
  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  };
  const num = (value, digits) => (value === null || value === undefined ? '—' : Number(value).toFixed(digits || 0));
  const row = (cells, attrs) => {
    const tr = document.createElement('tr');
    for (const [key, value] of Object.entries(attrs || {})) tr.dataset[key] = value;
    for (const cell of cells) tr.append(cell instanceof Node ? cell : el('td', cell));
    return tr;
  };
  const td = (text, cls) => el('td', text, cls);
  const fill = (id, rows) => $(id).replaceChildren(...rows);
  const show = (id, on) => { $(id).hidden = !on; };
  const tiles = (id, entries) => fill(id, entries.map(([label, value, cls]) => {
    const tile = el('div', label, 'tile');
    tile.dataset.tile = label;
    tile.append(el('b', value, cls));
    return tile;
  }));

  function render(s) {
    $('status').textContent = s.status + (s.ready ? ', ready' : ', not ready') + (s.shuttingDown ? ', shutting down' : '');
    $('status').className = s.status;
    $('meta').textContent = 'version ' + s.version + ' · up ' + s.uptimeSeconds + ' s · ' + new Date(s.generatedAt).toLocaleTimeString();
    fill('checks-body', Object.entries(s.checks).map(([name, c]) => row([
      td(name), td(c.status, c.status), td(c.critical ? 'yes' : 'no'), td(num(c.latencyMs, 1), 'num'),
      td(c.consecutiveFailures, 'num'), td(c.lastError || '', 'muted'),
    ], { check: name, status: c.status })));
    show('breakers', !!s.breakers);
    if (s.breakers) fill('breakers-body', s.breakers.map((b) => row([
      td(b.name), td(b.state, b.state), td(b.calls, 'num'), td(num(b.failureRate, 1) + ' %', 'num'), td(num(b.slowCallRate, 1) + ' %', 'num'),
    ], { breaker: b.name, state: b.state })));
    show('rate-limits', !!s.rateLimits);
    if (s.rateLimits) {
      const r = s.rateLimits;
      const store = r.inFallback ? 'local fallback' : r.store === 'redis' ? 'shared (redis)' : 'memory (per process)';
      const d = r.decisions || {};
      tiles('rate-limits-tiles', [
        ['store', store, r.inFallback ? 'fallback' : 'shared'],
        ['allowed', num(d.allowed || 0)], ['limited', num(d.limited || 0)], ['decided in fallback', num(d.fallback || 0)],
      ]);
      $('rate-limits').dataset.store = r.inFallback ? 'fallback' : r.store;
    }
    show('shedding', !!s.shedding);
    if (s.shedding) {
      const shed = s.shedding.shed || {};
      tiles('shedding-tiles', [
        ['concurrency limit', s.shedding.concurrencyLimit], ['in flight', s.shedding.inFlight],
        ['shed', num(Object.values(shed).reduce((a, b) => a + b, 0))],
        ...Object.entries(shed).map(([reason, n]) => ['shed: ' + reason, num(n)]),
      ]);
    }
    show('pool', !!s.pool);
    if (s.pool) tiles('pool-tiles', [
      ['active', s.pool.active], ['idle', s.pool.idle], ['max', s.pool.max], ['waiting', s.pool.waiting, s.pool.waiting > 0 ? 'degraded' : ''],
    ]);
    show('queues', !!s.queues);
    if (s.queues) {
      $('queues-note').textContent = s.queues.enabled ? '' : 'The queue is disabled (no Redis connection configured).';
      fill('queues-body', s.queues.list.map((q) => {
        const c = q.counts || {};
        const replay = el('button', 'replay dead');
        replay.dataset.replay = q.name;
        replay.disabled = !q.counts;
        const action = el('td'); action.append(replay);
        return row([
          td(q.name), td(num(c.waiting), 'num'), td(num(c.active), 'num'), td(num(c.delayed), 'num'), td(num(c.failed), 'num'),
          td(num(c.dead), 'num'), td(q.meanWaitSeconds === null ? '—' : num(q.meanWaitSeconds * 1000, 0) + ' ms', 'num'),
          td(num(q.deadLettered), 'num'), td(q.error || '', 'error'), action,
        ], { queue: q.name });
      }));
    }
  }

  async function refresh() {
    try {
      const response = await fetch(base + '/state', { headers: headers(), cache: 'no-store' });
      if (response.status === 401) { show('auth', true); $('conn').textContent = 'token required'; return; }
      if (!response.ok) throw new Error('HTTP ' + response.status);
      show('auth', false);
      render(await response.json());
      $('conn').textContent = 'live';
      $('conn').className = 'ok';
    } catch (error) {
      $('conn').textContent = 'disconnected: ' + error.message;
      $('conn').className = 'fail';
    }
  }

  $('token-save').addEventListener('click', () => {
    token = $('token').value.trim();
    sessionStorage.setItem('bulwark-ops-token', token);
    refresh();
  });
  $('queues-body').addEventListener('click', async (event) => {
    const name = event.target.dataset && event.target.dataset.replay;
    if (!name) return;
    event.target.disabled = true;
    const response = await fetch(base + '/queues/' + encodeURIComponent(name) + '/replay', { method: 'POST', headers: headers() });
    const body = await response.json().catch(() => ({}));
    $('queues-action').textContent = response.ok ? 'Replayed ' + body.replayed + ' dead job(s) of ' + name + '.' : 'Replay failed: ' + (body.message || response.status);
    refresh();
  });
  refresh();
  setInterval(refresh, refreshMs);
})();
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The Content-Security-Policy of the page: only its own inline style and script, fetches to its origin. */
export const OPS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const table = (id: string, title: string, columns: string[], extra = '') =>
  `<section id="${id}" hidden><h2>${title}</h2>${extra}<table><thead><tr>${columns
    .map((column) => `<th>${column}</th>`)
    .join('')}</tr></thead><tbody id="${id}-body"></tbody></table></section>`;
const tiles = (id: string, title: string) =>
  `<section id="${id}" hidden><h2>${title}</h2><div class="grid" id="${id}-tiles"></div></section>`;

/** The page's HTML; `refreshMs` is how often it polls the state endpoint. */
export function opsPageHtml(refreshMs: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Bulwark ops</title><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body data-refresh-ms="${refreshMs}">
<header><h1>Bulwark ops</h1><span id="status">loading…</span><span id="meta" class="muted"></span><span id="conn" class="muted"></span></header>
<div id="auth" hidden><label>Ops token <input id="token" type="password" autocomplete="off"></label> <button id="token-save" type="button">Use token</button></div>
<section id="checks"><h2>Health checks</h2><table><thead><tr><th>check</th><th>status</th><th>critical</th><th>latency (ms)</th><th>consecutive failures</th><th>last error</th></tr></thead><tbody id="checks-body"></tbody></table></section>
${table('breakers', 'Circuit breakers', ['breaker', 'state', 'calls in window', 'failure rate', 'slow-call rate'])}
${tiles('rate-limits', 'Rate limits')}
${tiles('shedding', 'Load shedding')}
${tiles('pool', 'Postgres pool')}
${table('queues', 'Queues', ['queue', 'waiting', 'active', 'delayed', 'failed', 'dead', 'mean wait', 'dead-lettered since start', 'error', ''], '<p id="queues-note" class="muted"></p><p id="queues-action" role="status"></p>')}
<script>${SCRIPT}</script>
</body></html>
`;
}
