// The console's entry point: the tabs, the API key dialog, the user and session pickers, and the
// three views.
import { apiKey, get, setApiKey, whenUnauthorized } from './api.js';
import { choose, knownSessions, knownUsers, newSessionId, onChoose, state } from './state.js';
import { initChat } from './chat.js';
import { initMemory } from './memory.js';
import { initKv } from './kv.js';

const $ = (id) => document.getElementById(id);

// ---- the API key ------------------------------------------------------------------------------

let keyWaiters = [];

/** Opens the key dialog; resolves once a key that the server accepts is saved. */
function askForKey(reason) {
  const dialog = $('key-dialog');
  $('key-reason').textContent = reason || 'This server needs an API key. It is kept in this tab only (session storage).';
  $('key-error').textContent = '';
  $('key-input').value = '';
  if (!dialog.open) dialog.showModal();
  $('key-input').focus();
  return new Promise((resolve) => keyWaiters.push(resolve));
}

async function saveKey() {
  const key = $('key-input').value.trim();
  if (!key) {
    $('key-error').textContent = 'Enter a key.';
    return;
  }
  setApiKey(key);
  try {
    await loadModel();
  } catch (e) {
    $('key-error').textContent = e.status === 401 ? 'The server does not accept this key.' : e.message;
    setApiKey('');
    return;
  }
  $('key-dialog').close();
  const waiters = keyWaiters;
  keyWaiters = [];
  waiters.forEach((w) => w());
}

whenUnauthorized(() => {
  if (!$('key-dialog').open) askForKey(apiKey() ? 'The server no longer accepts the saved key.' : undefined);
});

async function loadModel() {
  const models = await get('/v1/models');
  state.model = models.data[0].id;
  $('model-name').textContent = `· ${state.model}`;
}

// ---- tabs (the WAI-ARIA tabs pattern: arrows move between tabs, Tab into the panel) ----------

const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
const views = {};

function select(tab, focus) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
  if (focus) tab.focus();
  const name = tab.id.slice(4);
  history.replaceState(null, '', `#${name}`);
  for (const [n, v] of Object.entries(views)) (n === name ? v.show : v.hide)?.();
}

for (const tab of tabs) {
  tab.addEventListener('click', () => select(tab, false));
  tab.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    select(tabs[(next + tabs.length) % tabs.length], true);
  });
}

// ---- user and session ---------------------------------------------------------------------------

function fillPickers() {
  $('user').value = state.user;
  $('session').value = state.session;
  const options = (list, values) => list.replaceChildren(...values.map((v) => Object.assign(document.createElement('option'), { value: v })));
  options($('known-users'), knownUsers());
  options($('known-sessions'), knownSessions());
}

$('user').addEventListener('change', () => choose({ user: $('user').value }));
$('session').addEventListener('change', () => choose({ session: $('session').value }));
$('new-session').addEventListener('click', () => choose({ session: newSessionId() }));
onChoose(fillPickers);

// ---- start ----------------------------------------------------------------------------------------

$('key-save').addEventListener('click', saveKey);
$('key-input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter') saveKey();
});
$('key-cancel').addEventListener('click', () => $('key-dialog').close());
$('key-button').addEventListener('click', () => askForKey('Enter the API key to use from this tab.'));

async function start() {
  fillPickers();
  views.chat = initChat();
  views.memory = initMemory();
  views.kv = initKv();
  try {
    await loadModel();
  } catch (e) {
    if (e.status === 401) await new Promise((resolve) => keyWaiters.push(resolve));
    else $('model-name').textContent = `· ${e.message}`;
  }
  const wanted = tabs.find((t) => `#${t.id.slice(4)}` === location.hash) || tabs[0];
  select(wanted, false);
  document.body.dataset.ready = 'true';
}

start();
