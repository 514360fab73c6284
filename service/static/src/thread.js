/* The conversation: one question and one answer element per turn, painted from the turn's state;
   the empty state offers the service's suggested questions. */

import { actionRow } from "./actions.js";
import { renderAnswer, sourceList } from "./answer.js";
import { getSuggestedQuestions } from "./api.js";
import { button, h } from "./dom.js";
import { feedbackBar } from "./feedback.js";
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

const SUGGESTED = 6;

/** Fill `box` with a chip per suggested question (asking it on click); nothing when there are none. */
function fillSuggested(chat, box, questions) {
  if (!questions.length) return;
  box.appendChild(h("p", "rq-suggest-h", "试试这些问题"));
  const list = h("div", "rq-suggest-list");
  questions.forEach((q) => {
    const chip = button("rq-suggest-chip", "提问：" + q, null, q);
    chip.addEventListener("click", () => { chat.askQuestion(q); });
    list.appendChild(chip);
  });
  box.appendChild(list);
}

/** The suggested questions, fetched once per chat (a service without them, or failing, gives none). */
function suggested(chat, box) {
  if (chat.suggested) { fillSuggested(chat, box, chat.suggested); return; }
  getSuggestedQuestions(chat.endpoint, SUGGESTED).then((questions) => {
    chat.suggested = questions;
    if (box.isConnected) fillSuggested(chat, box, questions);
  });
}

function emptyState(chat) {
  const e = h("div", "rq-empty");
  e.appendChild(h("span", "rq-logo rq-logo-lg", "问")).setAttribute("aria-hidden", "true");
  e.appendChild(h("p", "rq-empty-title", "有什么可以帮您？"));
  e.appendChild(h("p", "rq-empty-text", "我会根据已收录的政府文件回答，并标注原文出处；点击回答中的编号即可查看原文。"));
  e.appendChild(h("p", "rq-tips", "可以问：目标和指标 · 责任单位 · 完成时限 · 政策条款"));
  const box = h("div", "rq-suggest");
  e.appendChild(box);
  suggested(chat, box);
  return e;
}

/** Render every turn afresh (or the empty state), scrolled to the end. */
export function renderAll(chat) {
  const thread = chat.ui.thread;
  thread.textContent = "";
  if (!chat.turns.length) thread.appendChild(emptyState(chat));
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

/** 按“…”检索: the question the service searched for, when it rewrote the one asked. */
function rewrittenLine(res) {
  return h("p", "rq-rewritten", "按“" + res.rewritten + "”检索");
}

/** Under a refusal: the passages that may be related (可能相关的原文), each opening the viewer,
    and the 👍/👎 bar (a refusal can be wrong, too). */
function paintRefusal(chat, t, notice) {
  const res = t.res;
  if (res.rewritten) t.body.appendChild(rewrittenLine(res));
  t.body.appendChild(notice);
  const suggestions = Array.isArray(res.suggestions) ? res.suggestions : [];  // absent in answers saved by older pages
  if (suggestions.length) {
    const list = sourceList(suggestions, chat.openSource, "可能相关的原文");
    list.classList.add("rq-suggestions");
    t.body.appendChild(list);
  }
  const rate = feedbackBar(chat, t);
  if (rate) {
    const row = h("div", "rq-actions");
    row.appendChild(rate);
    t.body.appendChild(row);
  }
}

function paintAnswer(chat, t) {
  const body = t.body, res = t.res;
  if (res && res.rewritten) body.appendChild(rewrittenLine(res));
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
    body.appendChild(actionRow(res, chat.ui.root, feedbackBar(chat, t)));
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
  else if (t.res && t.res.refused) paintRefusal(chat, t, refusalNotice());  // the service's `refused` field decides, never the wording
  else paintAnswer(chat, t);
}
