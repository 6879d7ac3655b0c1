// Shared helpers of the server tests: start `dsvl2 serve` on a free port against a fixture model,
// wait for /health, stop it; run `dsvl2 run` for reference answers; read /metrics.
//
// Env: DSVL2_BINARY (default <repo>/build/tools/dsvl2), DSVL2_TEST_MODEL (default the tiny-mha
// fixture).
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BINARY = process.env.DSVL2_BINARY || path.join(REPO, 'build', 'tools', 'dsvl2');
export const MODEL = process.env.DSVL2_TEST_MODEL || path.join(REPO, 'tests', 'data', 'fixtures', 'tiny-mha');
export const IMAGES = path.join(REPO, 'tests', 'data', 'fixtures', 'tiny-mha', 'images');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Starts the server; resolves once /health answers. `args`: extra flags.
export async function startServer(args = [], { threads = 2 } = {}) {
  const port = await freePort();
  const proc = spawn(BINARY, ['serve', '--model', MODEL, '--port', String(port), '--threads', String(threads), ...args],
                     { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`dsvl2 serve exited (${proc.exitCode}):\n${log}`);
    try {
      const r = await fetch(`${base}/health`);
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`dsvl2 serve did not become healthy:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base, port, proc, pid: proc.pid,
    log: () => log,
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      const done = new Promise((r) => proc.once('exit', (code, sig) => r(code ?? sig)));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
      const code = await done;
      clearTimeout(t);
      return code;
    },
  };
}

export function dataUri(file) {
  const ext = path.extname(file).slice(1).toLowerCase();
  const mime = ext === 'jpg' ? 'jpeg' : ext;
  return `data:image/${mime};base64,${fs.readFileSync(file).toString('base64')}`;
}

// `dsvl2 run --messages` for [{role, content, images: [paths]}] -> its JSON output.
export async function runCli(messages, { maxNewTokens = 16, extra = [] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsvl2-cli-'));
  const file = path.join(dir, 'messages.json');
  fs.writeFileSync(file, JSON.stringify(messages));
  try {
    const { stdout } = await promisify(execFile)(
      BINARY, ['run', '--model', MODEL, '--messages', file, '--format', 'json', '--threads', '1',
               '--max-new-tokens', String(maxNewTokens), ...extra], { maxBuffer: 64 << 20 });
    return JSON.parse(stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// /metrics -> Map of "name{labels}" -> number.
export async function metrics(base, headers = {}) {
  const text = await (await fetch(`${base}/metrics`, { headers })).text();
  const m = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

// Resident memory of a process (bytes), from /proc.
export function rssBytes(pid) {
  const statm = fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
  return Number(statm[1]) * 4096;
}

// POST /v1/chat/completions with fetch; returns {status, json}.
export async function chat(base, body, headers = {}) {
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
}

// Reads an SSE chat stream; returns {text, usage, finish_reason, boxes, done, stopped}.
// `onChunk(n)` returning true stops reading: the body stream is cancelled (the connection is
// closed), as a client that goes away mid-stream.
export async function readStream(response, onChunk) {
  const decoder = new TextDecoder();
  let buf = '', text = '', n = 0, usage = null, finish = null, boxes = null, done = false, stopped = false;
  outer: for await (const bytes of response.body) {
    buf += decoder.decode(bytes, { stream: true });
    let k;
    while ((k = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, k);
      buf = buf.slice(k + 2);
      if (!event.startsWith('data: ')) continue;
      const data = event.slice(6);
      if (data === '[DONE]') { done = true; continue; }
      const j = JSON.parse(data);
      if (j.error) throw new Error(`stream error: ${j.error.message}`);
      if (j.usage) usage = j.usage;
      for (const c of j.choices) {
        if (c.delta?.content) text += c.delta.content;
        if (c.finish_reason) { finish = c.finish_reason; boxes = j.boxes; }
      }
      if (onChunk && onChunk(++n)) {
        stopped = true;
        break outer;
      }
    }
  }
  return { text, usage, finish_reason: finish, boxes, done, stopped };
}
