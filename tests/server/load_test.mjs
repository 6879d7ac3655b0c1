// Load: 32 concurrent streaming clients x 3 requests each, about a quarter aborting mid-stream.
// Every completed answer equals the answer its request gets alone (no lost or mixed-up answers),
// no request errors, and afterwards the server is idle again: no running or queued sequence, no
// KV block in use, and resident memory back near its idle level.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, chat, dataUri, metrics, readStream, rssBytes, IMAGES } from './server_helpers.mjs';

const KV_MB = 8;
let server;

function request(k) {
  const text = `Load request ${k}: ${'what is shown here? '.repeat(1 + (k % 3))}`;
  const content = k % 4 === 1
    ? [{ type: 'image_url', image_url: { url: dataUri(path.join(IMAGES, 'tiny_image_0.png')) } },
       { type: 'text', text: `\n${text}` }]
    : text;
  return { messages: [{ role: 'user', content }], max_tokens: 12 + (k % 3) * 4, temperature: 0 };
}
const DISTINCT = 8;

before(async () => {
  server = await startServer(['--max-batch', '16', '--chunk-size', '128', '--kv-cache-mb', String(KV_MB),
                              '--max-queue', '256']);
});

after(async () => {
  if (server) assert.equal(await server.stop(), 0, server.log());
});

async function waitIdle(base) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const m = await metrics(base);
    if (m.get('dsvl2_running_sequences') === 0 && m.get('dsvl2_queue_length') === 0 &&
        m.get('dsvl2_kv_blocks_used') === 0) return m;
    if (Date.now() > deadline) throw new Error(`server not idle: ${JSON.stringify([...m])}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('32 clients x 3 streaming requests with disconnects', async () => {
  // Expected answers, each request alone. This also warms the server up (threads, arenas).
  const expected = [];
  for (let k = 0; k < DISTINCT; ++k) {
    const r = await chat(server.base, request(k));
    assert.equal(r.status, 200, r.text);
    expected.push(r.json.choices[0].message.content);
  }
  await waitIdle(server.base);
  const idleRss = rssBytes(server.pid);

  let completed = 0, aborted = 0;
  const client = async (c) => {
    for (let j = 0; j < 3; ++j) {
      const k = (c * 3 + j) % DISTINCT;
      const abort = (c * 3 + j) % 4 === 0;
      const ac = new AbortController();
      const res = await fetch(`${server.base}/v1/chat/completions`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...request(k), stream: true }), signal: ac.signal,
      });
      assert.equal(res.status, 200);
      if (abort) {
        const out = await readStream(res, (n) => n >= 2);
        ac.abort();
        assert.ok(out.stopped || out.done);
        ++aborted;
        continue;
      }
      const out = await readStream(res);
      assert.ok(out.done, 'stream ended without [DONE]');
      assert.equal(out.text, expected[k], `client ${c} request ${j} (prompt ${k})`);
      ++completed;
    }
  };
  const m0 = await metrics(server.base);
  await Promise.all(Array.from({ length: 32 }, (_, c) => client(c)));
  assert.equal(completed + aborted, 96);
  assert.equal(aborted, 24);

  const m = await waitIdle(server.base);
  const cancelled = m.get('dsvl2_requests_total{outcome="cancelled"}') - m0.get('dsvl2_requests_total{outcome="cancelled"}');
  const failed = m.get('dsvl2_requests_total{outcome="failed"}') - m0.get('dsvl2_requests_total{outcome="failed"}');
  assert.equal(failed, 0);
  // An abort after the last token has been generated may still finish normally.
  assert.ok(cancelled >= 1 && cancelled <= aborted, `cancelled ${cancelled}`);
  assert.equal(m.get('dsvl2_http_responses_total{code="500"}') ?? 0, 0);

  // Memory back near idle. Tolerance: the KV pool is allocated untouched and its pages become
  // resident as blocks are first used (more blocks are in use under load than during warm-up),
  // so up to KV_MB more is expected; plus 24 MiB for allocator caches that glibc keeps after
  // malloc_trim (per-thread arenas of the HTTP threads, fragmentation). A leak of the per-request
  // state (images, embeddings, answers) over 96 requests would exceed this.
  const rss = rssBytes(server.pid);
  const tolerance = (KV_MB + 24) * 1024 * 1024;
  console.log(`idle RSS ${(idleRss / 1048576).toFixed(1)} MiB, after load ${(rss / 1048576).toFixed(1)} MiB`);
  assert.ok(rss <= idleRss + tolerance,
            `RSS ${rss} vs idle ${idleRss} (+${((rss - idleRss) / 1048576).toFixed(1)} MiB)`);

  // The server still answers correctly.
  const r = await chat(server.base, request(0));
  assert.equal(r.json.choices[0].message.content, expected[0]);
});

test('a non-streaming client that disconnects is cancelled and its KV blocks freed', async () => {
  const m0 = await metrics(server.base);
  const ac = new AbortController();
  const pending = fetch(`${server.base}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'a long answer please' }], max_tokens: 3500 }),
    signal: ac.signal,
  });
  // Wait until it is generating, then go away.
  for (let t = 0; (await metrics(server.base)).get('dsvl2_running_sequences') === 0; ++t) {
    assert.ok(t < 200, 'request never started');
    await new Promise((r) => setTimeout(r, 10));
  }
  ac.abort();
  await assert.rejects(pending, { name: 'AbortError' });
  const m = await waitIdle(server.base);
  assert.equal(m.get('dsvl2_requests_total{outcome="cancelled"}') - m0.get('dsvl2_requests_total{outcome="cancelled"}'), 1);
  assert.ok(m.get('dsvl2_generated_tokens_total') - m0.get('dsvl2_generated_tokens_total') < 3500);
});

test('past --max-queue new requests get 503, and the server recovers', async () => {
  const s = await startServer(['--max-batch', '1', '--max-queue', '1', '--kv-cache-mb', '8']);
  try {
    const long = { messages: [{ role: 'user', content: 'long' }], max_tokens: 3500 };
    const ac = new AbortController();
    const first = fetch(`${s.base}/v1/chat/completions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(long), signal: ac.signal });
    for (let t = 0; (await metrics(s.base)).get('dsvl2_running_sequences') === 0; ++t) {
      assert.ok(t < 200, 'first request never started');
      await new Promise((r) => setTimeout(r, 10));
    }
    const ac2 = new AbortController();
    const second = fetch(`${s.base}/v1/chat/completions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(long), signal: ac2.signal });
    for (let t = 0; (await metrics(s.base)).get('dsvl2_queue_length') === 0; ++t) {
      assert.ok(t < 200, 'second request never queued');
      await new Promise((r) => setTimeout(r, 10));
    }
    const third = await chat(s.base, { messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
    assert.equal(third.status, 503, third.text);
    assert.equal(third.json.error.type, 'server_error');
    assert.match(third.json.error.message, /queue is full/);
    ac.abort();
    ac2.abort();
    await assert.rejects(first, { name: 'AbortError' });
    await assert.rejects(second, { name: 'AbortError' });
    for (let t = 0; ; ++t) {
      const m = await metrics(s.base);
      if (m.get('dsvl2_running_sequences') === 0 && m.get('dsvl2_queue_length') === 0) break;
      assert.ok(t < 500, 'server did not go idle');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal((await chat(s.base, { messages: [{ role: 'user', content: 'x' }], max_tokens: 2 })).status, 200);
  } finally {
    assert.equal(await s.stop(), 0, s.log());
  }
});
