// Bad input gets a 4xx with an OpenAI error body ({"error": {"message", "type", "param", "code"}})
// naming the problem, and the server keeps serving: after every case a good request succeeds.
// Also: API-key auth, and local image paths (--allow-local-images DIR, no way out of DIR).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { startServer, chat, dataUri, IMAGES } from './server_helpers.mjs';

const IMAGE = path.join(IMAGES, 'tiny_image_0.png');
const GOOD = { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4, temperature: 0 };
const user = (content) => ({ messages: [{ role: 'user', content }], max_tokens: 4 });
const img = (url) => ({ type: 'image_url', image_url: { url } });

// A valid PNG of w x h grey pixels (stored zlib), to exceed the pixel limit cheaply.
function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 0;
  const raw = Buffer.alloc((w + 1) * h);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
                        chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

let server, keyed, localServer, localDir, outsideDir;

before(async () => {
  server = await startServer(['--max-body-mb', '1', '--max-images', '2', '--max-image-pixels', '250000',
                              '--kv-cache-mb', '16']);
  keyed = await startServer(['--api-key', 'sk-test-123', '--kv-cache-mb', '4']);
  localDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsvl2-local-'));
  outsideDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsvl2-outside-'));
  fs.mkdirSync(path.join(localDir, 'sub'));
  fs.copyFileSync(IMAGE, path.join(localDir, 'sub', 'in.png'));
  fs.copyFileSync(IMAGE, path.join(outsideDir, 'out.png'));
  fs.symlinkSync(path.join(outsideDir, 'out.png'), path.join(localDir, 'link.png'));
  localServer = await startServer(['--allow-local-images', localDir, '--kv-cache-mb', '4']);
});

