// The KV view: the pool's block map (free, cached prefix, used, shared, swapped), the engine's
// counters, and a chart of the last minutes, from GET /v1/kv/stream. It subscribes only while the
// view is shown: with nobody watching, the server does nothing for it.
import { stream } from './api.js';

const $ = (id) => document.getElementById(id);
const WINDOW_MS = 5 * 60 * 1000;
const COLORS = { free: '#e5e7eb', cached: '#93c5fd', used: '#1d4ed8', shared: '#d97706', swapped: '#7e22ce' };
const SERIES = [
  { key: 'usage', label: 'KV usage %', color: '#1d4ed8', percent: true },
  { key: 'hit', label: 'Prefix hit rate % (last 10 s)', color: '#15803d', percent: true },
  { key: 'running', label: 'Running', color: '#d97706' },
  { key: 'waiting', label: 'Waiting', color: '#b91c1c' },
];

let controller = null;
let paused = false;
let points = [];
let last = null;

function tile(label, value, id) {
  const dt = document.createElement('dt');
  dt.textContent = label;
  const dd = document.createElement('dd');
  dd.textContent = value;
  dd.id = id;
  const pair = document.createElement('div');
  pair.append(dt, dd);
  return pair;
}

function percent(x) {
  return `${(100 * x).toFixed(1)}%`;
}

/** The rate of a counter over the last `ms` (per second), from the points kept. */
function perSecond(snapshot, key, ms) {
  const then = points.find((p) => p.t >= snapshot.time_ms - ms);
  if (!then || then.t === snapshot.time_ms) return 0;
  return (snapshot[key] - then.raw[key]) / ((snapshot.time_ms - then.t) / 1000);
}

function windowHitRate(snapshot, ms) {
  const then = points.find((p) => p.t >= snapshot.time_ms - ms);
  if (!then) return null;
  const queries = snapshot.prefix_query_tokens - then.raw.prefix_query_tokens;
  return queries > 0 ? (snapshot.prefix_hit_tokens - then.raw.prefix_hit_tokens) / queries : null;
}

function drawTiles(s) {
  $('kv-tiles').replaceChildren(
    tile('KV usage', percent(s.kv_usage), 'kv-usage'),
    tile('Running', String(s.running), 'kv-running'),
    tile('Waiting', String(s.waiting), 'kv-waiting'),
    tile('Swapped out', String(s.swapped), 'kv-swapped'),
    tile('Prefix hit rate', `${percent(s.prefix_hit_rate)} of ${s.prefix_query_tokens} tokens`, 'kv-hit-rate'),
    tile('Preemptions', String(s.preemptions), 'kv-preemptions'),
    tile('Generated', `${perSecond(s, 'generation_tokens', 2000).toFixed(0)} tok/s`, 'kv-tps'),
    tile('Evictions', String(s.evictions), 'kv-evictions'));
}

function drawLegend(s) {
  const b = s.blocks;
  const items = ['free', 'cached', 'used', 'shared'].map((k) => [k, b[k]]);
  if (b.cpu_total > 0) items.push(['swapped', b.swapped]);
  $('kv-legend').replaceChildren(...items.map(([name, count]) => {
    const li = document.createElement('li');
    li.dataset.state = name;
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = COLORS[name];
    li.append(swatch, `${name} ${count}`);
    return li;
  }));
}

/** Draws run-length encoded states ([state, count, ...]) as square cells, row by row. */
function drawMap(canvas, runs, total, names, maxHeight) {
  const width = canvas.width;
  const cell = Math.max(1, Math.min(16, Math.floor(Math.sqrt((width * maxHeight) / Math.max(1, total)))));
  const perRow = Math.max(1, Math.floor(width / cell));
  const rows = Math.ceil(total / perRow);
  canvas.height = Math.max(cell, rows * cell);
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, canvas.width, canvas.height);
  const gap = cell >= 4 ? 1 : 0;
  let i = 0;
  for (let r = 0; r < runs.length; r += 2) {
    g.fillStyle = COLORS[names[runs[r]]];
    for (let n = 0; n < runs[r + 1]; n++, i++) {
      g.fillRect((i % perRow) * cell, Math.floor(i / perRow) * cell, cell - gap, cell - gap);
    }
  }
}

