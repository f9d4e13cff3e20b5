// The server's API as the console uses it: the key (asked for once, kept in sessionStorage), JSON
// calls that turn OpenAI-style error bodies into exceptions, and server-sent events read with fetch
// (EventSource cannot send the Authorization header).

const KEY = 'kvasir.apiKey';

/** An API error: the HTTP status and the server's error object ({message, type, param, code}). */
export class ApiError extends Error {
  constructor(status, error) {
    super(error && error.message ? error.message : `HTTP ${status}`);
    this.status = status;
    this.code = error ? error.code : null;
    this.param = error ? error.param : null;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY) || '';
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

/** Called with the failed request's error when the server answers 401: the page asks for a key. */
let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

function headers(json) {
  const h = {};
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  if (json) h['Content-Type'] = 'application/json';
  return h;
}

async function failure(response) {
  let error = null;
  try {
    error = (await response.json()).error;
  } catch (e) {
    // Not JSON: the status says enough.
  }
  const err = new ApiError(response.status, error);
  if (response.status === 401) onUnauthorized(err);
  return err;
}

/** A JSON call: resolves to the parsed body, rejects with an ApiError. */
export async function call(method, path, body, signal) {
  const response = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

export const get = (path, signal) => call('GET', path, undefined, signal);
export const post = (path, body, signal) => call('POST', path, body, signal);

/** A query string from an object, leaving out null and undefined values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Reads a server-sent event stream, calling onEvent with each event's parsed JSON ([DONE] ends it).
 * Resolves when the stream ends; rejects with an ApiError (HTTP error, or an error event in the
 * stream) or the AbortError of `signal`.
 */
export async function stream(method, path, body, onEvent, signal) {
  const response = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (!data) continue;
      if (data === '[DONE]') return;
      const event = JSON.parse(data);
      if (event.error) throw new ApiError(0, event.error);
      onEvent(event);
    }
  }
}
