"""Resumable training checkpoints: the model-core checkpoint plus the optimiser and run state.

``RUN/checkpoints/step-00000100/`` holds what `genotx.models.save_checkpoint`
writes (config.json, model.safetensors, tokenizer.json; loadable by
`load_checkpoint`, `generate` and `finetune`) plus ``train_state.safetensors``
(objective heads and AdamW moments) and ``train_state.json`` (step, counters,
optimiser hyper-parameters). The directory is assembled under a temporary name
and renamed into place, so a crash leaves either the whole checkpoint or none.
No RNG state needs saving: every random draw of step s is made from
generators seeded by (seed, step, rank), so resuming at s replays exactly.

Example::

    save_training_checkpoint(run_dir, step=100, model=m, heads=h, optimizer=opt, tokenizer=tok,
                             metadata={...}, state={...}, keep=3)
"""

from __future__ import annotations

import json
import os
import shutil

from genotx.errors import InputError
from genotx.io.atomic import give_default_permissions

PREFIX = "step-"


def checkpoint_dir(run_dir: str, step: int) -> str:
    return os.path.join(run_dir, "checkpoints", f"{PREFIX}{step:08d}")


def list_checkpoints(run_dir: str) -> list[str]:
    """Complete checkpoints of a run, oldest first (half-written temporary ones are ignored)."""
    root = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(root):
        return []
    names = sorted(n for n in os.listdir(root) if n.startswith(PREFIX) and n[len(PREFIX):].isdigit())
    return [os.path.join(root, n) for n in names if os.path.exists(os.path.join(root, n, "train_state.json"))]


def _optimizer_tensors(optimizer) -> tuple[dict, dict]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if hasattr(value, "shape"):
                tensors[f"optim.{index}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def save_training_checkpoint(run_dir, *, step, model, heads, optimizer, tokenizer, metadata, state, keep) -> str:
    """Write checkpoint ``step`` atomically and delete all but the newest ``keep``."""
    from safetensors.torch import save_file

    from genotx.models import save_checkpoint

    final = checkpoint_dir(run_dir, step)
    tmp = os.path.join(os.path.dirname(final), f".tmp-{os.path.basename(final)}-{os.getpid()}")
    root = os.path.dirname(final)
    os.makedirs(root, exist_ok=True)
    for name in os.listdir(root):  # leftovers of a run killed while saving
        if ".tmp-" in name:
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    save_checkpoint(tmp, model, tokenizer, metadata)
    tensors, optim_json = _optimizer_tensors(optimizer)
    tensors.update({f"heads.{k}": v.detach().contiguous().cpu() for k, v in heads.state_dict().items()})
    save_file(tensors, os.path.join(tmp, "train_state.safetensors"))
    with open(os.path.join(tmp, "train_state.json"), "w") as f:
        json.dump({**state, "step": step, "optimizer": optim_json}, f, indent=1)
    give_default_permissions(tmp)  # safetensors writes private files; a run is read by others too
    if os.path.exists(final):
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_training_checkpoint(path: str, *, model, heads, optimizer) -> dict:
    """Restore model, heads and optimiser in place from checkpoint ``path``; return its train_state.json."""
    from safetensors.torch import load_file

    from genotx.models import load_checkpoint

    try:
        with open(os.path.join(path, "train_state.json")) as f:
            state = json.load(f)
        tensors = load_file(os.path.join(path, "train_state.safetensors"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable training checkpoint ({exc})") from None
    saved_model, _, _ = load_checkpoint(path)
    model.load_state_dict(saved_model.state_dict())
    heads.load_state_dict({k[len("heads."):]: v for k, v in tensors.items() if k.startswith("heads.")})
    optim_json = state.pop("optimizer")
    slots: dict = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            slots.setdefault(int(index), {})[name] = value
    for key, value in optim_json["scalars"].items():
        index, name = key.split(".", 1)
        slots.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": slots, "param_groups": optim_json["param_groups"]})
    return state
