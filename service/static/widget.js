/* ragqa widget bootstrap. Served at /widget.js after the chat core (RagqaChat) and the
   stylesheet text (RAGQA_CSS), all inside one function scope: see service/web.py. */
(function () {
  "use strict";
  if (window.ragqa && window.ragqa.widget) return;
  var script = document.currentScript;
  if (!script) {
    var all = document.querySelectorAll("script[src*='widget.js']");
    script = all[all.length - 1];
  }
  var data = (script && script.dataset) || {};
  var origin = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var endpoint = (data.endpoint || origin).replace(/\/+$/, "");
  var title = data.title || "政策问答";

  var host = document.createElement("ragqa-widget");
  var shadow = host.attachShadow({ mode: "open" });
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(RAGQA_CSS);
    shadow.adoptedStyleSheets = [sheet];
  } catch (err) {
    var style = document.createElement("style");
    style.textContent = RAGQA_CSS;
    shadow.appendChild(style);
  }
  var wrap = document.createElement("div");
  var launch = document.createElement("button");
  launch.type = "button";
  launch.className = "rw-launch";
  launch.title = title;
  launch.setAttribute("aria-haspopup", "dialog");
  launch.setAttribute("aria-expanded", "false");
  var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  svg.appendChild(path);
  launch.appendChild(svg);
  var panel = document.createElement("div");
  panel.className = "rw-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  panel.hidden = true;
  wrap.append(launch, panel);
  shadow.appendChild(wrap);

  var chat = null;
  function ensure() {
    if (!chat) {
      chat = RagqaChat(panel, {
        endpoint: endpoint,
        title: title,
        heading: "h2",
        onClose: function () { close(); },
        onAnswer: function (res) {
          window.dispatchEvent(new CustomEvent("ragqa:answer", { detail: res }));
        }
      });
    }
    return chat;
  }
  function paint(open) {
    panel.hidden = !open;
    wrap.classList.toggle("rw-open", open);
    launch.setAttribute("aria-expanded", open ? "true" : "false");
    launch.setAttribute("aria-label", (open ? "关闭" : "打开") + title);
    path.setAttribute("d", open ? "M6.5 6.5l11 11M17.5 6.5l-11 11"
      : "M20 11.5a8 8 0 0 1-11.6 7.1L4 20l1.3-4.1A8 8 0 1 1 20 11.5zM8.5 11.5h.01M12 11.5h.01M15.5 11.5h.01");
  }
  function open() {
    ensure();
    if (panel.hidden) paint(true);
    chat.focus();
  }
  function close() {
    if (panel.hidden) return;
    var inside = !!shadow.activeElement;
    paint(false);
    if (inside) launch.focus();
  }
  function ask(question) {
    open();
    chat.ask(question);
  }
  launch.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  shadow.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !panel.hidden) { e.stopPropagation(); close(); }
  });
  paint(false);

  window.ragqa = Object.freeze({ open: open, close: close, ask: ask, widget: true, endpoint: endpoint });
  function attach() { document.body.appendChild(host); }
  if (document.body) attach();
  else document.addEventListener("DOMContentLoaded", attach);
})();
