/* DOM helpers. Everything from the service becomes text (textContent), never HTML. */

export const SVG_NS = "http://www.w3.org/2000/svg";

const ICONS = {
  send: "M12 19V5M5.5 11.5 12 5l6.5 6.5",
  stop: "M8 8h8v8H8z",
  copy: "M9 9h10v10H9zM15 9V5H5v10h4",
  check: "M5 12.5l4.5 4.5L19 7.5",
  close: "M6.5 6.5l11 11M17.5 6.5l-11 11",
  plus: "M12 5v14M5 12h14",
  info: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 11v5.5M12 7.6v.2",
  alert: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 7v6M12 16.3v.2",
  retry: "M19.5 12a7.5 7.5 0 1 1-2.2-5.3M19.5 4.5v4h-4",
  doc: "M7 3h7l5 5v13H7zM14 3v5h5",
  download: "M12 4v11M7.5 10.5 12 15l4.5-4.5M5 19.5h14",
  up: "M7.5 10.5v9h-3v-9zM7.5 10.5 11 3.5c1.6 0 2.7 1.3 2.4 2.9l-.6 3.1h5.2a2 2 0 0 1 2 2.3l-1.2 6a2 2 0 0 1-2 1.7H7.5",
  down: "M7.5 10.5v9h-3v-9zM7.5 10.5 11 3.5c1.6 0 2.7 1.3 2.4 2.9l-.6 3.1h5.2a2 2 0 0 1 2 2.3l-1.2 6a2 2 0 0 1-2 1.7H7.5"
};
const TURNED = { down: "rotate(180 12 12)" };  // 👎 is 👍 upside down

/** An element with an optional class and text content. */
export function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = String(text);
  return e;
}

/** One of the inline SVG icons above (no external requests). */
export function icon(name) {
  const s = document.createElementNS(SVG_NS, "svg");
  s.setAttribute("viewBox", "0 0 24 24");
  s.setAttribute("aria-hidden", "true");
  s.setAttribute("class", "rq-i");
  const p = document.createElementNS(SVG_NS, "path");
  p.setAttribute("d", ICONS[name]);
  if (name === "stop") p.setAttribute("fill", "currentColor");
  if (TURNED[name]) p.setAttribute("transform", TURNED[name]);
  s.appendChild(p);
  return s;
}

/** A type="button" button with an accessible label, an icon and a visible text, each optional. */
export function button(cls, label, iconName, text) {
  const b = h("button", cls);
  b.type = "button";
  if (label) b.setAttribute("aria-label", label);
  if (iconName) b.appendChild(icon(iconName));
  if (text) b.appendChild(h("span", null, text));
  return b;
}
