/* The conversation as POST v1/ask's `history`: the finished turns before the one being asked, as
   {role: "user", content: question} and {role: "assistant", content: answer text}, oldest first.
   Only the last few exchanges are sent, each trimmed to the service's limit, so a long
   conversation never makes the request too large; "新对话" (chat.turns emptied) starts without. */

const EXCHANGES = 3;       // question-and-answer pairs sent, newest kept
const MAX_TURN_CHARS = 4000;  // the service's limit per turn (schemas.MAX_TURN_CHARS)

function trimmed(text) {
  return String(text == null ? "" : text).trim().slice(0, MAX_TURN_CHARS);
}

/** The history to send with turn t: earlier answered turns (refusals included; errors and stopped
    answers left out, since the reader never got their answer). */
export function historyFor(chat, t) {
  const at = chat.turns.indexOf(t);
  const before = at < 0 ? chat.turns : chat.turns.slice(0, at);
  const pairs = [];
  before.forEach((p) => {
    if (p.state !== "done" || !p.res) return;
    const q = trimmed(p.q), a = trimmed(p.res.answer);
    if (q && a) pairs.push([{ role: "user", content: q }, { role: "assistant", content: a }]);
  });
  return [].concat.apply([], pairs.slice(-EXCHANGES));
}
