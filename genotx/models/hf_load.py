"""Checks on a Hugging Face model directory before transformers touches it.

What is refused, with one line that says why and what to do:

- pickled weights only (``pytorch_model.bin``): unpickling can run code; the
  message gives the conversion to safetensors, or ``--allow-pickle`` loads them;
- a config or tokenizer that names remote code (``auto_map``): refused unless
  ``--trust-remote-code``;
- a ``model_type`` that this transformers does not implement.

A directory written by ``genotx finetune --from HF_DIR`` is a Hugging Face
sequence classifier like any other, plus ``genotx.json`` (`FINETUNE_FORMAT`):
the task, the class names and how it was trained (`read_finetune_record`).

Nothing here imports transformers or torch; `offline_transformers` imports
transformers with the hub switched off first, so no network access is ever
attempted.

Example::

    if is_hf_dir("nt-50m"):
        config = check_hf_dir("nt-50m", allow_pickle=False, trust_remote_code=False)
"""

from __future__ import annotations

import json
import os

from genotx.errors import InputError

SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
PICKLED_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_CONFIG = "tokenizer_config.json"
FINETUNE_RECORD, FINETUNE_FORMAT = "genotx.json", "genotx-hf-finetune"


def _json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            value = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object")
    return value


def is_hf_dir(path: str) -> bool:
    """True for a directory whose config.json is a transformers config (model_type), not a genotx checkpoint."""
    config = os.path.join(path, "config.json")
    if not os.path.isfile(config):
        return False
    try:
        with open(config, encoding="utf-8") as fh:
            value = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(value, dict) and value.get("format") != "genotx-checkpoint" and "model_type" in value


def check_hf_dir(path: str, *, allow_pickle: bool, trust_remote_code: bool) -> dict:
    """The directory's config.json after the checks of the module docstring; InputError otherwise."""
    config = _json(os.path.join(path, "config.json"))
    files = set(os.listdir(path))
    if not files & set(SAFE_WEIGHTS):
        pickled = sorted(files & set(PICKLED_WEIGHTS)) or sorted(f for f in files if f.endswith((".bin", ".pt", ".pth")))
        if not pickled:
            raise InputError(f"{path}: Hugging Face model directory without weights (no model.safetensors)")
        if not allow_pickle:
            weights = os.path.join(path, pickled[0])
            raise InputError(
                f"{weights}: pickled weights are not loaded (unpickling can run code); convert them once in a trusted "
                f"session: python -c \"import torch, safetensors.torch as st; st.save_file(torch.load('{weights}', "
                f"weights_only=True), '{os.path.join(path, 'model.safetensors')}')\", or pass --allow-pickle")
    remote = [name for name in ("config.json", TOKENIZER_CONFIG)
              if os.path.isfile(os.path.join(path, name)) and _json(os.path.join(path, name)).get("auto_map")]
    if remote and not trust_remote_code:
        raise InputError(f"{os.path.join(path, remote[0])}: the model needs its own Python code (auto_map), which is "
                         "not run unless you pass --trust-remote-code (read the directory's .py files first)")
    if not remote:
        known = offline_transformers().CONFIG_MAPPING
        if config["model_type"] not in known:
            raise InputError(f"{path}: model_type {config['model_type']!r} is not implemented by the installed "
                             "transformers (and the directory ships no code for it)")
    return config


def read_finetune_record(path: str) -> dict | None:
    """The genotx.json of a directory written by genotx finetune, or None for any other directory."""
    record_path = os.path.join(path, FINETUNE_RECORD)
    if not os.path.isfile(record_path):
        return None
    record = _json(record_path)
    if record.get("format") != FINETUNE_FORMAT or not isinstance(record.get("task"), str):
        raise InputError(f"{record_path}: not a genotx fine-tuning record (needs format {FINETUNE_FORMAT!r} and a task)")
    return record


def offline_transformers():
    """The transformers module, imported with every hub access switched off and its progress bars quiet."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers
