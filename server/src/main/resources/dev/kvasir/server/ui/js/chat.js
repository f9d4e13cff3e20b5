// The chat view: streaming replies rendered as Markdown, stop and regenerate, sampling settings,
// and per reply its token counts, time to first token, tokens per second and the `memory` object
// (which memories were injected and why, conflicts resolved, prompt tokens from the prefix cache).
import { get, query, stream } from './api.js';
import { render } from './markdown.js';
import { choose, state } from './state.js';

const $ = (id) => document.getElementById(id);

/** The conversation as sent: {role, content}; an assistant entry also keeps its list item. */
let conversation = [];
let running = null; // the AbortController of the reply in progress

function number(id) {
  const v = $(id).value.trim();
  return v === '' ? undefined : Number(v);
}

function requestBody(messages) {
  const body = {
    model: state.model || undefined,
    messages,
    stream: true,
    stream_options: { include_usage: true },
    temperature: number('temperature'),
    top_p: number('top-p'),
    max_tokens: number('max-tokens'),
    seed: number('seed'),
  };
  if (state.user) {
    body.user = state.user;
    body.memory = {
      enabled: $('memory-enabled').checked,
      write: $('memory-write').checked,
      history: $('memory-server-history').checked ? 'server' : 'client',
      top_k: number('memory-top-k'),
    };
    if (state.session) body.memory.session_id = state.session;
  }
  return body;
}

/** The messages to send: the system prompt, then the conversation (only its last turn when the server keeps the history). */
function messagesFor(turns) {
  const system = $('system-prompt').value.trim();
  const out = system ? [{ role: 'system', content: system }] : [];
  const serverHistory = state.user && state.session && $('memory-server-history').checked;
  const sent = serverHistory ? turns.slice(-1) : turns;
  return out.concat(sent.map((t) => ({ role: t.role, content: t.content })));
}

function item(role, text) {
  const li = document.createElement('li');
  li.className = `message ${role}`;
  const who = document.createElement('span');
  who.className = 'who-label';
  who.textContent = role === 'user' ? 'You' : 'Assistant';
  const body = document.createElement('div');
  body.className = 'body';
  if (role === 'user') body.textContent = text;
  li.append(who, body);
  $('messages').append(li);
  li.scrollIntoView({ block: 'end' });
  return li;
}

