"""Embedding throughput: genotx embed's path vs a plain transformers loop, on the same Hugging Face directory.

Two random-weight checkpoints of a 6-layer, d=256 model (4 heads, FFN 1024)
are written under /tmp by transformers: DNABERT-like (BertForMaskedLM, 6-mer
vocabulary) and Nucleotide-Transformer-like (EsmForMaskedLM, 6-mers + bases).
The input is --n sequences of 50-500 bp (uniform), in random order, as reads
or peaks come.

``transformers`` is the loop a user writes: the directory's tokenizer on each
batch of --batch-size sequences in input order (DNABERT: the space-separated
overlapping 6-mers), padding to the batch's longest, the model under
``torch.no_grad``, the mean of the last hidden states over the non-special
tokens. ``genotx`` is `genotx.inference.embed.embed_sequences`, which
tokenises from the vocabulary with numpy, sorts the batch by length and runs
under ``torch.inference_mode`` (bf16 where the CPU has native bf16; fp32
here otherwise, see the precision column). Both give the same vectors: the
largest difference is printed (fp32).

Each path runs --repeat times after one warm-up; the best time is kept.

    python bench/embed.py                 # 2 threads, 512 sequences
    python bench/embed.py --n 128         # quicker
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))


def user_loop(path: str, seqs: list[str], batch_size: int, kmer: bool):
    """Embeddings the way the model cards show: tokenizer + model per batch, mean over real tokens."""
    import torch
    from model_dirs import bert_tokens, transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModelForMaskedLM.from_pretrained(path).eval()

    def run():
        out = []
        for start in range(0, len(seqs), batch_size):
            batch = seqs[start : start + batch_size]
            texts = [bert_tokens(s) for s in batch] if kmer else batch
            encoded = tokenizer(texts, return_tensors="pt", padding=True, return_special_tokens_mask=True)
            with torch.no_grad():
                hidden = model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"],
                               output_hidden_states=True).hidden_states[-1]
            real = (encoded["attention_mask"].bool() & ~encoded["special_tokens_mask"].bool()).unsqueeze(-1)
            out.append(((hidden * real).sum(1) / real.sum(1)).numpy())
        import numpy as np

        return np.concatenate(out)

    return run


def genotx_path(path: str, seqs: list[str], batch_size: int, precision: str):
    from genotx.inference.embed import EmbedOptions, embed_sequences
    from genotx.models.adapter import load_adapter

    adapter = load_adapter(path, precision=precision, device="cpu")
    return lambda: embed_sequences(adapter, seqs, EmbedOptions(batch_size=batch_size))


def best_time(run, repeat: int):
    result = run()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import numpy as np
    import torch

    from genotx.runtime import cpu_has_bf16
    from genotx.runtime import settings
    from model_dirs import bert_kmer_dir, esm_nt_dir

    torch.set_num_threads(args.threads)
    settings.threads = args.threads
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in rng.integers(50, 501, args.n)]
    dims = dict(layers=6, d=256)
    models = {"dnabert-like": (bert_kmer_dir("/tmp/genotx-bench-embed/bert", max_len=512, **dims), True),
              "nt-like": (esm_nt_dir("/tmp/genotx-bench-embed/esm", max_len=512, **dims), False)}
    auto = "bf16" if cpu_has_bf16() else "fp32"
    print(f"# {args.n} sequences of 50-500 bp, batch {args.batch_size}, {args.threads} threads, "
          f"best of {args.repeat}; CPU native bf16: {cpu_has_bf16()}")
    print("model\tpath\tprecision\tseqs_per_s\tratio\tmax_abs_diff")
    for name, (path, kmer) in models.items():
        base_time, base = best_time(user_loop(path, seqs, args.batch_size, kmer), args.repeat)
        print(f"{name}\ttransformers\tfp32\t{args.n / base_time:.1f}\t1.00\t-", flush=True)
        for precision in dict.fromkeys(["fp32", auto]):
            seconds, ours = best_time(genotx_path(path, seqs, args.batch_size, precision), args.repeat)
            diff = f"{np.abs(ours - base).max():.1e}"
            print(f"{name}\tgenotx\t{precision}\t{args.n / seconds:.1f}\t{base_time / seconds:.2f}\t{diff}", flush=True)


if __name__ == "__main__":
    main()
