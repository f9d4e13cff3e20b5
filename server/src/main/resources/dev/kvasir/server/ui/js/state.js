// What the views share: the model's name, and the user and session the chat and the memory
// inspector act for (remembered in this tab's session storage, with the names used so far).

const listeners = new Set();
export const state = {
  model: null,
  user: sessionStorage.getItem('kvasir.user') || '',
  session: sessionStorage.getItem('kvasir.session') || '',
};

function remembered(name) {
  try {
    return JSON.parse(sessionStorage.getItem(name) || '[]');
  } catch (e) {
    return [];
  }
}

function remember(name, value) {
  if (!value) return;
  const list = remembered(name).filter((v) => v !== value);
  list.unshift(value);
  sessionStorage.setItem(name, JSON.stringify(list.slice(0, 20)));
}

export function knownUsers() {
  return remembered('kvasir.users');
}

export function knownSessions() {
  return remembered('kvasir.sessions');
}

/** Changes the user and/or session and tells every listener. */
export function choose(change) {
  if ('user' in change) {
    state.user = change.user.trim();
    sessionStorage.setItem('kvasir.user', state.user);
    remember('kvasir.users', state.user);
  }
  if ('session' in change) {
    state.session = change.session.trim();
    sessionStorage.setItem('kvasir.session', state.session);
    remember('kvasir.sessions', state.session);
  }
  for (const l of listeners) l(state, change);
}

export function onChoose(listener) {
  listeners.add(listener);
}

export function newSessionId() {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `sess-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