function drawChart() {
  const canvas = $('kv-chart');
  const g = canvas.getContext('2d');
  const w = canvas.width;
  const hgt = canvas.height;
  const pad = { l: 40, r: 40, t: 10, b: 22 };
  g.clearRect(0, 0, w, hgt);
  const now = points.length ? points[points.length - 1].t : Date.now();
  // The window grows with the data, from one minute to five.
  const span = Math.min(WINDOW_MS, Math.max(60000, points.length ? now - points[0].t : 0));
  const x = (t) => pad.l + ((t - (now - span)) / span) * (w - pad.l - pad.r);
  const maxCount = Math.max(1, ...points.map((p) => Math.max(p.running, p.waiting)));
  const y = (v, pct) => hgt - pad.b - (pct ? v / 100 : v / maxCount) * (hgt - pad.t - pad.b);
  g.strokeStyle = '#9ca3af';
  g.fillStyle = '#374151';
  g.font = '11px system-ui, sans-serif';
  g.beginPath();
  g.moveTo(pad.l, pad.t);
  g.lineTo(pad.l, hgt - pad.b);
  g.lineTo(w - pad.r, hgt - pad.b);
  g.lineTo(w - pad.r, pad.t);
  g.stroke();
  g.fillText('100%', 4, pad.t + 8);
  g.fillText('0', pad.l - 12, hgt - pad.b);
  g.fillText(String(maxCount), w - pad.r + 4, pad.t + 8);
  const step = span > 120000 ? 60000 : 10000;
  for (let ago = 0; ago <= span; ago += step) {
    g.fillText(step === 60000 ? `-${ago / 60000}m` : `-${ago / 1000}s`, x(now - ago) - 10, hgt - 6);
  }
  $('chart-span').textContent = span >= 120000 ? `${Math.round(span / 60000)} minutes` : `${Math.round(span / 1000)} seconds`;
  for (const s of SERIES) {
    g.strokeStyle = s.color;
    g.lineWidth = 1.5;
    g.beginPath();
    let drawing = false;
    for (const p of points) {
      const v = p[s.key];
      if (v === null) {
        drawing = false;
        continue;
      }
      const px = x(p.t);
      const py = y(s.percent ? 100 * v : v, s.percent);
      if (drawing) g.lineTo(px, py);
      else g.moveTo(px, py);
      drawing = true;
    }
    g.stroke();
  }
  canvas.dataset.points = String(points.length);
  const l = points[points.length - 1];
  if (l) {
    canvas.setAttribute('aria-label', `Chart of the last 5 minutes: KV usage now ${(100 * l.usage).toFixed(1)}%, `
      + `${l.running} running, ${l.waiting} waiting`);
  }
}

function onSnapshot(s) {
  last = s;
  const hit = windowHitRate(s, 10000);
  points.push({ t: s.time_ms, usage: s.kv_usage, hit, running: s.running, waiting: s.waiting, raw: s });
  while (points.length && points[0].t < s.time_ms - WINDOW_MS) points.shift();
  if (!paused) draw(s);
}

function draw(s) {
  drawTiles(s);
  drawLegend(s);
  const map = $('kv-map');
  drawMap(map, s.gpu_map, s.blocks.total, s.states, 240);
  const b = s.blocks;
  Object.assign(map.dataset, { total: b.total, free: b.free, cached: b.cached, used: b.used, shared: b.shared, swapped: b.swapped });
  map.setAttribute('aria-label', `Block map of ${b.total} blocks: ${b.free} free, ${b.cached} cached prefix, `
    + `${b.used} used, ${b.shared} shared${b.cpu_total ? `; swap pool ${b.swapped} of ${b.cpu_total} in use` : ''}`);
  const cpu = $('kv-cpu-map');
  cpu.hidden = b.cpu_total === 0;
  if (b.cpu_total > 0) drawMap(cpu, s.cpu_map, b.cpu_total, s.states, 40);
  drawChart();
}

async function connect() {
  const mine = new AbortController();
  controller = mine;
  while (controller === mine) {
    $('kv-status').textContent = 'Connecting…';
    try {
      let first = true;
      await stream('GET', '/v1/kv/stream', undefined, (s) => {
        if (first) $('kv-status').textContent = 'Live';
        first = false;
        onSnapshot(s);
      }, mine.signal);
      if (controller === mine) $('kv-status').textContent = 'The server ended the feed; reconnecting…';
    } catch (e) {
      if (e.name === 'AbortError') return;
      $('kv-status').textContent = `Disconnected (${e.message}); retrying…`;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export function initKv() {
  $('chart-legend').replaceChildren(...SERIES.map((s) => {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch line';
    swatch.style.background = s.color;
    li.append(swatch, s.label);
    return li;
  }));
  $('kv-pause').addEventListener('click', () => {
    paused = !paused;
    $('kv-pause').setAttribute('aria-pressed', String(paused));
    $('kv-pause').textContent = paused ? 'Resume' : 'Pause';
    if (!paused && last) draw(last);
  });
  return {
    show: () => {
      if (!controller) connect();
    },
    hide: () => {
      if (controller) controller.abort();
      controller = null;
      $('kv-status').textContent = 'Paused while another view is shown';
    },
  };
}
