"""TsvWriter: provenance line, lazy header, clean fields, flush per batch."""

from __future__ import annotations

import io

import pytest

from genotx import __version__
from genotx.io import TsvWriter


class FlushCounter(io.StringIO):
    flushes = 0

    def flush(self):
        self.flushes += 1
        super().flush()


def test_rows_follow_the_provenance_and_header_lines_with_clean_fields():
    out = io.StringIO()
    with TsvWriter(["id", "value", "note"], stream=out, command="stats x.fa") as tsv:
        tsv.write_rows([("r\t1", 0.123456789, None), ("r2", float("nan"), "a\nb\rc"), ("r3", 7, True)])
    assert out.getvalue().splitlines() == [
        f"#genotx {__version__} stats x.fa",
        "id\tvalue\tnote",
        "r 1\t0.123457\tNA",
        "r2\tNA\ta b c",
        "r3\t7\tTrue",
    ]


def test_empty_output_is_the_header_alone():
    out = io.StringIO()
    with TsvWriter(["id"], stream=out, command="stats"):
        pass
    assert out.getvalue() == f"#genotx {__version__} stats\nid\n"


def test_an_error_before_any_row_writes_nothing():
    out = io.StringIO()
    with pytest.raises(RuntimeError):
        with TsvWriter(["id"], stream=out, command="stats"):
            raise RuntimeError("bad input")
    assert out.getvalue() == ""


def test_each_batch_of_rows_is_flushed():
    out = FlushCounter()
    with TsvWriter(["id"], stream=out, command="x") as tsv:
        tsv.write_rows([("a",)])
        flushed = out.flushes
        tsv.write_rows([("b",), ("c",)])
    assert flushed >= 1 and out.flushes > flushed


def test_a_row_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="row has 1 fields, header has 2"):
        TsvWriter(["a", "b"], stream=io.StringIO(), command="x").write_rows([("only",)])
