"""Byte streams of sequence inputs: plain or gzip/bgzip, from a path or stdin.

`pieces(path)` yields the decompressed content as ``bytes`` pieces of at most
`PIECE` bytes. Compression is detected from the gzip magic ``1f 8b``, never
from the file name. Gzip input is inflated (with ISA-L when available) in a
background thread: the inflater releases the GIL while it works, so
decompression runs on a second core while the parser works on earlier pieces.

When a pipe or terminal stalls (a producer that writes reads as it makes them,
like a sequencer's live output), `pieces` yields one empty piece after
`STALL_SECONDS` without data: the parsers then hand out the records they hold
as a partial batch, so rows appear while the input is still coming. Regular
files never stall, so their batches do not depend on timing.

Why small pieces: glibc serves allocations of 128 KiB and more with fresh
``mmap`` pages, so decoding and splitting megabyte chunks page-faults on every
chunk; 64 KiB pieces are recycled from the heap and parse about twice as fast.
"""

from __future__ import annotations

import os
import queue
import select
import stat
import sys
import threading
import zlib
from typing import BinaryIO, Iterator

from genotx.errors import InputError

try:  # ISA-L inflates gzip about twice as fast as zlib, with the same interface
    from isal import isal_zlib as _inflate_lib
except ImportError:  # pragma: no cover - isal is a dependency; zlib keeps working without it
    _inflate_lib = zlib

PIECE = 1 << 16
INFLATE_OUT = 1 << 20  # inflate this much per zlib call: few GIL round trips per MB
READ_COMPRESSED = 1 << 18
GZIP_MAGIC = b"\x1f\x8b"
STALL_SECONDS = 1.0  # a pipe quiet this long: hand out the records read so far


def display_name(path: str) -> str:
    """How an input is named in messages: ``<stdin>`` for ``-``."""
    return "<stdin>" if path == "-" else path


def open_input(path: str) -> BinaryIO:
    """Open an unbuffered binary stream on a file (``-``: stdin), with one-line errors.

    Unbuffered (a bare file descriptor, no lock): the inflating thread may still
    be blocked reading a pipe when the process exits, and a buffered reader's
    lock would then abort the interpreter at shutdown.
    """
    if path == "-":
        if sys.stdin is None:  # the shell closed it (`<&-`); Python then leaves sys.stdin None
            raise InputError("<stdin>: read error (Bad file descriptor: stdin is closed)")
        return open(sys.stdin.fileno(), "rb", buffering=0, closefd=False)
    try:
        return open(path, "rb", buffering=0)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a FASTA/FASTQ file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from None


def pieces(path: str, stall: float | None = STALL_SECONDS) -> Iterator[bytes]:
    """Yield the (decompressed) content of `path` in pieces of at most `PIECE` bytes.

    An empty piece means that a pipe has brought no data for `stall` seconds
    (None: never say so). Example: ``sum(map(len, pieces("reads.fq.gz")))`` is
    the uncompressed size.
    """
    name = display_name(path)
    stream = open_input(path)
    if stall is not None and _never_stalls(stream):
        stall = None
    handed_over = False
    try:
        first = _read_error_checked(stream, PIECE, name)
        while 0 < len(first) < 2:  # a pipe may deliver a single byte first
            more = _read_error_checked(stream, PIECE, name)
            if not more:
                break
            first += more
        if first[:2] == GZIP_MAGIC:
            handed_over = True  # the inflating thread closes the stream
            yield from _inflate_in_background(stream, first, name, stall)
        else:
            block = first
            while block:
                yield block
                if stall is not None and not _readable_within(stream, stall):
                    yield b""
                block = _read_error_checked(stream, PIECE, name)
    finally:
        if not handed_over:
            stream.close()


def _never_stalls(stream: BinaryIO) -> bool:
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return True


def _readable_within(stream: BinaryIO, seconds: float) -> bool:
    try:
        return bool(select.select([stream], [], [], seconds)[0])
    except (OSError, ValueError):
        return True  # cannot tell: just read


def _read_error_checked(stream: BinaryIO, size: int, name: str) -> bytes:
    try:
        return stream.read(size)
    except OSError as exc:
        raise InputError(f"{name}: read error ({exc.strerror or exc})") from None


def inflate(stream: BinaryIO, first: bytes, name: str, lib=None) -> Iterator[bytes]:
    """Decompress every gzip member in turn (bgzip writes many small members).

    `lib` is a zlib-like module (default: isal's, else zlib). Example:
    ``b"".join(inflate(open("x.gz", "rb"), b"", "x.gz"))``.
    """
    lib = lib or _inflate_lib
    decomp = lib.decompressobj(31)
    data = first
    while True:
        if not data:
            data = _read_error_checked(stream, READ_COMPRESSED, name)
            if not data:
                break
        try:
            out = decomp.decompress(data, INFLATE_OUT)
        except lib.error as exc:
            raise InputError(f"{name}: corrupt gzip data ({exc})") from None
        data = decomp.unconsumed_tail
        if out:
            yield out
        if decomp.eof:
            data = decomp.unused_data
            if not data:
                data = _read_error_checked(stream, READ_COMPRESSED, name)
                if not data:
                    return
            if data[:2] != GZIP_MAGIC[: len(data)]:
                # Zero padding after the last member is tolerated (some tools pad blocks).
                if data.strip(b"\x00") or _read_error_checked(stream, READ_COMPRESSED, name).strip(b"\x00"):
                    raise InputError(f"{name}: trailing garbage after gzip data")
                return
            decomp = lib.decompressobj(31)
    try:
        tail = decomp.flush()
    except lib.error as exc:
        raise InputError(f"{name}: corrupt gzip data ({exc})") from None
    if tail:
        yield tail
    if not decomp.eof:
        raise InputError(f"{name}: truncated gzip file (unexpected end of compressed data)")


_DONE = object()


def _inflate_in_background(stream: BinaryIO, first: bytes, name: str, stall: float | None) -> Iterator[bytes]:
    """Run `inflate` in a thread; yield its output cut into pieces, re-raise its errors here.

    An empty piece: nothing came for `stall` seconds (see `pieces`).
    """
    handoff: queue.Queue = queue.Queue(maxsize=8)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for block in inflate(stream, first, name):
                cut = [block[i : i + PIECE] for i in range(0, len(block), PIECE)]
                if not put(cut):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the reading thread, which re-raises it
            put(exc)
        finally:
            stream.close()

    worker = threading.Thread(target=work, name="genotx-inflate", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = handoff.get(timeout=stall)
            except queue.Empty:
                yield b""
                item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield from item
    finally:
        # No join: the worker may be blocked reading a pipe; it sees `stop` at its next hand-off.
        stop.set()
