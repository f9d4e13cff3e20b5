// Browser tests of the web console, against a real server: headless Chromium (Debian's package)
// driven by playwright-core, axe-core for accessibility. One browser, one page, every scenario in
// one run. The server module's ConsoleBrowserTest starts the server and runs this script; with
// KVASIR_SCREENSHOTS set it also saves the README's screenshots of the three views.
//
//   KVASIR_URL=http://127.0.0.1:PORT KVASIR_KEY=... [KVASIR_CHROMIUM=/usr/bin/chromium] \
//   [KVASIR_SCREENSHOTS=DIR] node console.test.mjs
//
// Prints one line per scenario ("ok - ..." or "not ok - ...") and a closing "N passed, N failed".
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const URL = process.env.KVASIR_URL;
const KEY = process.env.KVASIR_KEY;
const SHOTS = process.env.KVASIR_SCREENSHOTS || '';
if (!URL || !KEY) {
  console.error('KVASIR_URL and KVASIR_KEY are required');
  process.exit(2);
}
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const USER = `ann-${Date.now().toString(36)}`;

const browser = await chromium.launch({
  executablePath: process.env.KVASIR_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Playwright gives every launch a fresh temporary profile (its --user-data-dir); the machine has no network.
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(30000);

// Anything the page logs as an error (a script error, a CSP refusal) fails the run, except the
// browser's own notes on answers the console expects: 401 before the key, and the core block's
// route on a server that has none.
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  const expected = /status of 401/.test(m.text()) || (m.location().url || '').includes('/v1/memories/core');
  if (/^Failed to load resource/.test(m.text()) && expected) return;
  pageErrors.push(`console error: ${m.text()} (${m.location().url})`);
});

