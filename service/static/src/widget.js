/* The widget (served as /widget.js): a launcher button and a panel with the chat, in the shadow
   root of one <ragqa-widget> element, so the host page's CSS and ours cannot meet. The only
   global it sets is window.ragqa. "ragqa:css" is the stylesheet (chat.css + widget.css, minified)
   as a string, provided by build.mjs. */

import CSS from "ragqa:css";
import { mount } from "./chat.js";
import { SVG_NS } from "./dom.js";

const CHAT_ICON = "M20 11.5a8 8 0 0 1-11.6 7.1L4 20l1.3-4.1A8 8 0 1 1 20 11.5zM8.5 11.5h.01M12 11.5h.01M15.5 11.5h.01";
const CLOSE_ICON = "M6.5 6.5l11 11M17.5 6.5l-11 11";

/** The widget's own <script> element's settings: data-endpoint (default: its origin), data-title. */
function settings() {
  let script = document.currentScript;
  if (!script) {
    const all = document.querySelectorAll("script[src*='widget.js']");
    script = all[all.length - 1];
  }
  const data = (script && script.dataset) || {};
  const origin = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  return { endpoint: (data.endpoint || origin).replace(/\/+$/, ""), title: data.title || "政策问答" };
}

/** A constructed stylesheet (not blocked by the host's style-src), else a <style> element. */
function adoptStyles(shadow) {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } catch (err) {
    const style = document.createElement("style");
    style.textContent = CSS;
    shadow.appendChild(style);
  }
}

function launcher(title) {
  const launch = document.createElement("button");
  launch.type = "button";
  launch.className = "rw-launch";
  launch.title = title;
  launch.setAttribute("aria-haspopup", "dialog");
  launch.setAttribute("aria-expanded", "false");
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG_NS, "path");
  svg.appendChild(path);
  launch.appendChild(svg);
  return { launch: launch, path: path };
}

/** The host element, its shadow root with styles, launcher and (hidden) panel. */
function shell(title) {
  const host = document.createElement("ragqa-widget");
  const shadow = host.attachShadow({ mode: "open" });
  adoptStyles(shadow);
  const wrap = document.createElement("div");
  const button = launcher(title);
  const panel = document.createElement("div");
  panel.className = "rw-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  panel.hidden = true;
  wrap.append(button.launch, panel);
  shadow.appendChild(wrap);
  return { host: host, shadow: shadow, wrap: wrap, launch: button.launch, path: button.path, panel: panel };
}

function paint(w, open) {
  w.panel.hidden = !open;
  w.wrap.classList.toggle("rw-open", open);
  w.launch.setAttribute("aria-expanded", open ? "true" : "false");
  w.launch.setAttribute("aria-label", (open ? "关闭" : "打开") + w.title);
  w.path.setAttribute("d", open ? CLOSE_ICON : CHAT_ICON);
}

/** The chat, mounted in the panel on first use. */
function ensure(w) {
  if (!w.chat) {
    w.chat = mount(w.panel, {
      endpoint: w.endpoint,
      title: w.title,
      heading: "h2",
      onClose: () => { close(w); },
      onAnswer: (res) => {
        window.dispatchEvent(new CustomEvent("ragqa:answer", { detail: res }));
      }
    });
  }
  return w.chat;
}

function open(w) {
  ensure(w);
  if (w.panel.hidden) paint(w, true);
  w.chat.focus();
}

/** Close the panel; the focus goes back to the launcher if it was inside. */
function close(w) {
  if (w.panel.hidden) return;
  const inside = !!w.shadow.activeElement;
  paint(w, false);
  if (inside) w.launch.focus();
}

function install() {
  const conf = settings();
  const w = Object.assign(shell(conf.title), conf, { chat: null });
  w.launch.addEventListener("click", () => { if (w.panel.hidden) open(w); else close(w); });
  w.shadow.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !w.panel.hidden) { e.stopPropagation(); close(w); }
  });
  paint(w, false);
  window.ragqa = Object.freeze({
    open: () => { open(w); },
    close: () => { close(w); },
    ask: (question) => { open(w); w.chat.ask(question); },
    widget: true,
    endpoint: w.endpoint
  });
  const attach = () => { document.body.appendChild(w.host); };
  if (document.body) attach();
  else document.addEventListener("DOMContentLoaded", attach);
}

if (!(window.ragqa && window.ragqa.widget)) install();
