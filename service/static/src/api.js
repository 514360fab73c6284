/* The service's HTTP API as the chat uses it: POST v1/ask (with the conversation's history),
   POST v1/feedback, GET v1/suggested-questions, GET v1/documents/{doc}/lines, the export links
   of a listing answer. */

/** An error with a message fit to show to the reader. */
export class ChatError {
  constructor(message, retry) {
    this.message = message;
    this.retry = retry !== false;
  }
}

/** The ChatError for a response that is not ok: the service's own message when it sent one. */
export async function httpError(r) {
  let msg = "";
  try {
    const body = await r.json();
    msg = body && body.error && body.error.message;
    if (!msg && body && typeof body.detail === "string") msg = body.detail;
  } catch (err) { msg = ""; }
  if (msg) return new ChatError(msg + (r.status >= 500 ? "（HTTP " + r.status + "）" : ""));
  if (r.status === 429) return new ChatError("提问太频繁了，请稍等片刻再试。");
  if (r.status >= 500) return new ChatError("问答服务暂时不可用（HTTP " + r.status + "），请稍后重试。");
  return new ChatError("请求未被接受（HTTP " + r.status + "）。");
}

/** Ask `question` after the earlier turns `history` ([{role, content}], oldest first), asking for
    a stream; resolves to the ok response or rejects (ChatError for HTTP errors). */
export async function postQuestion(endpoint, question, history, signal) {
  const body = { question: question, top_k: 5, stream: true };
  if (history && history.length) body.history = history;
  const r = await fetch(endpoint + "v1/ask", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
    body: JSON.stringify(body),
    signal: signal
  });
  if (!r.ok) throw await httpError(r);
  return r;
}

/** A refused request: HTTP `status` (0: the service could not be reached) and the error `code`. */
export class RequestFailed {
  constructor(status, code) {
    this.status = status;
    this.code = code || "";
  }
}

/** POST v1/feedback with `payload` ({answer_id, verdict, comment?, correct_answer?, citation?});
    resolves to the stored feedback, or rejects with a RequestFailed. */
export async function postFeedback(endpoint, payload) {
  let r;
  try {
    r = await fetch(endpoint + "v1/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload)
    });
  } catch (err) { throw new RequestFailed(0, "network"); }
  let body = null;
  try { body = await r.json(); } catch (err) { body = null; }
  if (!r.ok) throw new RequestFailed(r.status, body && body.error && body.error.code);
  return body;
}

/** The service's suggested questions (strings, at most `max`); [] when it offers none or fails. */
export async function getSuggestedQuestions(endpoint, max) {
  try {
    const r = await fetch(endpoint + "v1/suggested-questions");
    if (!r.ok) return [];
    const body = await r.json();
    const qs = body && Array.isArray(body.questions) ? body.questions : [];
    return qs.filter((q) => typeof q === "string" && q.trim()).map((q) => q.trim()).slice(0, max);
  } catch (err) { return []; }
}

/** Whether the service answered with a stream of events (else with one JSON answer). */
export function isEventStream(r) {
  return (r.headers.get("content-type") || "").indexOf("text/event-stream") >= 0;
}

function docPath(doc) {
  return String(doc).split("/").map(encodeURIComponent).join("/");
}

/** The URL of lines start..end of document `doc`. */
export function linesUrl(endpoint, doc, start, end) {
  return endpoint + "v1/documents/" + docPath(doc) + "/lines?start=" + start + "&end=" + end;
}

/** The URL of the image of page `page` of PDF document `doc`, with document line `line` marked. */
export function pageUrl(endpoint, doc, page, line) {
  return endpoint + "v1/documents/" + docPath(doc) + "/pages/" + page + ".png?line=" + line;
}

/** A URL the service sent (a listing's export link) resolved against the API base the chat uses:
    "/v1/x" and "v1/x" both become endpoint + "v1/x" (so a page served under a path prefix works);
    absolute http(s) URLs are kept. Anything else (javascript:, data:, …) gives "". */
export function serviceUrl(endpoint, u) {
  if (typeof u !== "string" || !u) return "";
  const url = /^https?:\/\//i.test(u) ? u : endpoint + u.replace(/^\/+/, "");
  try {
    const protocol = new URL(url, location.href).protocol;
    return protocol === "http:" || protocol === "https:" ? url : "";
  } catch (err) { return ""; }
}
