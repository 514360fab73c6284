/* The service's HTTP API as the chat uses it: POST v1/ask, GET v1/documents/{doc}/lines, the
   export links of a listing answer. */

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

/** Ask `question`, asking for a stream; resolves to the ok response or rejects (ChatError for HTTP errors). */
export async function postQuestion(endpoint, question, signal) {
  const r = await fetch(endpoint + "v1/ask", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
    body: JSON.stringify({ question: question, top_k: 5, stream: true }),
    signal: signal
  });
  if (!r.ok) throw await httpError(r);
  return r;
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
