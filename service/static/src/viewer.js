/* The source viewer: a dialog over the chat with the cited lines marked, in a few lines of context
   fetched from the service (the citation's own quote is shown until they arrive, or if they do not). */

import { linesUrl, pageUrl } from "./api.js";
import { button, h } from "./dom.js";
import { linesLabel, sourceName } from "./format.js";

const CONTEXT = 3;

/** Fill list `ol` with lines [{n, text}], the cited ones marked. */
function renderLines(ol, lines, c) {
  ol.textContent = "";
  lines.forEach((ln) => {
    const hit = ln.n >= c.start_line && ln.n <= (c.end_line || c.start_line);
    const li = h("li", "rq-line" + (hit ? " rq-hit" : ""));
    li.appendChild(h("span", "rq-ln", ln.n)).setAttribute("aria-hidden", "true");
    li.appendChild(h(hit ? "mark" : "span", "rq-lt", ln.text));
    ol.appendChild(li);
  });
}

/** The viewer's heading (what is cited, where) with its close button. */
function viewerHead(chat, c) {
  const head = h("div", "rq-v-head");
  const info = h("div", "rq-v-info");
  info.appendChild(h("p", "rq-v-kicker", "原文出处 [" + c.id + "]"));
  info.appendChild(h("p", "rq-v-title", sourceName(c)));
  if (c.clause) info.appendChild(h("p", "rq-v-clause", c.clause));
  info.appendChild(h("p", "rq-v-doc", c.doc + " · " + linesLabel(c.start_line, c.end_line, c.page)));
  const close = button("rq-btn rq-ghost rq-icon-only", "关闭原文", "close");
  close.addEventListener("click", () => { closeViewer(chat); });
  head.append(info, close);
  return { head: head, info: info, close: close };
}

/** Show the fetched lines: title, lines, the first cited line scrolled into view. */
function showContext(parts, data, c) {
  if (data.title) parts.info.querySelector(".rq-v-title").textContent = data.title;
  renderLines(parts.ol, data.lines || [], c);
  parts.status.remove();
  const first = parts.ol.querySelector(".rq-hit");
  const body = parts.body;
  if (first && first.offsetTop > body.clientHeight / 2) body.scrollTop = first.offsetTop - body.clientHeight / 3;
}

/** Fetch the cited lines with context (else without), unless the viewer moved on meanwhile. */
async function loadContext(chat, c, parts) {
  const viewer = chat.ui.viewer;
  const end = c.end_line || c.start_line;
  const ranges = [[Math.max(1, c.start_line - CONTEXT), end + CONTEXT], [c.start_line, end]];
  for (let i = 0; i < ranges.length; i++) {
    try {
      const r = await fetch(linesUrl(chat.endpoint, c.doc, ranges[i][0], ranges[i][1]));
      if (!r.ok) continue;
      const data = await r.json();
      if (!viewer.contains(parts.ol)) return;
      showContext(parts, data, c);
      return;
    } catch (err) { break; }
  }
  if (viewer.contains(parts.status)) parts.status.textContent = "无法加载上下文，以下为引用的原文。";
}

/** For a PDF citation: a button that shows the page as printed, the cited line marked. */
function pageToggle(chat, c) {
  const label = "显示第" + c.page + "页原貌";
  const show = button("rq-btn rq-outline rq-small rq-page-btn", label, "doc", label);
  show.addEventListener("click", () => {
    const img = h("img", "rq-page");
    img.alt = "第" + c.page + "页原貌，引用的行已标出";
    img.src = pageUrl(chat.endpoint, c.doc, c.page, c.start_line);
    show.replaceWith(img);
  });
  return show;
}

/** Open the viewer on citation c; `from` gets the focus back when it closes. */
export async function openViewer(chat, c, from) {
  const viewer = chat.ui.viewer;
  chat.opener = from || null;
  viewer.textContent = "";
  viewer.setAttribute("aria-label", "原文：" + sourceName(c));
  const top = viewerHead(chat, c);
  const body = h("div", "rq-v-body");
  const ol = h("ol", "rq-lines");
  const status = h("p", "rq-v-status", "正在加载上下文…");
  body.append(ol, status);
  if (c.page) body.append(pageToggle(chat, c));
  viewer.append(top.head, body);
  const quote = String(c.quote || "").split(/\r\n|\r|\n/);
  renderLines(ol, quote.map((text, i) => { return { n: c.start_line + i, text: text }; }), c);
  chat.ui.overlay.hidden = false;
  top.close.focus();
  await loadContext(chat, c, { info: top.info, body: body, ol: ol, status: status });
}

/** Close the viewer (if open) and give the focus back to what opened it. */
export function closeViewer(chat) {
  if (chat.ui.overlay.hidden) return;
  chat.ui.overlay.hidden = true;
  chat.ui.viewer.textContent = "";
  if (chat.opener && chat.opener.isConnected) chat.opener.focus();
  chat.opener = null;
}
