/* Copying text: the Clipboard API where allowed, else a hidden textarea and execCommand. */

import { h } from "./dom.js";

/** Copy `text`; `scope` is where the fallback textarea may live for a moment (a shadow root works). */
export function copyText(text, scope) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  return new Promise((resolve, reject) => {
    const ta = h("textarea", "rq-clip");
    ta.value = text;
    ta.setAttribute("readonly", "");
    scope.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
    ta.remove();
    if (ok) resolve(); else reject(new Error("copy failed"));
  });
}
