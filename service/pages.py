"""Page images of PDF documents for the source viewer, with the cited line marked.

`render_page` draws one page of a stored PDF with pypdfium2 and, given a line's text, finds it
in the page's text layer and lays a translucent box over it. Results are cached in memory
(bounded) by the file's hash, page and line, so a viewer that pages back and forth costs one
render per page.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from .errors import NotFound

SCALE = 1.5  # 108 dpi: readable on screen, ~150 KB a page
MARK = (255, 214, 0, 90)  # translucent yellow
MAX_PIXELS = 16_000_000  # a rendered page is at most this big, however large the page claims to be
SEARCH_CHARS = 40  # the start of a line is enough to find it and stays clear of wrap differences


def render_page(pdf: Path, page: int, mark: str | None = None) -> bytes:
    """PNG of page `page` (1-based) of `pdf`, with the text `mark` boxed when found on it."""
    return _render(pdf, pdf.stat().st_mtime_ns, page, (mark or "").strip()[:SEARCH_CHARS])


@lru_cache(maxsize=64)
def _render(pdf_path: Path, _version: int, page: int, mark: str) -> bytes:
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        if not 1 <= page <= len(pdf):
            raise NotFound(f"page {page} is outside this document, which has pages 1-{len(pdf)}")
        pdf_page = pdf[page - 1]
        # a page that declares itself metres wide is drawn smaller, never past MAX_PIXELS
        scale = min(SCALE, (MAX_PIXELS / max(pdf_page.get_width() * pdf_page.get_height(), 1.0)) ** 0.5)
        image = pdf_page.render(scale=scale).to_pil().convert("RGBA")
        boxes = _boxes(pdf_page, mark) if mark else []
        if boxes:
            overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
            draw = ImageDraw.Draw(overlay)
            height = pdf_page.get_height()
            for left, bottom, right, top in boxes:
                draw.rectangle((left * scale - 2, (height - top) * scale - 2, right * scale + 2, (height - bottom) * scale + 2), fill=MARK)
            image = Image.alpha_composite(image, overlay)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG", optimize=True)
        return out.getvalue()
    finally:
        pdf.close()


def _boxes(pdf_page: object, text: str) -> list[tuple[float, float, float, float]]:
    """Character boxes (PDF units) of the first place `text` occurs on the page, merged per line."""
    textpage = pdf_page.get_textpage()  # type: ignore[attr-defined]
    searcher = textpage.search(text)
    found = searcher.get_next()
    if not found:
        return []
    start, count = found
    lines: list[list[float]] = []
    for i in range(start, start + count):
        left, bottom, right, top = textpage.get_charbox(i)
        if lines and abs(lines[-1][1] - bottom) < (top - bottom) / 2:
            box = lines[-1]
            box[0], box[2], box[3] = min(box[0], left), max(box[2], right), max(box[3], top)
        else:
            lines.append([left, bottom, right, top])
    return [(b[0], b[1], b[2], b[3]) for b in lines]
