/* The chat's fixed elements: header, conversation log, composer form, source-viewer overlay. */

import { button, h } from "./dom.js";

function header(opts, title) {
  const head = h("header", "rq-head");
  const brand = h("div", "rq-brand");
  brand.appendChild(h("span", "rq-logo", "问")).setAttribute("aria-hidden", "true");
  brand.appendChild(h(opts.heading || "h1", "rq-title", title));
  const tools = h("div", "rq-tools");
  const newBtn = button("rq-btn rq-ghost", "开始新对话", "plus", "新对话");
  tools.appendChild(newBtn);
  if (opts.onClose) {
    const closeBtn = button("rq-btn rq-ghost rq-icon-only", "关闭" + title, "close");
    closeBtn.addEventListener("click", opts.onClose);
    tools.appendChild(closeBtn);
  }
  head.append(brand, tools);
  return { head: head, newBtn: newBtn };
}

function conversation() {
  const log = h("div", "rq-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-label", "对话记录");
  log.tabIndex = -1;
  const thread = h("div", "rq-thread");
  log.appendChild(thread);
  return { log: log, thread: thread };
}

function composer(opts) {
  const foot = h("div", "rq-foot");
  const form = h("form", "rq-form");
  const input = h("textarea", "rq-input");
  input.rows = 1;
  input.maxLength = 2000;
  input.placeholder = opts.placeholder || "输入问题，按 Enter 发送";
  input.setAttribute("aria-label", "输入问题");
  input.setAttribute("enterkeyhint", "send");
  const send = button("rq-send", "发送", "send");
  send.type = "submit";
  form.append(input, send);
  foot.append(form, h("p", "rq-note", "回答仅依据已收录的文件生成，请以原文为准。"));
  return { foot: foot, form: form, input: input, send: send };
}

function sourceOverlay() {
  const overlay = h("div", "rq-overlay");
  overlay.hidden = true;
  const scrim = h("div", "rq-scrim");
  const viewer = h("section", "rq-viewer");
  viewer.setAttribute("role", "dialog");
  viewer.setAttribute("aria-modal", "true");
  viewer.tabIndex = -1;
  overlay.append(scrim, viewer);
  return { overlay: overlay, scrim: scrim, viewer: viewer };
}

/** Build the chat inside `container`; returns its elements by name. */
export function buildLayout(container, opts, title) {
  const root = h("div", "rq");
  const top = header(opts, title);
  const middle = conversation();
  const bottom = composer(opts);
  const layer = sourceOverlay();
  root.append(top.head, middle.log, bottom.foot, layer.overlay);
  container.appendChild(root);
  return Object.assign({ root: root, newBtn: top.newBtn }, middle, bottom, layer);
}
