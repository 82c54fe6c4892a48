"""What every tokenizer shares: special tokens, base codes, the JSON file format.

Token ids 0-4 are the special tokens of every kind, then the five single
bases A C G T N (ids 5-9), then whatever the kind adds (k-mers, merged BPE
tokens). A tokenizer is one JSON file::

    {"format": "genotx-tokenizer", "version": 1, "kind": "kmer",
     "vocab": ["[PAD]", ..., "A", "C", ...], "specials": [...],
     "k": 6, "stride": 6, "merges": [], "training": {}}

`vocab` lists the token strings in id order; `merges` (BPE kinds) lists the
merged pairs as ``[left, right]`` token strings in rank order; `training`
records the input files, base pairs and seed of a trained tokenizer.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

import numpy as np

from genotx.errors import InputError
from genotx.io.atomic import write_json_atomic

from genotx.tokenizers.layout import BASES, CLS_ID, FIRST_BASE_ID, MASK_ID, PAD_ID, SEP_ID, SPECIALS, UNK_ID  # noqa: F401
FORMAT = "genotx-tokenizer"
VERSION = 1

# Base code of every byte: A C G T N -> 0 1 2 3 4 (lower case too, U as T and
# IUPAC ambiguity codes as N, as the reader normalises); anything else -> 255.
BASE_CODE = np.full(256, 255, dtype=np.uint8)
for _code, _bases in enumerate(("Aa", "Cc", "Gg", "TtUu", "NnRYSWKMBDHVryswkmbdhv")):
    for _b in _bases:
        BASE_CODE[ord(_b)] = _code
N_CODE = 4
_CODE_BYTES = BASE_CODE.tobytes()  # the same table for bytes.translate, which beats a numpy gather
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def revcomp(seq: str) -> str:
    """Reverse complement of a token or sequence string: ``revcomp("AACG") == "CGTT"``."""
    return seq.translate(_COMPLEMENT)[::-1]


def base_codes(seq: str) -> np.ndarray:
    """Codes 0-4 (A C G T N) of a sequence as read-only uint8, e.g. ``base_codes("ACn") -> [0, 1, 4]``.

    Raises InputError naming the first character that is not a base.
    """
    try:
        raw = seq.encode("ascii")
    except UnicodeEncodeError:
        raise InputError(f"sequence contains a non-ASCII character: {seq[:30]!r}") from None
    translated = raw.translate(_CODE_BYTES)
    codes = np.frombuffer(translated, dtype=np.uint8)
    if b"\xff" in translated:
        bad = translated.index(b"\xff")
        raise InputError(f"invalid character {seq[bad]!r} at position {bad + 1} of a sequence")
    return codes


def clean_sequence(seq: str) -> str:
    """The sequence upper case in A C G T N, unchanged (and not copied) when already so."""
    if not seq.encode("ascii", "replace").translate(None, b"ACGTN"):
        return seq
    return np.frombuffer(b"ACGTN", dtype=np.uint8)[base_codes(seq)].tobytes().decode("ascii")


class Tokenizer:
    """Common interface of every kind; subclasses implement `encode` and `_extra_dict`.

    Example::

        tok = build_tokenizer("kmer", k=3, stride=3)
        ids = tok.encode("ACGTA")          # ACG, T, A
        assert tok.decode(ids) == "ACGTA"
    """

    kind: str = ""

    def __init__(self, vocab: Sequence[str], training: dict | None = None):
        self.vocab = list(vocab)
        self.training = dict(training or {})
        self.index = {token: i for i, token in enumerate(self.vocab)}
        if len(self.index) != len(self.vocab):
            raise InputError("tokenizer vocabulary has duplicate tokens")
        self._strings = np.array(self.vocab, dtype=object)
        # Bases each token stands for; specials stand for none.
        self.token_lengths = np.array(
            [0 if i < FIRST_BASE_ID else len(t) for i, t in enumerate(self.vocab)], dtype=np.int64
        )

    # -- the interface ---------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, seq: str) -> np.ndarray:
        raise NotImplementedError

    def encode_batch(self, seqs: Iterable[str]) -> list[np.ndarray]:
        return [self.encode(s) for s in seqs]

    def encode_flat(self, seqs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All ids of a batch back to back, and the number of tokens of each sequence
        (what `encode_batch` gives, without one array per sequence)."""
        encoded = self.encode_batch(seqs)
        counts = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        return (np.concatenate(encoded) if encoded else np.zeros(0, dtype=np.int32)), counts

    def decode(self, ids) -> str:
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[ids >= FIRST_BASE_ID]
        return "".join(self._strings[ids])

    def offsets(self, seq: str) -> np.ndarray:
        lengths = self.token_lengths[self.encode(seq)]
        ends = np.cumsum(lengths)
        return np.stack([ends - lengths, ends], axis=1)

    def tokens(self, ids) -> list[str]:
        return list(self._strings[np.asarray(ids, dtype=np.int64)])

    @property
    def complement_ids(self) -> np.ndarray | None:
        return None

    def revcomp_ids(self) -> np.ndarray:
        """Id of each token's reverse complement, -1 where it is not in the vocabulary
        (specials map to themselves); defined for every kind, unlike `complement_ids`."""
        found = [self.index.get(revcomp(t), -1) for t in self.vocab[FIRST_BASE_ID:]]
        return np.array(list(range(FIRST_BASE_ID)) + found, dtype=np.int64)

    def rc_consistent(self, seqs: list[str]) -> np.ndarray:
        """Per sequence: are the tokens of its reverse complement the reverse-complemented
        tokens in reverse order? Example: always all True for rcbpe."""
        table = self.revcomp_ids()
        forward = self.encode_batch(seqs)
        reverse = self.encode_batch([revcomp(s) for s in seqs])
        return np.array([np.array_equal(table[f][::-1], r) for f, r in zip(forward, reverse)], dtype=bool)

    # -- files -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = {"format": FORMAT, "version": VERSION, "kind": self.kind, "specials": list(SPECIALS)}
        d.update(self._extra_dict())
        d["vocab"] = list(self.vocab)
        d["training"] = dict(self.training)
        return d

    def _extra_dict(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        """Rebuild a tokenizer from `to_dict` output; malformed input raises InputError."""
        from genotx.tokenizers import KINDS

        check_header(d)
        kind = d.get("kind")
        if kind not in KINDS:
            raise InputError(f"unknown tokenizer kind {kind!r} (expected one of {', '.join(KINDS)})")
        tok = KINDS[kind]._from_dict(d)
        if d.get("vocab") is not None and list(d["vocab"]) != tok.vocab:
            raise InputError("tokenizer vocabulary does not match its kind and settings")
        return tok

    @classmethod
    def _from_dict(cls, d: dict) -> "Tokenizer":
        raise NotImplementedError

    def save(self, path: str) -> None:
        """Write the JSON file atomically (temp file in the same folder, then rename)."""
        save_json(self.to_dict(), path)

    def __repr__(self) -> str:
        return f"<{self.kind} tokenizer, {self.vocab_size} tokens>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.to_dict() == other.to_dict()


def check_header(d: Any) -> None:
    if not isinstance(d, dict):
        raise InputError("tokenizer file must hold a JSON object")
    if d.get("format") != FORMAT:
        raise InputError(f"not a genotx tokenizer (format is {d.get('format')!r}, expected {FORMAT!r})")
    if d.get("version") != VERSION:
        raise InputError(f"unsupported tokenizer version {d.get('version')!r} (this genotx reads version {VERSION})")
    if list(d.get("specials", SPECIALS)) != list(SPECIALS):
        raise InputError(f"tokenizer special tokens must be {list(SPECIALS)}")


def field(d: dict, name: str, kind: type, default: Any = None) -> Any:
    """d[name] checked to be of `kind`; a clear InputError otherwise."""
    value = d.get(name, default)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InputError(f"tokenizer field {name!r} must be {kind.__name__}, got {value!r:.40}")
    return value


def save_json(d: dict, path: str) -> None:
    write_json_atomic(path, d)


def load_tokenizer(path: str) -> Tokenizer:
    """Read a tokenizer JSON file; any problem with it raises InputError naming the file.

    Example: ``tok = load_tokenizer("tok.json"); tok.encode("ACGT")``.
    """
    try:
        with open(path) as fh:
            d = json.load(fh)
    except FileNotFoundError:
        raise InputError(f"{path}: no such tokenizer file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read tokenizer ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    try:
        return Tokenizer.from_dict(d)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(f"{path}: malformed tokenizer ({type(exc).__name__}: {exc})") from None