const results = [];
async function scenario(name, body) {
  const t0 = Date.now();
  try {
    await body();
    results.push(true);
    console.log(`ok - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push(false);
    console.log(`not ok - ${name} (${Date.now() - t0} ms)\n  ${String(e.stack || e).split('\n').join('\n  ')}`);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `failed-${name.replace(/\W+/g, '-')}.png`) }).catch(() => {});
  }
}

async function axeSerious(label) {
  // Evaluated through the DevTools protocol: the page's own policy (script-src 'self') stays on.
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(found, [], `axe found serious violations on the ${label} view`);
}

async function tab(name) {
  await page.click(`#tab-${name}`);
  await page.waitForSelector(`#view-${name}:not([hidden])`);
}

async function lastReplyDone() {
  await page.waitForSelector('#messages li.assistant:last-child[data-done]', { timeout: 60000 });
  return page.locator('#messages li.assistant').last();
}

/** Chat requests straight to the API, for load the KV view must show. */
function backgroundChats(n, maxTokens) {
  const prompt = 'Once upon a time there was a little robot who wanted to see the sea. Every morning it walked to the hill';
  return Promise.all(Array.from({ length: n }, (_, i) => fetch(`${URL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ messages: [{ role: 'user', content: `${prompt}.` }], max_tokens: maxTokens, ignore_eos: true, temperature: 1, seed: i }),
  }).then((r) => r.json())));
}

await scenario('the key is asked for once and kept for the tab', async () => {
  await page.goto(`${URL}/`);
  await page.waitForSelector('#key-dialog[open]');
  await page.fill('#key-input', 'sk-wrong-key-000000');
  await page.click('#key-save');
  await page.waitForFunction(() => document.getElementById('key-error').textContent.includes('does not accept'));
  await page.fill('#key-input', KEY);
  await page.click('#key-save');
  await page.waitForSelector('body[data-ready="true"]');
  assert.match(await page.textContent('#model-name'), /stories260K/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('kvasir.apiKey')), KEY);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.isVisible('#key-dialog'), false, 'a reload in the same tab does not ask again');
});

await scenario('a chat reply streams in, with token counts, TTFT and tok/s', async () => {
  await tab('chat');
  await page.fill('#max-tokens', '120');
  await page.fill('#temperature', '0');
  // Count the reply's renders while it streams: more than one means it arrived in pieces.
  await page.evaluate(() => {
    window.renders = [];
    new MutationObserver(() => {
      const body = document.querySelector('#messages li.assistant:last-child .body');
      const li = document.querySelector('#messages li.assistant:last-child');
      if (body && li && !li.dataset.done) window.renders.push(body.textContent.length);
    }).observe(document.getElementById('messages'), { childList: true, subtree: true, characterData: true });
  });
  // The reply's bytes arrive at 8 KB/s, so its events span many animation frames however fast the
  // server decodes: stories260K can stream 120 tokens inside one or two frames, drawn once or twice.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 8 * 1024, uploadThroughput: -1 });
  const response = page.waitForResponse((r) => r.url().endsWith('/v1/chat/completions'));
  await page.fill('#prompt', 'Once upon a time');
  await page.press('#prompt', 'Enter');
  assert.match((await response).headers()['content-type'], /text\/event-stream/);
  const reply = await lastReplyDone();
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await cdp.detach();
  const text = await reply.locator('.body').textContent();
  assert.ok(text.trim().length > 0, 'the reply has text');
  const partial = await page.evaluate(() => window.renders.filter((n) => n > 0));
  assert.ok(new Set(partial).size >= 2, `the reply was drawn while it streamed (renders: ${partial.join(',')})`);
  const meta = await reply.locator('.meta').textContent();
  assert.match(meta, /\d+ prompt tokens \(\d+ from the prefix cache\)/);
  assert.match(meta, /\d+ completion tokens/);
  assert.match(meta, /TTFT \d/);
  assert.match(meta, /tok\/s/);
  assert.equal(await page.textContent('#chat-status'), 'Reply complete.');
});

await scenario('keyboard only: reach the box, send, regenerate, stop, switch views', async () => {
  // From a fresh load, as a keyboard user arrives: the skip link comes first.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  let guard = 0;
  while (await page.evaluate(() => document.activeElement.id) !== 'prompt') {
    assert.ok(++guard < 40, 'Tab reaches the message box');
    await page.keyboard.press('Tab');
  }
  // A shorter reply: Tab on to the settings, set Max tokens, Shift+Tab back to the box.
  guard = 0;
  while (await page.evaluate(() => document.activeElement.id) !== 'max-tokens') {
    assert.ok(++guard < 20, 'Tab reaches Max tokens');
    await page.keyboard.press('Tab');
  }
  await page.keyboard.press('Control+A');
  await page.keyboard.type('40');
  while (await page.evaluate(() => document.activeElement.id) !== 'prompt') {
    assert.ok(++guard < 40, 'Shift+Tab returns to the message box');
    await page.keyboard.press('Shift+Tab');
  }
  await page.keyboard.type('The little cat');
  await page.keyboard.press('Enter');
  const firstReply = await lastReplyDone();
  const first = await firstReply.locator('.body').textContent();
  assert.match(await firstReply.locator('.meta').textContent(), /\b40 completion tokens|finish: stop/, 'the setting typed took effect');
  assert.equal(await page.locator('#messages li.assistant').count(), 1);
  guard = 0;
  while (await page.evaluate(() => document.activeElement.id) !== 'regenerate') {
    assert.ok(++guard < 10, 'Tab reaches Regenerate');
    await page.keyboard.press('Tab');
  }
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#messages li.assistant').length === 1
    && document.querySelector('#messages li.assistant').dataset.done);
  assert.equal(await page.locator('#messages li.user').count(), 1, 'regenerate replaces the reply, not the question');
  assert.ok(first.length > 0);
  // Stop with Escape from the message box, during a long reply.
  await page.fill('#max-tokens', '1500');
  await page.focus('#prompt');
  await page.keyboard.type('Tell me a long story');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('stop').disabled === false);
  await page.keyboard.press('Escape');
  const stopped = await lastReplyDone();
  assert.equal(await stopped.getAttribute('data-done'), 'stopped');
  assert.equal(await page.textContent('#chat-status'), 'Stopped.');
  await page.fill('#max-tokens', '120');
  // The tabs: arrows move between them.
  await page.focus('#tab-chat');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-memory');
  assert.equal(await page.getAttribute('#tab-memory', 'aria-selected'), 'true');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.getAttribute('#tab-chat', 'aria-selected'), 'true');
});

await scenario('axe-core: no serious violations on the chat view', async () => {
  await tab('chat');
  await axeSerious('chat');
});

await scenario('write a memory, correct it: the old value is struck through and the new one injected next', async () => {
  await page.fill('#user', USER);
  await page.dispatchEvent('#user', 'change');
  await tab('memory');
  await page.waitForFunction((u) => document.getElementById('memory-user').textContent === u, USER);
  // The core block (always in the prompt): edit it, save, and find it again after a reload.
  await page.waitForSelector('#core-text');
  await page.fill('#core-text', 'Ann prefers green tea.');
  await page.click('#core button:has-text("Save core block")');
  await page.waitForFunction(() => document.querySelector('#core [role="status"]').textContent === 'Saved.');
  await page.dispatchEvent('#user', 'change');
  await page.waitForFunction(() => (document.getElementById('core-text') || {}).value === 'Ann prefers green tea.');
  await page.fill('#add-content', 'Ann lives in Oslo.');
  await page.fill('#add-fact-key', 'ann.city');
  await page.click('#add-memory button[type="submit"]');
  const oslo = page.locator('.memory-row', { hasText: 'Ann lives in Oslo.' });
  await oslo.waitFor();
  // A moment between the two values, whole seconds apart from both (the time picker has seconds).
  await page.waitForTimeout(1100 - (Date.now() % 1000));
  const between = new Date(Math.floor(Date.now() / 1000) * 1000);
  await page.waitForTimeout(1200);
  await oslo.getByRole('button', { name: 'Correct…' }).click();
  await page.fill('#correct-content', 'Ann lives in Bergen.');
  await page.click('#correct-yes');
  await page.locator('.fact[data-fact-key="ann.city"] .memory-row[data-valid="true"]', { hasText: 'Bergen' }).waitFor();
  const old = page.locator('.memory-row', { hasText: 'Ann lives in Oslo.' });
  assert.equal(await old.getAttribute('data-valid'), 'false');
  assert.equal(await old.locator('del').textContent(), 'Ann lives in Oslo.', 'the old value is struck through');
  assert.match(await old.textContent(), /replaced by.*Ann lives in Bergen\./);
  assert.equal(await page.locator('.fact[data-fact-key="ann.city"] .memory-row').count(), 2, 'one key, two values on its timeline');
  // Time travel: at the moment between them, Oslo held and Bergen was not known yet.
  const local = new Date(between.getTime() - between.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  await page.fill('#as-of', local);
  await page.dispatchEvent('#as-of', 'change');
  assert.equal(await page.locator('.memory-row', { hasText: 'Ann lives in Oslo.' }).getAttribute('data-valid'), 'true');
  assert.equal(await page.locator('.memory-row', { hasText: 'Bergen' }).count(), 0);
  await page.click('#as-of-now');
  // Search shows the API's scores.
  await page.fill('#search-query', 'where does Ann live');
  await page.click('#memory-search button[type="submit"]');
  const row = page.locator('#search-results tr', { hasText: 'Bergen' });
  await row.waitFor();
  assert.match(await row.locator('td').first().textContent(), /^\d+\.\d{3}$/);
  assert.equal(await page.locator('#search-results tr', { hasText: 'Oslo' }).count(), 0, 'an invalidated value is not found now');
  if (SHOTS) await page.screenshot({ path: join(SHOTS, 'memory.png'), fullPage: true });
  await axeSerious('memory');
  // The next reply injects the new value, not the old one.
  await tab('chat');
  await page.click('#clear');
  await page.fill('#prompt', 'Where does Ann live?');
  await page.press('#prompt', 'Enter');
  const reply = await lastReplyDone();
  const details = reply.locator('details.memory');
  await details.locator('summary').click();
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#messages li.assistant:last-child .injected .content'))
    .some((e) => e.textContent.includes('Bergen')));
  const injected = await details.locator('.injected').textContent();
  assert.match(injected, /Ann lives in Bergen\./);
  assert.doesNotMatch(injected, /Oslo/);
  assert.match(await details.locator('summary').textContent(), /\d+ injected \(\d+ tokens\)/);
  assert.match(injected, /score \d+\.\d{3}/, 'each injected memory shows its score');
  assert.match(await page.inputValue('#session'), /^sess_/, 'the server-made session is kept for the next turn');
  if (SHOTS) await page.screenshot({ path: join(SHOTS, 'chat.png') });
});

await scenario('the KV map changes while requests run and returns to idle after', async () => {
  await tab('kv');
  await page.waitForFunction(() => document.getElementById('kv-status').textContent === 'Live');
  const map = () => page.evaluate(() => ({ ...document.getElementById('kv-map').dataset }));
  await page.waitForFunction(() => document.getElementById('kv-map').dataset.used === '0'
    && document.getElementById('kv-map').dataset.shared === '0');
  const idle = await map();
  assert.equal(Number(idle.total), 512);
  const load = backgroundChats(4, 400);
  const busy = await page.waitForFunction(() => {
    const d = document.getElementById('kv-map').dataset;
    return Number(d.used) + Number(d.shared) > 0 ? { ...d } : null;
  }, null, { timeout: 20000, polling: 50 });
  const seen = await busy.jsonValue();
  assert.ok(Number(seen.used) + Number(seen.shared) > 0);
  assert.match(await page.textContent('#kv-legend'), /used \d+/);
  const replies = await load;
  assert.equal(replies.length, 4);
  for (const r of replies) assert.equal(r.usage.completion_tokens, 400, JSON.stringify(r).slice(0, 200));
  await page.waitForFunction(() => {
    const d = document.getElementById('kv-map').dataset;
    return d.used === '0' && d.shared === '0' && document.getElementById('kv-running').textContent === '0';
  }, null, { timeout: 20000 });
  const after = await map();
  assert.ok(Number(after.cached) > 0, 'the finished prompts stay in the prefix cache');
  // The chart keeps one point per snapshot: on a fast machine the load can finish in under a
  // second, so wait for the points to gather rather than count them at once.
  await page.waitForFunction(() => Number(document.getElementById('kv-chart').dataset.points) > 4, null, { timeout: 10000 })
    .catch(() => {});
  assert.ok(Number(await page.getAttribute('#kv-chart', 'data-points')) > 4, 'the chart has the last seconds');
  if (SHOTS) {
    // The README's picture is of a busy pool: take it while a second wave runs.
    const wave = backgroundChats(4, 400);
    await page.waitForFunction(() => Number(document.getElementById('kv-map').dataset.shared) > 0, null, { timeout: 20000, polling: 50 })
      .catch(() => {});
    await page.screenshot({ path: join(SHOTS, 'kv.png'), fullPage: true });
    await wave;
  }
  await axeSerious('KV');
});

await scenario('forget the user, after confirming with their name', async () => {
  await tab('memory');
  await page.click('#forget-user');
  assert.equal(await page.isDisabled('#forget-yes'), true, 'not before the name is typed');
  await page.fill('#forget-confirm', USER);
  await page.click('#forget-yes');
  await page.waitForFunction(() => /Forgot .*: \d+ memories deleted/.test(document.getElementById('memory-status').textContent)
    || /^0 memories/.test(document.getElementById('memory-status').textContent));
  await page.waitForFunction(() => document.getElementById('memory-status').textContent.startsWith('0 memories'));
  assert.equal(await page.locator('.memory-row').count(), 0);
});

await scenario('the page logged no errors and broke no content security policy', async () => {
  assert.deepEqual(pageErrors, []);
});

await browser.close();
const passed = results.filter(Boolean).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(passed === results.length ? 0 : 1);
