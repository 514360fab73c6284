/* The upload part of the document panel: a drop zone (drop files on it, or click it or press
   Enter to choose them), the chosen files, the upload button, and one entry per upload that shows
   "上传中 x%" while it is sent, "处理中…" while its job runs, then what was added and every file
   skipped with its reason, or what went wrong. Uploads run on with the panel closed. */

import { AdminError, jobError, sendFiles, waitForJob } from "./admin.js";
import { button, h, icon } from "./dom.js";
import { glyph, namesLabel, problem, sizeLabel, spinner } from "./docview.js";

export const ACCEPT = ".txt,.md,.markdown,.html,.htm,.pdf,.docx,.xlsx,.png,.jpg,.jpeg";

/** The section's elements; docs.ui.up holds them. */
export function uploadSection(docs) {
  const box = h("section", "rq-up");
  box.setAttribute("aria-labelledby", "rq-up-h");
  const head = h("h3", "rq-docs-h", "上传文档");
  head.id = "rq-up-h";
  const input = h("input", "rq-file");
  input.type = "file";
  input.multiple = true;
  input.accept = ACCEPT;
  input.hidden = true;
  input.setAttribute("aria-label", "选择要上传的文件");
  const zone = h("div", "rq-drop");
  zone.setAttribute("role", "button");
  zone.setAttribute("aria-describedby", "rq-drop-sub");
  zone.appendChild(glyph("upload"));
  zone.appendChild(h("p", "rq-drop-main", "拖放文件到这里，或点击选择文件"));
  const sub = h("p", "rq-drop-sub", "支持 TXT、Markdown、HTML、PDF、Word（.docx）、Excel（.xlsx）、PNG、JPG，可一次选多个");
  sub.id = "rq-drop-sub";
  zone.appendChild(sub);
  const picked = h("ul", "rq-picked");
  picked.setAttribute("aria-label", "待上传的文件");
  const send = button("rq-btn rq-primary", null, null, "上传");
  send.prepend(glyph("upload"));
  const hint = h("p", "rq-up-hint");
  hint.id = "rq-up-hint";
  send.setAttribute("aria-describedby", "rq-up-hint");
  const row = h("div", "rq-up-row");
  row.append(send, hint);
  const jobs = h("ol", "rq-jobs");
  jobs.setAttribute("aria-label", "上传记录");
  docs.ui.up = { zone: zone, input: input, picked: picked, send: send, hint: hint, jobs: jobs };
  bindZone(docs, zone, input);
  send.addEventListener("click", () => { startUpload(docs); });
  box.append(head, zone, input, picked, row, jobs);
  syncUpload(docs);
  return box;
}

/** Click, Enter or Space on the zone chooses files; files dropped on it are added. */
function bindZone(docs, zone, input) {
  const choose = () => { if (docs.key) input.click(); };
  zone.addEventListener("click", choose);
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); choose(); }
  });
  input.addEventListener("change", () => {
    pick(docs, input.files);
    input.value = "";
  });
  const over = (e) => {
    e.preventDefault();
    e.stopPropagation();
    if (e.dataTransfer) e.dataTransfer.dropEffect = docs.key ? "copy" : "none";
    zone.classList.toggle("rq-over", !!docs.key);
  };
  zone.addEventListener("dragenter", over);
  zone.addEventListener("dragover", over);
  zone.addEventListener("dragleave", (e) => {
    if (!zone.contains(e.relatedTarget)) zone.classList.remove("rq-over");
  });
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    e.stopPropagation();
    zone.classList.remove("rq-over");
    if (docs.key && e.dataTransfer) pick(docs, e.dataTransfer.files);
  });
}

/** Add files to the chosen ones (a file of the same name replaces the one chosen before). */
function pick(docs, list) {
  const files = Array.prototype.slice.call(list || []);
  files.forEach((f) => {
    docs.picked = docs.picked.filter((p) => p.name !== f.name);
    docs.picked.push(f);
  });
  renderPicked(docs);
  syncUpload(docs);
}

function renderPicked(docs) {
  const ul = docs.ui.up.picked;
  ul.textContent = "";
  docs.picked.forEach((f) => {
    const li = h("li", "rq-pick");
    li.appendChild(h("span", "rq-pick-name", f.name));
    li.appendChild(h("span", "rq-pick-size", sizeLabel(f.size)));
    const drop = button("rq-btn rq-ghost rq-icon-only rq-small", "移除 " + f.name, "close");
    drop.addEventListener("click", () => {
      docs.picked = docs.picked.filter((p) => p !== f);
      renderPicked(docs);
      syncUpload(docs);
      docs.ui.up.zone.focus();
    });
    li.appendChild(drop);
    ul.appendChild(li);
  });
}

