"""Where a command may write: never over a user's files.

Each output of genotx has a kind, recognisable from its content:

- ``fine-tuned model``: a folder whose config.json has format ``genotx-checkpoint``
  and a task in its metadata, or a Hugging Face directory with the genotx.json
  of ``genotx finetune --from HF_DIR`` (`genotx finetune -o`); ``pretrained model``
  a genotx checkpoint without a task;
- ``pretraining run``: a folder with run.json, train_config.json, checkpoints/, or the
  sweep.json that `genotx scaling-sweep` puts in a run's folder before it starts (`genotx pretrain -o`);
- ``scaling sweep``: a folder whose sub-folders hold sweep.json (`genotx scaling-sweep -o`);
- ``grid``: a folder with grid.json (`genotx grid -o`);
- ``tokenizer``: a JSON file with format ``genotx-tokenizer`` (`genotx tokenize --train -o`);
- ``MEME motifs``: a MEME file whose motifs are all named after attention heads
  (`genotx motifs --meme`); ``motif logos``: a folder of motifN.png only (`--logo`);
- ``embeddings matrix``: a .npy or .safetensors matrix beside its ids file NAME.ids.tsv,
  whose first line is the ``#genotx`` provenance of `genotx embed -o`; both are
  checked, and replaced together.

`check_output` is called before any work starts, so that a long training run is
not lost to a refusal at its end: a missing path or an empty folder may be
written; an existing output of the same kind only with ``--force`` (or resumed,
for outputs that resume); anything else (a folder of other files, another
kind, the current directory or one above it) is refused with a usage error
naming the path. Example: ``check_output("model/", FINETUNED, force=False)``.
"""

from __future__ import annotations

import json
import os
import re

from genotx.errors import InputError

FINETUNED, PRETRAINED, RUN = "fine-tuned model", "pretrained model", "pretraining run"
SWEEP, GRID, TOKENIZER, MEME, LOGOS = "scaling sweep", "grid", "tokenizer", "MEME motifs", "motif logos"
EMBEDDINGS = "embeddings matrix"
FILE_KINDS = (TOKENIZER, MEME, EMBEDDINGS)
HF_FINETUNE_RECORD, HF_FINETUNE_FORMAT = "genotx.json", "genotx-hf-finetune"  # as genotx.models.hf_load writes

NEW, EMPTY, EXISTING = "new", "empty", "existing"


def _json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            value = json.load(fh)
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError, UnicodeDecodeError):
        return {}


def _is_genotx_meme(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(1 << 20)
    except (OSError, UnicodeDecodeError):
        return False
    motifs = re.findall(r"^MOTIF .*$", text, flags=re.M)
    return text.startswith("MEME version") and all(re.search(r" layer\d+_head\d+$", m) for m in motifs)


def _is_genotx_embeddings(path: str) -> bool:
    """A .npy / .safetensors matrix with the ids file genotx embed writes beside it."""
    from genotx.io.matrix import ids_path

    suffix = os.path.splitext(path)[1]
    if suffix not in (".npy", ".safetensors"):
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
        with open(ids_path(path), encoding="utf-8") as fh:
            first, header = fh.readline(), fh.readline()
    except (OSError, UnicodeDecodeError):
        return False
    matrix = head.startswith(b"\x93NUMPY") if suffix == ".npy" else b'{"embeddings":' in head[8:]
    return matrix and re.match(r"#genotx \S+ (.* )?embed( |$)", first) is not None \
        and header.rstrip("\n") == "id"


def genotx_kind(path: str) -> str | None:
    """The kind of genotx output at `path` (see the module docstring), or None."""
    if os.path.isdir(path):
        config = _json(os.path.join(path, "config.json"))
        if config.get("format") == "genotx-checkpoint":
            return FINETUNED if (config.get("metadata") or {}).get("task") else PRETRAINED
        if "model_type" in config and _json(os.path.join(path, HF_FINETUNE_RECORD)).get("format") == HF_FINETUNE_FORMAT:
            return FINETUNED
        if any(os.path.isfile(os.path.join(path, name)) for name in ("run.json", "train_config.json", "sweep.json")) \
                or os.path.isdir(os.path.join(path, "checkpoints")):
            return RUN
        if os.path.isfile(os.path.join(path, "grid.json")):
            return GRID
        try:
            names = os.listdir(path)
        except OSError:
            return None
        if any(os.path.isfile(os.path.join(path, name, "sweep.json")) for name in names):
            return SWEEP
        if names and all(re.fullmatch(r"motif\d+\.png", name) for name in names):
            return LOGOS
        return None
    if os.path.isfile(path):
        if path.endswith(".json") or _json(path):
            if _json(path).get("format") == "genotx-tokenizer":
                return TOKENIZER
        if _is_genotx_meme(path):
            return MEME
        if _is_genotx_embeddings(path):
            return EMBEDDINGS
    return None


def _holds_cwd(path: str) -> bool:
    """True for the current directory and every folder above it."""
    here, target = os.path.realpath(os.getcwd()), os.path.realpath(path)
    return here == target or here.startswith(target.rstrip(os.sep) + os.sep)


def check_output(path: str, kind: str, *, force: bool = False, resumable: bool = False, option: str = "-o") -> str:
    """How `path` may take an output of `kind`: NEW, EMPTY (a folder to fill) or EXISTING.

    EXISTING (an output of the same kind) needs `force` to be replaced, unless the
    output is `resumable`. Everything else raises an `InputError` naming `path`.
    """
    folder = kind not in FILE_KINDS
    if kind == EMBEDDINGS:
        from genotx.io.matrix import ids_path

        if not os.path.lexists(path) and os.path.lexists(ids_path(path)):
            raise InputError(f"{ids_path(path)}: exists; {option} {path} writes its ids there, and genotx never "
                             f"writes over a file it did not write with them: give {option} another name")
    if not os.path.lexists(path):
        return NEW
    if folder and not os.path.isdir(path):
        raise InputError(f"{path}: exists and is not a directory; {option} needs a new or empty directory")
    if not folder and os.path.isdir(path):
        raise InputError(f"{path}: is a directory; {option} needs a file name")
    if folder:
        try:
            if not os.listdir(path):
                return EMPTY
        except OSError as exc:
            raise InputError(f"{path}: cannot list ({exc.strerror or exc})") from None
    found = genotx_kind(path)
    if found is None:
        if folder:
            raise InputError(f"{path}: holds files that genotx did not write; genotx never writes over them: "
                             f"give {option} a new or empty directory")
        raise InputError(f"{path}: exists and was not written by genotx; genotx never writes over it: "
                         f"give {option} a new file name")
    if found != kind:
        raise InputError(f"{path}: holds a genotx {found}, not a {kind}; give {option} another path")
    if resumable:
        return EXISTING
    if not force:
        raise InputError(f"{path}: already holds a genotx {kind}; add --force to replace it")
    if folder and _holds_cwd(path):
        raise InputError(f"{path}: is the current directory or above it; genotx will not replace it, "
                         f"give {option} another directory")
    return EXISTING
