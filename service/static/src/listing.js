/* A listing answer (every record matching a filter, the answer's `listing`): its title with the
   export links, then a table with a header row, one row per record ending in its citation chip,
   and a group row wherever consecutive records change `group`. Long cells are clamped to three
   lines; a clamped cell opens on click, Enter or Space (its full text is also its tooltip).
   Everything is text (textContent), never HTML: cells come from the documents. */

import { chip } from "./answer.js";
import { serviceUrl } from "./api.js";
import { h, icon } from "./dom.js";

const SHORT = 6;  // a column whose header and cells are all this short never wraps (序号, 年份…)

/** Whether the answer's `listing` can be shown as a table (else the plain answer text is shown). */
export function isListing(l) {
  return !!l && typeof l === "object" && Array.isArray(l.rows) && l.rows.length > 0;
}

function text(v) {
  return v == null ? "" : String(v);
}

function cellsOf(row) {
  return row && Array.isArray(row.cells) ? row.cells : [];
}

/** The columns' headers (padded to the widest row), which columns are short, and each column's
    part in a narrow chat, where a row is stacked: the short columns before the first long one
    (序号) lead, the first long one (任务) is the main line, the others follow as "列名：值". */
function shape(l) {
  const columns = (Array.isArray(l.columns) ? l.columns : []).map(text);
  const width = l.rows.reduce((w, r) => Math.max(w, cellsOf(r).length), columns.length);
  while (columns.length < width) columns.push("");
  const short = columns.map((col, i) => {
    return col.length <= SHORT && l.rows.every((r) => text(cellsOf(r)[i]).length <= SHORT);
  });
  const main = short.indexOf(false);
  const part = columns.map((col, i) => {
    if (i === main) return "rq-t-main";
    return i < main || (main < 0 && i === 0) ? "rq-t-lead" : "rq-t-sub";
  });
  return { columns: columns, short: short, part: part };
}

function headRow(columns) {
  const thead = h("thead");
  const tr = h("tr");
  columns.concat(["出处"]).forEach((col, i) => {
    const th = h("th", i === columns.length ? "rq-t-cite" : null, col);
    th.scope = "col";
    tr.appendChild(th);
  });
  thead.appendChild(tr);
  return thead;
}

function groupRow(label, span) {
  const tr = h("tr", "rq-t-group");
  const th = h("th", null, label);
  th.colSpan = span;
  th.scope = "colgroup";
  tr.appendChild(th);
  return tr;
}

function dataRow(row, cols, byId, openSource) {
  const tr = h("tr");
  const cells = cellsOf(row);
  cols.columns.forEach((col, i) => {
    const value = text(cells[i]);
    const td = h("td", cols.part[i] + (cols.short[i] ? " rq-t-short" : "") + (value ? "" : " rq-t-empty"));
    if (cols.part[i] === "rq-t-sub") td.dataset.label = col;
    if (cols.short[i]) td.textContent = value;
    else td.appendChild(h("div", "rq-clamp", value));
    tr.appendChild(td);
  });
  const c = byId[row && row.citation];
  const cite = h("td", "rq-t-cite");
  if (c) cite.appendChild(chip(c.id, c, openSource));
  tr.appendChild(cite);
  return tr;
}

/** Mark the clamped cells that hide text as openable (again whenever the table's width changes). */
function markClamped(table) {
  table.querySelectorAll(".rq-clamp:not(.rq-open)").forEach((el) => {
    const hides = el.scrollHeight > el.clientHeight + 1;
    if (hides === el.hasAttribute("tabindex")) return;
    if (hides) {
      el.tabIndex = 0;
      el.setAttribute("role", "button");
      el.setAttribute("aria-expanded", "false");
      el.title = el.textContent;
    } else {
      ["tabindex", "role", "aria-expanded", "title"].forEach((a) => { el.removeAttribute(a); });
    }
  });
}

/** Clicking (or Enter/Space on) a clamped cell shows or clamps its full text. */
function bindClamps(table) {
  const toggle = (e) => {
    const el = e.target.closest && e.target.closest(".rq-clamp[tabindex]");
    if (!el) return;
    if (e.type === "keydown" && e.key !== "Enter" && e.key !== " ") return;
    if (e.type === "click" && String(window.getSelection ? window.getSelection() : "")) return;  // selecting text
    e.preventDefault();
    const open = el.classList.toggle("rq-open");
    el.setAttribute("aria-expanded", open ? "true" : "false");
  };
  table.addEventListener("click", toggle);
  table.addEventListener("keydown", toggle);
  if (typeof ResizeObserver === "function") new ResizeObserver(() => { markClamped(table); }).observe(table);
  else requestAnimationFrame(() => { markClamped(table); });
}

function table(l, citations, openSource) {
  const cols = shape(l);
  const byId = {};
  (citations || []).forEach((c) => { byId[c.id] = c; });
  const t = h("table", "rq-table");
  t.setAttribute("aria-label", text(l.title) || "列表");
  if (cols.columns.some(Boolean)) t.appendChild(headRow(cols.columns));
  const tbody = h("tbody");
  let group = "";
  l.rows.forEach((row) => {
    const g = text(row && row.group);
    if (g && g !== group) tbody.appendChild(groupRow(g, cols.columns.length + 1));
    group = g;
    tbody.appendChild(dataRow(row, cols, byId, openSource));
  });
  t.appendChild(tbody);
  bindClamps(t);
  return t;
}

/** A download link; one to another origin (the widget on a host page) opens in a new tab, so a
    failed export never takes the reader away from the page. */
function link(cls, href, label, iconName, visible) {
  const a = h("a", cls);
  a.href = href;
  a.setAttribute("download", "");
  if (a.origin !== location.origin) { a.target = "_blank"; a.rel = "noopener"; }
  a.setAttribute("aria-label", label);
  a.title = label;
  if (iconName) a.appendChild(icon(iconName));
  a.appendChild(h("span", null, visible));
  return a;
}

/** "导出表格" (xlsx) and a smaller "CSV", for the links the service sent; null without any. */
function exportLinks(l, endpoint) {
  const ex = l.export && typeof l.export === "object" ? l.export : {};
  const xlsx = serviceUrl(endpoint, ex.xlsx), csv = serviceUrl(endpoint, ex.csv);
  if (!xlsx && !csv) return null;
  const box = h("div", "rq-t-export");
  if (xlsx) box.appendChild(link("rq-btn rq-outline rq-small rq-t-xlsx", xlsx, "导出表格（Excel 文件）", "download", "导出表格"));
  if (csv) box.appendChild(link("rq-t-csv", csv, "导出表格（CSV 文件）", null, "CSV"));
  return box;
}

/** The listing `l` of an answer: title and export links, the table, a note when it is cut short. */
export function listingView(l, citations, openSource, endpoint) {
  const box = h("div", "rq-t");
  box.dataset.kind = text(l.kind);
  const head = h("div", "rq-t-head");
  head.appendChild(h("p", "rq-t-title", text(l.title)));
  const links = exportLinks(l, endpoint);
  if (links) head.appendChild(links);
  const wrap = h("div", "rq-t-wrap");
  wrap.appendChild(table(l, citations, openSource));
  box.append(head, wrap);
  const total = Number(l.total);
  if (total > l.rows.length) {
    box.appendChild(h("p", "rq-t-note", "共 " + total + " 项，此处列出 " + l.rows.length + " 项" + (links ? "；导出表格可得完整列表。" : "。")));
  }
  return box;
}
