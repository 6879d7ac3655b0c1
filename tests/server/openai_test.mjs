// The official `openai` npm client against `dsvl2 serve` (tiny fixture model): non-streaming and
// streaming chats with a data-URI PNG; the text must equal `dsvl2 run` for the same conversation
// and settings (greedy), and /v1/models, usage and boxes must be present.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import OpenAI from 'openai';
import { startServer, runCli, dataUri, IMAGES } from './server_helpers.mjs';

const IMAGE = path.join(IMAGES, 'describe_landscape_0.png');
const QUESTION = 'Describe this picture.';
const MAX_TOKENS = 24;
let server, client, expected;

before(async () => {
  server = await startServer(['--kv-cache-mb', '16']);
  client = new OpenAI({ baseURL: `${server.base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
  // The same conversation through the CLI: the image part stands where "<image>" stands.
  expected = await runCli([{ role: 'user', content: `<image>\n${QUESTION}`, images: [IMAGE] }],
                          { maxNewTokens: MAX_TOKENS });
  assert.ok(expected.text.length > 0);
});

after(async () => {
  if (server) assert.equal(await server.stop(), 0, server.log());
});

const messages = () => [{
  role: 'user',
  content: [
    { type: 'image_url', image_url: { url: dataUri(IMAGE) } },
    { type: 'text', text: `\n${QUESTION}` },
  ],
}];

test('models lists the served model', async () => {
  const list = await client.models.list();
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].id, 'tiny-mha');
});

test('non-streaming chat with a data-URI image equals dsvl2 run', async () => {
  const r = await client.chat.completions.create({
    model: 'tiny-mha', messages: messages(), max_tokens: MAX_TOKENS, temperature: 0,
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, expected.text);
  assert.equal(r.choices[0].finish_reason, expected.finish_reason);
  assert.equal(r.usage.prompt_tokens, expected.prompt_tokens);
  assert.equal(r.usage.completion_tokens, expected.completion_tokens);
  assert.equal(r.usage.total_tokens, expected.prompt_tokens + expected.completion_tokens);
  assert.deepEqual(r.boxes, expected.boxes);
});

test('streaming chat with a data-URI image equals dsvl2 run', async () => {
  const stream = await client.chat.completions.create({
    model: 'tiny-mha', messages: messages(), max_tokens: MAX_TOKENS, temperature: 0, stream: true,
    stream_options: { include_usage: true },
  });
  let text = '', chunks = 0, finish = null, usage = null, role = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.role) role = c.delta.role;
      if (c.delta.content) { text += c.delta.content; ++chunks; }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(role, 'assistant');
  assert.ok(chunks > 1, `expected several content chunks, got ${chunks}`);
  assert.equal(text, expected.text);
  assert.equal(finish, expected.finish_reason);
  assert.equal(usage.prompt_tokens, expected.prompt_tokens);
  assert.equal(usage.completion_tokens, expected.completion_tokens);
});

test('stop sequences cut the answer before the match', async () => {
  const cut = expected.text.slice(5, 9);
  const r = await client.chat.completions.create({
    model: 'tiny-mha', messages: messages(), max_tokens: MAX_TOKENS, temperature: 0, stop: [cut],
  });
  assert.equal(r.choices[0].message.content, expected.text.slice(0, expected.text.indexOf(cut)));
  assert.equal(r.choices[0].finish_reason, 'stop');
});

test('bad input surfaces as an APIError with the status', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'tiny-mha', messages: [{ role: 'robot', content: 'hi' }] }),
    (e) => e instanceof OpenAI.APIError && e.status === 400 && /role/.test(e.message));
});