after(async () => {
  for (const s of [server, keyed, localServer]) if (s) assert.equal(await s.stop(), 0, s.log());
  for (const d of [localDir, outsideDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

async function expectError(base, body, status, pattern, headers = {}) {
  const r = await chat(base, body, headers);
  assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 200)} -> ${r.status} ${r.text.slice(0, 300)}`);
  assert.ok(r.json && r.json.error, `no OpenAI error body: ${r.text.slice(0, 300)}`);
  assert.equal(typeof r.json.error.message, 'string');
  assert.equal(typeof r.json.error.type, 'string');
  assert.ok('code' in r.json.error && 'param' in r.json.error);
  assert.match(r.json.error.message, pattern);
  const good = await chat(base, GOOD, headers);
  assert.equal(good.status, 200, `good request after a bad one: ${good.text}`);
  return r.json.error;
}

const cases = [
  ['invalid JSON', '{"messages": [', 400, /not valid JSON/],
  ['body not an object', '[1, 2]', 400, /JSON object/],
  ['missing messages', { max_tokens: 3 }, 400, /'messages' is required/],
  ['messages wrong type', { messages: 'hi' }, 400, /'messages' must be an array/],
  ['content wrong type', user(42), 400, /content' must be a string or an array/],
  ['temperature wrong type', { ...GOOD, temperature: 'hot' }, 400, /'temperature' must be a number/],
  ['max_tokens not an integer', { ...GOOD, max_tokens: 1.5 }, 400, /'max_tokens' must be an integer/],
  ['stream wrong type', { ...GOOD, stream: 'yes' }, 400, /'stream' must be a boolean/],
  ['unknown role', { messages: [{ role: 'robot', content: 'hi' }] }, 400, /role' must be system, user or assistant/],
  ['unknown content part', user([{ type: 'audio', audio: {} }]), 400, /must be "text" or "image_url"/],
  ['top_p out of range', { ...GOOD, top_p: 3 }, 400, /'top_p' must be between/],
  ['max_tokens beyond the context', { ...GOOD, max_tokens: 100000 }, 400, /exceed the model's context/],
  ['prompt longer than the context', user('tok1 '.repeat(6000)), 400, /longer than the model's context/],
  ['invalid base64', user([img('data:image/png;base64,iVBORw0K!!!not-base64')]), 400, /invalid base64/],
  ['unsupported image format', user([img(`data:image/png;base64,${Buffer.from('hello, not an image').toString('base64')}`)]),
   400, /unsupported image format/],
  ['non-image data URI', user([img('data:text/plain;base64,aGVsbG8=')]), 400, /image\/\* media type/],
  ['corrupt PNG', user([img(`data:image/png;base64,${fs.readFileSync(IMAGE).subarray(0, 60).toString('base64')}`)]),
   400, /PNG|truncated/i],
  ['too many images', user([img(dataUri(IMAGE)), img(dataUri(IMAGE)), img(dataUri(IMAGE))]), 400, /too many images/],
  ['image too large in pixels', user([img(`data:image/png;base64,${png(600, 600).toString('base64')}`)]), 400, /pixels/],
  ['remote image URL', user([img('http://example.com/cat.png')]), 400, /remote image URLs are not supported/],
  ['local path without --allow-local-images', user([img(IMAGE)]), 400, /local image paths are disabled/],
  ['<image> typed in text', user('look: <image>'), 400, /image_url parts/],
];

for (const [name, body, status, pattern] of cases) {
  test(`bad input: ${name}`, async () => {
    const e = await expectError(server.base, body, status, pattern);
    assert.equal(e.type, 'invalid_request_error');
  });
}

test('bad input: body larger than --max-body-mb', async () => {
  const big = JSON.stringify(user('x'.repeat(1536 * 1024)));
  let r;
  try {
    r = await chat(server.base, big);
  } catch (e) {
    // The server may close the connection before the client finished sending the body.
    assert.match(String(e.cause?.code ?? e), /EPIPE|ECONNRESET|UND_ERR_SOCKET/);
    r = null;
  }
  if (r) {
    assert.equal(r.status, 413, r.text);
    assert.match(r.json.error.message, /too large/);
  }
  assert.equal((await chat(server.base, GOOD)).status, 200);
});

test('unknown route: 404 with an error body', async () => {
  const r = await fetch(`${server.base}/v1/nothing`);
  assert.equal(r.status, 404);
  assert.ok((await r.json()).error.message);
});

test('auth: 401 without or with a wrong key, 200 with the key; /health stays open', async () => {
  for (const headers of [{}, { Authorization: 'Bearer wrong' }, { Authorization: 'sk-test-123' }]) {
    const r = await chat(keyed.base, GOOD, headers);
    assert.equal(r.status, 401, JSON.stringify(headers));
    assert.equal(r.json.error.type, 'authentication_error');
  }
  assert.equal((await fetch(`${keyed.base}/v1/models`)).status, 401);
  assert.equal((await fetch(`${keyed.base}/metrics`)).status, 401);
  const ok = await chat(keyed.base, GOOD, { Authorization: 'Bearer sk-test-123' });
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await fetch(`${keyed.base}/health`)).status, 200);
});

test('local images: inside DIR accepted (path, relative, file://), traversal and symlinks out refused', async () => {
  const inside = path.join(localDir, 'sub', 'in.png');
  const ref = await chat(localServer.base, user([img(dataUri(IMAGE)), { type: 'text', text: 'what' }]));
  assert.equal(ref.status, 200, ref.text);
  for (const url of [inside, 'sub/in.png', `file://${inside}`]) {
    const r = await chat(localServer.base, user([img(url), { type: 'text', text: 'what' }]));
    assert.equal(r.status, 200, `${url}: ${r.text}`);
    assert.equal(r.json.choices[0].message.content, ref.json.choices[0].message.content);
  }
  for (const url of [path.join(outsideDir, 'out.png'), `${localDir}/../${path.basename(outsideDir)}/out.png`,
                     'sub/../../etc/passwd', 'link.png', '/etc/passwd', 'missing.png']) {
    const r = await chat(localServer.base, user([img(url)]));
    assert.equal(r.status, 400, `${url}: ${r.text}`);
    assert.match(r.json.error.message, /outside the allowed directory|not found/);
  }
  assert.equal((await chat(localServer.base, GOOD)).status, 200);
});
