/* What an answer shows instead of text: the typing dots, the refusal, the error with a retry. */

import { button, h, icon } from "./dom.js";

/** A calm ("refused") or alarming ("error") notice with a heading and an optional text. */
export function notice(kind, heading, text) {
  const box = h("div", "rq-notice rq-" + kind);
  box.appendChild(icon(kind === "refused" ? "info" : "alert"));
  const body = h("div", "rq-notice-body");
  body.appendChild(h("p", "rq-notice-title", heading));
  if (text) body.appendChild(h("p", "rq-notice-text", text));
  box.appendChild(body);
  return box;
}

/** Shown while waiting for the first words of an answer. */
export function typingDots() {
  const dots = h("div", "rq-typing");
  dots.setAttribute("aria-label", "正在查找资料");
  dots.append(h("i"), h("i"), h("i"));
  return dots;
}

/** The service's answer had refused: true (decided by that field, never by the answer's wording). */
export function refusalNotice() {
  return notice("refused", "文档中没有找到答案", "可以换个说法，或补充更具体的地区、年份、文件名称后再问。");
}

/** Turn `t` failed: its error message, and a retry button calling onRetry unless the error forbids it. */
export function errorNotice(t, onRetry) {
  const box = notice("error", "没有拿到回答", t.err && t.err.message);
  if (!t.err || t.err.retry !== false) {
    const retry = button("rq-btn rq-outline rq-small", "重试：" + t.q, "retry", "重试");
    retry.addEventListener("click", () => { onRetry(); });
    box.querySelector(".rq-notice-body").appendChild(retry);
  }
  return box;
}
