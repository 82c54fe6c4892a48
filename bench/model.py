"""Model speed: MLM training throughput vs Hugging Face BERT, and cost vs length per mixer.

(1) Tokens/s of masked-LM training (forward, loss, backward, AdamW step) of a
    6-layer d=256 encoder (8 heads, d_ff 1024, learned positions, dropout 0)
    against `transformers.BertForMaskedLM` of the same size, on the same
    batches in the same run; the two alternate step by step so that other load
    on the machine hits both alike, and the fastest step of each counts. Two
    vocabularies: overlapping 6-mers (4101 tokens, DNABERT) and single bases (10),
    at 1 and 2 torch threads. Target: >= 1.3x.
    Both take the same loss (mean cross-entropy at the masked positions) and its
    exact gradients, in float32 with the same AdamW. BERT computes every layer,
    its MLM transform and the logits at every position; genotx runs its last block
    only where the loss is taken (keys and values from all tokens; queries,
    attention output, MLP and tied logits at the masked positions: masked_only).
    The `work` column is BERT's floating-point operations per step over genotx's
    (matrix products and attention, forward and backward, counted by torch's
    FlopCounterMode): the speed ratio that kernels running equally fast give.
(2) Forward time and peak memory (no grad, batch 1, d=128, 2 layers) against
    sequence length for each mixer. Lengths stop at 4096 by default so the run
    takes a few minutes on a CPU; --full goes 512 -> 32768 (cells slower than
    the time budget skip the longer lengths). Peak memory is the rise of the
    process's peak resident set (Linux) or, on CUDA, of the allocator's peak.

    python bench/model.py [--full] [--steps 4] [--threads 1,2] [--batch 8] [--length 512]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import time

import torch
import torch.nn.functional as F

from genotx.models import GenomicModel, ModelConfig
from genotx.tokenizers import MASK_ID

MIXERS = ("attention", "linear", "window", "mamba", "hybrid")


# -- (1) MLM training throughput ---------------------------------------------------------------
def mlm_batch(vocab: int, batch: int, length: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, length), generator=g)
    masked = torch.rand(batch, length, generator=g) < 0.15
    inputs = ids.masked_fill(masked, MASK_ID)
    labels = ids.masked_fill(~masked, -100)
    return inputs, labels, masked, ids


def genotx_step(model, optimizer, inputs, labels, masked, ids):
    logits = model(inputs, logit_mask=masked, masked_only=True).logits  # only what the loss needs
    loss = F.cross_entropy(logits, ids[masked])
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def bert_step(model, optimizer, inputs, labels, masked, ids):
    loss = model(input_ids=inputs, labels=labels).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def step_flops(fn, model, optimizer, batch_tensors) -> int:
    """Floating-point operations of one training step: matrix products and attention (CPU SDPA included)."""
    from torch.utils import flop_counter

    ops = torch.ops.aten
    # torch counts SDPA's CUDA kernels only; the CPU kernel does the same products.
    cpu_sdpa = {
        ops._scaled_dot_product_flash_attention_for_cpu:
            lambda q, k, v, *args, **kwargs: flop_counter.sdpa_flop_count(q, k, v),
        ops._scaled_dot_product_flash_attention_for_cpu_backward:
            lambda grad, q, k, v, *args, **kwargs: flop_counter.sdpa_backward_flop_count(grad, q, k, v),
    }
    with flop_counter.FlopCounterMode(display=False, custom_mapping=cpu_sdpa) as counter:
        fn(model, optimizer, *batch_tensors)
    return counter.get_total_flops()


def throughput(vocab: int, batch: int, length: int, steps: int) -> dict:
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    ours = GenomicModel(ModelConfig(vocab_size=vocab, d_model=256, n_layers=6, n_heads=8, d_ff=1024,
                                    pe="learned", max_len=length, dropout=0.0)).train()
    bert = BertForMaskedLM(BertConfig(vocab_size=vocab, hidden_size=256, num_hidden_layers=6, num_attention_heads=8,
                                      intermediate_size=1024, max_position_embeddings=length,
                                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)).train()
    runs = {"genotx": (ours, genotx_step), "bert": (bert, bert_step)}
    optimizers = {name: torch.optim.AdamW(model.parameters(), lr=1e-4) for name, (model, _) in runs.items()}
    flops = {name: step_flops(fn, model, optimizers[name], mlm_batch(vocab, batch, length, seed=0))
             for name, (model, fn) in runs.items()}  # also the warm-up step
    seconds = {name: float("inf") for name in runs}
    for step in range(1, steps + 1):
        batch_tensors = mlm_batch(vocab, batch, length, seed=step)
        for name, (model, fn) in runs.items():
            start = time.perf_counter()
            fn(model, optimizers[name], *batch_tensors)
            # fastest step: other load on a shared machine only ever adds time
            seconds[name] = min(seconds[name], time.perf_counter() - start)
    tokens = batch * length
    return {
        "vocab": vocab,
        "genotx": tokens / seconds["genotx"], "bert": tokens / seconds["bert"],
        "work": flops["bert"] / flops["genotx"],
        "params_genotx": sum(p.numel() for p in ours.parameters()),
        "params_bert": sum(p.numel() for p in bert.parameters()),
    }


# -- (2) forward cost vs length ------------------------------------------------------------------
class PeakMemory:
    """Peak bytes above the starting point during a block: CUDA allocator, else Linux peak RSS."""

    def __init__(self, device: torch.device):
        self.device = device
        if device.type == "cpu":
            try:  # return every block >= 64 kB to the OS on free, so the resident set follows live tensors
                libc = ctypes.CDLL("libc.so.6")
                libc.mallopt(-3, 65536)  # M_MMAP_THRESHOLD (also turns off its dynamic adjustment)
                self.trim = lambda: libc.malloc_trim(0)
            except OSError:
                self.trim = lambda: None

    def __enter__(self):
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
        else:
            self.trim()
            try:
                with open("/proc/self/clear_refs", "w") as fh:
                    fh.write("5")  # reset the peak resident set to the current one
                self.start = _status_kb("VmRSS") * 1024
            except OSError:
                self.start = None
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.start
        else:
            self.peak = _status_kb("VmHWM") * 1024 - self.start if self.start is not None else float("nan")


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(field)


def forward_cost(mixer: str, length: int, device: torch.device) -> tuple[float, float]:
    cfg = ModelConfig(vocab_size=10, d_model=128, n_layers=2, n_heads=4, mixer=mixer, hybrid_pattern="MA",
                      window=128, pe="rope")
    torch.manual_seed(0)
    model = GenomicModel(cfg).to(device).eval()
    ids = torch.randint(5, 9, (1, length), device=device)
    with torch.no_grad():
        model(ids[:, :256])  # warm-up (kernel selection, lazy imports)
        with PeakMemory(device) as memory:
            model(ids)
        seconds = float("inf")
        for _ in range(2):  # best of two: other load on a shared machine only ever adds time
            start = time.perf_counter()
            model(ids)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds = min(seconds, time.perf_counter() - start)
    return seconds, memory.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="lengths 512 -> 32768 and more training steps")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps per model, the fastest counts (default 4, --full 8)")
    parser.add_argument("--threads", default="1,2", help="torch thread counts of the training comparison, comma-separated (default 1,2)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=512)
    args = parser.parse_args()
    steps = args.steps or (8 if args.full else 4)
    thread_counts = [int(n) for n in args.threads.split(",")]
    default_threads = torch.get_num_threads()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"# training on cpu, length sweep on {device} ({default_threads} threads)")

    print(f"\n## MLM training, batch {args.batch} x {args.length} tokens, fastest of {steps} steps each (tokens/s)")
    print("threads\tvocab\tgenotx\tbert\tratio\twork\tparams_genotx\tparams_bert")
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for vocab in (4101, 10):
            r = throughput(vocab, args.batch, args.length, steps)
            print(f"{threads}\t{r['vocab']}\t{r['genotx']:.0f}\t{r['bert']:.0f}\t{r['genotx'] / r['bert']:.2f}x\t"
                  f"{r['work']:.2f}x\t{r['params_genotx']}\t{r['params_bert']}", flush=True)
    torch.set_num_threads(default_threads)

    lengths = [512 * 2 ** i for i in range(7 if args.full else 4)]
    budget = 120.0 if args.full else 20.0
    print(f"\n## forward, batch 1, d=128, 2 layers: seconds / peak MiB (time ratio to the previous length)")
    print("mixer\t" + "\t".join(str(n) for n in lengths))
    for mixer in MIXERS:
        cells, previous = [], None
        for length in lengths:
            if previous is not None and previous[0] > budget / 4:
                cells.append("skipped")
                continue
            seconds, peak = forward_cost(mixer, length, device)
            ratio = f" ({seconds / previous[0]:.1f}x)" if previous else ""
            cells.append(f"{seconds:.3f}s/{peak / 2 ** 20:.0f}MiB{ratio}")
            previous = (seconds, peak)
        print(mixer + "\t" + "\t".join(cells), flush=True)


if __name__ == "__main__":
    main()
