"""Fine-tuning a Hugging Face encoder (DNABERT, the Nucleotide Transformer, ...) for a genotx task.

``genotx finetune --from HF_DIR``: the directory's encoder gets the sequence
classification head that transformers defines for its architecture (BERT: a
tanh layer on [CLS], then a linear layer; ESM: the same on <cls>), with the
task's classes as labels (one output for expression), and is trained by the
loop every genotx model is trained by (`genotx.train.finetune.train_head`:
AdamW, warm-up and cosine decay, inverse-frequency class weights, early
stopping, the best weights kept). Sequences are framed, tokenised and
windowed as inference reads them (`genotx.models.windows.adapter_sequence_logits`):
one longer than the model reads is the mean of its windows' logits, in
training as in prediction. Training runs in fp32 on ``device``.

The output directory is a Hugging Face model directory that transformers
loads as it is, with genotx's record beside it (written whole or not at all)::

    config.json, model.safetensors  the classifier as transformers saves it
                                    (*ForSequenceClassification, id2label = the classes)
    vocab.txt, tokenizer files      copied from HF_DIR
    genotx.json                     {"format": "genotx-hf-finetune", "task", "classes",
                                     "finetune", "source", "validation", target_mean/target_std}
    metrics.json                    as every fine-tuned model's

`genotx predict`, `ism --class`, `embed`, `motifs` and `finetune --from` read it.
Tasks: regulatory and expression. taxon (its k-mer memory and read simulator
are built around genotx checkpoints) and variant (a pair of windows in one
row, with genotx's separator token) are refused, as are the options that
change a genotx model's architecture.

Example::

    result = finetune_hf(FinetuneConfig(task="regulatory", steps=200, lr=5e-5), data, "model/", "dnabert6/")
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict

from genotx import __version__
from genotx.errors import InputError
from genotx.inference.batched import adapter_outputs
from genotx.io.atomic import staged_directory, write_json_atomic
from genotx.io.outputs import genotx_kind
from genotx.models.hf_load import FINETUNE_FORMAT, FINETUNE_RECORD, read_finetune_record
from genotx.models.windows import adapter_sequence_logits
from genotx.progress import info
from genotx.runtime import import_torch

TASKS = ("regulatory", "expression")
DEFAULT_LR = 5e-5  # the usual rate for fine-tuning a pretrained BERT whole; genotx's 1e-3 is for small fresh models
TOKENIZER_FILES = ("vocab.txt", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                   "special_tokens_map.json", "added_tokens.json", "tokenizer.model", "spiece.model")


def check_hf_finetune(task: str, given: dict, *, preset: str | None, tokenizer: str | None) -> None:
    """Refuse, before any data is read, what a Hugging Face encoder cannot be fine-tuned with."""
    if task not in TASKS:
        why = ("its k-mer memory and read simulator are built for genotx checkpoints" if task == "taxon"
               else "its (ref, alt) window pairs need genotx's separator token")
        raise InputError(f"--from a Hugging Face model directory fine-tunes regulatory or expression, not {task} ({why})")
    refused = {"--preset": preset, "--tokenizer": tokenizer, "--conv-stem": given.get("conv_stem"),
               "--strand-average": given.get("strand_average"), "--adapt-steps": given.get("adapt_steps") or None}
    named = [name for name, value in refused.items() if value is not None]
    if named:
        raise InputError(f"{named[0]} changes a genotx model; a Hugging Face encoder keeps its own tokens and layers")
    if given.get("pooling") not in (None, "cls"):
        raise InputError(f"--pooling {given['pooling']}: the Hugging Face classification head reads the first token "
                         "(cls); leave --pooling out")


def finetune_hf(cfg, data, out_dir: str, pretrained: str, *, device: str = "auto") -> dict:
    """Train a classification head on a Hugging Face encoder, save the directory described above; returns metrics."""
    torch = import_torch()
    from genotx.models.adapter import pick_device
    from genotx.models.hf import HfAdapter
    from genotx.train.finetune import evaluate_as_is, train_head

    torch.manual_seed(cfg.seed)
    source_record = read_finetune_record(pretrained)
    same = bool(source_record) and source_record["task"] == data.task and source_record.get("classes") == data.classes
    if cfg.steps == 0 and not same:
        raise InputError(f"--steps 0 keeps the weights of --from as they are, so it needs a model fine-tuned for task "
                         f"{data.task} with the same classes; {pretrained} is not one")
    adapter = HfAdapter.load(pretrained, dtype=torch.float32, device=pick_device(device), labels=data.classes or ["value"])
    adapter.record = {}  # training reads raw outputs; the source's scale (if any) is not this model's
    model = adapter.model
    source = f"{data.task} model {pretrained}" if same else f"Hugging Face {type(model.base_model).__name__} {pretrained}"
    info(f"fine-tuning {data.task} from {source}: {sum(p.numel() for p in model.parameters()):,} parameters, "
         f"{data.n_outputs} output(s), {len(data.valid_seqs)} validation sequences, on {adapter.device}")
    started = time.time()
    forward = (lambda seqs: adapter_sequence_logits(adapter, seqs))
    evaluate = (lambda seqs: adapter_outputs(adapter, seqs, batch_size=cfg.batch_size))
    if cfg.steps:
        best, history = train_head(cfg, data, model, forward, evaluate)
    else:
        best, history = evaluate_as_is(data, model, evaluate), []
    model.load_state_dict(best["state"])
    result = {"task": data.task, "best_step": best["step"], "validation": best["metrics"], "history": history,
              "wall_seconds": round(time.time() - started, 1), "source": source, "config": asdict(cfg),
              "genotx_version": __version__}
    record = {"format": FINETUNE_FORMAT, "task": data.task, "classes": data.classes, "finetune": asdict(cfg),
              "source": source, "validation": best["metrics"], "genotx_version": __version__, **data.metadata}
    if cfg.steps == 0:  # the weights are the source's: keep how they were trained
        record.update(finetune=source_record.get("finetune"), source=source_record.get("source"),
                      rebuilt={"from": str(pretrained), "finetune": asdict(cfg)})
    save_hf_classifier(out_dir, model, pretrained, record, result)
    return result


def save_hf_classifier(out_dir: str, model, pretrained: str, record: dict, result: dict) -> None:
    """The classifier, the source's tokenizer files, genotx.json and metrics.json, placed in one swap."""
    kind = genotx_kind(out_dir) if os.path.isdir(out_dir) and os.listdir(out_dir) else None
    with staged_directory(out_dir, replace=kind is not None) as tmp:
        model.save_pretrained(tmp)
        for name in TOKENIZER_FILES:
            if os.path.isfile(os.path.join(pretrained, name)):
                shutil.copyfile(os.path.join(pretrained, name), os.path.join(tmp, name))
        write_json_atomic(os.path.join(tmp, FINETUNE_RECORD), record, indent=1)
        write_json_atomic(os.path.join(tmp, "metrics.json"), result, indent=2)
