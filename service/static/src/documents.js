/* The chat page's document panel (page.js only; the widget never loads it). A "文档" button in
   the chat's header opens a modal side panel (<dialog>): the admin key, uploads, the document
   list. Escape, the close button or a click beside the panel closes it, and the focus goes back
   to the button. Uploads run on while it is closed (the button shows a dot meanwhile), so asking
   questions is never blocked. The admin key is kept in sessionStorage only. */

import { checkKey, loadKey, storeKey } from "./admin.js";
import { button, h, icon } from "./dom.js";
import { listSection, loadList, renderList } from "./doclist.js";
import { glyph, problem } from "./docview.js";
import { syncUpload, uploadSection } from "./uploads.js";

/** Add the 文档 button to the chat in `root` (its .rq element); returns {open, close}. */
export function mountDocuments(root, endpoint) {
  const docs = {
    endpoint: endpoint || "",
    key: loadKey(),
    documents: null,  // the last list fetched
    rows: {},         // doc -> its row's elements
    fresh: {},        // doc -> true: added by an upload of this page
    picked: [],       // the files chosen for the next upload
    busy: 0,          // uploads not finished
    listSeq: 0,
    ui: {}
  };
  docs.announce = (text) => {  // said from inside the dialog while it is open (the rest is inert then)
    const live = docs.ui.dialog.open ? docs.ui.live : docs.ui.liveOut;
    docs.ui.live.textContent = docs.ui.liveOut.textContent = "";
    live.textContent = text;
  };
  docs.refresh = (fresh) => { loadList(docs, fresh); };
  docs.setBusy = (n) => { docs.busy += n; syncButton(docs); };
  docs.rejectKey = (key, err) => { if (docs.key === key) setKey(docs, "", err); };
  const open = button("rq-btn rq-ghost rq-docs-btn", "管理文档", "doc", "文档");
  open.setAttribute("aria-haspopup", "dialog");
  open.setAttribute("aria-expanded", "false");
  open.appendChild(h("span", "rq-docs-dot"));
  docs.ui.button = open;
  const tools = root.querySelector(".rq-tools");
  tools.insertBefore(open, tools.firstChild);
  docs.ui.liveOut = h("p", "rq-sr");
  docs.ui.liveOut.setAttribute("aria-live", "polite");
  root.append(buildDialog(docs), docs.ui.liveOut);
  open.addEventListener("click", () => { openPanel(docs); });
  syncButton(docs);
  return { open: () => { openPanel(docs); }, close: () => { docs.ui.dialog.close(); } };
}

function buildDialog(docs) {
  const dialog = h("dialog", "rq-docs");
  dialog.setAttribute("aria-labelledby", "rq-docs-title");
  const panel = h("div", "rq-docs-panel");
  const head = h("div", "rq-v-head rq-docs-head");
  const info = h("div", "rq-v-info");
  const title = h("h2", "rq-v-title", "文档管理");
  title.id = "rq-docs-title";
  info.appendChild(title);
  info.appendChild(h("p", "rq-v-doc", "问答只依据这里收录的文档；上传或删除后，索引会自动更新。"));
  const close = button("rq-btn rq-ghost rq-icon-only", "关闭文档管理", "close");
  close.addEventListener("click", () => { dialog.close(); });
  head.append(info, close);
  const body = h("div", "rq-docs-body");
  docs.ui.keyBox = h("section", "rq-key");
  docs.ui.keyBox.setAttribute("aria-label", "管理员密钥");
  body.append(docs.ui.keyBox, uploadSection(docs), listSection(docs));
  docs.ui.live = h("p", "rq-sr");
  docs.ui.live.setAttribute("aria-live", "polite");
  panel.append(head, body, docs.ui.live);
  dialog.appendChild(panel);
  docs.ui.dialog = dialog;
  docs.ui.close = close;
  bindDialog(docs, dialog);
  renderKey(docs, null);
  return dialog;
}

