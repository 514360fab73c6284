/* An answer's text with its [n] markers as citation chips, and the numbered list of its sources.
   openSource(citation, button) opens the source viewer. */

import { button, h } from "./dom.js";
import { linesLabel, sourceName } from "./format.js";

/** A chip for marker n: a button opening citation c, or a pending span while c is not known yet. */
export function chip(n, c, openSource) {
  if (!c) return h("span", "rq-cite rq-pending", n);
  const b = button("rq-cite", "来源 " + n + "：" + sourceName(c) + "，" + linesLabel(c.start_line, c.end_line, c.page));
  b.textContent = n;
  b.title = sourceName(c) + " · " + linesLabel(c.start_line, c.end_line, c.page);
  b.addEventListener("click", () => { openSource(c, b); });
  return b;
}

/** Fill `el` with `text`, each [n] a chip. With citations null (still streaming) every marker is
    a pending chip; with citations, markers citing nothing stay plain text. */
export function renderAnswer(el, text, citations, openSource) {
  const byId = {};
  (citations || []).forEach((c) => { byId[c.id] = c; });
  const re = /\[(\d{1,2})\]/g;
  let last = 0, m;
  el.textContent = "";
  while ((m = re.exec(text))) {
    const c = byId[m[1]];
    if (citations && !c) continue;
    el.appendChild(document.createTextNode(text.slice(last, m.index)));
    el.appendChild(chip(m[1], c, openSource));
    last = re.lastIndex;
  }
  el.appendChild(document.createTextNode(text.slice(last)));
}

function sourceItem(c, openSource) {
  const li = h("li");
  const b = button("rq-src", "查看来源 " + c.id + "：" + sourceName(c) + "，" + linesLabel(c.start_line, c.end_line, c.page));
  b.appendChild(h("span", "rq-n", c.id));
  const txt = h("span", "rq-src-body");
  txt.appendChild(h("span", "rq-src-title", sourceName(c)));
  txt.appendChild(h("span", "rq-src-meta", [linesLabel(c.start_line, c.end_line, c.page), c.clause, c.doc].filter(Boolean).join(" · ")));
  b.appendChild(txt);
  b.addEventListener("click", () => { openSource(c, b); });
  li.appendChild(b);
  return li;
}

/** The "来源" section (or another `heading`): one button per citation. */
export function sourceList(citations, openSource, heading) {
  const title = heading || "来源";
  const sec = h("section", "rq-sources");
  sec.setAttribute("aria-label", title);
  sec.appendChild(h("p", "rq-sources-h", title));
  const ol = h("ol", "rq-src-list");
  citations.forEach((c) => { ol.appendChild(sourceItem(c, openSource)); });
  sec.appendChild(ol);
  return sec;
}
