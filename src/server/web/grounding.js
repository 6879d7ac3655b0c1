// Grounding tags in answers: parsing and drawing.
// The model writes  <|ref|>label<|/ref|><|det|>[[x1, y1, x2, y2], ...]<|/det|>  with integer
// coordinates 0..999 relative to the image. Same rules as src/vision/grounding.cc: every
// well-formed box is kept with the label of the nearest preceding ref ("" if none); malformed
// boxes and dets are skipped; pixel = trunc(v / 999 * extent).
'use strict';
(function (ns) {
  const TAGS = ['<|ref|>', '<|/ref|>', '<|det|>', '<|/det|>'];
  const COLORS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#00a3a3', '#f032e6', '#9a6324'];

  function nextTag(text, pos) {
    for (;;) {
      const p = text.indexOf('<|', pos);
      if (p < 0) return null;
      for (const t of TAGS) if (text.startsWith(t, p)) return { tag: t, pos: p, end: p + t.length };
      pos = p + 2;
    }
  }

  // "x1, y1, x2, y2" -> [4 ints] or null.
  function parseBox(s) {
    const f = s.split(',').map((x) => x.trim());
    if (f.length !== 4) return null;
    const v = [];
    for (const x of f) {
      if (!/^[+-]?\d+$/.test(x)) return null;
      const n = parseInt(x, 10);
      if (n < 0 || n > 999 || (x[0] === '-' && n !== 0)) return null;
      v.push(n === 0 ? 0 : n);
    }
    return v[2] < v[0] || v[3] < v[1] ? null : v;
  }

  function parseDetBody(body) {
    const t = body.trim();
    if (t.length < 2 || t[0] !== '[' || t[t.length - 1] !== ']') return [];
    const inner = t.slice(1, -1);
    const out = [];
    let i = 0;
    while (i < inner.length) {
      const c = inner[i];
      if (c !== '[') {
        const n = inner.indexOf('[', i);
        i = n < 0 ? inner.length : n;
        continue;
      }
      const close = inner.indexOf(']', i + 1);
      if (close < 0) break;
      const v = parseBox(inner.slice(i + 1, close));
      if (v) out.push(v);
      i = close + 1;
    }
    return out;
  }

  // Returns [{label, refIndex, raw: [x1, y1, x2, y2]}] in order of appearance.
  function parseGrounding(text) {
    const boxes = [];
    let label = null, refIndex = -1, refs = 0, pos = 0, hit;
    while ((hit = nextTag(text, pos))) {
      if (hit.tag === '<|ref|>' || hit.tag === '<|det|>') {
        const closeTag = hit.tag === '<|ref|>' ? '<|/ref|>' : '<|/det|>';
        const close = nextTag(text, hit.end);
        if (!close || close.tag !== closeTag) {  // unterminated: skip, resume at the next tag
          if (hit.tag === '<|ref|>') label = null;
          pos = close ? close.pos : text.length;
          continue;
        }
        const body = text.slice(hit.end, close.pos);
        if (hit.tag === '<|ref|>') {
          label = body;
          refIndex = refs++;
        } else {
          for (const raw of parseDetBody(body)) {
            boxes.push({ label: label === null ? '' : label, refIndex: label === null ? -1 : refIndex, raw });
          }
        }
        pos = close.end;
      } else {
        pos = hit.end;  // stray closing tag
      }
    }
    return boxes;
  }

  const toPixel = (v, extent) => Math.trunc((v / 999) * extent);

  // Splits text into segments for display: {text, kind: 'plain'|'tag'|'ref'|'det', refIndex}.
  // Concatenating the segments' text gives back the input exactly.
  function segments(text) {
    const out = [];
    let pos = 0, refs = 0, hit;
    const push = (s, kind, refIndex) => { if (s) out.push({ text: s, kind, refIndex }); };
    let lastRef = -1;
    while ((hit = nextTag(text, pos))) {
      push(text.slice(pos, hit.pos), 'plain');
      const closeTag = hit.tag === '<|ref|>' ? '<|/ref|>' : hit.tag === '<|det|>' ? '<|/det|>' : null;
      const close = closeTag ? nextTag(text, hit.end) : null;
      if (closeTag && close && close.tag === closeTag) {
        push(hit.tag, 'tag');
        if (hit.tag === '<|ref|>') lastRef = refs++;
        push(text.slice(hit.end, close.pos), hit.tag === '<|ref|>' ? 'ref' : 'det', lastRef);
        push(close.tag, 'tag');
        pos = close.end;
      } else {
        push(hit.tag, 'tag');
        pos = hit.end;
      }
    }
    push(text.slice(pos), 'plain');
    return out;
  }

  function colorFor(box, i) {
    return COLORS[(box.refIndex >= 0 ? box.refIndex : i) % COLORS.length];
  }

  // Draws boxes over an image. Returns the figure element: <figure class="ground"> holding the
  // <img> and one absolutely positioned .box div per box (left/top/width/height in percent of the
  // image, from the same pixel values the server computes), each with a .box-label.
  function drawBoxes(src, width, height, boxes) {
    const fig = document.createElement('figure');
    fig.className = 'ground';
    const wrap = document.createElement('div');
    wrap.className = 'ground-wrap';
    const img = document.createElement('img');
    img.src = src;
    img.alt = 'Image with ' + boxes.length + ' grounding box' + (boxes.length === 1 ? '' : 'es');
    wrap.appendChild(img);
    boxes.forEach((b, i) => {
      const [x1, y1, x2, y2] = b.raw;
      const px = [toPixel(x1, width), toPixel(y1, height), toPixel(x2, width), toPixel(y2, height)];
      const d = document.createElement('div');
      d.className = 'box';
      d.dataset.px = px.join(',');
      d.style.left = (px[0] / width) * 100 + '%';
      d.style.top = (px[1] / height) * 100 + '%';
      d.style.width = ((px[2] - px[0]) / width) * 100 + '%';
      d.style.height = ((px[3] - px[1]) / height) * 100 + '%';
      d.style.setProperty('--c', colorFor(b, i));
      if (px[1] < height * 0.06) d.classList.add('label-inside');  // no room for the label above
      const l = document.createElement('span');
      l.className = 'box-label';
      l.textContent = b.label || 'box ' + (i + 1);
      d.appendChild(l);
      d.title = (b.label || 'box ' + (i + 1)) + ' [' + b.raw.join(', ') + ']';
      wrap.appendChild(d);
    });
    fig.appendChild(wrap);
    const cap = document.createElement('figcaption');
    cap.textContent = boxes.length + ' box' + (boxes.length === 1 ? '' : 'es');
    fig.appendChild(cap);
    return fig;
  }

  ns.parseGrounding = parseGrounding;
  ns.groundingSegments = segments;
  ns.drawBoxes = drawBoxes;
  ns.boxColor = (refIndex) => COLORS[refIndex % COLORS.length];
  ns.toPixel = toPixel;
})((window.dsvl2 = window.dsvl2 || {}));
