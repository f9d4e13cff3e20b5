// The memory inspector: one user's memories by tier (the core block editable), facts by key with
// their validity timelines (superseded values struck through, with what replaced them and when),
// summaries with their depth and the originals they replace, search with the API's scores, time
// travel with `as of`, corrections, history, and forgetting a memory or the whole user.
import { ApiError, call, get, post, query } from './api.js';
import { state, onChoose } from './state.js';

const $ = (id) => document.getElementById(id);
const TIERS = ['core', 'recent', 'archive'];
const PAGE = 100;
const MAX_MEMORIES = 5000;

let memories = [];
let byId = new Map();
let visible = false;
let correcting = null;

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** The `as of` time, or null for now. */
function asOf() {
  const v = $('as-of').value;
  return v ? new Date(v) : null;
}

/** Whether the memory existed (was known) at `t`. */
function knownAt(m, t) {
  return !t || (new Date(m.created_at) <= t);
}

/** Whether the memory held at `t` (now when null): not invalidated or expired by then. */
function validAt(m, t) {
  const at = t || new Date();
  if (m.invalid_at && new Date(m.invalid_at) <= at) return false;
  if (m.expired_at && new Date(m.expired_at) <= at) return false;
  if (m.valid_at && new Date(m.valid_at) > at) return false;
  return true;
}

function status(text) {
  $('memory-status').textContent = text;
}

async function loadAll(user) {
  const out = [];
  let cursor = null;
  do {
    const page = await get(`/v1/memories${query({ user, limit: PAGE, cursor })}`);
    out.push(...page.data);
    cursor = page.has_more ? page.next_cursor : null;
  } while (cursor && out.length < MAX_MEMORIES);
  return out;
}

async function refresh() {
  const user = state.user;
  $('memory-user').textContent = user || '(no user chosen)';
  $('forget-user').disabled = !user;
  if (!user) {
    status('Choose a user above to see their memories.');
    $('tiers').replaceChildren();
    $('core').replaceChildren();
    return;
  }
  status('Loading…');
  try {
    memories = await loadAll(user);
  } catch (e) {
    status(e.code === 'memory_disabled' ? 'Agent memory is off on this server (--memory-store none).' : `Could not load memories: ${e.message}`);
    $('tiers').replaceChildren();
    return;
  }
  if (user !== state.user) return; // the user changed while loading
  byId = new Map(memories.map((m) => [m.id, m]));
  draw();
  loadCore(user);
  status(`${memories.length} memories${memories.length >= MAX_MEMORIES ? ' (the first ones only)' : ''}.`);
}

// ---- the core block ---------------------------------------------------------------------------

async function loadCore(user) {
  const box = $('core');
  let core;
  try {
    core = await get(`/v1/memories/core${query({ user })}`);
  } catch (e) {
    // No such route: 404 or 405, or (a server without it) the id route refusing "core" as a memory id.
    const missing = e instanceof ApiError && (e.status === 404 || e.status === 405 || (e.status === 400 && e.param === 'id'));
    box.replaceChildren(h('p', { class: 'muted', 'data-core': 'unavailable' },
      missing ? 'The core block is not available on this server.' : `Could not load the core block: ${e.message}`));
    return;
  }
  const text = typeof core.content === 'string' ? core.content
    : Array.isArray(core.data) ? core.data.map((m) => m.content).join('\n') : '';
  const area = h('textarea', { id: 'core-text', rows: 4 });
  area.value = text;
  const saved = h('span', { class: 'muted', role: 'status' });
  const save = h('button', {
    type: 'button',
    onclick: async () => {
      try {
        await call('PUT', `/v1/memories/core${query({ user })}`, { user, content: area.value });
        saved.textContent = 'Saved.';
      } catch (e) {
        saved.textContent = `Not saved: ${e.message}`;
      }
    },
  }, 'Save core block');
  box.replaceChildren(h('label', { for: 'core-text', class: 'visually-hidden' }, 'Core block'), area, h('div', { class: 'actions' }, save, saved));
}

// ---- the memories ---------------------------------------------------------------------------------

function actions(m) {
  return h('span', { class: 'row-actions' },
    h('button', { type: 'button', class: 'link', onclick: () => showHistory(m) }, 'History'),
    h('button', { type: 'button', class: 'link', onclick: () => openCorrection(m) }, 'Correct…'),
    h('button', { type: 'button', class: 'link danger', onclick: () => forget(m) }, 'Forget'));
}

function badges(m) {
  const out = [h('span', { class: `badge tier-${m.tier}` }, m.tier)];
  if (m.summary_depth > 0) out.push(h('span', { class: 'badge summary' }, `summary · depth ${m.summary_depth}`));
  if (m.metadata && m.metadata.kind === 'turn') out.push(h('span', { class: 'badge' }, `turn · ${m.metadata.role}`));
  if (m.correction) out.push(h('span', { class: 'badge' }, 'correction'));
  return out;
}

