/* The row under a finished answer: copy answer and sources, 👍/👎 (feedback.js), and the time the
   answer took. */

import { copyText } from "./clipboard.js";
import { button, h, icon } from "./dom.js";
import { elapsedLabel, sourcesText } from "./format.js";

function copyButton(res, scope) {
  const cp = button("rq-btn rq-ghost rq-small", "复制回答和来源", "copy", "复制");
  cp.addEventListener("click", () => {
    copyText(sourcesText(res), scope).then(() => {
      cp.replaceChildren(icon("check"), h("span", null, "已复制"));
      setTimeout(() => { cp.replaceChildren(icon("copy"), h("span", null, "复制")); }, 2000);
    }, () => {
      cp.replaceChildren(icon("alert"), h("span", null, "复制失败"));
    });
  });
  return cp;
}

/** The actions of answer `res`; `scope` is the chat's root element (see copyText); `rate` is the
    answer's 👍/👎 bar, or null. */
export function actionRow(res, scope, rate) {
  const row = h("div", "rq-actions");
  row.appendChild(copyButton(res, scope));
  if (rate) row.appendChild(rate);
  const ms = res.timings_ms && res.timings_ms.total;
  if (typeof ms === "number") row.appendChild(h("span", "rq-meta", elapsedLabel(ms)));
  return row;
}
