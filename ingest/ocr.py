"""OCR for scanned pages and images, with the Chinese models that ship inside the
`rapidocr-onnxruntime` wheel (PP-OCR detection and recognition on onnxruntime; nothing is
downloaded at run time).

Text boxes are grouped into lines by their vertical position and read left to right. Each line
keeps the lowest recognition score of its boxes; a line under `UNCERTAIN_BELOW` is kept
(searchable, viewable) but flagged, and the answerer never quotes a flagged line as an answer.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import numpy as np

UNCERTAIN_BELOW = 0.8
_CJK_EDGE = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


@lru_cache(maxsize=1)
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def ocr_image(image: bytes | np.ndarray) -> list[tuple[str, float]]:
    """The text lines of an image (encoded bytes or an RGB/BGR array), top to bottom, each with
    its confidence (the lowest score of its boxes)."""
    result, _ = _engine()(image)
    boxes = []
    for box, text, score in result or []:
        ys = [float(p[1]) for p in box]
        boxes.append((min(ys), max(ys), min(float(p[0]) for p in box), str(text).strip(), float(score)))
    lines: list[list[tuple[float, float, float, str, float]]] = []
    for box in sorted(boxes):
        line = lines[-1] if lines else None
        if line is not None and box[0] + box[1] < 2 * line[0][1]:  # its middle is above the line's bottom
            line.append(box)
        else:
            lines.append([box])
    out = []
    for line in lines:
        parts = [b for b in sorted(line, key=lambda b: b[2]) if b[3]]
        if not parts:
            continue
        text = parts[0][3]
        for part in parts[1:]:
            cjk = _CJK_EDGE.match(text[-1]) and _CJK_EDGE.match(part[3][0])
            text += part[3] if cjk else " " + part[3]
        out.append((text, min(b[4] for b in parts)))
    return out
