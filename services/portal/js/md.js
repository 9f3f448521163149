// A small, safe Markdown subset: everything is HTML-escaped first, then
// headings, paragraphs, lists, fenced code, `code`, **bold**, *em* and
// [links](http...) are recognised.  Links only to http(s) or same-site paths.

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

function inline(text) {
  let s = esc(text);
  const codes = [];
  s = s.replace(/`([^`]+)`/g, (_, c) => { codes.push(c); return `\u0000${codes.length - 1}\u0000`; });
  s = s.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (m, label, url) => {
    const u = url.replace(/&amp;/g, '&');
    if (!/^(https?:\/\/|\/(?!\/)|#)/i.test(u)) return label;
    return `<a href="${esc(u)}" rel="noopener noreferrer">${label}</a>`;
  });
  s = s.replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
  s = s.replace(/(^|[^*])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>');
  s = s.replace(/\u0000(\d+)\u0000/g, (_, i) => `<code>${codes[Number(i)]}</code>`);
  return s;
}

/** Markdown text -> HTML string that contains only the tags above. */
export function markdown(src, { headingBase = 2 } = {}) {
  const lines = String(src || '').replace(/\r\n?/g, '\n').split('\n');
  const out = [];
  let para = [];
  let list = null;
  const flushPara = () => { if (para.length) { out.push(`<p>${inline(para.join(' '))}</p>`); para = []; } };
  const flushList = () => { if (list) { out.push(`<${list.tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join('')}</${list.tag}>`); list = null; } };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^```/.test(line)) {
      flushPara(); flushList();
      const code = [];
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) code.push(lines[i]);
      out.push(`<pre><code>${esc(code.join('\n'))}</code></pre>`);
      continue;
    }
    const hm = /^(#{1,4})\s+(.*)$/.exec(line);
    if (hm) {
      flushPara(); flushList();
      const lvl = Math.min(6, hm[1].length + headingBase - 1);
      out.push(`<h${lvl}>${inline(hm[2])}</h${lvl}>`);
      continue;
    }
    const um = /^\s*[-*]\s+(.*)$/.exec(line);
    const om = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (um || om) {
      flushPara();
      const tag = um ? 'ul' : 'ol';
      if (list && list.tag !== tag) flushList();
      if (!list) list = { tag, items: [] };
      list.items.push((um || om)[1]);
      continue;
    }
    if (/^\s*$/.test(line)) { flushPara(); flushList(); continue; }
    if (list) flushList();
    para.push(line.trim());
  }
  flushPara(); flushList();
  return out.join('\n');
}
