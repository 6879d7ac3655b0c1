// Batching is invisible: with greedy settings, 16 different requests sent at once each get exactly
// the answer (text, token counts, finish reason) they get when sent alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, chat, dataUri, metrics, IMAGES } from './server_helpers.mjs';

let server;
const IMAGE_FILES = ['describe_landscape_0.png', 'tiny_image_0.png', 'wide_strip_0.png', 'system_prompt_0.png'];

// 16 different conversations: text-only and with images, various lengths and max_tokens.
function requests() {
  const out = [];
  for (let i = 0; i < 16; ++i) {
    const question = `Request ${i}: ${'tell me about the scene '.repeat(1 + (i % 5))}`;
    const content = i % 2 === 0
      ? question
      : [{ type: 'image_url', image_url: { url: dataUri(path.join(IMAGES, IMAGE_FILES[(i >> 1) % 4])) } },
         { type: 'text', text: `\n${question}` }];
    const messages = [{ role: 'user', content }];
    if (i % 3 === 0) messages.unshift({ role: 'system', content: `You are assistant number ${i}.` });
    out.push({ messages, max_tokens: 8 + (i % 4) * 6, temperature: 0 });
  }
  return out;
}

before(async () => {
  // A small prefill chunk so long image prompts are prefilled over several steps, interleaved with
  // other sequences' decode steps.
  server = await startServer(['--max-batch', '16', '--chunk-size', '64', '--kv-cache-mb', '16']);
});

after(async () => {
  if (server) assert.equal(await server.stop(), 0, server.log());
});

test('16 concurrent greedy requests equal the same requests sent alone', async () => {
  const reqs = requests();
  const alone = [];
  for (const r of reqs) {
    const res = await chat(server.base, r);
    assert.equal(res.status, 200, res.text);
    alone.push(res.json);
  }
  const before = await metrics(server.base);
  const together = await Promise.all(reqs.map((r) => chat(server.base, r)));
  const after = await metrics(server.base);
  for (let i = 0; i < reqs.length; ++i) {
    assert.equal(together[i].status, 200, together[i].text);
    const a = alone[i], b = together[i].json;
    assert.equal(b.choices[0].message.content, a.choices[0].message.content, `request ${i}`);
    assert.equal(b.choices[0].finish_reason, a.choices[0].finish_reason, `request ${i}`);
    assert.deepEqual(b.usage, a.usage, `request ${i}`);
  }
  // They really ran batched: alone, one sequence per step; together, several in one forward pass.
  assert.equal(before.get('dsvl2_running_sequences_peak'), 1);
  const peak = after.get('dsvl2_running_sequences_peak');
  console.log(`peak sequences in one step: ${peak}`);
  assert.ok(peak >= 2, `peak ${peak}: the concurrent requests never shared a step`);
});
