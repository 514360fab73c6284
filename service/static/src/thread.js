/* The conversation: one question and one answer element per turn, painted from the turn's state. */

import { actionRow } from "./actions.js";
import { renderAnswer, sourceList } from "./answer.js";
import { h } from "./dom.js";
import { isListing, listingView } from "./listing.js";
import { errorNotice, refusalNotice, typingDots } from "./notice.js";

/** Whether the log is scrolled to (nearly) its end, so new text should keep it there. */
export function nearBottom(chat) {
  const log = chat.ui.log;
  return log.scrollHeight - log.scrollTop - log.clientHeight < 96;
}

export function toBottom(chat) {
  chat.ui.log.scrollTop = chat.ui.log.scrollHeight;
}

function emptyState() {
  const e = h("div", "rq-empty");
  e.appendChild(h("span", "rq-logo rq-logo-lg", "问")).setAttribute("aria-hidden", "true");
  e.appendChild(h("p", "rq-empty-title", "有什么可以帮您？"));
  e.appendChild(h("p", "rq-empty-text", "我会根据已收录的政府文件回答，并标注原文出处；点击回答中的编号即可查看原文。"));
  e.appendChild(h("p", "rq-tips", "可以问：目标和指标 · 责任单位 · 完成时限 · 政策条款"));
  return e;
}

/** Render every turn afresh (or the empty state), scrolled to the end. */
export function renderAll(chat) {
  const thread = chat.ui.thread;
  thread.textContent = "";
  if (!chat.turns.length) thread.appendChild(emptyState());
  chat.turns.forEach((t) => { renderTurn(chat, t); });
  toBottom(chat);
}

/** Append turn t's question and answer elements, and paint the answer. */
export function renderTurn(chat, t) {
  const thread = chat.ui.thread;
  const empty = thread.querySelector(".rq-empty");
  if (empty) empty.remove();
  const u = h("div", "rq-msg rq-user");
  u.appendChild(h("span", "rq-sr", "问："));
  u.appendChild(document.createTextNode(t.q));
  const b = h("article", "rq-msg rq-bot");
  b.setAttribute("aria-label", "回答");
  b.appendChild(h("span", "rq-logo rq-avatar", "问")).setAttribute("aria-hidden", "true");
  t.body = h("div", "rq-body");
  b.appendChild(t.body);
  t.el = b;
  thread.append(u, b);
  paint(chat, t);
}

function paintAnswer(chat, t) {
  const body = t.body, res = t.res;
  const ans = h("div", "rq-answer");
  if (res && isListing(res.listing)) {
    ans.classList.add("rq-listing");  // the records as a table instead of the plain text
    ans.appendChild(listingView(res.listing, res.citations, chat.openSource, chat.endpoint));
  } else {
    renderAnswer(ans, res ? res.answer : t.text, res ? res.citations : null, chat.openSource);
  }
  body.appendChild(ans);
  t.answerEl = ans;
  if (t.state === "stopped") body.appendChild(h("p", "rq-meta", "已停止生成"));
  if (res) {
    if (res.citations.length) body.appendChild(sourceList(res.citations, chat.openSource));
    body.appendChild(actionRow(res, chat.ui.root));
  }
}

/** Show turn t as its state says; while streaming only the answer text is redrawn. */
export function paint(chat, t) {
  const busy = t.state === "waiting" || t.state === "streaming";
  t.el.dataset.state = t.state;
  t.el.setAttribute("aria-busy", busy ? "true" : "false");
  if (t.state === "streaming" && t.answerEl) {
    renderAnswer(t.answerEl, t.text, null, chat.openSource);
    return;
  }
  t.body.textContent = "";
  t.answerEl = null;
  if (t.state === "waiting") t.body.appendChild(typingDots());
  else if (t.state === "error") t.body.appendChild(errorNotice(t, () => chat.retry(t)));
  else if (t.res && t.res.refused) t.body.appendChild(refusalNotice());  // the service's `refused` field decides, never the wording
  else paintAnswer(chat, t);
}
