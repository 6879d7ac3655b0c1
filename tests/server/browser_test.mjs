// End-to-end test of the web chat page served by `dsvl2 serve` at "/", driven by a headless
// Chromium (Debian's /usr/bin/chromium via playwright-core).
//
// Env: DSVL2_BINARY (default <repo>/build/tools/dsvl2), DSVL2_ARTIFACT_DIR (screenshots; default
// <build dir>/tests/artifacts), DSVL2_CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { BINARY, IMAGES, MODEL, REPO, chat, dataUri, metrics, startServer } from './server_helpers.mjs';

const ARTIFACTS = process.env.DSVL2_ARTIFACT_DIR || path.join(path.dirname(BINARY), '..', 'tests', 'artifacts');
const IMAGE = path.join(IMAGES, 'tiny_image_0.png');  // 50x37: the smallest prompt
const GROUND_IMAGE = path.join(REPO, 'assets', 'demo-image.png');  // 640x480
const PORTRAIT = path.join(IMAGES, 'grounding_portrait_0.png');
const QUESTION = 'Describe this picture.';
const MAX_TOKENS = 40;

const KEY = 'sk-browser-test';
let server, keyed, base, browser;  // keyed: a second server started with --api-key KEY

// The non-streamed API answer for a request the page sent (same messages and settings).
async function apiAnswer(req) {
  const body = Object.assign({}, req);
  delete body.stream;
  delete body.stream_options;
  const r = await chat(base, body);
  assert.equal(r.status, 200, r.text);
  return r.json.choices[0].message.content;
}

