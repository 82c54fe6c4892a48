"""bench/transfer.py's verdicts: paired 95 % t intervals, and 'resolved' only where the interval excludes zero."""

from __future__ import annotations

import importlib.util
import math
import os

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "bench", "transfer.py")


@pytest.fixture(scope="module")
def transfer():
    spec = importlib.util.spec_from_file_location("bench_transfer", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_interval_is_the_t_interval_of_the_mean(transfer):
    mean, half = transfer.interval([0.1, 0.2, 0.3])
    assert mean == pytest.approx(0.2)
    assert half == pytest.approx(4.303 * 0.1 / math.sqrt(3))  # t(0.975, 2 df) * sd / sqrt(n)
    assert math.isnan(transfer.interval([0.5])[1])


def rows(task, pretrained, initial):
    return ([{"dataset": task, "seed": s, "start": "pretrained", "score": v} for s, v in enumerate(pretrained)]
            + [{"dataset": task, "seed": s, "start": "initial", "score": v} for s, v in enumerate(initial)])


def test_table_calls_an_effect_resolved_only_when_its_interval_excludes_zero(transfer):
    text = transfer.table(rows("splice", [0.90, 0.91, 0.92], [0.80, 0.80, 0.81])
                          + rows("ecoli_promoters", [0.90, 0.70, 0.85], [0.80, 0.85, 0.80])
                          + rows("fly_promoters", [0.60, 0.61, 0.59], [0.70, 0.72, 0.71]))
    lines = {line.split(" | ")[0]: line for line in text.splitlines()}
    assert lines["| splice (accuracy)"].endswith("| yes, higher |")
    assert lines["| ecoli_promoters (accuracy)"].endswith("| no |")
    assert lines["| fly_promoters (accuracy)"].endswith("| yes, lower |")
    assert "+0.107 [" in lines["| splice (accuracy)"]  # paired by seed: +0.10, +0.11, +0.11
