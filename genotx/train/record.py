"""The run record (run.json) and the compute estimate behind it.

Training compute follows Kaplan et al. 2020 (table 1): per token, the forward
pass costs 2·N multiply-adds-as-FLOPs for the N non-embedding parameters plus
2·n_layer·n_ctx·d_model for attention scores and the weighted sum; the
backward pass costs twice the forward. So

    flops = 6·N·D + 6·n_attn_layers·n_ctx·d_model·D

with D the tokens seen, n_ctx the mean tokens per window (the window size for
sliding-window attention) and n_attn_layers the layers whose mixer attends
(none for linear attention and Mamba, one in four for the default hybrid
pattern MMMA). Causal masking is not discounted, as in Kaplan et al.

Example::

    flops = training_flops(non_embedding=1.2e6, tokens=5e7, n_layers=6, d_model=256,
                           n_ctx=512, mixer="attention")
"""

from __future__ import annotations

import time

from genotx import __version__


def attention_layers(n_layers: int, mixer: str, hybrid_pattern: str = "MMMA") -> int:
    """How many of the layers compute an attention matrix."""
    if mixer in ("attention", "window"):
        return n_layers
    if mixer == "hybrid":
        return sum(hybrid_pattern[i % len(hybrid_pattern)] == "A" for i in range(n_layers))
    return 0


def training_flops(*, non_embedding: int, tokens: float, n_layers: int, d_model: int, n_ctx: float,
                   mixer: str, window: int = 128, hybrid_pattern: str = "MMMA") -> float:
    """6·N·D plus the attention term (see the module docstring)."""
    context = min(n_ctx, window) if mixer == "window" else n_ctx
    attn = attention_layers(n_layers, mixer, hybrid_pattern)
    return 6.0 * non_embedding * tokens + 6.0 * attn * context * d_model * tokens


def run_record(*, cfg, model_cfg, counts: dict, tokens: int, bases: int, n_ctx: float, evaluation: dict,
               steps: int, wall_s: float, world: int, inputs: list[str], extra: dict) -> dict:
    """The content of run.json; ``loss`` is nats per token, the scalar `genotx scaling-fit` reads."""
    model_dict = model_cfg.to_dict()
    flops = training_flops(
        non_embedding=counts["non_embedding"], tokens=tokens, n_layers=cfg.n_layers, d_model=cfg.d_model,
        n_ctx=n_ctx, mixer=cfg.mixer, window=cfg.window, hybrid_pattern=model_dict.get("hybrid_pattern", "MMMA"),
    )
    return {
        "params": counts["non_embedding"],
        "params_total": counts["total"],
        "tokens": tokens,
        "bases": bases,
        "flops": flops,
        "loss": evaluation["loss_per_token"],
        "loss_per_token": evaluation["loss_per_token"],
        "loss_per_base": evaluation["loss_per_base"],
        "baseline_loss": evaluation["baseline"],
        "baseline_losses": evaluation["baselines"],
        "losses": evaluation["parts"],
        "objective": cfg.objective,
        "steps": steps,
        "seed": cfg.seed,
        "world_size": world,
        "wall_time_s": round(wall_s, 3),
        "genotx_version": __version__,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "inputs": inputs,
        "config": cfg.to_dict(),
        "model": model_dict,
        **extra,
    }
