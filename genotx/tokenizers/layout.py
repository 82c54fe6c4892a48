"""Token id layout and the C row formatter: what `genotx tokenize` needs without numpy.

Token ids 0-4 are the special tokens of every kind, then the five single bases
A C G T N (ids 5-9), then whatever the kind adds. The k-mer rules (k from 1 to
8, stride from 1 to k) are checked here, where the k-mer tokenizer and the
command's fast path both find them. This module imports neither numpy nor the
tokenizer classes, so char and k-mer rows start being written a few tens of
milliseconds sooner (numpy's import is about as long as the rest of the start-up).
"""

from __future__ import annotations

from typing import NamedTuple

from genotx.errors import InputError

PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = 0, 1, 2, 3, 4
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BASES = "ACGTN"
FIRST_BASE_ID = len(SPECIALS)  # id of "A"; C G T N follow
MAX_K = 8


class KmerLayout(NamedTuple):
    """Windows of `k` bases every `stride` bases, the first k-mer id (char: k = stride = 1)."""

    kind: str
    k: int
    stride: int
    first_kmer_id: int


def kmer_layout(kind: str, k: int = 6, stride: int | None = None) -> KmerLayout:
    """The layout of a char or k-mer tokenizer, checked: ``kmer_layout("kmer", 6).stride == 6``.

    Raises InputError for a k outside 1-8 or a stride outside 1..k.
    """
    if kind == "char":
        return KmerLayout("char", 1, 1, FIRST_BASE_ID)
    stride = k if stride is None else stride
    if not 1 <= k <= MAX_K:
        raise InputError(f"k must be from 1 to {MAX_K}, got {k}")
    if not 1 <= stride <= k:
        raise InputError(f"stride must be from 1 to k={k} so that every base is covered, got {stride}")
    # k-mer ids follow the single bases; for k == 1 the single bases are the k-mers.
    return KmerLayout("kmer", k, stride, FIRST_BASE_ID if k == 1 else FIRST_BASE_ID + len(BASES))


def fast_rows(tok, as_ids: bool = False):
    """The whole-row formatter of the C extension for char and k-mer tokenizers, or None.

    `tok` is a char or k-mer tokenizer or its `KmerLayout`. The returned function
    takes a batch's ids and sequences (lists of str) and gives the TSV rows
    ``id  n_bases  n_tokens  tokens`` as bytes, or None for a batch it does not
    take (a sequence with other letters than A C G T N). Given a bytearray
    `buffer`, it writes the rows at its start instead (growing it when needed) and
    returns their length: a buffer reused for every batch saves allocating and
    page-faulting megabytes per batch.

    Example::

        rows = fast_rows(kmer_layout("kmer", k=3))
        rows(["r1"], ["ACGTA"])      # b"r1\\t5\\t3\\tACG T A\\n"
        buffer = bytearray()
        rows(["r1"], ["ACGTA"], buffer)      # 13, buffer[:13] holds the same row
    """
    try:
        from genotx.tokenizers import _rows
    except ImportError:  # built without a C compiler
        return None
    if tok.kind == "char":
        k = stride = 1
        first = FIRST_BASE_ID
    elif tok.kind == "kmer":
        k, stride, first = tok.k, tok.stride, tok.first_kmer_id
    else:
        return None
    kmer_rows = _rows.kmer_rows

    def rows(ids, seqs, buffer=None):
        ids = ids if type(ids) is list else list(ids)
        seqs = seqs if type(seqs) is list else list(seqs)
        return kmer_rows(ids, seqs, k, stride, as_ids, first, buffer)

    return rows
