/* Plain-text formatting of citations, answers and timings (no DOM). */

/** "第3行" or "第3–5行"; with the page of a paged source (PDF) first: "第2页 第3–5行". */
export function linesLabel(s, e, page) {
  const lines = s === e || !e ? "第" + s + "行" : "第" + s + "–" + e + "行";
  return page ? "第" + page + "页 " + lines : lines;
}

/** The name a citation is shown under: its document's title, else the document name. */
export function sourceName(c) {
  return c.title || c.doc;
}

/** The answer and its numbered sources, as copied by the "复制" button. */
export function sourcesText(res) {
  let out = res.answer.trim();
  if (res.citations.length) {
    out += "\n\n来源：";
    res.citations.forEach((c) => {
      out += "\n[" + c.id + "] " + sourceName(c) + "（" + c.doc + "）" +
        (c.clause ? "，" + c.clause : "") + "，" + linesLabel(c.start_line, c.end_line, c.page);
    });
  }
  return out;
}

/** "用时 420 毫秒" or "用时 2.3 秒". */
export function elapsedLabel(ms) {
  return "用时 " + (ms < 1000 ? Math.max(1, Math.round(ms)) + " 毫秒" : (ms / 1000).toFixed(1) + " 秒");
}