function bindDialog(docs, dialog) {
  dialog.addEventListener("close", () => {
    docs.ui.button.setAttribute("aria-expanded", "false");
    docs.ui.button.focus();
  });
  // A click on the backdrop (the panel fills the dialog's box), not a drag that ends there.
  let downOnBackdrop = false;
  dialog.addEventListener("pointerdown", (e) => { downOnBackdrop = e.target === dialog; });
  dialog.addEventListener("click", (e) => {
    if (e.target === dialog && downOnBackdrop) dialog.close();
  });
  // Files dropped beside the drop zone must not make the browser open them in place of the page.
  dialog.addEventListener("dragover", (e) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = "none";
  });
  dialog.addEventListener("drop", (e) => { e.preventDefault(); });
}

function openPanel(docs) {
  const dialog = docs.ui.dialog;
  if (dialog.open) return;
  dialog.showModal();
  docs.ui.button.setAttribute("aria-expanded", "true");
  docs.ui.close.focus();
  loadList(docs);
}

/** The 文档 button's dot and label while uploads are being sent or processed. */
function syncButton(docs) {
  const b = docs.ui.button;
  b.classList.toggle("rq-docs-busy", docs.busy > 0);
  b.setAttribute("aria-label", docs.busy > 0 ? "管理文档（有上传正在处理）" : "管理文档");
}

/** Use `key` ("" forgets it); `err` (a refusal of the old key) is shown at the key field. */
function setKey(docs, key, err) {
  docs.key = key;
  storeKey(key);
  renderKey(docs, err);
  syncUpload(docs);
  renderList(docs);
  if (!key && docs.ui.dialog.open) docs.ui.keyInput.focus();
}

/** The key field (no key yet) or "已输入管理员密钥" with 忘记密钥. */
function renderKey(docs, err) {
  const box = docs.ui.keyBox;
  box.textContent = "";
  docs.ui.keyInput = null;
  if (docs.key) {
    const row = h("div", "rq-key-set");
    row.append(icon("check"), h("span", "rq-key-ok", "已输入管理员密钥，可以上传和删除文档。"));
    const forget = h("button", "rq-link", "忘记密钥");
    forget.type = "button";
    forget.addEventListener("click", () => {
      setKey(docs, "", null);
      docs.announce("已忘记管理员密钥。");
    });
    row.appendChild(forget);
    box.appendChild(row);
    return;
  }
  box.appendChild(keyForm(docs, err));
}

function keyForm(docs, err) {
  const form = h("form", "rq-key-form");
  const label = h("label", "rq-key-label");
  label.htmlFor = "rq-admin-key";
  label.append(glyph("key"), h("span", null, "管理员密钥"));
  const input = h("input", "rq-key-input");
  input.type = "password";
  input.id = "rq-admin-key";
  input.autocomplete = "off";
  input.spellcheck = false;
  input.placeholder = "上传或删除文档需要管理员密钥";
  const use = h("button", "rq-btn rq-outline", "使用密钥");
  use.type = "submit";
  const row = h("div", "rq-key-row");
  row.append(input, use);
  const note = h("p", "rq-key-note", "密钥只保存在本标签页，关闭标签页后即失效。");
  const error = h("div", "rq-key-err");
  if (err) error.appendChild(problem(err, true));
  form.append(label, row, error, note);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    tryKey(docs, input, use, error);
  });
  docs.ui.keyInput = input;
  return form;
}

/** Check the key with the server before keeping it: a wrong key (401) or a server without
    document management (403) is said at once, not at the first upload. */
async function tryKey(docs, input, use, error) {
  const key = input.value.trim();
  error.textContent = "";
  if (!key) {
    error.appendChild(problem({ message: "请先输入管理员密钥。" }, true));
    input.focus();
    return;
  }
  use.disabled = true;
  use.textContent = "验证中…";
  try {
    await checkKey(docs.endpoint, key);
  } catch (err) {
    use.disabled = false;
    use.textContent = "使用密钥";
    error.appendChild(problem(err, true));
    input.select();
    return;
  }
  setKey(docs, key, null);
  docs.announce("已使用管理员密钥，可以上传和删除文档。");
  docs.ui.up.zone.focus();
}
