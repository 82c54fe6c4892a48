"""Batches worked on by several threads at once, their results handed out in input order.

`genotx predict` reads batch i + 2 while two worker threads turn batches i
and i + 1 into TSV text. Threads pay off because the heavy steps release the
GIL: inflating gzip (zlib, in a thread of its own), the k-mer look-up
(`genotx.taxon._kmer_hits`), numpy's loops, the row text
(`genotx.taxon._rows`) and torch's kernels. What holds it is small: parsing
records (the C parser makes the str objects, about 0.5 us a read, in the
reading thread) and numpy's per-call overhead. At most ``ahead`` batches are
in flight, so memory does not grow with the input. Each batch is worked on
whole by one thread with the same code as without threads, so the output does
not depend on the thread count.

Example::

    for text in ordered_map(predictor.lines, iter_batches(paths), workers=2):
        out.write_text(text)
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


def ordered_map(work: Callable[[In], Out], items: Iterable[In], *, workers: int, ahead: int | None = None) -> Iterator[Out]:
    """``work(item)`` for each item, computed by ``workers`` threads, yielded in the order of ``items``.

    An error while reading ``items`` (bad input in batch i) is raised after the results
    of the items before it, as a plain loop would; an error of ``work`` is raised in order.
    """
    if workers <= 1:
        yield from map(work, items)
        return
    from concurrent.futures import ThreadPoolExecutor

    ahead = ahead or 2 * workers
    pool = ThreadPoolExecutor(workers, thread_name_prefix="genotx-batch")
    pending: deque = deque()
    iterator, failure = iter(items), None
    try:
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                break
            except Exception as exc:  # bad input: first the results of what came before it
                failure = exc
                break
            pending.append(pool.submit(work, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
        if failure is not None:
            raise failure
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
