"""Progress bars on stderr, shown only when stderr is a terminal and not --quiet."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from genotx.runtime import settings


class _Silent:
    def advance(self, n: float = 1, **fields) -> None:
        pass

    def update(self, **fields) -> None:
        pass


def enabled() -> bool:
    return not settings.quiet and sys.stderr.isatty()


@contextmanager
def progress(description: str, total: float | None = None, unit: str = "") -> Iterator[object]:
    """Yield an object with ``advance(n)`` and ``update(**fields)``.

    Example::

        with progress("training", total=steps) as bar:
            for step in range(steps):
                bar.advance(1, status=f"loss {loss:.3f}")
    """
    if not enabled():
        yield _Silent()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns.append(TextColumn(unit))
    columns += [TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[status]}")]
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total, status="")

        class _Bar:
            def advance(self, n: float = 1, **fields) -> None:
                bar.update(task, advance=n, **fields)

            def update(self, **fields) -> None:
                bar.update(task, **fields)

        yield _Bar()


def warn(message: str) -> None:
    """A one-line warning on stderr (suppressed by --quiet)."""
    if not settings.quiet:
        print(f"genotx: warning: {message}", file=sys.stderr, flush=True)


def info(message: str) -> None:
    """A one-line note on stderr (suppressed by --quiet)."""
    if not settings.quiet:
        print(f"genotx: {message}", file=sys.stderr, flush=True)
