"""Checkpoints: a directory of JSON + safetensors, written atomically, read without unpickling.

    directory/config.json       {"format": "genotx-checkpoint", "model": cfg.to_dict(),
                                 "tokenizer": "tokenizer.json", "genotx_version": ..., "metadata": {...}}
    directory/model.safetensors  every weight, by its state_dict name
    directory/tokenizer.json     the tokenizer (genotx.tokenizers format)

The directory is built under a temporary name beside its destination and
renamed into place, so readers see the old checkpoint or the new one, never a
half-written one. Pickle-based files (.pt, .bin, .pth, .ckpt, .pkl) are refused:
unpickling runs arbitrary code.

Example::

    save_checkpoint("runs/dnabert", model, tokenizer, {"step": 1000})
    model, tokenizer, metadata = load_checkpoint("runs/dnabert")
"""

from __future__ import annotations

import json
import os

from genotx import __version__
from genotx.errors import InputError
from genotx.io.atomic import staged_directory
from genotx.io.outputs import FINETUNED, PRETRAINED, genotx_kind

FORMAT = "genotx-checkpoint"
CONFIG, WEIGHTS, TOKENIZER = "config.json", "model.safetensors", "tokenizer.json"
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle")
HF_REFUSED = ("a Hugging Face model directory; this command reads genotx checkpoints only (embed, ism, predict, "
              "motifs and finetune --from read Hugging Face directories)")


def save_checkpoint(directory: str, model, tokenizer, metadata: dict | None = None, extra_files=None) -> None:
    """Write model weights, configuration, tokenizer and JSON-serialisable metadata to `directory`.

    ``extra_files`` maps a file name to a function that writes that file at the
    path it is given, so companions of the weights land in the same atomic swap.
    `directory` may be new, empty, or a genotx checkpoint, which is replaced (the
    command line asks for --force first: `genotx.io.outputs`); a folder of other
    files is refused before anything is written. Files follow the umask
    (`genotx.io.atomic`).
    """
    from safetensors.torch import save_file

    config = {
        "format": FORMAT,
        "model": model.config.to_dict(),
        "tokenizer": TOKENIZER if tokenizer is not None else None,
        "genotx_version": __version__,
        "metadata": dict(metadata or {}),
    }
    try:
        config_text = json.dumps(config, indent=1, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise InputError(f"checkpoint metadata must be plain JSON (numbers, strings, lists, dicts): {exc}") from None
    kind = genotx_kind(directory) if os.path.isdir(directory) and os.listdir(directory) else None
    if os.path.lexists(directory) and kind not in (FINETUNED, PRETRAINED) and not _is_empty_folder(directory):
        raise InputError(f"{directory}: exists and is not a genotx checkpoint; a checkpoint is never written over it")
    with staged_directory(directory, replace=kind is not None) as tmp:
        weights = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
        save_file(weights, os.path.join(tmp, WEIGHTS), metadata={"format": "pt"})
        if tokenizer is not None:
            tokenizer.save(os.path.join(tmp, TOKENIZER))
        for name, write in (extra_files or {}).items():
            write(os.path.join(tmp, name))
        with open(os.path.join(tmp, CONFIG), "w") as fh:
            fh.write(config_text)


def _is_empty_folder(path: str) -> bool:
    return os.path.isdir(path) and not os.listdir(path)


def load_checkpoint(directory: str):
    """Read a checkpoint directory: (GenomicModel in eval mode, tokenizer or None, metadata dict)."""
    config, metadata = _checked_config(directory)
    model = _read_model(directory, config)
    tokenizer = None
    if config.get("tokenizer"):
        from genotx.tokenizers import load_tokenizer

        tokenizer = load_tokenizer(os.path.join(directory, str(config["tokenizer"])))
    return model, tokenizer, metadata


def read_metadata(directory: str) -> dict:
    """The metadata of a checkpoint, from its config.json alone: no weights are read."""
    return _checked_config(directory)[1]


def check_weights(directory: str) -> None:
    """Refuse a weights file that is missing or cut short, reading only its header (not the tensors)."""
    from safetensors import SafetensorError, safe_open

    path = os.path.join(directory, WEIGHTS)
    if not os.path.exists(path):
        raise InputError(f"{path}: missing; the checkpoint has no weights")
    try:
        with safe_open(path, framework="numpy"):
            pass
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: corrupt or unreadable safetensors file ({exc})") from None


def resolve_model_dir(path: str) -> str:
    """A checkpoint directory, or a pretraining run directory holding its final model in ``model/``."""
    if not os.path.exists(os.path.join(path, CONFIG)) and os.path.exists(os.path.join(path, "model", CONFIG)):
        return os.path.join(path, "model")
    return path


def _checked_config(directory: str) -> tuple[dict, dict]:
    _refuse_pickle(directory)
    if not os.path.isdir(directory):
        raise InputError(f"{directory}: no such checkpoint directory")
    config = _read_config(directory)
    metadata = config.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InputError(f"{os.path.join(directory, CONFIG)}: 'metadata' must be a JSON object")
    return config, metadata


def _refuse_pickle(path: str) -> None:
    def refuse(name: str) -> None:
        raise InputError(f"{name}: pickle-based weight files (.pt/.bin/...) are never loaded, because unpickling can run "
                         f"arbitrary code; a genotx checkpoint is a directory with {CONFIG} and {WEIGHTS} "
                         "(convert with safetensors.torch.save_file in a trusted session)")

    if path.lower().endswith(PICKLE_SUFFIXES) or (os.path.isfile(path) and _looks_pickled(path)):
        refuse(path)
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, WEIGHTS)):
        pickled = sorted(f for f in os.listdir(path) if f.lower().endswith(PICKLE_SUFFIXES))
        if pickled:
            refuse(os.path.join(path, pickled[0]))


def _looks_pickled(path: str) -> bool:
    """Pickle protocol 2+ starts with 0x80; torch's zip format with 'PK'."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
    except OSError:
        return False
    return head[:1] == b"\x80" or head == b"PK"


def _read_config(directory: str) -> dict:
    path = os.path.join(directory, CONFIG)
    try:
        with open(path) as fh:
            config = json.load(fh)
    except FileNotFoundError:
        raise InputError(f"{path}: missing; is {directory} a genotx checkpoint?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read checkpoint config ({exc})") from None
    if isinstance(config, dict) and "model_type" in config and config.get("format") != FORMAT:
        raise InputError(f"{directory}: {HF_REFUSED}")
    if not isinstance(config, dict) or config.get("format") != FORMAT or not isinstance(config.get("model"), dict):
        raise InputError(f"{path}: not a genotx checkpoint config (needs format {FORMAT!r} and a 'model' object)")
    return config


def _read_model(directory: str, config: dict):
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from genotx.models.config import ModelConfig
    from genotx.models.model import GenomicModel

    cfg = ModelConfig.from_dict(config["model"])
    path = os.path.join(directory, WEIGHTS)
    if not os.path.exists(path):
        raise InputError(f"{path}: missing; the checkpoint has no weights")
    try:
        weights = load_file(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: corrupt or unreadable safetensors file ({exc})") from None
    model = GenomicModel(cfg)
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise InputError(f"{path}: weights do not match config.json ({detail})")
    for name, tensor in weights.items():
        if tensor.shape != expected[name].shape:
            raise InputError(f"{path}: weight {name} is {tuple(tensor.shape)}, config.json implies {tuple(expected[name].shape)}")
    model.load_state_dict(weights, strict=True)
    return model.eval()
