/* The state of one mounted chat, and its conversation kept in sessionStorage across reloads.

   A turn is {q, state, text, res, err, fb} plus, once rendered, its elements (el, body, answerEl);
   state is waiting → streaming → done | stopped | error; fb is the reader's feedback once sent
   ({verdict}), else null. Only these six fields are saved. */

const MAX_TURNS = 40;
const MAX_QUESTION = 2000;

/** The chat's shared state; `ui` (the elements) and the `retry`/`openSource` hooks are set by mount. */
export function createChat(opts) {
  const endpoint = opts.endpoint ? String(opts.endpoint).replace(/\/+$/, "") + "/" : "";
  return {
    opts: opts,
    endpoint: endpoint,
    title: opts.title || "政策问答",
    storeKey: "ragqa:chat:" + (endpoint || location.pathname),
    turns: [],
    active: null,   // the AbortController of the answer being fetched
    opener: null,   // the element that opened the source viewer, refocused when it closes
    ui: null,
    retry: null,
    openSource: null,
    askQuestion: null,  // ask(q), for the suggested questions
    suggested: null     // the service's suggested questions once fetched ([] when none)
  };
}

/** A new turn for question `q` (already trimmed and non-empty). */
export function newTurn(q) {
  return { q: q.slice(0, MAX_QUESTION), state: "waiting", text: "", res: null, err: null, fb: null };
}

/** Keep the newest turns in sessionStorage (quietly not, where storage is unavailable or full). */
export function save(chat) {
  try {
    const keep = chat.turns.slice(-MAX_TURNS).map((t) => {
      return { q: t.q, state: t.state, text: t.text, res: t.res, err: t.err, fb: t.fb || null };
    });
    sessionStorage.setItem(chat.storeKey, JSON.stringify(keep));
  } catch (err) { return; }
}

/** A saved turn as a turn, or null; an answer the reload interrupted becomes an error to retry. */
function revive(s) {
  if (!s || typeof s.q !== "string") return null;
  const t = { q: s.q, state: s.state, text: s.text || "", res: s.res || null, err: s.err || null, fb: s.fb || null };
  if (t.state !== "done" && t.state !== "stopped" && t.state !== "error") {
    t.state = "error";
    t.err = { message: "回答没有完成（页面已刷新）。", retry: true };
  }
  if (t.state === "done" && !t.res) return null;
  return t;
}

/** Append the saved conversation to chat.turns. */
export function restore(chat) {
  let saved = [];
  try { saved = JSON.parse(sessionStorage.getItem(chat.storeKey) || "[]"); } catch (err) { saved = []; }
  if (!Array.isArray(saved)) return;
  saved.forEach((s) => {
    const t = revive(s);
    if (t) chat.turns.push(t);
  });
}
