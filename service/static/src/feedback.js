/* 👍/👎 under an answer, posted to v1/feedback. 👍 is sent at once; 👎 opens a short form (what
   was wrong, 正确答案是…, which of the answer's sources holds it) sent with 提交. A thank-you
   replaces the form; a failure is said calmly beside the buttons and the reader may try again
   (a later verdict replaces the earlier one). Only an answer with an id shows the buttons: a
   service without feedback sends none. */

import { RequestFailed, postFeedback } from "./api.js";
import { button, h } from "./dom.js";
import { linesLabel, sourceName } from "./format.js";
import { save } from "./state.js";

const MAX_TEXT = 2000;
const FAILED = {
  0: "没有连接上问答服务，反馈没有送达，请稍后再试。",
  404: "这条回答已过期，无法再评价；可以重新提问后再评价。",
  422: "反馈的内容没有被接受，请检查后再提交。",
  429: "这条回答已经收到足够多的反馈，谢谢！"
};
let forms = 0;  // numbers the forms' radio groups and labels

function failureText(err) {
  const words = err instanceof RequestFailed ? FAILED[err.status] : "";
  return words || "反馈暂时没有送达，请稍后再试。";
}

/** The sources the reader may point at: the citations, or a refusal's suggested passages. */
function sourcesOf(res) {
  return res.refused ? res.suggestions || [] : res.citations || [];
}

function say(ui, text, failed) {
  ui.status.textContent = text;
  ui.status.classList.toggle("rq-fb-failed", !!failed);
}

/** The 👎 form is gone (sent, cancelled, or replaced by a 👍). */
function closed(ui) {
  ui.form = ui.submit = null;
  ui.down.setAttribute("aria-expanded", "false");
}

function mark(ui, verdict) {
  ui.up.setAttribute("aria-pressed", verdict === "up" ? "true" : "false");
  ui.down.setAttribute("aria-pressed", verdict === "down" ? "true" : "false");
}

/** Post `payload`; on success remember the verdict in t.fb and thank the reader. */
async function send(chat, t, ui, payload) {
  ui.up.disabled = ui.down.disabled = true;
  if (ui.submit) ui.submit.disabled = true;
  say(ui, "正在提交…");
  let sentForm = false;
  try {
    await postFeedback(chat.endpoint, Object.assign({ answer_id: t.res.id }, payload));
    t.fb = { verdict: payload.verdict };
    save(chat);
    mark(ui, payload.verdict);
    say(ui, "感谢反馈！");
    if (ui.form) {
      ui.thanks = h("p", "rq-fb-thanks", "感谢反馈！您的更正会用来改进回答。");
      ui.form.replaceWith(ui.thanks);
      closed(ui);
      sentForm = true;
    }
  } catch (err) {
    say(ui, failureText(err), true);
  } finally {
    ui.up.disabled = ui.down.disabled = false;
    if (ui.submit) ui.submit.disabled = false;
  }
  if (sentForm) ui.down.focus();  // the focus was in the form, which is gone
}

function field(cls, labelText, control) {
  const id = control.id;
  const label = h("label", "rq-fb-label", labelText);
  label.htmlFor = id;
  const box = h("div", "rq-fb-field " + cls);
  box.append(label, control);
  return box;
}

function textBox(tag, id, placeholder) {
  const el = h(tag, "rq-fb-text");
  el.id = id;
  el.maxLength = MAX_TEXT;
  el.placeholder = placeholder;
  if (tag === "textarea") el.rows = 2;
  else el.type = "text";
  return el;
}

/** Radio buttons: "不确定" (checked) and one per source, "[n] 标题 · 第x行". */
function sourceChoices(sources, name) {
  const set = h("fieldset", "rq-fb-field rq-fb-sources");
  set.appendChild(h("legend", "rq-fb-label", "正确答案在哪条来源里？"));
  [null].concat(sources).forEach((c) => {
    const label = h("label", "rq-fb-choice");
    const radio = h("input");
    radio.type = "radio";
    radio.name = name;
    radio.value = c ? String(c.id) : "";
    radio.checked = !c;
    const text = c ? "[" + c.id + "] " + sourceName(c) + " · " + linesLabel(c.start_line, c.end_line, c.page) : "不确定";
    label.append(radio, h("span", null, text));
    set.appendChild(label);
  });
  return set;
}

/** The 👎 form: comment, correct answer, the source holding it; 提交 sends it, 取消 closes it. */
function openForm(chat, t, ui) {
  if (ui.form) { ui.form.querySelector(".rq-fb-text").focus(); return; }
  if (ui.thanks) { ui.thanks.remove(); ui.thanks = null; }
  const n = ++forms;
  const form = h("form", "rq-fb-form");
  form.setAttribute("aria-label", "反馈：这条回答哪里不对");
  const comment = textBox("textarea", "rq-fb-comment-" + n, "说说哪里不对（选填）");
  const correct = textBox("input", "rq-fb-correct-" + n, "正确答案是…（选填）");
  form.append(field("rq-fb-comment", "哪里不对？", comment), field("rq-fb-correct", "正确答案", correct));
  const sources = sourcesOf(t.res);
  if (sources.length) form.appendChild(sourceChoices(sources, "rq-fb-src-" + n));
  const actions = h("div", "rq-fb-actions");
  ui.submit = button("rq-btn rq-primary rq-small", null, null, "提交");
  ui.submit.type = "submit";
  const cancel = button("rq-btn rq-ghost rq-small", null, null, "取消");
  actions.append(ui.submit, cancel);
  form.appendChild(actions);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const picked = form.querySelector("input[type=radio]:checked");
    const payload = { verdict: "down" };
    if (comment.value.trim()) payload.comment = comment.value.trim();
    if (correct.value.trim()) payload.correct_answer = correct.value.trim();
    if (picked && picked.value) payload.citation = Number(picked.value);
    send(chat, t, ui, payload);
  });
  cancel.addEventListener("click", () => { form.remove(); closed(ui); say(ui, ""); ui.down.focus(); });
  ui.bar.closest(".rq-actions").after(form);
  ui.form = form;
  ui.down.setAttribute("aria-expanded", "true");
  comment.focus();
}

/** The 👍/👎 buttons of turn t's answer (for its action row), or null when it cannot be rated. */
export function feedbackBar(chat, t) {
  if (!t.res || !t.res.id) return null;
  const bar = h("div", "rq-fb");
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "评价这条回答");
  const ui = { bar: bar, form: null, submit: null, thanks: null };
  ui.up = button("rq-btn rq-ghost rq-small rq-icon-only rq-fb-up", "有帮助", "up");
  ui.down = button("rq-btn rq-ghost rq-small rq-icon-only rq-fb-down", "没有帮助，告诉我们哪里不对", "down");
  ui.status = h("span", "rq-fb-status");
  ui.status.setAttribute("role", "status");
  mark(ui, t.fb && t.fb.verdict);
  if (t.fb) say(ui, "感谢反馈！");
  ui.down.setAttribute("aria-expanded", "false");
  ui.up.addEventListener("click", () => {
    if (ui.form) { ui.form.remove(); closed(ui); }
    send(chat, t, ui, { verdict: "up" });
  });
  ui.down.addEventListener("click", () => { openForm(chat, t, ui); });
  bar.append(ui.up, ui.down, ui.status);
  return bar;
}
