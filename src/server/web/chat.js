// Client for the server's OpenAI-compatible API (same origin): /v1/models and streamed
// /v1/chat/completions (SSE "data: {chunk}" lines ending with "data: [DONE]").
'use strict';
(function (ns) {
  class ApiError extends Error {
    constructor(message, status, type, code) {
      super(message);
      this.status = status;
      this.type = type;
      this.code = code;
    }
  }

  function headers(apiKey, json) {
    const h = {};
    if (json) h['Content-Type'] = 'application/json';
    if (apiKey) h['Authorization'] = 'Bearer ' + apiKey;
    return h;
  }

  // Turns a non-2xx response into an ApiError carrying the server's error.message.
  async function errorFrom(resp) {
    let message = resp.status + ' ' + resp.statusText, type = '', code = '';
    try {
      const body = await resp.text();
      try {
        const j = JSON.parse(body);
        if (j && j.error) {
          message = j.error.message || message;
          type = j.error.type || '';
          code = j.error.code == null ? '' : String(j.error.code);
        }
      } catch (_) {
        if (body.trim()) message += ': ' + body.trim().slice(0, 300);
      }
    } catch (_) { /* body unreadable */ }
    return new ApiError(message, resp.status, type, code);
  }

  async function listModels(apiKey) {
    const resp = await fetch('/v1/models', { headers: headers(apiKey, false) });
    if (!resp.ok) throw await errorFrom(resp);
    const j = await resp.json();
    return (j.data || []).map((m) => m.id);
  }

  // Streams one chat completion. `onDelta(text)` gets each content piece as it arrives.
  // Resolves to {text, finishReason, usage, boxes, model}; rejects with ApiError on an HTTP or
  // in-stream error, or with an AbortError when `signal` aborts.
  async function streamChat(body, { apiKey, signal, onDelta }) {
    const req = Object.assign({}, body, { stream: true, stream_options: { include_usage: true } });
    const resp = await fetch('/v1/chat/completions', {
      method: 'POST', headers: headers(apiKey, true), body: JSON.stringify(req), signal,
    });
    if (!resp.ok) throw await errorFrom(resp);
    const result = { text: '', finishReason: null, usage: null, boxes: null, model: null };
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buf = '', done = false;

    const handleEvent = (data) => {
      if (data === '[DONE]') { done = true; return; }
      let j;
      try { j = JSON.parse(data); } catch (_) {
        throw new ApiError('malformed stream data: ' + data.slice(0, 200), 0, 'stream_error', '');
      }
      // An error after the answer began arrives in the stream (the HTTP status was already 200).
      if (j.error) throw new ApiError(j.error.message || 'server error', 0, j.error.type || '', j.error.code || '');
      if (j.model) result.model = j.model;
      if (j.usage) result.usage = j.usage;
      if (Array.isArray(j.boxes)) result.boxes = j.boxes;
      for (const c of j.choices || []) {
        if (c.index != null && c.index !== 0) continue;
        const piece = c.delta && typeof c.delta.content === 'string' ? c.delta.content : '';
        if (piece) {
          result.text += piece;
          onDelta(piece);
        }
        if (c.finish_reason) result.finishReason = c.finish_reason;
        if (Array.isArray(c.boxes)) result.boxes = c.boxes;
      }
    };

    // SSE: events are separated by a blank line; only "data:" fields matter here.
    const flushEvents = (final) => {
      buf = buf.replace(/\r\n?/g, '\n');
      if (final && buf.trim()) buf += '\n\n';
      let sep;
      while ((sep = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, sep);
        buf = buf.slice(sep + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
        if (data) handleEvent(data);
        if (done) return;
      }
    };

    try {
      while (!done) {
        const { value, done: eof } = await reader.read();
        if (eof) {
          buf += decoder.decode();
          flushEvents(true);
          break;
        }
        buf += decoder.decode(value, { stream: true });
        flushEvents(false);
      }
    } finally {
      if (done) reader.cancel().catch(() => {});
    }
    if (!done && !result.finishReason) {
      throw new ApiError('the stream ended before the answer was complete', 0, 'stream_error', '');
    }
    return result;
  }

  ns.ApiError = ApiError;
  ns.listModels = listModels;
  ns.streamChat = streamChat;
})((window.dsvl2 = window.dsvl2 || {}));
