/* The document list of the document panel: title, document id, lines and chunks of each, and a
   delete button that first asks "确认删除？" in its own row (confirm / cancel; Escape cancels).
   Without the admin key the delete buttons are disabled. */

import { deleteDocument, listDocuments } from "./admin.js";
import { button, h } from "./dom.js";
import { glyph, problem, spinner } from "./docview.js";

/** The section's elements; docs.ui.dl holds them. */
export function listSection(docs) {
  const box = h("section", "rq-dl");
  box.setAttribute("aria-labelledby", "rq-dl-h");
  const head = h("div", "rq-dl-head");
  const title = h("h3", "rq-docs-h", "已收录的文档");
  title.id = "rq-dl-h";
  title.tabIndex = -1;
  const count = h("span", "rq-dl-count");
  const reload = button("rq-btn rq-ghost rq-small", "刷新文档列表", "retry", "刷新");
  reload.addEventListener("click", () => { loadList(docs); });
  head.append(title, count, reload);
  const note = h("p", "rq-dl-note", "删除文档需要管理员密钥。");
  const status = h("div", "rq-dl-status");
  const list = h("ul", "rq-dl-list");
  list.setAttribute("aria-labelledby", "rq-dl-h");
  docs.ui.dl = { title: title, count: count, note: note, status: status, list: list };
  box.append(head, note, status, list);
  return box;
}

/** Fetch and show the list; `fresh` names documents just added (marked 新). */
export async function loadList(docs, fresh) {
  const dl = docs.ui.dl;
  (fresh || []).forEach((d) => { docs.fresh[d] = true; });
  const seq = ++docs.listSeq;
  if (!docs.documents) {
    dl.status.textContent = "";
    dl.status.append(spinner(), h("span", null, "正在加载文档列表…"));
  }
  try {
    const list = await listDocuments(docs.endpoint);
    if (seq !== docs.listSeq) return;
    docs.documents = list;
    dl.status.textContent = "";
    renderList(docs);
  } catch (err) {
    if (seq !== docs.listSeq) return;
    dl.status.textContent = "";
    const box = problem({ message: "无法加载文档列表。", detail: err.detail || err.message });
    const again = button("rq-btn rq-outline rq-small", "重新加载文档列表", "retry", "重试");
    again.addEventListener("click", () => { loadList(docs); });
    box.querySelector(".rq-bad-body").appendChild(again);
    dl.status.appendChild(box);
  }
}

/** Draw every row afresh, keeping the focus on the same control of the same document. */
export function renderList(docs) {
  const dl = docs.ui.dl;
  dl.note.hidden = !!docs.key;
  if (!docs.documents) return;
  const active = document.activeElement;
  const row = active && dl.list.contains(active) ? active.closest(".rq-dl-item") : null;
  const keep = row ? { doc: row.dataset.doc, cls: active.className } : null;
  dl.count.textContent = "共 " + docs.documents.length + " 份";
  dl.list.textContent = "";
  docs.rows = {};
  const fresh = (d) => (docs.fresh[d.doc] ? 0 : 1);  // documents just added first
  docs.documents.slice().sort((a, b) => fresh(a) - fresh(b)).forEach((d) => { dl.list.appendChild(rowOf(docs, d)); });
  if (keep && docs.rows[keep.doc]) {
    const again = docs.rows[keep.doc].li.getElementsByClassName(keep.cls.split(" ").pop())[0];
    if (again && !again.disabled) again.focus();
  }
}

function rowOf(docs, d) {
  const li = h("li", "rq-dl-item");
  li.dataset.doc = d.doc;
  const main = h("div", "rq-dl-main");
  const title = h("p", "rq-dl-title");
  title.appendChild(h("span", "rq-dl-name", d.title || d.doc));
  if (docs.fresh[d.doc]) title.appendChild(h("span", "rq-dl-new", "新"));
  const meta = h("p", "rq-dl-meta");
  meta.append(h("span", "rq-dl-id", d.doc), h("span", null, d.lines + " 行"), h("span", null, d.chunks + " 个分块"));
  main.append(title, meta);
  const r = { doc: d.doc, name: d.title || d.doc, li: li, act: h("div", "rq-dl-act"), err: h("div", "rq-dl-err"), del: null };
  li.append(main, r.act, r.err);
  li.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && li.dataset.state === "confirm") {
      e.preventDefault();
      e.stopPropagation();
      actions(docs, r, "idle");
      r.del.focus();
    }
  });
  docs.rows[d.doc] = r;
  actions(docs, r, "idle");
  return li;
}

/** Row r's controls in state idle (删除), confirm (确认删除？ 删除 / 取消) or busy (正在删除…). */
function actions(docs, r, state) {
  r.li.dataset.state = state;
  r.act.textContent = "";
  if (state === "confirm") {
    const yes = button("rq-btn rq-danger rq-small rq-dl-yes", "确认删除 " + r.name, null, "删除");
    const no = button("rq-btn rq-outline rq-small rq-dl-no", "取消删除 " + r.name, null, "取消");
    yes.addEventListener("click", () => { remove(docs, r); });
    no.addEventListener("click", () => { actions(docs, r, "idle"); r.del.focus(); });
    r.act.append(h("span", "rq-dl-ask", "确认删除？"), yes, no);
    no.focus();
  } else if (state === "busy") {
    r.act.append(spinner(), h("span", "rq-dl-ask", "正在删除…"));
  } else {
    r.del = button("rq-btn rq-ghost rq-small rq-dl-del", "删除 " + r.name, null, "删除");
    r.del.prepend(glyph("trash"));
    r.del.disabled = !docs.key;
    if (!docs.key) r.del.title = "需要管理员密钥";
    r.del.addEventListener("click", () => {
      r.err.textContent = "";
      actions(docs, r, "confirm");
    });
    r.act.appendChild(r.del);
  }
}

/** Delete r's document; then refresh the list (the focus goes to its heading), or say why not. */
async function remove(docs, r) {
  const key = docs.key;
  if (!key) return;
  actions(docs, r, "busy");
  r.li.setAttribute("aria-busy", "true");
  try {
    await deleteDocument(docs.endpoint, key, r.doc);
  } catch (err) {
    r.li.removeAttribute("aria-busy");
    actions(docs, r, "idle");
    r.err.appendChild(problem(err, true));
    if (err.status === 401) docs.rejectKey(key, err);
    else r.del.focus();
    return;
  }
  delete docs.fresh[r.doc];
  docs.announce("已删除 " + r.name);
  docs.ui.dl.title.focus();
  await loadList(docs);
}
