"""The dev gold set through POST /v1/ask, scored by ragqa.eval, with floors a little below today."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ragqa.eval.askers import HttpAsker
from ragqa.eval.goldset import load_gold
from ragqa.eval.runner import evaluate
from ragqa.service.app import create_app
from ragqa.service.pipeline import Pipeline

from .conftest import DEV_GOLD, settings_for

FLOORS = {
    "hit@5": 0.95,
    "mrr": 0.90,
    "answer_accuracy": 0.90,
    "citation_accuracy": 0.90,
    "citation_validity": 1.0,
}
CEILINGS = {"false_refusal_rate": 0.07}


@pytest.mark.slow
def test_dev_gold_through_the_http_endpoint(use_index: Path) -> None:
    settings = settings_for(use_index)
    with TestClient(create_app(settings, Pipeline.from_settings(settings))) as client:
        run = evaluate(load_gold(DEV_GOLD), HttpAsker("http://testserver", client=client, concurrency=1))
    figures = run.overall.as_dict()
    for name, floor in FLOORS.items():
        assert figures[name] is not None and figures[name] >= floor, (name, figures)
    for name, ceiling in CEILINGS.items():
        assert figures[name] is not None and figures[name] <= ceiling, (name, figures)
