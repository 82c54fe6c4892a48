"""The k-mer memory's file: safetensors, read back by memory-mapping the bucket words where they lie.

Tensors (and the metadata ``config``, the `IndexConfig` as JSON)::

    words     uint8 (2**bits + 1, width)  bucket b's species bits, little-endian (bit c = species c);
                                          the last row is 0: the bucket of k-mers with an N
    set_bits  int64 (classes,)            buckets set per species (its fill fraction, without a pass)

``width`` is 1, 2, 4, 8, 16, ... bytes: the look-up reads one word per k-mer.
`read_index_file` parses the 8-byte header length and the JSON header itself
and maps ``words`` read-only at its offset (`numpy.memmap`), so loading does
no reading and no conversion: the pages come in from the page cache as reads
touch them. Measured on the shipped 2^23-bucket, 10-species file: 0.5 ms to
load, against 1.3 s (busy machine) for reading the class-major packed bits of
the former layout (``bits``: uint8 (classes, 2**bits / 8)) and turning them
bucket-major, which is still how files of that layout load; safetensors'
``safe_open(...).get_tensor`` copies the words (22 ms). The words of 10 species take 2
bytes a bucket where 10 bits would do: 16.8 MB instead of 10.5 MB on disk.

Example::

    write_index_file("kmer_memory.safetensors", config_json, words, set_bits)
    config_json, words, set_bits = read_index_file("kmer_memory.safetensors")
"""

from __future__ import annotations

import json
import os

import numpy as np

from genotx.errors import InputError
from genotx.io.atomic import atomic_write

MAX_HEADER = 1 << 20  # a header this long is a damaged length field, not an index


def word_bytes(n_classes: int) -> int:
    """Bytes of one bucket's species bits: the power of two that holds ``n_classes`` bits (8 -> 1, 10 -> 2)."""
    return 1 << max(0, (n_classes - 1) // 8).bit_length()


def write_index_file(path: str, config_json: str, words: np.ndarray, set_bits: np.ndarray) -> None:
    """The file at ``path``, whole or not at all, following the umask (safetensors' own writer makes it 0600)."""
    from safetensors.numpy import save

    data = save({"words": np.ascontiguousarray(words, dtype=np.uint8), "set_bits": set_bits.astype(np.int64)},
                metadata={"config": config_json})
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def read_index_file(path: str) -> tuple[str, np.ndarray | None, np.ndarray]:
    """(config JSON, words mapped read-only, set_bits); words is None and set_bits the packed
    class-major bits for a file of the former layout. Damage is an `InputError` naming the file."""
    header, data_start, size = _header(path)
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), str):
        raise InputError(f"{path}: not a readable k-mer memory (no config in its header)")
    if "words" not in header:
        return meta["config"], None, _map(path, header, "bits", "U8", data_start, size).copy()
    words = _map(path, header, "words", "U8", data_start, size)
    set_bits = np.array(_map(path, header, "set_bits", "I64", data_start, size))
    if words.ndim != 2 or set_bits.ndim != 1 or words.shape[1] != word_bytes(len(set_bits)):
        raise InputError(f"{path}: k-mer memory words {words.shape} do not hold {set_bits.shape} species")
    if words[-1].any():
        raise InputError(f"{path}: k-mer memory is damaged (the bucket of k-mers with an N is not empty)")
    return meta["config"], words, set_bits


def _header(path: str) -> tuple[dict, int, int]:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            length = int.from_bytes(fh.read(8), "little")
            if size < 8 or not 2 <= length <= min(MAX_HEADER, size - 8):
                raise ValueError(f"header length {length} in a file of {size} bytes")
            header = json.loads(fh.read(length))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable k-mer memory ({exc})") from None
    return header, 8 + length, size


_DTYPES = {"U8": np.uint8, "I64": np.dtype("<i8")}


def _map(path: str, header: dict, name: str, dtype: str, data_start: int, size: int) -> np.ndarray:
    """Tensor ``name`` of the file, mapped read-only; its entry checked against the file's size."""
    entry = header.get(name)
    try:
        shape = [int(n) for n in entry["shape"]]
        begin, end = (int(x) for x in entry["data_offsets"])
        ok = entry["dtype"] == dtype and min(shape, default=1) > 0
    except (TypeError, KeyError, ValueError):
        ok = False
    item = np.dtype(_DTYPES[dtype]).itemsize
    if not ok or end - begin != item * int(np.prod(shape)) or begin < 0 or data_start + end > size:
        raise InputError(f"{path}: not a readable k-mer memory (tensor {name!r} missing, damaged or cut short)")
    return np.memmap(path, dtype=_DTYPES[dtype], mode="r", offset=data_start + begin, shape=tuple(shape))
