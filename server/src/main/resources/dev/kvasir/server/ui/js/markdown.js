// A small Markdown renderer that builds DOM nodes and never parses HTML: model output is text, and
// whatever it contains ends up as text. Blocks: fenced code, headings, lists, quotes, paragraphs;
// inline: code, bold, italic, strike-through and http(s) links.

function el(tag, children) {
  const node = document.createElement(tag);
  for (const c of children || []) node.append(c);
  return node;
}

const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(~~[^~\n]+~~)|(\*[^*\s][^*\n]*\*|_[^_\s][^_\n]*_)|(\[[^\]\n]+\]\((https?:\/\/[^)\s]+)\))/;

/** Inline markup of one run of text, as nodes. */
export function inline(text) {
  const out = [];
  let rest = text;
  for (;;) {
    const m = INLINE.exec(rest);
    if (!m) break;
    if (m.index > 0) out.push(rest.slice(0, m.index));
    const t = m[0];
    if (m[1]) out.push(el('code', [t.slice(1, -1)]));
    else if (m[2]) out.push(el('strong', inline(t.slice(2, -2))));
    else if (m[3]) out.push(el('del', inline(t.slice(2, -2))));
    else if (m[4]) out.push(el('em', inline(t.slice(1, -1))));
    else {
      const a = el('a', inline(t.slice(1, t.indexOf(']('))));
      a.href = m[6];
      a.rel = 'noopener noreferrer nofollow';
      a.target = '_blank';
      out.push(a);
    }
    rest = rest.slice(m.index + t.length);
  }
  if (rest) out.push(rest);
  return out;
}

function paragraph(lines) {
  const p = el('p');
  lines.forEach((line, i) => {
    if (i > 0) p.append(el('br'));
    p.append(...inline(line));
  });
  return p;
}

/** Renders `source` into a fragment of block elements. */
export function render(source) {
  const fragment = document.createDocumentFragment();
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  let para = [];
  const flush = () => {
    if (para.length) fragment.append(paragraph(para));
    para = [];
  };
  while (i < lines.length) {
    const line = lines[i];
    const fence = /^\s*```\s*([\w+-]*)\s*$/.exec(line);
    if (fence) {
      flush();
      const code = [];
      i++;
      while (i < lines.length && !/^\s*```\s*$/.test(lines[i])) code.push(lines[i++]);
      i++; // the closing fence (or the end of a reply still streaming)
      const c = el('code', [code.join('\n')]);
      if (fence[1]) c.dataset.lang = fence[1];
      fragment.append(el('pre', [c]));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      // Headings inside a reply sit below the page's own: h3 at most.
      fragment.append(el(`h${Math.min(6, heading[1].length + 2)}`, inline(heading[2])));
      i++;
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+/;
    if (item.test(line)) {
      flush();
      const ordered = /^\s*\d/.test(line);
      const list = el(ordered ? 'ol' : 'ul');
      while (i < lines.length && item.test(lines[i])) {
        list.append(el('li', inline(lines[i].replace(item, ''))));
        i++;
      }
      fragment.append(list);
      continue;
    }
    if (/^\s*>/.test(line)) {
      flush();
      const quoted = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ''));
      fragment.append(el('blockquote', [render(quoted.join('\n'))]));
      continue;
    }
    if (line.trim() === '') flush();
    else para.push(line);
    i++;
  }
  flush();
  return fragment;
}