async function newPage(url = base) {
  const page = await browser.newPage({ viewport: { width: 1000, height: 860 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await page.goto(url + '/');
  await page.locator('#model:not(:text("…"))').waitFor({ timeout: 5000 });
  return page;
}

async function setSettings(page, values) {
  if (await page.locator('#settings').isHidden()) await page.click('#settings-toggle');
  for (const [k, v] of Object.entries(values)) await page.fill('#' + k, String(v));
  await page.click('#settings-toggle');  // collapse
}

// Sends `text` (with files attached through the file input) and waits for the answer to end;
// an answer that ends in an error fails the test unless allowError.
async function ask(page, text, files = [], { allowError = false } = {}) {
  if (files.length) {
    await page.setInputFiles('#file', files);
    await page.locator('#attachments .thumb').nth(files.length - 1).waitFor();
  }
  const n = await page.locator('.msg.assistant').count();
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
  const answer = page.locator('.msg.assistant').nth(n);
  await answer.locator('xpath=self::*[not(contains(@class, "streaming"))]').waitFor({ timeout: 20000 });
  const error = answer.locator('.error-text');
  if (!allowError && await error.count()) assert.fail('the answer failed: ' + await error.textContent());
  return answer;
}

before(async () => {
  assert.ok(fs.existsSync(BINARY), 'dsvl2 binary not found at ' + BINARY + ' (set DSVL2_BINARY)');
  [server, keyed] = await Promise.all([startServer(), startServer(['--api-key', KEY])]);
  base = server.base;
  browser = await chromium.launch({
    executablePath: process.env.DSVL2_CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'],
  });
});

after(async () => {
  if (browser) await browser.close();
  await Promise.all([server, keyed].filter(Boolean).map((s) => s.stop()));
});

test('page and its files are served', async () => {
  const r = await fetch(base + '/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  const html = await r.text();
  for (const f of ['style.css', 'grounding.js', 'chat.js', 'app.js']) {
    assert.ok(html.includes(f), f + ' not referenced');
    const rf = await fetch(base + '/' + f);
    assert.equal(rf.status, 200, f);
    assert.match(rf.headers.get('content-type'), f.endsWith('.css') ? /^text\/css/ : /javascript/);
  }
});

test('streamed multi-turn answers equal the API answers for the same requests', async () => {
  const page = await newPage();
  await setSettings(page, { temperature: 0, max_tokens: MAX_TOKENS, top_p: '', top_k: '', seed: '' });
  const requests = [];
  page.on('request', (r) => { if (r.url().endsWith('/v1/chat/completions')) requests.push(r.postDataJSON()); });

  // Turn 1: one image through the file input, Enter sends.
  const a1 = await ask(page, QUESTION, [IMAGE]);
  const text1 = await a1.locator('.msg-text').textContent();
  assert.ok(text1.length > 0, 'empty answer');
  assert.equal(await page.locator('.msg.user .msg-images img').count(), 1);
  assert.equal(await page.locator('#attachments .thumb').count(), 0, 'attachments not cleared');
  const meta = await a1.locator('.meta').textContent();
  assert.match(meta, /prompt · \d+ completion tokens/);
  assert.match(meta, /(stopped at max tokens|finish: \w+)$/);

  const req1 = requests[0];
  assert.equal(req1.stream, true);
  assert.equal(req1.temperature, 0);
  assert.equal(req1.max_tokens, MAX_TOKENS);
  assert.deepEqual(req1.messages, [{ role: 'user', content: [
    { type: 'image_url', image_url: { url: dataUri(IMAGE) } }, { type: 'text', text: QUESTION }] }]);
  assert.equal(text1, await apiAnswer(req1));

  // Turn 2: text only; the page sends the whole conversation.
  const a2 = await ask(page, 'And the colors?');
  const text2 = await a2.locator('.msg-text').textContent();
  const req2 = requests[1];
  assert.equal(req2.messages.length, 3);
  assert.deepEqual(req2.messages[1], { role: 'assistant', content: text1.replaceAll('<image>', '') });
  assert.deepEqual(req2.messages[2], { role: 'user', content: [{ type: 'text', text: 'And the colors?' }] });
  assert.equal(text2, await apiAnswer(req2));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('images attach by drag & drop and paste, and can be removed', async () => {
  const page = await newPage();
  const png = fs.readFileSync(IMAGE).toString('base64');
  await page.evaluate((b64) => {
    const file = (name) => new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type: 'image/png' });
    const drop = new DataTransfer();
    drop.items.add(file('dropped-1.png'));
    drop.items.add(file('dropped-2.png'));
    window.dispatchEvent(new DragEvent('drop', { dataTransfer: drop, bubbles: true, cancelable: true }));
    const paste = new DataTransfer();
    paste.items.add(file('pasted.png'));
    document.getElementById('input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: paste, bubbles: true, cancelable: true }));
  }, png);
  const thumbs = page.locator('#attachments .thumb img');
  await thumbs.nth(2).waitFor();
  assert.deepEqual(await thumbs.evaluateAll((is) => is.map((i) => i.alt)), ['dropped-1.png', 'dropped-2.png', 'pasted.png']);
  await page.click('#attachments button[aria-label="Remove dropped-2.png"]');
  assert.deepEqual(await thumbs.evaluateAll((is) => is.map((i) => i.alt)), ['dropped-1.png', 'pasted.png']);
  const sizes = await page.evaluate(() => window.dsvl2.state.attachments.map((a) => [a.width, a.height]));
  const { width, height } = await page.evaluate(async (src) => {
    const i = new Image(); i.src = src; await i.decode(); return { width: i.naturalWidth, height: i.naturalHeight };
  }, dataUri(IMAGE));
  assert.deepEqual(sizes, [[width, height], [width, height]]);
  await page.close();
});

const CANCELLED = 'dsvl2_requests_total{outcome="cancelled"}';
const GENERATED = 'dsvl2_generated_tokens_total';

test('Stop aborts a long generation, the server cancels it and stays usable', async () => {
  const page = await newPage();
  const MAX = 3000;
  await setSettings(page, { temperature: 0, max_tokens: MAX });
  const m0 = await metrics(base);
  await page.setInputFiles('#file', [IMAGE]);
  await page.fill('#input', 'Write a very long story.');
  // The tiny model writes ~1000 tokens/s: press Stop from inside the page as soon as the first
  // text is shown, so the click lands long before the generation could end by itself.
  await page.evaluate(() => {
    const obs = new MutationObserver(() => {
      const t = document.querySelector('.msg.assistant.streaming .msg-text');
      if (t && t.textContent) { obs.disconnect(); document.getElementById('stop').click(); }
    });
    obs.observe(document.getElementById('transcript'), { childList: true, subtree: true, characterData: true });
  });
  await page.press('#input', 'Enter');
  const answer = page.locator('.msg.assistant').last();
  await answer.locator('xpath=self::*[contains(@class, "stopped")]').waitFor({ timeout: 20000 });
  assert.equal(await answer.locator('.meta').textContent(), 'stopped');
  assert.ok(await page.locator('#send').isVisible());
  assert.ok(await page.locator('#stop').isHidden());
  const partial = await answer.locator('.msg-text').textContent();
  assert.ok(partial.length > 0);
  // The server noticed the disconnect and cancelled the request before max_tokens.
  const end = Date.now() + 10000;
  let m1 = await metrics(base);
  while (m1.get(CANCELLED) === m0.get(CANCELLED) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    m1 = await metrics(base);
  }
  const why = JSON.stringify({ partialChars: partial.length, ...Object.fromEntries(
    [...m1].filter(([k]) => k.startsWith('dsvl2_requests_total') || k === GENERATED).map(([k, v]) => [k, v - (m0.get(k) || 0)])) });
  assert.equal(m1.get(CANCELLED), m0.get(CANCELLED) + 1, why);
  assert.ok(m1.get(GENERATED) - m0.get(GENERATED) < MAX, why);

  // The stopped answer is kept in the conversation.
  const history = await page.evaluate(() => window.dsvl2.state.history);
  assert.equal(history.length, 2);
  assert.equal(history[1].content, partial.replaceAll('<image>', ''));
  // The server takes the next request at once. (A new chat: the tiny model's "tok123" pieces
  // re-encode byte by byte, so continuing after a long partial answer can exceed its context.)
  await page.click('#new-chat');
  assert.equal(await page.locator('.msg').count(), 0);
  await setSettings(page, { max_tokens: 8 });
  const next = await ask(page, 'Shorter, please.');
  assert.match(await next.locator('.meta').textContent(), /8 completion tokens/);
  assert.equal((await page.evaluate(() => window.dsvl2.state.history)).length, 2);
  await page.close();
});

test('a rejected image shows the server error inline and gives the input back', async () => {
  const page = await newPage();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsvl2-browser-'));
  const bad = path.join(dir, 'broken.png');
  fs.writeFileSync(bad, 'this is not a png');
  await page.setInputFiles('#file', [bad]);
  await page.fill('#input', 'What is this?');
  await page.press('#input', 'Enter');
  const err = page.locator('.msg.assistant.error [role="alert"]');
  await err.waitFor({ timeout: 10000 });
  assert.match(await err.textContent(), /^Error 4\d\d: .+/);
  assert.equal(await page.inputValue('#input'), 'What is this?');
  assert.equal(await page.locator('#attachments .thumb').count(), 1);
  assert.deepEqual(await page.evaluate(() => window.dsvl2.state.history), []);
  await page.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an error inside the stream is shown inline after the partial answer', async () => {
  const page = await newPage();
  const events = [
    { choices: [{ index: 0, delta: { role: 'assistant', content: 'Half an ans' }, finish_reason: null }] },
    { error: { message: 'generation failed: out of KV cache', type: 'server_error', code: null } },
  ];
  await page.route('**/v1/chat/completions', (route) => route.fulfill({
    status: 200, headers: { 'Content-Type': 'text/event-stream' },
    body: events.map((e) => 'data: ' + JSON.stringify(e) + '\n\n').join('') + 'data: [DONE]\n\n',
  }));
  const answer = await ask(page, 'Go on', [], { allowError: true });
  assert.equal(await answer.locator('.msg-text').textContent(), 'Half an ans');
  assert.equal(await answer.locator('[role="alert"]').textContent(), 'Error: generation failed: out of KV cache');
  assert.deepEqual(await page.evaluate(() => window.dsvl2.state.history), []);
  await page.close();
});

test('det tags are parsed and drawn as labelled boxes', async () => {
  const page = await newPage();
  const answer = 'A <|ref|>cat<|/ref|><|det|>[[100, 200, 500, 800]]<|/det|> and two ' +
    '<|ref|>dogs<|/ref|><|det|>[[0, 0, 999, 999], [550, 10, 990, 600]]<|/det|>; ' +
    'bad: <|det|>[[5, 5, 1000, 6], [9, 9, 1, 1]]<|/det|> <|ref|>x<|/ref|>';
  const parsed = await page.evaluate((a) => window.dsvl2.parseGrounding(a), answer);
  assert.deepEqual(parsed, [
    { label: 'cat', refIndex: 0, raw: [100, 200, 500, 800] },
    { label: 'dogs', refIndex: 1, raw: [0, 0, 999, 999] },
    { label: 'dogs', refIndex: 1, raw: [550, 10, 990, 600] },
  ]);

  // Draw on a 640x480 image shown at 400x300 CSS pixels: positions follow int(v / 999 * W).
  const rects = await page.evaluate(async ({ a, src }) => {
    const fig = window.dsvl2.drawBoxes(src, 640, 480, window.dsvl2.parseGrounding(a));
    fig.style.cssText = 'position:fixed;left:0;top:0;width:400px;margin:0;z-index:100';
    fig.querySelector('img').style.cssText = 'width:400px;height:300px;max-height:none';
    document.body.appendChild(fig);
    await fig.querySelector('img').decode();
    const img = fig.querySelector('img').getBoundingClientRect();
    return [...fig.querySelectorAll('.box')].map((b) => {
      const r = b.getBoundingClientRect();
      return { label: b.querySelector('.box-label').textContent, px: b.dataset.px,
        x: r.left - img.left, y: r.top - img.top, w: r.width, h: r.height };
    });
  }, { a: answer, src: dataUri(GROUND_IMAGE) });
  assert.equal(rects.length, 3);
  const expectPx = (raw) => [Math.trunc(raw[0] / 999 * 640), Math.trunc(raw[1] / 999 * 480),
    Math.trunc(raw[2] / 999 * 640), Math.trunc(raw[3] / 999 * 480)];
  parsed.forEach((b, i) => {
    const px = expectPx(b.raw);
    assert.equal(rects[i].label, b.label);
    assert.equal(rects[i].px, px.join(','));
    const scale = 400 / 640;
    assert.ok(Math.abs(rects[i].x - px[0] * scale) < 1.5, JSON.stringify(rects[i]));
    assert.ok(Math.abs(rects[i].y - px[1] * scale) < 1.5, JSON.stringify(rects[i]));
    assert.ok(Math.abs(rects[i].w - (px[2] - px[0]) * scale) < 1.5, JSON.stringify(rects[i]));
    assert.ok(Math.abs(rects[i].h - (px[3] - px[1]) * scale) < 1.5, JSON.stringify(rects[i]));
  });
  await page.close();
});

test('a grounded streamed answer draws boxes on the question image', async () => {
  const page = await newPage();
  // A real (meaningless: random weights) first turn, for the screenshot.
  await setSettings(page, { temperature: 0, max_tokens: 48 });
  await ask(page, QUESTION, [PORTRAIT]);

  // Then a grounded answer, streamed in small pieces through the page's SSE reader with the tags
  // split across chunks. Its boxes belong on the last image of the conversation.
  const text = 'The <|ref|>left part<|/ref|><|det|>[[20, 40, 480, 960]]<|/det|> and the ' +
    '<|ref|>right part<|/ref|><|det|>[[520, 40, 980, 960]]<|/det|>.';
  const chunks = text.match(/.{1,5}/gs).map((p) => ({ choices: [{ index: 0, delta: { content: p }, finish_reason: null }] }));
  chunks.push({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
  chunks.push({ choices: [], usage: { prompt_tokens: 1531, completion_tokens: chunks.length - 1, total_tokens: 1531 + chunks.length - 1 } });
  await page.route('**/v1/chat/completions', (route) => route.fulfill({
    status: 200, headers: { 'Content-Type': 'text/event-stream' },
    body: chunks.map((c) => 'data: ' + JSON.stringify(c) + '\r\n\r\n').join('') + 'data: [DONE]\n\n',
  }));
  const answer = await ask(page, '<|grounding|>Locate the two parts.', [GROUND_IMAGE]);
  assert.equal(await answer.locator('.msg-text').textContent(), text);
  assert.equal(await answer.locator('figure.ground img').getAttribute('src'), dataUri(GROUND_IMAGE));
  assert.deepEqual(await answer.locator('.box-label').allTextContents(), ['left part', 'right part']);
  assert.deepEqual(await answer.locator('.box').evaluateAll((bs) => bs.map((b) => b.dataset.px)),
    ['12,19,307,461', '333,19,627,461']);
  assert.equal(await answer.locator('.g-ref').count(), 2);

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.setViewportSize({ width: 1000, height: 1280 });  // the whole conversation
  await answer.locator('figure.ground img').evaluate((i) => i.decode());
  await page.evaluate(() => { const t = document.getElementById('transcript'); t.scrollTop = t.scrollHeight; });
  await page.screenshot({ path: path.join(ARTIFACTS, 'browser_chat.png') });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(ARTIFACTS, 'browser_chat_dark.png') });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("the server's boxes field places boxes on the image it names", async () => {
  const page = await newPage();
  // No det tags in the text: the boxes come only from the final chunk's `boxes` (server format),
  // and they name the first of the message's two images.
  const text = 'Found it.';
  const boxes = [{ label: 'thing', image: 0, x1: 0, y1: 0, x2: 0, y2: 0, raw: [100, 100, 899, 499] }];
  const chunks = [
    { choices: [{ index: 0, delta: { role: 'assistant', content: text }, finish_reason: null }] },
    { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], boxes },
  ];
  await page.route('**/v1/chat/completions', (route) => route.fulfill({
    status: 200, headers: { 'Content-Type': 'text/event-stream' },
    body: chunks.map((c) => 'data: ' + JSON.stringify(c) + '\n\n').join('') + 'data: [DONE]\n\n',
  }));
  const answer = await ask(page, 'Where?', [IMAGE, PORTRAIT]);
  assert.equal(await answer.locator('.msg-text').textContent(), text);
  const figs = answer.locator('figure.ground');
  assert.equal(await figs.count(), 1);
  assert.equal(await figs.locator('img').getAttribute('src'), dataUri(IMAGE));
  const { w, h } = await figs.locator('img').evaluate((i) => ({ w: i.naturalWidth, h: i.naturalHeight }));
  const px = [100 / 999 * w, 100 / 999 * h, 899 / 999 * w, 499 / 999 * h].map(Math.trunc);
  assert.equal(await figs.locator('.box').getAttribute('data-px'), px.join(','));
  assert.equal(await figs.locator('.box-label').textContent(), 'thing');
  await page.close();
});

test('with --api-key the page asks for the key and then sends it', async () => {
  const page = await newPage(keyed.base);
  assert.equal(await page.textContent('#model'), 'API key needed');
  assert.ok(await page.locator('#settings').isVisible(), 'settings not opened');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'api_key');
  await page.fill('#api_key', KEY);
  await page.press('#api_key', 'Enter');
  await page.locator(`#model:text("${path.basename(MODEL)}")`).waitFor({ timeout: 5000 });
  await page.fill('#max_tokens', '4');
  await page.click('#settings-toggle');
  const answer = await ask(page, 'Hello');
  assert.match(await answer.locator('.meta').textContent(), /4 completion tokens/);
  // Kept in localStorage for the next visit.
  await page.reload();
  assert.equal(await page.inputValue('#api_key'), KEY);
  assert.deepEqual(page.errors, []);
  await page.close();
});