/** Enable what the key and the chosen files allow, and say why not. */
export function syncUpload(docs) {
  const up = docs.ui.up;
  if (!up) return;
  const n = docs.picked.length;
  up.zone.setAttribute("aria-disabled", docs.key ? "false" : "true");
  up.zone.tabIndex = docs.key ? 0 : -1;
  up.input.disabled = !docs.key;
  up.send.disabled = !docs.key || !n;
  up.send.lastChild.textContent = n > 1 ? "上传 " + n + " 个文件" : "上传";
  up.hint.textContent = !docs.key ? "输入管理员密钥后才能上传。" : n ? "" : "先选择或拖入要上传的文件。";
  up.hint.hidden = !up.hint.textContent;
}

function startUpload(docs) {
  if (!docs.key || !docs.picked.length) return;
  const files = docs.picked;
  docs.picked = [];
  renderPicked(docs);
  syncUpload(docs);
  const job = { names: files.map((f) => f.name), phase: "sending", progress: 0, result: null, error: null };
  job.el = jobItem(job);
  docs.ui.up.jobs.prepend(job.el);
  runUpload(docs, job, files, docs.key);
}

/** Send, wait for the job, show the outcome, refresh the list. */
async function runUpload(docs, job, files, key) {
  docs.setBusy(1);
  docs.announce("正在上传 " + namesLabel(job.names));
  try {
    const started = await sendFiles(docs.endpoint, key, files, (share) => {
      job.progress = share;
      paintJob(job);
    });
    job.phase = "processing";
    paintJob(job);
    docs.announce("上传完毕，正在处理…");
    const done = await waitForJob(docs.endpoint, key, started);
    if (done.state === "done") job.result = done.result || {};
    else job.error = jobError(done);
  } catch (err) {
    job.error = err instanceof AdminError ? err : new AdminError(0, "client", "上传没有完成：" + String(err), "");
    if (job.error.status === 401) docs.rejectKey(key, job.error);
  }
  job.phase = job.error ? "failed" : "done";
  paintJob(job);
  docs.setBusy(-1);
  docs.announce(job.error ? "上传失败：" + job.error.message : "上传完成：已添加 " + namesLabel(job.result.added || []));
  docs.refresh(job.result ? job.result.added : null);
}

function jobItem(job) {
  const li = h("li", "rq-job");
  li.dataset.phase = job.phase;
  li.appendChild(h("p", "rq-job-files", namesLabel(job.names)));
  job.stateEl = h("div", "rq-job-state");
  li.appendChild(job.stateEl);
  paintJob(job);
  return li;
}

/** Show job's phase; while sending only the bar and its percentage change. */
function paintJob(job) {
  const el = job.stateEl;
  if (job.el) job.el.dataset.phase = job.phase;
  if (job.phase === "sending" && job.bar) {
    const pct = Math.round(job.progress * 100);
    job.bar.value = pct;
    job.pct.textContent = "上传中 " + pct + "%";
    return;
  }
  el.textContent = "";
  job.bar = null;
  if (job.phase === "sending") {
    job.bar = h("progress", "rq-bar");
    job.bar.max = 100;
    job.bar.setAttribute("aria-label", "上传进度");
    job.pct = h("span", "rq-job-pct");
    el.append(job.bar, job.pct);
    paintJob(job);
  } else if (job.phase === "processing") {
    el.append(spinner(), h("span", "rq-job-pct", "处理中…"));
  } else if (job.phase === "failed") {
    el.appendChild(problem(job.error));
  } else {
    el.appendChild(resultView(job.result));
  }
}

/** A finished upload: each file added, each skipped with the server's reason, the new totals. */
function resultView(res) {
  const box = h("div", "rq-result");
  const added = res.added || [], skipped = res.skipped || [];
  const head = h("p", "rq-result-head");
  head.append(icon("check"), h("span", null, "完成：添加了 " + added.length + " 份文档" + (skipped.length ? "，跳过 " + skipped.length + " 个文件" : "")));
  box.appendChild(head);
  const ul = h("ul", "rq-result-list");
  added.forEach((name) => {
    const li = h("li", "rq-added");
    li.append(h("span", "rq-tag", "已添加"), h("span", "rq-result-name", name));
    ul.appendChild(li);
  });
  skipped.forEach((s) => {
    const li = h("li", "rq-skipped");
    li.append(h("span", "rq-tag", "已跳过"), h("span", "rq-result-name", s.name));
    li.appendChild(h("span", "rq-reason", "原因：" + s.reason));
    ul.appendChild(li);
  });
  box.appendChild(ul);
  if (typeof res.documents === "number") {
    box.appendChild(h("p", "rq-result-meta", "现共 " + res.documents + " 份文档、" + res.chunks + " 个分块"));
  }
  return box;
}
