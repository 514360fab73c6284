/* Small pieces of the document panel: its own icons, the note of a failure, sizes, a spinner.
   Everything from the service or from file names is text (textContent), never HTML. */

import { SVG_NS, h, icon } from "./dom.js";

const PATHS = {
  upload: "M12 15.5V4.5M7.5 9 12 4.5 16.5 9M4.5 15v4.5h15V15",
  trash: "M4.5 7h15M9.5 7V4.5h5V7M6.5 7l1 12.5h9l1-12.5M10.5 11v5M13.5 11v5",
  key: "M14.5 9.5a4.5 4.5 0 1 1-9 0 4.5 4.5 0 0 1 9 0zM13.2 12.7 20 19.5M17 16.5l2-2"
};

/** An inline SVG icon of the panel (the shared ones are dom.js's icon()). */
export function glyph(name) {
  const s = document.createElementNS(SVG_NS, "svg");
  s.setAttribute("viewBox", "0 0 24 24");
  s.setAttribute("aria-hidden", "true");
  s.setAttribute("class", "rq-i");
  const p = document.createElementNS(SVG_NS, "path");
  p.setAttribute("d", PATHS[name]);
  s.appendChild(p);
  return s;
}

/** What went wrong (an AdminError): the Chinese message, then the server's own words. */
export function problem(err, alert) {
  const box = h("div", "rq-bad");
  if (alert) box.setAttribute("role", "alert");
  box.appendChild(icon("alert"));
  const body = h("div", "rq-bad-body");
  body.appendChild(h("p", "rq-bad-title", err.message));
  if (err.detail) body.appendChild(h("p", "rq-bad-detail", "服务器说明：" + err.detail));
  box.appendChild(body);
  return box;
}

/** "12 字节", "3.4 KB", "1.2 MB". */
export function sizeLabel(bytes) {
  if (bytes < 1024) return bytes + " 字节";
  if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
  return (bytes / 1024 / 1024).toFixed(1) + " MB";
}

export function spinner() {
  const s = h("span", "rq-spin");
  s.setAttribute("aria-hidden", "true");
  return s;
}

/** File names as one line: "a.txt、b.pdf". */
export function namesLabel(names) {
  return names.join("、");
}
