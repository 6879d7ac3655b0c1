// The chat page: transcript, composer with image attachments, settings, streaming, grounding.
'use strict';
(function (ns) {
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };

  const SETTINGS = ['temperature', 'top_p', 'top_k', 'max_tokens', 'seed', 'api_key', 'system'];
  const INTS = new Set(['top_k', 'max_tokens', 'seed']);
  const STORE = 'dsvl2.settings';

  // The conversation is kept client-side and sent whole with every request.
  const state = {
    history: [],      // API messages of completed turns
    images: [],       // every image in `history`, in request order (server box "image" indexes)
    attachments: [],  // pending: {src, width, height, name}
    controller: null, // AbortController of the running request
    model: null,
    conv: 0,          // bumped by "New chat": answers of an older conversation are dropped
  };

  // ---- settings ----------------------------------------------------------------------------
  function loadSettings() {
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem(STORE) || '{}'); } catch (_) { /* ignore */ }
    for (const k of SETTINGS) if (saved[k] != null) $(k).value = saved[k];
  }
  function saveSettings() {
    const s = {};
    for (const k of SETTINGS) s[k] = $(k).value;
    try { localStorage.setItem(STORE, JSON.stringify(s)); } catch (_) { /* private mode */ }
  }
  function samplingParams() {
    const p = {};
    for (const k of ['temperature', 'top_p', 'top_k', 'max_tokens', 'seed']) {
      const v = $(k).value.trim();
      if (v === '') continue;
      const n = Number(v);
      if (!Number.isFinite(n) || (INTS.has(k) && !Number.isInteger(n))) {
        throw new Error(k + ' must be ' + (INTS.has(k) ? 'an integer' : 'a number') + ', got "' + v + '"');
      }
      p[k] = n;
    }
    return p;
  }
  const apiKey = () => $('api_key').value.trim();

  // ---- attachments -------------------------------------------------------------------------
  function readImage(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onerror = () => reject(new Error('could not read ' + file.name));
      r.onload = () => {
        const src = r.result;
        const img = new Image();
        img.onload = () => resolve({ src, width: img.naturalWidth, height: img.naturalHeight, name: file.name });
        // The server decodes the bytes itself; the size is only needed to place boxes.
        img.onerror = () => resolve({ src, width: 0, height: 0, name: file.name });
        img.src = src;
      };
      r.readAsDataURL(file);
    });
  }

  // Reads run one batch after another so that images keep the order they were added in.
  let attaching = Promise.resolve();
  function addFiles(files) {
    const list = Array.from(files || []);
    attaching = attaching.then(() => addFilesNow(list));
    return attaching;
  }
  async function addFilesNow(files) {
    const list = Array.from(files || []).filter((f) => f.type.startsWith('image/') || /\.(png|jpe?g|gif|webp|bmp)$/i.test(f.name));
    for (const f of list) {
      try {
        state.attachments.push(await readImage(f));
      } catch (e) {
        showNotice(e.message);
      }
    }
    renderAttachments();
  }

  function renderAttachments() {
    const box = $('attachments');
    box.replaceChildren();
    state.attachments.forEach((a, i) => {
      const t = el('div', 'thumb');
      const img = el('img');
      img.src = a.src;
      img.alt = a.name || 'image ' + (i + 1);
      const rm = el('button', 'remove', '×');
      rm.type = 'button';
      rm.title = 'Remove ' + (a.name || 'image ' + (i + 1));
      rm.setAttribute('aria-label', rm.title);
      rm.onclick = () => { state.attachments.splice(i, 1); renderAttachments(); $('input').focus(); };
      t.append(img, rm);
      box.appendChild(t);
    });
    box.hidden = state.attachments.length === 0;
  }

  // ---- transcript --------------------------------------------------------------------------
  const transcript = $('transcript');
  // Follow the answer while the user stays at the bottom; scrolling up stops following.
  // (Content growth never moves scrollTop, so only a move up means the user scrolled away.)
  let follow = true, lastTop = 0;
  transcript.addEventListener('scroll', () => {
    const top = transcript.scrollTop;
    if (top < lastTop - 2) follow = false;
    if (transcript.scrollHeight - top - transcript.clientHeight < 40) follow = true;
    lastTop = top;
  });
  function scrollDown() {
    if (follow) transcript.scrollTop = transcript.scrollHeight;
  }
  function addMessage(role) {
    $('empty').hidden = true;
    const m = el('div', 'msg ' + role);
    m.setAttribute('aria-label', role === 'user' ? 'You' : 'Assistant');
    const bubble = el('div', 'bubble');
    m.appendChild(bubble);
    transcript.appendChild(m);
    follow = true;
    transcript.scrollTop = transcript.scrollHeight;
    return { m, bubble };
  }
  function showNotice(text) {
    const { m, bubble } = addMessage('notice');
    bubble.textContent = text;
    return m;
  }

  // Replaces the plain streamed text with spans that mark grounding tags (text stays identical).
  function decorate(textEl, text) {
    const frag = document.createDocumentFragment();
    for (const s of ns.groundingSegments(text)) {
      if (s.kind === 'plain') { frag.appendChild(document.createTextNode(s.text)); continue; }
      const span = el('span', 'g-' + s.kind, s.text);
      if (s.kind === 'ref' && s.refIndex >= 0) span.style.setProperty('--c', ns.boxColor(s.refIndex));
      frag.appendChild(span);
    }
    textEl.replaceChildren(frag);
  }

  // Boxes: the server's (box.image indexes the request's images) or parsed from the text (they
  // refer to the last image of the request, as the server and the official demo draw them).
  function groundingFigures(text, serverBoxes, images) {
    let boxes = null;
    if (Array.isArray(serverBoxes) && serverBoxes.length) {
      boxes = serverBoxes.filter((b) => Array.isArray(b.raw) && b.raw.length === 4).map((b, i) => ({
        label: b.label || '', refIndex: typeof b.ref_index === 'number' ? b.ref_index : -1, raw: b.raw,
        image: typeof b.image === 'number' ? b.image : images.length - 1, order: i,
      }));
    }
    if (!boxes || !boxes.length) {
      boxes = ns.parseGrounding(text).map((b) => Object.assign(b, { image: images.length - 1 }));
    }
    // Color by label when the server did not say which ref a box came from.
    const labels = new Map();
    for (const b of boxes) {
      if (b.refIndex < 0 && b.label) {
        if (!labels.has(b.label)) labels.set(b.label, labels.size);
        b.refIndex = labels.get(b.label);
      }
    }
    const byImage = new Map();
    for (const b of boxes) {
      const img = images[b.image];
      if (!img || !img.width || !img.height) continue;
      if (!byImage.has(b.image)) byImage.set(b.image, []);
      byImage.get(b.image).push(b);
    }
    const figs = [];
    for (const [i, bs] of byImage) figs.push(ns.drawBoxes(images[i].src, images[i].width, images[i].height, bs));
    return figs;
  }

  function statsLine(result, t0, tFirst, tEnd) {
    const parts = [];
    const u = result.usage;
    if (u) parts.push(u.prompt_tokens + ' prompt', u.completion_tokens + ' completion tokens');
    if (tFirst) parts.push('first token ' + ((tFirst - t0) / 1000).toFixed(2) + ' s');
    const n = u ? u.completion_tokens : 0;
    if (n > 1 && tFirst && tEnd - tFirst > 20) parts.push(((n - 1) / ((tEnd - tFirst) / 1000)).toFixed(1) + ' tok/s');
    if (result.finishReason) parts.push(result.finishReason === 'length' ? 'stopped at max tokens' : 'finish: ' + result.finishReason);
    return parts.join(' · ');
  }

  // ---- sending -----------------------------------------------------------------------------
  // An answer kept in the conversation. "<image>" is only valid as an image part's placeholder
  // (the server rejects it in text), so a model that wrote the token itself has it dropped here;
  // the transcript still shows the answer as written.
  const assistantTurn = (text) => ({ role: 'assistant', content: text.split('<image>').join('') });

  function setBusy(busy) {
    $('send').hidden = busy;
    $('stop').hidden = !busy;
    document.body.classList.toggle('busy', busy);
  }

  async function send() {
    if (state.controller) return;
    await attaching;  // images still being read belong to this message
    if (state.controller) return;
    const text = $('input').value;
    const attachments = state.attachments.slice();
    if (!text.trim() && !attachments.length) return;
    let params;
    try { params = samplingParams(); } catch (e) { showNotice(e.message); openSettings(true); return; }

    // The user's message: images first (each where "<image>" would be), then the text.
    const content = attachments.map((a) => ({ type: 'image_url', image_url: { url: a.src } }));
    if (text) content.push({ type: 'text', text });
    const userMsg = { role: 'user', content };
    const images = state.images.concat(attachments);

    const { m: um, bubble: ub } = addMessage('user');
    if (attachments.length) {
      const row = el('div', 'msg-images');
      for (const a of attachments) {
        const img = el('img');
        img.src = a.src;
        img.alt = a.name || 'attached image';
        img.addEventListener('load', scrollDown);
        row.appendChild(img);
      }
      ub.appendChild(row);
    }
    if (text) ub.appendChild(el('div', 'msg-text', text));

    $('input').value = '';
    autoGrow();
    state.attachments = [];
    renderAttachments();

    const { m, bubble } = addMessage('assistant');
    m.classList.add('streaming');
    m.setAttribute('aria-busy', 'true');
    const textEl = el('div', 'msg-text');
    const textNode = document.createTextNode('');
    textEl.appendChild(textNode);
    const meta = el('div', 'meta', 'waiting for the model…');
    bubble.append(textEl, meta);

    const messages = [];
    const sys = $('system').value.trim();
    if (sys) messages.push({ role: 'system', content: sys });
    messages.push(...state.history, userMsg);
    const body = Object.assign({ messages }, params);
    if (state.model) body.model = state.model;

    const conv = state.conv;
    const controller = new AbortController();
    state.controller = controller;
    setBusy(true);
    const t0 = performance.now();
    let tFirst = 0, pending = '', flushScheduled = false;
    const flush = () => {
      flushScheduled = false;
      if (!pending) return;
      textNode.appendData(pending);
      pending = '';
      scrollDown();
    };
    try {
      const result = await ns.streamChat(body, {
        apiKey: apiKey(),
        signal: controller.signal,
        onDelta: (piece) => {
          if (!tFirst) { tFirst = performance.now(); meta.textContent = 'generating…'; }
          pending += piece;
          if (!flushScheduled) {  // at most one DOM update per frame, however fast tokens come
            flushScheduled = true;
            requestAnimationFrame(flush);
          }
        },
      });
      flush();
      const tEnd = performance.now();
      decorate(textEl, result.text);
      if (!result.text) textEl.appendChild(el('span', 'empty-answer', '(empty answer)'));
      meta.textContent = statsLine(result, t0, tFirst, tEnd);
      for (const f of groundingFigures(result.text, result.boxes, images)) {
        bubble.insertBefore(f, meta);
        f.querySelector('img').addEventListener('load', scrollDown);
      }
      if (conv === state.conv) {
        state.history.push(userMsg, assistantTurn(result.text));
        state.images = images;
      }
    } catch (e) {
      if (e.name === 'AbortError') {
        // Keep what was generated: the next turn continues from the partial answer.
        flush();
        const partial = textNode.data;
        decorate(textEl, partial);
        meta.textContent = partial ? 'stopped' : 'stopped before the answer began';
        m.classList.add('stopped');
        if (!partial) um.classList.add('failed');  // nothing to keep: not part of the conversation
        if (partial && conv === state.conv) {
          state.history.push(userMsg, assistantTurn(partial));
          state.images = images;
        }
      } else {
        // The turn failed: it is not part of the conversation; give the input back to edit.
        flush();
        m.classList.add('error');
        meta.remove();
        if (!textNode.data) textEl.remove();
        const err = el('div', 'error-text', e.status ? 'Error ' + e.status + ': ' + e.message : 'Error: ' + e.message);
        err.setAttribute('role', 'alert');
        bubble.appendChild(err);
        um.classList.add('failed');
        if (!$('input').value && !state.attachments.length) {
          $('input').value = text;
          state.attachments = attachments;
          renderAttachments();
          autoGrow();
        }
        if (e.status === 401) openSettings(true, 'api_key');
      }
    } finally {
      m.classList.remove('streaming');
      m.removeAttribute('aria-busy');
      state.controller = null;
      setBusy(false);
      scrollDown();
      $('input').focus();
    }
  }

  function stop() {
    if (state.controller) state.controller.abort();
  }

  function newChat() {
    stop();
    state.conv++;
    state.history = [];
    state.images = [];
    for (const m of transcript.querySelectorAll('.msg')) m.remove();
    $('empty').hidden = false;
    $('input').focus();
  }

  // ---- wiring ------------------------------------------------------------------------------
  function openSettings(open, focusId) {
    const panel = $('settings');
    panel.hidden = !open;
    $('settings-toggle').setAttribute('aria-expanded', String(open));
    if (open && focusId) $(focusId).focus();
  }

  function autoGrow() {
    const t = $('input');
    t.style.height = 'auto';
    t.style.height = Math.min(t.scrollHeight, 220) + 'px';
  }

  async function loadModel() {
    try {
      const ids = await ns.listModels(apiKey());
      state.model = ids[0] || null;
      $('model').textContent = state.model || 'no model';
      $('model').classList.remove('bad');
    } catch (e) {
      $('model').textContent = e.status === 401 ? 'API key needed' : 'server unreachable';
      $('model').classList.add('bad');
      $('model').title = e.message;
      if (e.status === 401) openSettings(true, 'api_key');
    }
  }

  function init() {
    loadSettings();
    for (const k of SETTINGS) $(k).addEventListener('change', saveSettings);
    $('api_key').addEventListener('change', loadModel);
    $('settings-toggle').onclick = () => openSettings($('settings').hidden);
    $('new-chat').onclick = newChat;
    $('stop').onclick = stop;
    $('settings').addEventListener('submit', (e) => e.preventDefault());
    $('composer').addEventListener('submit', (e) => { e.preventDefault(); send(); });
    $('input').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
      if (e.key === 'Escape' && state.controller) stop();
    });
    $('input').addEventListener('input', autoGrow);
    $('input').addEventListener('paste', (e) => {
      const files = Array.from(e.clipboardData ? e.clipboardData.files : []);
      if (files.length) { e.preventDefault(); addFiles(files); }
    });
    $('file').addEventListener('change', (e) => { addFiles(e.target.files); e.target.value = ''; });

    // Drag & drop anywhere on the page.
    let depth = 0;
    const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
    window.addEventListener('dragenter', (e) => { if (hasFiles(e)) { depth++; $('drop').hidden = false; } });
    window.addEventListener('dragleave', () => { if (depth && --depth === 0) $('drop').hidden = true; });
    window.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
    window.addEventListener('drop', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      $('drop').hidden = true;
      addFiles(e.dataTransfer.files);
    });

    renderAttachments();
    loadModel();
    $('input').focus();
  }

  ns.send = send;
  ns.stop = stop;
  ns.state = state;
  init();
})((window.dsvl2 = window.dsvl2 || {}));