function formatMs(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function metaLine(li, m) {
  const meta = document.createElement('p');
  meta.className = 'meta';
  const parts = [];
  if (m.usage) {
    const cached = m.usage.prompt_tokens_details ? m.usage.prompt_tokens_details.cached_tokens : 0;
    parts.push(`${m.usage.prompt_tokens} prompt tokens (${cached} from the prefix cache)`);
    parts.push(`${m.usage.completion_tokens} completion tokens`);
  }
  if (m.ttftMs !== null) parts.push(`TTFT ${formatMs(m.ttftMs)}`);
  if (m.tokensPerSecond !== null) parts.push(`${m.tokensPerSecond.toFixed(1)} tok/s`);
  if (m.finish) parts.push(`finish: ${m.finish}`);
  meta.textContent = parts.join(' · ');
  meta.dataset.completionTokens = m.usage ? m.usage.completion_tokens : '';
  meta.dataset.cachedTokens = m.usage && m.usage.prompt_tokens_details ? m.usage.prompt_tokens_details.cached_tokens : '';
  li.append(meta);
}

/** The reply's `memory` object: a summary line, and each injected memory with its scores and text. */
function memoryDetails(li, memory, user) {
  const details = document.createElement('details');
  details.className = 'memory';
  const summary = document.createElement('summary');
  const conflicts = memory.conflicts || [];
  summary.textContent = `Memory: ${memory.injected.length} injected (${memory.tokens} tokens), `
    + `${memory.history_turns} history turns, ${conflicts.length} conflicts resolved · session ${memory.session_id}`;
  details.append(summary);
  const list = document.createElement('ul');
  list.className = 'injected';
  const hits = new Map((memory.hits || []).map((h) => [h.id, h]));
  for (const id of memory.injected) {
    const entry = document.createElement('li');
    entry.dataset.memoryId = id;
    const h = hits.get(id);
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = h ? `score ${h.score.toFixed(3)} · similarity ${h.similarity.toFixed(3)} · lexical ${h.lexical_score.toFixed(2)}` : '';
    const text = document.createElement('span');
    text.className = 'content';
    text.textContent = id;
    const source = document.createElement('span');
    source.className = 'source muted';
    if (h && h.source) source.textContent = `from ${h.source.session_id || 'no session'}${h.source.time ? ` at ${h.source.time}` : ''}`;
    entry.append(text, ' ', score, ' ', source);
    list.append(entry);
    // The memory's text, read with the same user (ids never reach another user's memories).
    get(`/v1/memories/${encodeURIComponent(id)}${query({ user })}`).then((m) => {
      text.textContent = m.content;
      if (m.fact_key) text.title = m.fact_key;
    }).catch(() => {});
  }
  details.append(list);
  for (const c of conflicts) {
    const p = document.createElement('p');
    p.className = 'conflict';
    p.textContent = `Conflict on ${c.fact_key || 'a fact'}: ${JSON.stringify(c)}`;
    details.append(p);
  }
  li.append(details);
}

async function reply() {
  const turns = conversation.map((t) => ({ role: t.role, content: t.content }));
  const li = item('assistant');
  const body = li.querySelector('.body');
  const entry = { role: 'assistant', content: '', li };
  const controller = new AbortController();
  running = controller;
  setBusy(true);
  const started = performance.now();
  let firstAt = null;
  let usage = null;
  let finish = null;
  let memory = null;
  let user = state.user;
  let frame = 0;
  const draw = () => {
    frame = 0;
    body.replaceChildren(render(entry.content));
    li.scrollIntoView({ block: 'end' });
  };
  try {
    await stream('POST', '/v1/chat/completions', requestBody(messagesFor(turns)), (chunk) => {
      if (chunk.memory) memory = chunk.memory;
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices || []) {
        const text = c.delta && c.delta.content;
        if (text) {
          if (firstAt === null) firstAt = performance.now();
          entry.content += text;
          if (!frame) frame = requestAnimationFrame(draw);
        }
        if (c.finish_reason) finish = c.finish_reason;
      }
    }, controller.signal);
  } catch (e) {
    if (e.name === 'AbortError') finish = 'stopped';
    else {
      const err = document.createElement('p');
      err.className = 'error';
      err.setAttribute('role', 'alert');
      err.textContent = `Error: ${e.message}`;
      li.append(err);
      finish = 'error';
    }
  } finally {
    running = null;
  }
  if (frame) cancelAnimationFrame(frame);
  draw();
  const ended = performance.now();
  const generated = usage ? usage.completion_tokens : null;
  metaLine(li, {
    usage,
    finish,
    ttftMs: firstAt === null ? null : firstAt - started,
    tokensPerSecond: firstAt !== null && generated > 1 && ended > firstAt ? (generated - 1) / ((ended - firstAt) / 1000) : null,
  });
  if (memory) {
    memoryDetails(li, memory, user);
    if (memory.session_id && memory.session_id !== state.session) choose({ session: memory.session_id });
  }
  li.dataset.done = finish || 'done';
  conversation.push(entry);
  setBusy(false);
  $('chat-status').textContent = finish === 'error' ? 'The reply failed.' : finish === 'stopped' ? 'Stopped.' : 'Reply complete.';
}

function setBusy(busy) {
  $('log').setAttribute('aria-busy', String(busy));
  $('send').disabled = busy;
  $('stop').disabled = !busy;
  $('regenerate').disabled = busy || !conversation.some((t) => t.role === 'assistant');
  $('clear').disabled = busy;
  if (busy) $('chat-status').textContent = 'Generating…';
}

async function send() {
  const text = $('prompt').value;
  if (!text.trim() || running) return;
  $('prompt').value = '';
  conversation.push({ role: 'user', content: text, li: item('user', text) });
  await reply();
}

async function regenerate() {
  if (running) return;
  const last = conversation[conversation.length - 1];
  if (!last || last.role !== 'assistant') return;
  conversation.pop();
  last.li.remove();
  await reply();
}

export function initChat() {
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === 'Escape' && running) {
      running.abort();
    }
  });
  $('stop').addEventListener('click', () => running && running.abort());
  $('regenerate').addEventListener('click', regenerate);
  $('clear').addEventListener('click', () => {
    conversation = [];
    $('messages').replaceChildren();
    setBusy(false);
    $('chat-status').textContent = 'Conversation cleared.';
  });
  return {};
}
