/* The question box and its send/stop button. */

import { icon } from "./dom.js";

/** Enable the send button when there is a question, or an answer to stop. */
export function sync(chat) {
  chat.ui.send.disabled = !chat.active && !chat.ui.input.value.trim();
}

/** While an answer is fetched the send button stops it. */
export function setBusy(chat, on) {
  const send = chat.ui.send;
  chat.ui.form.classList.toggle("rq-busy", on);
  send.replaceChildren(icon(on ? "stop" : "send"));
  send.setAttribute("aria-label", on ? "停止生成" : "发送");
  sync(chat);
}

/** Grow the box with its text, up to a limit. */
export function fit(chat) {
  const input = chat.ui.input;
  input.style.height = "auto";
  input.style.height = Math.min(input.scrollHeight, 168) + "px";
}

/** Enter sends (Shift+Enter is a new line; an IME composition is never sent); the form's submit
    (the button) calls submit(), which asks or stops. */
export function bindComposer(chat, submit) {
  const form = chat.ui.form, input = chat.ui.input;
  form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      if (input.value.trim() && !chat.active) submit();
    }
  });
  input.addEventListener("input", () => { fit(chat); sync(chat); });
}
