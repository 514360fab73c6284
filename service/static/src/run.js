/* Fetching one turn's answer: streamed events (or one JSON answer), a timeout that restarts with
   every chunk, stop, and the error a reader sees. The answer's `refused` field is kept as sent. */

import { ChatError, isEventStream, postQuestion } from "./api.js";
import { setBusy } from "./composer.js";
import { historyFor } from "./history.js";
import { save } from "./state.js";
import { parseEvent, readEventStream } from "./sse.js";
import { nearBottom, paint, toBottom } from "./thread.js";

const TIMEOUT_MS = 60000;

/** Aborts `ctl` after TIMEOUT_MS without a call to arm(); timedOut tells why it aborted. */
function deadline(ctl) {
  const watch = { timedOut: false, timer: 0 };
  watch.arm = () => {
    clearTimeout(watch.timer);
    watch.timer = setTimeout(() => { watch.timedOut = true; ctl.abort(); }, TIMEOUT_MS);
  };
  watch.clear = () => { clearTimeout(watch.timer); };
  return watch;
}

/** Apply one stream event to turn t and to `got` ({meta, timings, finished}). */
function handleEvent(chat, t, got, ev) {
  const d = ev.data || {};
  if (ev.event === "delta") {
    t.text = d.replace ? d.text || "" : t.text + (d.text || "");
    if (t.state !== "streaming") { t.state = "streaming"; paint(chat, t); }
  } else if (ev.event === "citations") {
    got.meta = d;
  } else if (ev.event === "done") {
    got.timings = d.timings_ms || {};
    got.finished = true;
  } else if (ev.event === "error") {
    throw new ChatError((d.error && d.error.message) || "生成回答时出错。");
  }
}

/** Read the event stream into turn t, painting the text as it grows. */
async function readStream(chat, t, r, onChunk) {
  const got = { meta: {}, timings: null, finished: false };
  await readEventStream(r, (blocks) => {
    onChunk();
    const stick = nearBottom(chat);
    blocks.forEach((block) => {
      const ev = parseEvent(block);
      if (ev) handleEvent(chat, t, got, ev);
    });
    if (t.state === "streaming") paint(chat, t);
    if (stick) toBottom(chat);
  });
  if (!got.finished) throw new ChatError("回答中断了：连接在回答完成前断开。");
  return got;
}

/** Ask t's question; resolves to {meta, timings} (meta: the answer's fields). */
async function fetchAnswer(chat, t, signal, onChunk) {
  const r = await postQuestion(chat.endpoint, t.q, historyFor(chat, t), signal);
  if (isEventStream(r)) return readStream(chat, t, r, onChunk);
  const meta = await r.json();
  t.text = meta.answer || "";
  return { meta: meta, timings: meta.timings_ms || {} };
}

/** The answer as the page keeps it and announces it (the fields of POST /v1/ask, plus the question);
    `listing` (every record matching a filter, as a table) is null for ordinary answers; `id` ("" from
    a service without feedback) is what v1/feedback rates; `rewritten` is the question searched for
    when it differs from the one asked; `suggestions` are passages offered under a refusal. */
function resultOf(t, got) {
  const meta = got.meta;
  return {
    question: t.q,
    id: typeof meta.id === "string" ? meta.id : "",
    answer: typeof meta.answer === "string" ? meta.answer : t.text,
    refused: !!meta.refused,
    rewritten: typeof meta.rewritten === "string" && meta.rewritten ? meta.rewritten : null,
    citations: Array.isArray(meta.citations) ? meta.citations : [],
    suggestions: Array.isArray(meta.suggestions) ? meta.suggestions : [],
    passages: Array.isArray(meta.passages) ? meta.passages : [],
    listing: meta.listing || null,
    llm: meta.llm || null,
    timings_ms: got.timings
  };
}

function errorMessage(err, timedOut) {
  if (timedOut) return "等待回答超时，服务可能正忙，请稍后重试。";
  if (err instanceof ChatError) return err.message;
  if (err instanceof SyntaxError) return "收到的回答格式不正确，请重试。";
  return "无法连接到问答服务。请检查网络；如果问答嵌在其他网站里，请确认该网站已获准访问问答服务。";
}

/** Turn t failed with err: stopped by the reader (keeping the text so far), or an error. */
function fail(t, err, timedOut) {
  if (err && err.name === "AbortError" && !timedOut) {
    t.state = t.text ? "stopped" : "error";
    t.err = { message: "已停止。", retry: true };
  } else {
    t.state = "error";
    t.err = { message: errorMessage(err, timedOut), retry: true };
  }
}

/** Paint the settled turn, save the conversation, announce a finished answer. */
function settle(chat, t) {
  const stick = nearBottom(chat);
  paint(chat, t);
  if (stick) toBottom(chat);
  save(chat);
  if (t.state === "done" && chat.opts.onAnswer) chat.opts.onAnswer(t.res);
}

/** Fetch turn t's answer (again), stopping the one in flight. */
export async function run(chat, t) {
  if (chat.active) chat.active.abort();
  const ctl = new AbortController();
  const watch = deadline(ctl);
  chat.active = ctl;
  t.state = "waiting";
  t.text = "";
  t.res = null;
  t.err = null;
  t.fb = null;
  paint(chat, t);
  setBusy(chat, true);
  toBottom(chat);
  watch.arm();
  try {
    t.res = resultOf(t, await fetchAnswer(chat, t, ctl.signal, watch.arm));
    t.state = "done";
  } catch (err) {
    if (chat.turns.indexOf(t) < 0) return;  // the conversation was cleared meanwhile
    fail(t, err, watch.timedOut);
  } finally {
    watch.clear();
    if (chat.active === ctl) { chat.active = null; setBusy(chat, false); }
  }
  settle(chat, t);
}
