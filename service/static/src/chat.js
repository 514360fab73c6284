/* mount(container, options) puts the question-answering chat into an element of a page or of a
   shadow root and returns {ask, clear, focus, root}.

   options: endpoint (base URL of the service; default: this page's origin), title, heading (tag of
   the title, "h1"), placeholder, onClose() (adds a close button), onAnswer(result) (each finished
   answer, refusals included). Everything from the service is rendered as text, never as HTML. */

import { bindComposer, fit, setBusy, sync } from "./composer.js";
import { buildLayout } from "./layout.js";
import { run } from "./run.js";
import { createChat, newTurn, restore, save } from "./state.js";
import { renderAll, renderTurn, toBottom } from "./thread.js";
import { closeViewer, openViewer } from "./viewer.js";

/** Ask question q (trimmed; nothing happens when it is empty). */
function ask(chat, q) {
  q = String(q == null ? "" : q).trim();
  if (!q) return;
  const t = newTurn(q);
  chat.turns.push(t);
  renderTurn(chat, t);
  save(chat);
  toBottom(chat);
  run(chat, t);
}

/** The send button and Enter: stop the answer in flight, else ask what is in the box. */
function submit(chat) {
  if (chat.active) { chat.active.abort(); return; }
  const input = chat.ui.input;
  const q = input.value.trim();
  if (!q) return;
  input.value = "";
  fit(chat);
  sync(chat);
  ask(chat, q);
}

/** "新对话": stop, forget the conversation, start afresh. */
function clear(chat) {
  if (chat.active) {
    const a = chat.active;
    chat.active = null;
    a.abort();
    setBusy(chat, false);
  }
  chat.turns = [];
  save(chat);
  closeViewer(chat);
  renderAll(chat);
  chat.ui.input.focus();
}

function bindEvents(chat) {
  const ui = chat.ui;
  bindComposer(chat, () => { submit(chat); });
  ui.newBtn.addEventListener("click", () => { clear(chat); });
  ui.scrim.addEventListener("click", () => { closeViewer(chat); });
  ui.root.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !ui.overlay.hidden) { e.stopPropagation(); closeViewer(chat); }
  });
}

export function mount(container, options) {
  const opts = options || {};
  const chat = createChat(opts);
  chat.ui = buildLayout(container, opts, chat.title);
  chat.retry = (t) => { run(chat, t); };
  chat.openSource = (c, from) => { openViewer(chat, c, from); };
  chat.askQuestion = (q) => { ask(chat, q); };
  bindEvents(chat);
  restore(chat);
  renderAll(chat);
  setBusy(chat, false);
  return {
    ask: (q) => { ask(chat, q); },
    clear: () => { clear(chat); },
    focus: () => { chat.ui.input.focus(); },
    root: chat.ui.root
  };
}
