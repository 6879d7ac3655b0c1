#!/usr/bin/env node
// Load benchmark of `dsvl2 serve`: requests/s, time to first token (TTFT) and inter-token
// latency (ITL) p50/p99 at 1, 4 and 16 concurrent streaming clients, plus the scheduler's own
// time per step (bookkeeping = step - forward) as a share of the step, from /metrics.
//
//   node bench/serve_bench.mjs --model DIR [--binary build/tools/dsvl2] [--threads N]
//        [--clients 1,4,16] [--requests N|N1,N4,N16] [--max-tokens N] [--image PNG] [--prompt TEXT]
//        [--url http://host:port]   (target a running server instead of starting one)
//        [--server-args "--kv-cache-mb 512 --chunk-size 256"] [--json OUT]
//
// TTFT is measured by the client from sending the request to the first content chunk; ITL is the
// time between consecutive content chunks (the server sends one chunk per token that completes
// text). Every request of a level uses a different prompt so the answers differ; sampling is greedy.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

function parseArgs(argv) {
  const a = { clients: '1,4,16', requests: 0, maxTokens: 16, threads: 0, serverArgs: '' };
  for (let i = 2; i < argv.length; ++i) {
    const k = argv[i], v = argv[i + 1];
    const take = () => { ++i; return v; };
    if (k === '--model') a.model = take();
    else if (k === '--binary') a.binary = take();
    else if (k === '--url') a.url = take();
    else if (k === '--clients') a.clients = take();
    else if (k === '--requests') a.requests = take().split(',').map(Number);  // one, or one per level
    else if (k === '--max-tokens') a.maxTokens = Number(take());
    else if (k === '--threads') a.threads = Number(take());
    else if (k === '--image') a.image = take();
    else if (k === '--prompt') a.prompt = take();
    else if (k === '--server-args') a.serverArgs = take();
    else if (k === '--json') a.json = take();
    else { console.error(`unknown argument ${k}`); process.exit(2); }
  }
  if (!a.model && !a.url) { console.error('give --model DIR or --url BASE'); process.exit(2); }
  a.clients = a.clients.split(',').map(Number);
  return a;
}

const freePort = () => new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

async function startServer(a) {
  const port = await freePort();
  const binary = a.binary || path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'build', 'tools', 'dsvl2');
  const args = ['serve', '--model', a.model, '--port', String(port), '--max-batch', '16', '--max-queue', '1024'];
  if (a.threads) args.push('--threads', String(a.threads));
  if (a.serverArgs) args.push(...a.serverArgs.split(/\s+/).filter(Boolean));
  const proc = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  const base = `http://127.0.0.1:${port}`;
  for (let t = 0; ; ++t) {
    if (proc.exitCode !== null) throw new Error(`server exited:\n${log}`);
    try { if ((await fetch(`${base}/health`)).ok) break; } catch { /* starting */ }
    if (t > 6000) throw new Error(`server not healthy:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base, stop: () => new Promise((r) => { proc.once('exit', r); proc.kill('SIGTERM'); }) };
}

async function metrics(base) {
  const m = new Map();
  for (const line of (await (await fetch(`${base}/metrics`)).text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

function body(a, k) {
  const text = `${a.prompt || 'Describe the picture in detail.'} (request ${k})`;
  const content = a.imageUri
    ? [{ type: 'image_url', image_url: { url: a.imageUri } }, { type: 'text', text: `\n${text}` }]
    : text;
  return JSON.stringify({ messages: [{ role: 'user', content }], max_tokens: a.maxTokens, temperature: 0,
                          stream: true, stream_options: { include_usage: true } });
}

async function one(base, a, k, stats) {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: body(a, k) });
  if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
  const dec = new TextDecoder();
  let buf = '', last = 0, first = true;
  for await (const bytes of res.body) {
    buf += dec.decode(bytes, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
      const j = JSON.parse(ev.slice(6));
      if (j.usage) stats.tokens += j.usage.completion_tokens;
      if (!j.choices.length || !j.choices[0].delta.content) continue;
      const now = performance.now();
      if (first) stats.ttft.push(now - t0); else stats.itl.push(now - last);
      first = false;
      last = now;
    }
  }
}

// Quantile of a Prometheus histogram's increase between two /metrics snapshots (linear
// interpolation inside the bucket, as histogram_quantile does), in ms.
function histQuantile(m0, m1, name, q) {
  const buckets = [];
  for (const [k, v] of m1) {
    const mm = k.match(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`));
    if (mm) buckets.push([mm[1] === '+Inf' ? Infinity : Number(mm[1]), v - (m0.get(k) ?? 0)]);
  }
  buckets.sort((x, y) => x[0] - y[0]);
  const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
  if (!total) return NaN;
  const rank = q * total;
  let prevLe = 0, prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return 1000 * prevLe;
      return 1000 * (prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1e-12, count - prevCount));
    }
    prevLe = le;
    prevCount = count;
  }
  return NaN;
}

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function level(base, a, clients, offset, index) {
  const n = !a.requests ? Math.max(4, 2 * clients) : a.requests[Math.min(index, a.requests.length - 1)];
  const stats = { ttft: [], itl: [], tokens: 0 };
  const m0 = await metrics(base);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    for (let k; (k = next++) < n;) await one(base, a, offset + k, stats);
  }));
  const secs = (performance.now() - t0) / 1000;
  const m1 = await metrics(base);
  const d = (key) => m1.get(key) - m0.get(key);
  const step = d('dsvl2_scheduler_step_seconds_total');
  return {
    clients, requests: n, seconds: secs, requests_per_s: n / secs, tokens_per_s: stats.tokens / secs,
    ttft_ms_p50: pct(stats.ttft, 50), ttft_ms_p99: pct(stats.ttft, 99),
    itl_ms_p50: pct(stats.itl, 50), itl_ms_p99: pct(stats.itl, 99),
    server_ttft_ms_p50: histQuantile(m0, m1, 'dsvl2_time_to_first_token_seconds', 0.5),
    server_ttft_ms_p99: histQuantile(m0, m1, 'dsvl2_time_to_first_token_seconds', 0.99),
    server_itl_ms_p50: histQuantile(m0, m1, 'dsvl2_inter_token_latency_seconds', 0.5),
    server_itl_ms_p99: histQuantile(m0, m1, 'dsvl2_inter_token_latency_seconds', 0.99),
    peak_running: m1.get('dsvl2_running_sequences_peak'),
    steps: d('dsvl2_scheduler_steps_total'),
    step_ms_mean: (1000 * step) / d('dsvl2_scheduler_steps_total'),
    bookkeeping_share: d('dsvl2_scheduler_bookkeeping_seconds_total') / step,
    forward_share: d('dsvl2_scheduler_forward_seconds_total') / step,
    vision_s: d('dsvl2_vision_seconds_total'),
  };
}

