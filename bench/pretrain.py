"""Training throughput of `genotx pretrain`: tokens/s per objective and per mixer, fp32 vs bf16, peak RSS.

Every configuration runs in its own process (so peak RSS is its own) on the
shipped S. aureus slice with a 6-layer, d=256 model, char tokens, batch 8 x
256 bp: one warm-up step, then timed optimiser steps (data preparation,
forward, backward, AdamW). Prints a table with ratios against mlm/attention/fp32.

    python bench/pretrain.py            # a few minutes on 2 CPU cores
    python bench/pretrain.py --full     # more steps, longer windows
    python bench/pretrain.py --limit 600  # let slow mixers (mamba's CPU scan) finish
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Keep bench/ off the import path: a script there named like a standard module would shadow it.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.join(ROOT, "bench")]
sys.path.insert(0, ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
GENOME = os.path.join(ROOT, "examples", "pretrain_saureus.fa.gz")
TRACKS = os.path.join(ROOT, "examples", "pretrain_tracks.tsv")
OBJECTIVES = ["mlm", "ar", "contrastive", "multitask", "mlm+contrastive"]
MIXERS = ["attention", "linear", "window", "mamba", "hybrid"]


def one(objective: str, mixer: str, bf16: bool, steps: int, seq_len: int) -> dict:
    """Time `steps` training steps of one configuration in this process."""
    import torch

    from genotx.models import GenomicModel
    from genotx.objectives import build_objective
    from genotx.train.config import TrainConfig
    from genotx.io.genome import load_genome
    from genotx.objectives.windows import GenomeSplit, step_rng
    from genotx.train.loop import _loss_module, _optimizer
    from genotx.train.setup import make_tokenizer, model_config

    cfg = TrainConfig(objective=objective, mixer=mixer, d_model=256, n_layers=6, n_heads=8, seq_len=seq_len,
                      batch_size=8, bf16=bf16, annotations=TRACKS if objective == "multitask" else None)
    split = GenomeSplit(load_genome([GENOME]), seq_len=seq_len, eval_fraction=0.05)
    tok = make_tokenizer("char", split, "/tmp", 0)
    obj = build_objective(objective, tokenizer=tok, split=split, annotations=cfg.annotations)
    torch.manual_seed(0)
    model = GenomicModel(model_config(cfg, tok, causal=obj.causal))
    module = _loss_module(model, obj.heads(cfg.d_model), obj)
    opt = _optimizer(torch, module, cfg)
    tokens = 0
    start = None
    for step in range(steps + 1):
        if step == 1:  # the first step pays for lazy initialisation
            start, tokens = time.perf_counter(), 0
        w = split.train_windows(seed=0, step=step, batch_size=cfg.batch_size, both_strands=obj.both_strands)
        batch = obj.prepare(w.codes, step_rng(0, step, 1), offsets=w.offsets)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            parts = module(batch)
        parts.total.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += parts.tokens
    elapsed = time.perf_counter() - start
    return {"tokens_per_s": tokens / elapsed, "step_s": elapsed / steps,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(objective: str, mixer: str, bf16: bool, steps: int, seq_len: int, limit: float) -> dict:
    cmd = [sys.executable, __file__, "--one", objective, mixer, str(int(bf16)), str(steps), str(seq_len)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return {"error": f"over {limit:.0f} s"}
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": tail[:60]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="10 timed steps of 1 kb windows")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds allowed per configuration")
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        objective, mixer, bf16, steps, seq_len = args.one
        print(json.dumps(one(objective, mixer, bf16 == "1", int(steps), int(seq_len))))
        return
    steps, seq_len = (10, 1024) if args.full else (3, 256)
    grid = [(o, "attention") for o in OBJECTIVES] + [("mlm", m) for m in MIXERS[1:]]
    results = {}
    for objective, mixer in grid:
        for bf16 in (False, True):
            results[objective, mixer, bf16] = run_child(objective, mixer, bf16, steps, seq_len, args.limit)
    ref = results["mlm", "attention", False].get("tokens_per_s")  # None when the reference failed
    print(f"# pretrain throughput: 6 layers, d=256, batch 8 x {seq_len} bp char tokens, {steps} timed steps, "
          f"{os.cpu_count()} CPU(s), torch threads default")
    print("objective\tmixer\tfp32_tok_s\tbf16_tok_s\tbf16/fp32\tfp32/ref\tpeak_rss_fp32_mb\tpeak_rss_bf16_mb")
    for objective, mixer in grid:
        a, b = results[objective, mixer, False], results[objective, mixer, True]
        print("\t".join([objective, mixer, _cell(a, "tokens_per_s"), _cell(b, "tokens_per_s"),
                         _ratio(b, a), _ratio(a, {"tokens_per_s": ref} if ref else {}),
                         _cell(a, "peak_rss_mb"), _cell(b, "peak_rss_mb")]))


def _cell(result: dict, key: str) -> str:
    return f"{result[key]:.0f}" if key in result else f"({result.get('error', 'failed')})"


def _ratio(top: dict, bottom: dict) -> str:
    if "tokens_per_s" in top and "tokens_per_s" in bottom:
        return f"{top['tokens_per_s'] / bottom['tokens_per_s']:.2f}"
    return "NA"


if __name__ == "__main__":
    main()