/** One value: struck through when it no longer holds at the chosen time, with what replaced it and when. */
function memoryRow(m, t) {
  const valid = validAt(m, t);
  const text = valid ? h('span', { class: 'content' }, m.content) : h('del', { class: 'content' }, m.content);
  const notes = [];
  if (!valid) {
    const by = m.invalidated_by ? byId.get(m.invalidated_by) : null;
    const when = m.invalid_at || m.expired_at;
    notes.push(h('span', { class: 'superseded' },
      `no longer holds${when ? ` since ${time(when)}` : ''}`,
      by ? [' · replaced by ', h('q', {}, by.content)] : m.invalidated_by ? ` · replaced by ${m.invalidated_by}` : ''));
  }
  const origin = m.source && (m.source.session_id || m.source.time)
    ? `from ${m.source.session_id || 'no session'}${m.source.time ? ` at ${time(m.source.time)}` : ''}` : '';
  const li = h('li', { class: `memory-row${valid ? '' : ' invalid'}`, 'data-memory-id': m.id, 'data-valid': String(valid) },
    h('div', {}, text, ' ', badges(m)),
    h('div', { class: 'muted small' },
      `importance ${m.importance.toFixed(2)} · created ${time(m.created_at)}`,
      m.valid_at ? ` · valid from ${time(m.valid_at)}` : '',
      origin ? ` · ${origin}` : '', ' ', notes, ' ', actions(m)));
  if (m.summary_depth > 0 && m.replaces.length) {
    const originals = m.replaces.map((id) => byId.get(id));
    li.append(h('details', { class: 'originals' },
      h('summary', {}, `replaces ${m.replaces.length} originals`),
      h('ul', {}, originals.map((o, i) => h('li', {}, o ? o.content : m.replaces[i])))));
  }
  return li;
}

function draw() {
  const t = asOf();
  const shown = memories.filter((m) => knownAt(m, t));
  const facts = new Map();
  const rest = new Map(TIERS.map((tier) => [tier, []]));
  for (const m of shown) {
    if (m.fact_key) {
      if (!facts.has(m.fact_key)) facts.set(m.fact_key, []);
      facts.get(m.fact_key).push(m);
    } else {
      if (!rest.has(m.tier)) rest.set(m.tier, []);
      rest.get(m.tier).push(m);
    }
  }
  const when = (m) => new Date(m.valid_at || m.created_at).getTime();
  const factSection = h('section', { class: 'card', 'aria-labelledby': 'facts-title' },
    h('h3', { id: 'facts-title' }, `Facts by key (${facts.size})`),
    facts.size === 0 ? h('p', { class: 'muted' }, 'No keyed facts.') : null,
    [...facts.keys()].sort().map((key) => h('div', { class: 'fact', 'data-fact-key': key },
      h('h4', { class: 'mono' }, key),
      h('ol', { class: 'timeline' }, facts.get(key).sort((a, b) => when(a) - when(b)).map((m) => memoryRow(m, t))))));
  const tierSections = [...rest.entries()].map(([tier, list]) => h('section', { class: 'card', 'aria-labelledby': `tier-${tier}` },
    h('h3', { id: `tier-${tier}` }, `${tier[0].toUpperCase()}${tier.slice(1)} (${list.length})`),
    list.length === 0 ? h('p', { class: 'muted' }, 'Nothing here.') : null,
    h('ul', { class: 'memories' }, list.sort((a, b) => when(b) - when(a)).map((m) => memoryRow(m, t)))));
  $('tiers').replaceChildren(factSection, ...tierSections);
}

// ---- changes ----------------------------------------------------------------------------------------

async function showHistory(m) {
  const list = $('history-list');
  list.replaceChildren(h('li', {}, 'Loading…'));
  $('history-dialog').showModal();
  try {
    const events = await get(`/v1/memories/${encodeURIComponent(m.id)}/history${query({ user: state.user })}`);
    list.replaceChildren(...events.data.map((e) => h('li', {},
      h('strong', {}, e.event), ` ${time(e.at)}${e.by ? ` by ${e.by}` : ''}`,
      h('ul', {}, Object.entries(e.changes).map(([k, v]) => h('li', { class: 'mono small' }, `${k}: ${v}`))))));
  } catch (e) {
    list.replaceChildren(h('li', { class: 'error' }, e.message));
  }
  $('history-close').focus();
}

function openCorrection(m) {
  correcting = m;
  $('correct-old').textContent = m.content;
  $('correct-content').value = m.content;
  $('correct-dialog').showModal();
  $('correct-content').focus();
}