const a = parseArgs(process.argv);
if (a.image) a.imageUri = `data:image/png;base64,${fs.readFileSync(a.image).toString('base64')}`;
const server = a.url ? null : await startServer(a);
const base = a.url || server.base;
try {
  await one(base, { ...a, maxTokens: 2 }, -1, { ttft: [], itl: [], tokens: 0 });  // warm-up
  const results = [];
  let offset = 0;
  for (const [i, c] of a.clients.entries()) {
    const r = await level(base, a, c, offset, i);
    offset += r.requests;
    results.push(r);
  }
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  console.log(`model ${a.model || a.url}; ${os.cpus().length} CPUs (${os.cpus()[0].model}); max_tokens ${a.maxTokens}` +
              `${a.image ? `; image ${path.basename(a.image)}` : ''}`);
  console.log('Client-side TTFT/ITL (ITL: between SSE chunks; tokens that complete while the client is not\n' +
              'scheduled arrive together), and the server-side histograms (per generated token):');
  console.log('clients reqs  req/s   tok/s  TTFT p50/p99 ms    ITL p50/p99 ms  srv TTFT p50/p99  srv ITL p50/p99' +
              '  step ms  bookkeeping/step  peak batch');
  for (const r of results)
    console.log(`${String(r.clients).padStart(7)} ${String(r.requests).padStart(4)} ${f(r.requests_per_s, 2).padStart(6)} ` +
                `${f(r.tokens_per_s).padStart(7)} ${(f(r.ttft_ms_p50) + '/' + f(r.ttft_ms_p99)).padStart(16)} ` +
                `${(f(r.itl_ms_p50) + '/' + f(r.itl_ms_p99)).padStart(17)} ` +
                `${(f(r.server_ttft_ms_p50) + '/' + f(r.server_ttft_ms_p99)).padStart(16)} ` +
                `${(f(r.server_itl_ms_p50) + '/' + f(r.server_itl_ms_p99)).padStart(16)} ${f(r.step_ms_mean, 2).padStart(8)} ` +
                `${(f(100 * r.bookkeeping_share, 2) + '%').padStart(17)} ${String(r.peak_running).padStart(11)}`);
  if (a.json) fs.writeFileSync(a.json, JSON.stringify({ args: { ...a, imageUri: undefined }, results }, null, 2));
} finally {
  if (server) await server.stop();
}
