/* ragqa chat core: RagqaChat(container, options) mounts the question-answering chat
   into an element of a page or of a shadow root and returns {ask, focus, clear}.
   Everything from the service is rendered as text (textContent), never as HTML. */
var RagqaChat = (function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var ICONS = {
    send: "M12 19V5M5.5 11.5 12 5l6.5 6.5",
    stop: "M8 8h8v8H8z",
    copy: "M9 9h10v10H9zM15 9V5H5v10h4",
    check: "M5 12.5l4.5 4.5L19 7.5",
    close: "M6.5 6.5l11 11M17.5 6.5l-11 11",
    plus: "M12 5v14M5 12h14",
    info: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 11v5.5M12 7.6v.2",
    alert: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 7v6M12 16.3v.2",
    retry: "M19.5 12a7.5 7.5 0 1 1-2.2-5.3M19.5 4.5v4h-4",
    doc: "M7 3h7l5 5v13H7zM14 3v5h5"
  };
  var CONTEXT = 3;
  var TIMEOUT_MS = 60000;
  var MAX_TURNS = 40;

  function h(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }

  function icon(name) {
    var s = document.createElementNS(SVG, "svg");
    s.setAttribute("viewBox", "0 0 24 24");
    s.setAttribute("aria-hidden", "true");
    s.setAttribute("class", "rq-i");
    var p = document.createElementNS(SVG, "path");
    p.setAttribute("d", ICONS[name]);
    if (name === "stop") p.setAttribute("fill", "currentColor");
    s.appendChild(p);
    return s;
  }

  function button(cls, label, iconName, text) {
    var b = h("button", cls);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    if (iconName) b.appendChild(icon(iconName));
    if (text) b.appendChild(h("span", null, text));
    return b;
  }

  function linesLabel(s, e) {
    return s === e || !e ? "第" + s + "行" : "第" + s + "–" + e + "行";
  }

  function docUrl(endpoint, doc, start, end) {
    var path = String(doc).split("/").map(encodeURIComponent).join("/");
    return endpoint + "v1/documents/" + path + "/lines?start=" + start + "&end=" + end;
  }

  function copyText(text, scope) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var ta = h("textarea", "rq-clip");
      ta.value = text;
      ta.setAttribute("readonly", "");
      scope.appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
      ta.remove();
      if (ok) resolve(); else reject(new Error("copy failed"));
    });
  }

  function sourcesText(res) {
    var out = res.answer.trim();
    if (res.citations.length) {
      out += "\n\n来源：";
      res.citations.forEach(function (c) {
        out += "\n[" + c.id + "] " + (c.title || c.doc) + "（" + c.doc + "）" +
          (c.clause ? "，" + c.clause : "") + "，" + linesLabel(c.start_line, c.end_line);
      });
    }
    return out;
  }

  function parseEvent(block) {
    var ev = "message", data = [], any = false;
    block.split(/\r\n|\r|\n/).forEach(function (line) {
      if (!line || line.charAt(0) === ":") return;
      var i = line.indexOf(":");
      var field = i < 0 ? line : line.slice(0, i);
      var value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") ev = value;
      else if (field === "data") { data.push(value); any = true; }
    });
    if (!any) return null;
    return { event: ev, data: JSON.parse(data.join("\n")) };
  }

  function ChatError(message, retry) {
    this.message = message;
    this.retry = retry !== false;
  }

  async function httpError(r) {
    var msg = "";
    try {
      var body = await r.json();
      msg = body && body.error && body.error.message;
      if (!msg && body && typeof body.detail === "string") msg = body.detail;
    } catch (err) { msg = ""; }
    if (msg) return new ChatError(msg + (r.status >= 500 ? "（HTTP " + r.status + "）" : ""));
    if (r.status === 429) return new ChatError("提问太频繁了，请稍等片刻再试。");
    if (r.status >= 500) return new ChatError("问答服务暂时不可用（HTTP " + r.status + "），请稍后重试。");
    return new ChatError("请求未被接受（HTTP " + r.status + "）。");
  }

  function mount(container, opts) {
    opts = opts || {};
    var endpoint = opts.endpoint ? String(opts.endpoint).replace(/\/+$/, "") + "/" : "";
    var title = opts.title || "政策问答";
    var storeKey = "ragqa:chat:" + (endpoint || location.pathname);
    var turns = [];
    var active = null;

    var root = h("div", "rq");
    var head = h("header", "rq-head");
    var brand = h("div", "rq-brand");
    brand.appendChild(h("span", "rq-logo", "问")).setAttribute("aria-hidden", "true");
    brand.appendChild(h(opts.heading || "h1", "rq-title", title));
    var tools = h("div", "rq-tools");
    var newBtn = button("rq-btn rq-ghost", "开始新对话", "plus", "新对话");
    tools.appendChild(newBtn);
    if (opts.onClose) {
      var closeBtn = button("rq-btn rq-ghost rq-icon-only", "关闭" + title, "close");
      closeBtn.addEventListener("click", opts.onClose);
      tools.appendChild(closeBtn);
    }
    head.append(brand, tools);

    var log = h("div", "rq-log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-label", "对话记录");
    log.tabIndex = -1;
    var thread = h("div", "rq-thread");
    log.appendChild(thread);

    var foot = h("div", "rq-foot");
    var form = h("form", "rq-form");
    var input = h("textarea", "rq-input");
    input.rows = 1;
    input.maxLength = 2000;
    input.placeholder = opts.placeholder || "输入问题，按 Enter 发送";
    input.setAttribute("aria-label", "输入问题");
    input.setAttribute("enterkeyhint", "send");
    var send = button("rq-send", "发送", "send");
    send.type = "submit";
    form.append(input, send);
    foot.append(form, h("p", "rq-note", "回答仅依据已收录的文件生成，请以原文为准。"));

    var overlay = h("div", "rq-overlay");
    overlay.hidden = true;
    var scrim = h("div", "rq-scrim");
    var viewer = h("section", "rq-viewer");
    viewer.setAttribute("role", "dialog");
    viewer.setAttribute("aria-modal", "true");
    viewer.tabIndex = -1;
    overlay.append(scrim, viewer);

    root.append(head, log, foot, overlay);
    container.appendChild(root);

    function nearBottom() {
      return log.scrollHeight - log.scrollTop - log.clientHeight < 96;
    }
    function toBottom() {
      log.scrollTop = log.scrollHeight;
    }

    function save() {
      try {
        var keep = turns.slice(-MAX_TURNS).map(function (t) {
          return { q: t.q, state: t.state, text: t.text, res: t.res, err: t.err };
        });
        sessionStorage.setItem(storeKey, JSON.stringify(keep));
      } catch (err) { return; }
    }

    function restore() {
      var saved = [];
      try { saved = JSON.parse(sessionStorage.getItem(storeKey) || "[]"); } catch (err) { saved = []; }
      if (!Array.isArray(saved)) return;
      saved.forEach(function (s) {
        if (!s || typeof s.q !== "string") return;
        var t = { q: s.q, state: s.state, text: s.text || "", res: s.res || null, err: s.err || null };
        if (t.state !== "done" && t.state !== "stopped" && t.state !== "error") {
          t.state = "error";
          t.err = { message: "回答没有完成（页面已刷新）。", retry: true };
        }
        if (t.state === "done" && !t.res) return;
        turns.push(t);
      });
    }

    function emptyState() {
      var e = h("div", "rq-empty");
      e.appendChild(h("span", "rq-logo rq-logo-lg", "问")).setAttribute("aria-hidden", "true");
      e.appendChild(h("p", "rq-empty-title", "有什么可以帮您？"));
      e.appendChild(h("p", "rq-empty-text", "我会根据已收录的政府文件回答，并标注原文出处；点击回答中的编号即可查看原文。"));
      e.appendChild(h("p", "rq-tips", "可以问：目标和指标 · 责任单位 · 完成时限 · 政策条款"));
      return e;
    }

    function renderAll() {
      thread.textContent = "";
      if (!turns.length) thread.appendChild(emptyState());
      turns.forEach(renderTurn);
      toBottom();
    }

    function renderTurn(t) {
      var empty = thread.querySelector(".rq-empty");
      if (empty) empty.remove();
      var u = h("div", "rq-msg rq-user");
      u.appendChild(h("span", "rq-sr", "问："));
      u.appendChild(document.createTextNode(t.q));
      var b = h("article", "rq-msg rq-bot");
      b.setAttribute("aria-label", "回答");
      b.appendChild(h("span", "rq-logo rq-avatar", "问")).setAttribute("aria-hidden", "true");
      t.body = h("div", "rq-body");
      b.appendChild(t.body);
      t.el = b;
      thread.append(u, b);
      paint(t);
    }

    function renderAnswer(el, text, citations) {
      var byId = {};
      (citations || []).forEach(function (c) { byId[c.id] = c; });
      var re = /\[(\d{1,2})\]/g, last = 0, m;
      el.textContent = "";
      while ((m = re.exec(text))) {
        var c = byId[m[1]];
        if (citations && !c) continue;
        el.appendChild(document.createTextNode(text.slice(last, m.index)));
        el.appendChild(chip(m[1], c));
        last = re.lastIndex;
      }
      el.appendChild(document.createTextNode(text.slice(last)));
    }

    function chip(n, c) {
      if (!c) return h("span", "rq-cite rq-pending", n);
      var b = button("rq-cite", "来源 " + n + "：" + (c.title || c.doc) + "，" + linesLabel(c.start_line, c.end_line));
      b.textContent = n;
      b.title = (c.title || c.doc) + " · " + linesLabel(c.start_line, c.end_line);
      b.addEventListener("click", function () { openViewer(c, b); });
      return b;
    }

    function sourceList(citations) {
      var sec = h("section", "rq-sources");
      sec.setAttribute("aria-label", "来源");
      sec.appendChild(h("p", "rq-sources-h", "来源"));
      var ol = h("ol", "rq-src-list");
      citations.forEach(function (c) {
        var li = h("li");
        var b = button("rq-src", "查看来源 " + c.id + "：" + (c.title || c.doc) + "，" + linesLabel(c.start_line, c.end_line));
        b.appendChild(h("span", "rq-n", c.id));
        var txt = h("span", "rq-src-body");
        txt.appendChild(h("span", "rq-src-title", c.title || c.doc));
        txt.appendChild(h("span", "rq-src-meta", [linesLabel(c.start_line, c.end_line), c.clause, c.doc].filter(Boolean).join(" · ")));
        b.appendChild(txt);
        b.addEventListener("click", function () { openViewer(c, b); });
        li.appendChild(b);
        ol.appendChild(li);
      });
      sec.appendChild(ol);
      return sec;
    }

    function actions(t) {
      var row = h("div", "rq-actions");
      var cp = button("rq-btn rq-ghost rq-small", "复制回答和来源", "copy", "复制");
      cp.addEventListener("click", function () {
        copyText(sourcesText(t.res), root).then(function () {
          cp.replaceChildren(icon("check"), h("span", null, "已复制"));
          setTimeout(function () { cp.replaceChildren(icon("copy"), h("span", null, "复制")); }, 2000);
        }, function () {
          cp.replaceChildren(icon("alert"), h("span", null, "复制失败"));
        });
      });
      row.appendChild(cp);
      var ms = t.res.timings_ms && t.res.timings_ms.total;
      if (typeof ms === "number") {
        row.appendChild(h("span", "rq-meta", "用时 " + (ms < 1000 ? Math.max(1, Math.round(ms)) + " 毫秒" : (ms / 1000).toFixed(1) + " 秒")));
      }
      return row;
    }

    function notice(kind, heading, text) {
      var box = h("div", "rq-notice rq-" + kind);
      box.appendChild(icon(kind === "refused" ? "info" : "alert"));
      var body = h("div", "rq-notice-body");
      body.appendChild(h("p", "rq-notice-title", heading));
      if (text) body.appendChild(h("p", "rq-notice-text", text));
      box.appendChild(body);
      return box;
    }

    function paint(t) {
      var busy = t.state === "waiting" || t.state === "streaming";
      t.el.dataset.state = t.state;
      t.el.setAttribute("aria-busy", busy ? "true" : "false");
      var body = t.body;
      if (t.state === "streaming" && t.answerEl) {
        renderAnswer(t.answerEl, t.text, null);
        return;
      }
      body.textContent = "";
      t.answerEl = null;
      if (t.state === "waiting") {
        var dots = h("div", "rq-typing");
        dots.setAttribute("aria-label", "正在查找资料");
        dots.append(h("i"), h("i"), h("i"));
        body.appendChild(dots);
        return;
      }
      if (t.state === "error") {
        var err = notice("error", "没有拿到回答", t.err && t.err.message);
        if (!t.err || t.err.retry !== false) {
          var retry = button("rq-btn rq-outline rq-small", "重试：" + t.q, "retry", "重试");
          retry.addEventListener("click", function () { run(t); });
          err.querySelector(".rq-notice-body").appendChild(retry);
        }
        body.appendChild(err);
        return;
      }
      if (t.res && t.res.refused) {  // the service's `refused` field decides, never the wording
        body.appendChild(notice("refused", "文档中没有找到答案", "可以换个说法，或补充更具体的地区、年份、文件名称后再问。"));
        return;
      }
      var ans = h("div", "rq-answer");
      renderAnswer(ans, t.res ? t.res.answer : t.text, t.res ? t.res.citations : null);
      body.appendChild(ans);
      t.answerEl = ans;
      if (t.state === "stopped") body.appendChild(h("p", "rq-meta", "已停止生成"));
      if (t.res) {
        if (t.res.citations.length) body.appendChild(sourceList(t.res.citations));
        body.appendChild(actions(t));
      }
    }

    function setBusy(on) {
      form.classList.toggle("rq-busy", on);
      send.replaceChildren(icon(on ? "stop" : "send"));
      send.setAttribute("aria-label", on ? "停止生成" : "发送");
      sync();
    }

    function sync() {
      send.disabled = !active && !input.value.trim();
    }

    function fit() {
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight, 168) + "px";
    }

    async function run(t) {
      if (active) active.abort();
      var ctl = new AbortController();
      var timedOut = false, timer = 0;
      function arm() {
        clearTimeout(timer);
        timer = setTimeout(function () { timedOut = true; ctl.abort(); }, TIMEOUT_MS);
      }
      active = ctl;
      t.state = "waiting";
      t.text = "";
      t.res = null;
      t.err = null;
      paint(t);
      setBusy(true);
      toBottom();
      arm();
      var meta = {}, timings = null, finished = false;
      function handle(ev) {
        var d = ev.data || {};
        if (ev.event === "delta") {
          t.text = d.replace ? d.text || "" : t.text + (d.text || "");
          if (t.state !== "streaming") { t.state = "streaming"; paint(t); }
        } else if (ev.event === "citations") {
          meta = d;
        } else if (ev.event === "done") {
          timings = d.timings_ms || {};
          finished = true;
        } else if (ev.event === "error") {
          throw new ChatError((d.error && d.error.message) || "生成回答时出错。");
        }
      }
      try {
        var r = await fetch(endpoint + "v1/ask", {
          method: "POST",
          headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
          body: JSON.stringify({ question: t.q, top_k: 5, stream: true }),
          signal: ctl.signal
        });
        if (!r.ok) throw await httpError(r);
        if ((r.headers.get("content-type") || "").indexOf("text/event-stream") < 0) {
          meta = await r.json();
          t.text = meta.answer || "";
          timings = meta.timings_ms || {};
          finished = true;
        } else {
          var reader = r.body.getReader(), dec = new TextDecoder(), buf = "";
          for (;;) {
            var chunk = await reader.read();
            if (chunk.done) break;
            arm();
            var stick = nearBottom();
            buf += dec.decode(chunk.value, { stream: true });
            var parts = buf.split(/\r?\n\r?\n|\r\r/);
            buf = parts.pop();
            parts.forEach(function (p) { var ev = parseEvent(p); if (ev) handle(ev); });
            if (t.state === "streaming") paint(t);
            if (stick) toBottom();
          }
        }
        if (!finished) throw new ChatError("回答中断了：连接在回答完成前断开。");
        t.res = {
          question: t.q,
          answer: typeof meta.answer === "string" ? meta.answer : t.text,
          refused: !!meta.refused,
          citations: Array.isArray(meta.citations) ? meta.citations : [],
          passages: Array.isArray(meta.passages) ? meta.passages : [],
          llm: meta.llm || null,
          timings_ms: timings
        };
        t.state = "done";
      } catch (err) {
        if (turns.indexOf(t) < 0) return;
        if (err && err.name === "AbortError" && !timedOut) {
          t.state = t.text ? "stopped" : "error";
          t.err = { message: "已停止。", retry: true };
        } else {
          t.state = "error";
          t.err = {
            message: timedOut ? "等待回答超时，服务可能正忙，请稍后重试。"
              : err instanceof ChatError ? err.message
              : err instanceof SyntaxError ? "收到的回答格式不正确，请重试。"
              : "无法连接到问答服务。请检查网络；如果问答嵌在其他网站里，请确认该网站已获准访问问答服务。",
            retry: true
          };
        }
      } finally {
        clearTimeout(timer);
        if (active === ctl) { active = null; setBusy(false); }
      }
      var stick2 = nearBottom();
      paint(t);
      if (stick2) toBottom();
      save();
      if (t.state === "done" && opts.onAnswer) opts.onAnswer(t.res);
    }

    function ask(q) {
      q = String(q == null ? "" : q).trim();
      if (!q) return;
      var t = { q: q.slice(0, 2000), state: "waiting", text: "", res: null, err: null };
      turns.push(t);
      renderTurn(t);
      save();
      toBottom();
      run(t);
    }

    function submit() {
      if (active) { active.abort(); return; }
      var q = input.value.trim();
      if (!q) return;
      input.value = "";
      fit();
      sync();
      ask(q);
    }

    function clear() {
      if (active) { var a = active; active = null; a.abort(); setBusy(false); }
      turns = [];
      save();
      closeViewer();
      renderAll();
      input.focus();
    }

    var opener = null;

    function renderLines(ol, lines, c) {
      ol.textContent = "";
      lines.forEach(function (ln) {
        var hit = ln.n >= c.start_line && ln.n <= (c.end_line || c.start_line);
        var li = h("li", "rq-line" + (hit ? " rq-hit" : ""));
        li.appendChild(h("span", "rq-ln", ln.n)).setAttribute("aria-hidden", "true");
        var txt = h(hit ? "mark" : "span", "rq-lt", ln.text);
        li.appendChild(txt);
        ol.appendChild(li);
      });
    }

    async function openViewer(c, from) {
      opener = from || null;
      viewer.textContent = "";
      viewer.setAttribute("aria-label", "原文：" + (c.title || c.doc));
      var vh = h("div", "rq-v-head");
      var info = h("div", "rq-v-info");
      info.appendChild(h("p", "rq-v-kicker", "原文出处 [" + c.id + "]"));
      info.appendChild(h("p", "rq-v-title", c.title || c.doc));
      if (c.clause) info.appendChild(h("p", "rq-v-clause", c.clause));
      info.appendChild(h("p", "rq-v-doc", c.doc + " · " + linesLabel(c.start_line, c.end_line)));
      var x = button("rq-btn rq-ghost rq-icon-only", "关闭原文", "close");
      x.addEventListener("click", closeViewer);
      vh.append(info, x);
      var vb = h("div", "rq-v-body");
      var ol = h("ol", "rq-lines");
      var status = h("p", "rq-v-status", "正在加载上下文…");
      vb.append(ol, status);
      viewer.append(vh, vb);
      var quote = String(c.quote || "").split(/\r\n|\r|\n/);
      renderLines(ol, quote.map(function (text, i) { return { n: c.start_line + i, text: text }; }), c);
      overlay.hidden = false;
      x.focus();
      var end = c.end_line || c.start_line;
      var ranges = [[Math.max(1, c.start_line - CONTEXT), end + CONTEXT], [c.start_line, end]];
      for (var i = 0; i < ranges.length; i++) {
        try {
          var r = await fetch(docUrl(endpoint, c.doc, ranges[i][0], ranges[i][1]));
          if (!r.ok) continue;
          var data = await r.json();
          if (!viewer.contains(ol)) return;
          if (data.title) info.querySelector(".rq-v-title").textContent = data.title;
          renderLines(ol, data.lines || [], c);
          status.remove();
          var first = ol.querySelector(".rq-hit");
          if (first && first.offsetTop > vb.clientHeight / 2) vb.scrollTop = first.offsetTop - vb.clientHeight / 3;
          return;
        } catch (err) { break; }
      }
      if (viewer.contains(status)) status.textContent = "无法加载上下文，以下为引用的原文。";
    }

    function closeViewer() {
      if (overlay.hidden) return;
      overlay.hidden = true;
      viewer.textContent = "";
      if (opener && opener.isConnected) opener.focus();
      opener = null;
    }

    form.addEventListener("submit", function (e) { e.preventDefault(); submit(); });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        if (input.value.trim() && !active) submit();
      }
    });
    input.addEventListener("input", function () { fit(); sync(); });
    newBtn.addEventListener("click", clear);
    scrim.addEventListener("click", closeViewer);
    root.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !overlay.hidden) { e.stopPropagation(); closeViewer(); }
    });

    restore();
    renderAll();
    setBusy(false);

    return {
      ask: ask,
      clear: clear,
      focus: function () { input.focus(); },
      root: root
    };
  }

  return mount;
})();
