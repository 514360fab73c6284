"""OCR on real scan pixels: three lines of sample 003 as `make formats` scans them (150 dpi,
rendered at 2x, tests/data/ocr_003_three_lines.png) and a box Chromium drew on an otherwise
blank page (tests/data/ocr_drawn_box.png). The models are the ones inside the rapidocr wheel."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from ragqa.ingest import ocr
from ragqa.ingest.ocr import UNCERTAIN_BELOW, OcrLine, ocr_image
from ragqa.ingest.office import read_image

DATA = Path(__file__).parent / "data"
SCAN = DATA / "ocr_003_three_lines.png"


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def test_scanned_lines_read_top_to_bottom_as_printed() -> None:
    """The middle line is one the per-line angle classifier turned upside down (read as 养热护带众
    at 0.53); with the classifier off it reads as printed."""
    lines = ocr_image(_pixels(SCAN))
    assert [line.text[:6] for line in lines] == ["2.自觉用习", "执行力,坚定", "府和市委各项"]
    assert "落实到政府工作各个方面" in lines[1].text and lines[2].text == "府和市委各项决策部署落地见效。"
    assert all(line.confidence >= UNCERTAIN_BELOW for line in lines)


def test_a_page_scanned_upside_down_is_read_turned_back() -> None:
    assert ocr_image(np.ascontiguousarray(_pixels(SCAN)[::-1, ::-1])) == ocr_image(_pixels(SCAN))


def test_a_damaged_line_is_kept_but_flagged() -> None:
    """The top of the last line torn off: it still reads (as something), under UNCERTAIN_BELOW, so
    the reader flags it and the answerer will not quote it."""
    pixels = _pixels(SCAN).copy()
    pixels[66:76] = 255
    read = read_image(_png(pixels))
    assert len(read.lines) == 3 and read.pages == [1, 1, 1]
    assert read.uncertain == [3]


def test_a_drawn_box_alone_reads_as_no_text() -> None:
    """The detector takes the whole page for a text box and reads a lone quote mark in it."""
    assert ocr_image((DATA / "ocr_drawn_box.png").read_bytes()) == []


def test_boxes_on_one_line_join_left_to_right_keeping_the_lowest_score() -> None:
    boxes = [
        ocr._Box(top=52, bottom=76, left=400, text="Beijing", score=0.95),
        ocr._Box(top=10, bottom=34, left=300, text="工作要点", score=0.99),
        ocr._Box(top=12, bottom=35, left=10, text="东阳市", score=0.7),
        ocr._Box(top=50, bottom=75, left=10, text="2023年", score=0.9),
    ]
    assert ocr._lines(boxes) == [OcrLine("东阳市工作要点", 0.7), OcrLine("2023年 Beijing", 0.9)]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network use in a test that must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    ocr._engine.cache_clear()
    yield
    ocr._engine.cache_clear()


@pytest.mark.usefixtures("no_network")
def test_the_models_load_from_the_wheel_without_the_network() -> None:
    assert len(ocr_image(_pixels(SCAN))) == 3
