"""Options shared by the subcommands that read any model (genotx checkpoint or Hugging Face directory)."""

from __future__ import annotations

import typer

MODEL_HELP = ("genotx checkpoint or pretraining run, or a Hugging Face model directory (config.json + "
              "model.safetensors; BERT with a k-mer vocabulary, ESM/Nucleotide Transformer, ...).")

PRECISION = typer.Option("auto", "--precision", help="auto (bf16 on CUDA and on CPUs with native bf16, else fp32), fp32 or bf16.")
DEVICE = typer.Option("auto", "--device", help="auto (CUDA when there is one), cpu or cuda[:N].")
ALLOW_PICKLE = typer.Option(False, "--allow-pickle",
                            help="Load a Hugging Face directory that has only pickled weights (pytorch_model.bin).")
TRUST_REMOTE_CODE = typer.Option(False, "--trust-remote-code",
                                 help="Run the Python code a Hugging Face directory ships (auto_map in its config).")


def load_options(precision: str, device: str, allow_pickle: bool, trust_remote_code: bool) -> dict:
    return {"precision": precision, "device": device, "allow_pickle": allow_pickle, "trust_remote_code": trust_remote_code}
