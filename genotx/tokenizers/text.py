"""Token columns as text for whole batches: what `genotx tokenize` writes.

Each token's text (its string, or its id with ``--ids``) and a space are kept
in a fixed-width slot, so the column of a whole batch is one gather of slots.
Slots narrower than the widest token of the batch are padded with NUL bytes,
which one boolean mask removes; that pass is skipped when every token of the
batch fills its slot, as k-mers of one length do. The space after each
sequence's last token becomes a newline, and one split gives the rows.
"""

from __future__ import annotations

import numpy as np

from genotx.tokenizers.base import BASE_CODE, BASES, FIRST_BASE_ID, base_codes
from genotx.tokenizers.layout import fast_rows  # noqa: F401 - the C fast path of these rows

NEWLINE = ord("\n")
SPACE = ord(" ")


class TokenText:
    """Rows of space-separated token texts, for many sequences at once.

    Example::

        text = TokenText(build_tokenizer("kmer", k=3))
        text.encode_rows(["ACGTA", "GG"])      # (["ACG T A", "G G"], [3, 2])
    """

    def __init__(self, tok, as_ids: bool = False):
        self.tok = tok
        texts = [str(i) for i in range(tok.vocab_size)] if as_ids else tok.vocab
        self._texts = [t.encode("ascii") + b" " for t in texts]
        self.width = np.array([len(t) for t in self._texts], dtype=np.int64)
        self._slots: dict[int, np.ndarray] = {}
        # A char token's text is one byte per base (its letter, or its one-digit id), so
        # the column is the bases translated, with a space after each: no encoding needed.
        self._base_text = None
        if tok.kind == "char":
            letters = [t[:1] for t in self._texts[FIRST_BASE_ID : FIRST_BASE_ID + len(BASES)]]
            self._base_text = bytes(255 if c == 255 else letters[c][0] for c in BASE_CODE.tolist())

    def encode_rows(self, seqs: list[str]) -> tuple[list[str], np.ndarray]:
        """Rows of `seqs` and their numbers of tokens: `rows` of `tok.encode_flat`."""
        if self._base_text is not None:
            return self._char_rows(seqs)
        ids, counts = self.tok.encode_flat(seqs)
        return self.rows(ids, counts), counts

    def _char_rows(self, seqs: list[str]) -> tuple[list[str], np.ndarray]:
        counts = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
        joined = "".join(seqs)
        text = joined.encode("ascii", "replace").translate(self._base_text)
        if b"\xff" in text:
            base_codes(joined)  # raises the InputError that names the character
        out = np.empty(2 * len(text), dtype=np.uint8)
        out[0::2] = np.frombuffer(text, dtype=np.uint8)
        out[1::2] = SPACE
        out[2 * np.cumsum(counts)[counts > 0] - 1] = NEWLINE
        rows = out.tobytes().decode("ascii").split("\n")[:-1]
        if len(rows) < len(seqs):
            filled = iter(rows)
            rows = [next(filled) if c else "" for c in counts.tolist()]
        return rows, counts

    def _slots_of_width(self, width: int) -> np.ndarray:
        """Every token's text and space, NUL-padded to `width` bytes (cut where longer:
        such tokens are not in a batch that uses this width), as one item per token."""
        if width not in self._slots:
            table = np.zeros((len(self._texts), width), dtype=np.uint8)
            for i, text in enumerate(self._texts):
                text = text[:width]
                table[i, : len(text)] = np.frombuffer(text, dtype=np.uint8)
            self._slots[width] = table.view(f"V{width}").ravel()
        return self._slots[width]

    def rows(self, ids: np.ndarray, counts: np.ndarray) -> list[str]:
        """One string per sequence; `counts` says how many of `ids` each sequence has."""
        if not ids.size:
            return [""] * len(counts)
        widths = self.width[ids]
        width = int(widths.max())
        out = self._slots_of_width(width)[ids].view(np.uint8)
        last_token = np.cumsum(counts)[counts > 0] - 1
        if widths.min() == width:
            ends = (last_token + 1) * width - 1
        else:
            out = out[out != 0]
            ends = np.cumsum(widths)[last_token] - 1
        out[ends] = NEWLINE
        rows = out.tobytes().decode("ascii").split("\n")[:-1]
        if last_token.size < len(counts):  # only an empty sequence has no token
            filled = iter(rows)
            rows = [next(filled) if c else "" for c in counts.tolist()]
        return rows
