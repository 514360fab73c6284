/* Server-sent events from a fetch() response body: split into blocks, parse one block. */

/** One event block ("event: x\ndata: {...}") as {event, data}, or null when it has no data. */
export function parseEvent(block) {
  let ev = "message", any = false;
  const data = [];
  block.split(/\r\n|\r|\n/).forEach((line) => {
    if (!line || line.charAt(0) === ":") return;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    if (field === "event") ev = value;
    else if (field === "data") { data.push(value); any = true; }
  });
  if (!any) return null;
  return { event: ev, data: JSON.parse(data.join("\n")) };
}

/** Read `response` to its end, calling onChunk(blocks) for every chunk received with the event
    blocks it completed (possibly none). An exception from onChunk stops the reading. */
export async function readEventStream(response, onChunk) {
  const reader = response.body.getReader(), dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    buf += dec.decode(chunk.value, { stream: true });
    const blocks = buf.split(/\r?\n\r?\n|\r\r/);
    buf = blocks.pop();
    onChunk(blocks);
  }
}
