"""OCR for scanned pages and images, with the PP-OCRv6 Chinese models that ship inside the
`rapidocr` wheel (detection and recognition on onnxruntime). The engine is pointed at the model
files in the wheel by path, so nothing is downloaded at run time: a missing file is an error,
never a fetch.

The per-line angle classifier is off. On upright scans it turned whole lines upside down
before recognition (a line of 1.全面完成2023年… read as "一"), which cost sample 003 four points
of character accuracy; a page scanned upside down is handled for the whole page instead: when
its lines read with a median confidence under `UNCERTAIN_BELOW`, the page is read again turned
180° and the better reading is kept.

A box that reads as no letter, digit or character (a lone quote mark read from a drawn shape or
a rule) is dropped. The others are grouped into lines by their vertical position and read left
to right. Each line keeps the lowest recognition score of its boxes; a line under
`UNCERTAIN_BELOW` is kept (searchable, viewable) but flagged, and the answerer never quotes a
flagged line as an answer.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

UNCERTAIN_BELOW = 0.8
_CJK_EDGE = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
_WORD = re.compile(r"\w")
_MODELS = {"Det": "PP-OCRv6_det_small.onnx", "Rec": "PP-OCRv6_rec_small.onnx"}


class OcrLine(NamedTuple):
    """One line of a page as OCR read it; `confidence` is the lowest score of its boxes (0–1)."""

    text: str
    confidence: float


@dataclass(frozen=True)
class _Box:
    top: float
    bottom: float
    left: float
    text: str
    score: float


@lru_cache(maxsize=1)
def _engine() -> Any:
    import rapidocr
    from rapidocr import RapidOCR

    models = Path(rapidocr.__file__).parent / "models"
    params: dict[str, Any] = {f"{task}.model_path": str(models / name) for task, name in _MODELS.items()}
    # One line per recognition run: batches of 6 pad every line to the widest, which raised the
    # peak memory of a page from about 0.8 to 1.1 GB and read no better.
    params.update({"Global.use_cls": False, "Global.log_level": "error", "Rec.rec_batch_num": 1})
    return RapidOCR(params=params)


def _boxes(image: bytes | np.ndarray) -> tuple[list[_Box], np.ndarray | None]:
    """The recognised boxes of an image, and the image as the engine decoded it."""
    out = _engine()(image)
    if out.boxes is None or out.txts is None or out.scores is None:
        return [], getattr(out, "img", None)
    boxes = []
    for box, text, score in zip(out.boxes, out.txts, out.scores, strict=True):
        if not _WORD.search(str(text)):
            continue
        ys = [float(p[1]) for p in box]
        boxes.append(_Box(min(ys), max(ys), min(float(p[0]) for p in box), str(text).strip(), float(score)))
    return boxes, out.img


def _lines(boxes: list[_Box]) -> list[OcrLine]:
    lines: list[list[_Box]] = []
    for box in sorted(boxes, key=lambda b: (b.top, b.bottom, b.left)):
        if lines and box.top + box.bottom < 2 * lines[-1][0].bottom:  # its middle is above the line's bottom
            lines[-1].append(box)
        else:
            lines.append([box])
    out = []
    for line in lines:
        parts = sorted(line, key=lambda b: b.left)
        text = parts[0].text
        for part in parts[1:]:
            cjk = _CJK_EDGE.match(text[-1]) and _CJK_EDGE.match(part.text[0])
            text += part.text if cjk else " " + part.text
        out.append(OcrLine(text, min(b.score for b in parts)))
    return out


def _median(lines: list[OcrLine]) -> float:
    return statistics.median(line.confidence for line in lines) if lines else 0.0


def ocr_image(image: bytes | np.ndarray) -> list[OcrLine]:
    """The text lines of an image (encoded bytes or a BGR/grey array), top to bottom, each with
    its confidence. A page whose lines mostly read under `UNCERTAIN_BELOW` is read once more
    turned 180° (twice the time for that page), and the reading with the higher median wins."""
    boxes, decoded = _boxes(image)
    lines = _lines(boxes)
    if lines and _median(lines) < UNCERTAIN_BELOW and decoded is not None:
        turned = _lines(_boxes(np.ascontiguousarray(decoded[::-1, ::-1]))[0])
        if _median(turned) > _median(lines):
            return turned
    return lines