/** A correction: the new value is stored, and the old one marked invalid from now on, replaced by it. */
async function saveCorrection() {
  const old = correcting;
  const content = $('correct-content').value.trim();
  if (!old || !content) return;
  const user = state.user;
  try {
    const fresh = await post('/v1/memories', {
      user, content, fact_key: old.fact_key, tier: old.tier, correction: true, importance: old.importance,
      session_id: old.scope === 'session' ? old.session_id : undefined,
      scope: old.scope,
    });
    await call('PATCH', `/v1/memories/${encodeURIComponent(old.id)}`, { user, invalid_at: new Date().toISOString(), invalidated_by: fresh.id });
    status('Correction saved.');
  } catch (e) {
    status(`The correction failed: ${e.message}`);
  }
  $('correct-dialog').close();
  correcting = null;
  await refresh();
}

async function forget(m) {
  if (!confirm(`Forget this memory for good?\n\n${m.content}`)) return;
  try {
    await call('DELETE', `/v1/memories/${encodeURIComponent(m.id)}${query({ user: state.user })}`);
    status('Forgotten.');
  } catch (e) {
    status(`Could not forget it: ${e.message}`);
  }
  await refresh();
}

async function forgetUser() {
  const user = state.user;
  $('forget-dialog').close();
  try {
    const r = await call('DELETE', `/v1/memories${query({ user })}`);
    status(`Forgot ${user}: ${r.deleted} memories deleted.`);
  } catch (e) {
    status(`Could not forget ${user}: ${e.message}`);
  }
  await refresh();
}

async function addMemory(e) {
  e.preventDefault();
  if (!state.user) {
    status('Choose a user first.');
    return;
  }
  const importance = $('add-importance').value;
  try {
    await post('/v1/memories', {
      user: state.user,
      content: $('add-content').value,
      fact_key: $('add-fact-key').value.trim() || undefined,
      tier: $('add-tier').value || undefined,
      importance: importance === '' ? undefined : Number(importance),
    });
    $('add-content').value = '';
    status('Memory added.');
  } catch (err) {
    status(`Not added: ${err.message}`);
  }
  await refresh();
}

async function search(e) {
  e.preventDefault();
  const box = $('search-results');
  const t = asOf();
  try {
    const r = await post('/v1/memories/search', {
      user: state.user, query: $('search-query').value, k: Number($('search-k').value) || 8,
      as_of: t ? t.toISOString() : undefined,
    });
    box.replaceChildren(...[
      h('table', { class: 'results' },
        h('caption', { class: 'visually-hidden' }, 'Search results, in the order they would be injected'),
        h('thead', {}, h('tr', {}, ['Score', 'Similarity', 'Lexical', 'Tier', 'Memory'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, r.data.map((m) => h('tr', { 'data-memory-id': m.id },
          h('td', {}, m.score.toFixed(3)), h('td', {}, m.similarity.toFixed(3)), h('td', {}, m.lexical_score.toFixed(2)),
          h('td', {}, m.tier), h('td', {}, m.content))))),
      r.data.length === 0 ? h('p', { class: 'muted' }, 'Nothing found.') : null,
      r.block ? h('details', {}, h('summary', {}, `The block as injected (${r.tokens} tokens)`), h('pre', {}, r.block)) : null,
    ].filter(Boolean));
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error' }, err.message));
  }
}

export function initMemory() {
  $('memory-refresh').addEventListener('click', refresh);
  $('as-of').addEventListener('change', draw);
  $('as-of-now').addEventListener('click', () => {
    $('as-of').value = '';
    draw();
  });
  $('add-memory').addEventListener('submit', addMemory);
  $('memory-search').addEventListener('submit', search);
  $('history-close').addEventListener('click', () => $('history-dialog').close());
  $('correct-yes').addEventListener('click', saveCorrection);
  $('correct-no').addEventListener('click', () => $('correct-dialog').close());
  $('forget-user').addEventListener('click', () => {
    $('forget-name').textContent = state.user;
    $('forget-confirm').value = '';
    $('forget-yes').disabled = true;
    $('forget-dialog').showModal();
    $('forget-confirm').focus();
  });
  $('forget-confirm').addEventListener('input', () => {
    $('forget-yes').disabled = $('forget-confirm').value !== state.user;
  });
  $('forget-yes').addEventListener('click', forgetUser);
  $('forget-no').addEventListener('click', () => $('forget-dialog').close());
  onChoose((s, change) => {
    if ('user' in change && visible) refresh();
  });
  return {
    show: () => {
      visible = true;
      refresh();
    },
    hide: () => {
      visible = false;
    },
  };
}
