/* Document management over the HTTP API, for the chat page's document panel (never the widget):
   the document list, the admin key (sessionStorage only), the key check, uploads as jobs, deletion.

   Every failure is an AdminError: `message` says in plain Chinese what happened, `detail` is the
   server's own message (shown beside it), `status`/`code` are the HTTP status and error code
   (0 and "network" when the server could not be reached). */

const KEY_STORE = "ragqa:admin-key";
const POLL_MS = 700;
const POLL_MISSES = 8;  // network blips tolerated in a row while polling a job

const WORDS = {
  unauthorized: "管理员密钥不正确。",
  admin_disabled: "服务器没有开启文档管理（需要在服务器上设置 RAGQA_ADMIN_KEY）。",
  file_too_large: "文件太大，超过了服务器允许的单个文件大小。",
  request_too_large: "这次上传的文件总量超过了服务器的上限，请分几次上传。",
  unreadable_document: "文件无法读取，没有添加任何文档。",
  last_document: "这是仅剩的一份文档，不能删除：请先上传其他文档。",
  not_found: "没有找到：可能已被删除或已过期。",
  interrupted: "服务器在处理时停止了；已提交的文档以列表为准。",
  index_unavailable: "服务器暂时无法更新索引，请稍后重试。",
  store_unavailable: "服务器暂时无法保存文档，请稍后重试。",
  network: "网络连接失败，没有联系上服务器。"
};

export class AdminError {
  constructor(status, code, message, detail) {
    this.status = status;
    this.code = code;
    this.message = message;
    this.detail = detail || "";
  }
}

/** The AdminError of an error body {error: {code, message}} (or of none) with HTTP `status`. */
export function errorOf(status, body) {
  const e = (body && body.error) || {};
  const code = typeof e.code === "string" ? e.code : "";
  const detail = typeof e.message === "string" ? e.message : "";
  let message = WORDS[code];
  if (!message) {
    if (status === 401) message = WORDS.unauthorized;
    else if (status === 403) message = "没有权限修改文档（HTTP 403）。";
    else if (status === 413) message = WORDS.request_too_large;
    else if (status === 429) message = "请求太频繁了，请稍等片刻再试。";
    else if (status >= 500) message = "服务器出错了（HTTP " + status + "），请稍后重试。";
    else message = "请求没有被接受（HTTP " + status + "）。";
  }
  return new AdminError(status, code || "http_" + status, message, detail);
}

function networkError() {
  return new AdminError(0, "network", WORDS.network, "");
}

/** The admin key of this tab ("" when none); kept in sessionStorage only, never localStorage. */
export function loadKey() {
  try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (err) { return ""; }
}

/** Keep `key` for this tab, or forget it ("" ). */
export function storeKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
  } catch (err) { return; }
}

function docPath(doc) {
  return String(doc).split("/").map(encodeURIComponent).join("/");
}

/** One JSON request; resolves to the body, rejects with an AdminError. */
async function call(endpoint, path, key, method) {
  const headers = key ? { "Authorization": "Bearer " + key } : {};
  let r;
  try {
    r = await fetch(endpoint + path, { method: method || "GET", headers: headers, cache: "no-store" });
  } catch (err) { throw networkError(); }
  let body = null;
  try { body = await r.json(); } catch (err) { body = null; }
  if (!r.ok) throw errorOf(r.status, body);
  return body || {};
}

/** The documents [{doc, title, lines, chunks}]. */
export async function listDocuments(endpoint) {
  const body = await call(endpoint, "v1/documents");
  return Array.isArray(body.documents) ? body.documents : [];
}

/** Resolves when `key` may change documents (GET v1/jobs is admin-only and cheap). */
export function checkKey(endpoint, key) {
  return call(endpoint, "v1/jobs?limit=1", key);
}

export function deleteDocument(endpoint, key, doc) {
  return call(endpoint, "v1/documents/" + docPath(doc), key, "DELETE");
}

function parse(text) {
  try { return JSON.parse(text); } catch (err) { return null; }
}

/** POST `files` as one upload job (?wait=false), reporting the share sent (0..1) to onProgress;
    resolves to the job ({id, state, …}) the server answered with. XMLHttpRequest, for the
    upload's progress events. */
export function sendFiles(endpoint, key, files, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", endpoint + "v1/documents?wait=false");
    xhr.setRequestHeader("Authorization", "Bearer " + key);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    });
    xhr.upload.addEventListener("load", () => { onProgress(1); });
    xhr.addEventListener("load", () => {
      const body = parse(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300 && body && body.job) resolve(body.job);
      else if (xhr.status >= 200 && xhr.status < 300) reject(errorOf(502, null));
      else reject(errorOf(xhr.status, body));
    });
    xhr.addEventListener("error", () => { reject(networkError()); });
    xhr.addEventListener("abort", () => { reject(networkError()); });
    const form = new FormData();
    files.forEach((f) => { form.append("files", f, f.name); });
    xhr.send(form);
  });
}

function sleep(ms) {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

/** Poll job `job` every POLL_MS until it is no longer running; resolves to the finished job.
    A few network failures in a row are waited out (the job runs on without us). */
export async function waitForJob(endpoint, key, job) {
  let misses = 0;
  while (job.state === "running") {
    await sleep(POLL_MS);
    try {
      job = await call(endpoint, "v1/jobs/" + encodeURIComponent(job.id), key);
      misses = 0;
    } catch (err) {
      misses += 1;
      if (err.status || misses >= POLL_MISSES) throw err;
    }
  }
  return job;
}

/** A finished job's failure as an AdminError (failed: its error; interrupted: the restart). */
export function jobError(job) {
  const e = job.error || {};
  const code = job.state === "interrupted" ? "interrupted" : e.code;
  return new AdminError(200, code || "failed", WORDS[code] || "处理失败，没有添加任何文档。", e.message || "");
}
