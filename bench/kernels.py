"""Attention and RoPE kernels side by side; prints tables of ratios.

With CUDA:  TFLOP/s of the Triton attention kernel, forward and forward+backward,
            vs F.scaled_dot_product_attention on its flash backend and vs the
            PyTorch reference; the cost of ALiBi, window and padding over plain
            attention; RoPE GB/s vs eager PyTorch and vs the copy bandwidth.
Without:    the overhead of `attention(..., backend="auto")` and `rope(...)` over
            calling SDPA / the reference directly (target: <= 5 %).

    python bench/kernels.py           # a few minutes at most
    python bench/kernels.py --full    # GPU: every sequence length 512 .. 16 k
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from genotx.ops.attention import alibi_slopes, attention, reference
from genotx.ops.rope import rope
from genotx.ops.rope import reference as rope_reference

DEVICE = "cuda"
NOMINAL_GBPS = {"H100 SXM": 3350, "H100 80GB HBM3": 3350, "H100 PCIe": 2000, "H200": 4800, "A100": 2039}


def print_table(title, header, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    print(f"\n{title}")
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).rjust(w) for x, w in zip(row, widths)))


# ---- CPU: dispatch overhead --------------------------------------------------------------


def cpu_seconds(fn, repeats=30, inner=1):
    """Fastest seconds per call over `repeats` rounds of `inner` calls.

    The minimum, not the mean: on a shared machine other work only ever adds time.
    """
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def interleaved(direct, dispatched, rounds=5):
    """Alternate the two so load from other processes hits both alike."""
    a, b = [], []
    for _ in range(rounds):
        a.append(cpu_seconds(direct))
        b.append(cpu_seconds(dispatched))
    return min(a), min(b)


def bench_cpu():
    torch.set_num_threads(1)  # the overhead is single-threaded Python; one thread keeps timings steady
    print(f"CPU, {torch.get_num_threads()} thread; no CUDA device, so no kernel timings "
          "(the GPU tables need a GPU and are not measured here)")
    rows = []
    for batch, heads, lq, lk, dim, causal in [(4, 8, 128, 128, 32, False), (4, 8, 128, 128, 32, True),
                                              (2, 8, 512, 512, 64, True), (8, 8, 1, 1024, 64, True)]:
        q = torch.randn(batch, heads, lq, dim)
        k, v = torch.randn(batch, heads, lk, dim), torch.randn(batch, heads, lk, dim)
        is_causal = causal and lq == lk

        def direct():
            return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)

        def dispatched():
            return attention(q, k, v, causal=causal)

        t_direct, t_auto = interleaved(direct, dispatched)
        name = f"attention B={batch} H={heads} Lq={lq} Lk={lk} D={dim}{' causal' if causal else ''}"
        rows.append([name, f"{t_direct * 1e3:.3f}", f"{t_auto * 1e3:.3f}",
                     f"{(t_auto / t_direct - 1) * 100:+.1f}%"])
    q, k = torch.randn(4, 8, 512, 64), torch.randn(4, 8, 512, 64)
    t_direct, t_auto = interleaved(lambda: rope_reference.rope(q, k, offset=7), lambda: rope(q, k, offset=7))
    rows.append(["rope B=4 H=8 L=512 D=64", f"{t_direct * 1e3:.3f}", f"{t_auto * 1e3:.3f}",
                 f"{(t_auto / t_direct - 1) * 100:+.1f}%"])
    tiny = torch.randn(1, 1, 1, 16)  # almost no arithmetic: what is left is the dispatch itself
    t_direct, t_auto = interleaved(lambda: F.scaled_dot_product_attention(tiny, tiny, tiny),
                                   lambda: attention(tiny, tiny, tiny))
    rows.append(["attention B=H=L=1 D=16: absolute cost", f"{t_direct * 1e3:.3f}", f"{t_auto * 1e3:.3f}",
                 f"+{(t_auto - t_direct) * 1e6:.0f} us"])
    print_table("dispatch overhead: backend='auto' vs calling the CPU path directly (target <= +5%)",
                ["call", "direct ms", "auto ms", "overhead"], rows)


# ---- GPU: throughput -----------------------------------------------------------------------


def gpu_ms(fn):
    from triton.testing import do_bench

    return do_bench(fn, warmup=25, rep=100)


def attention_flops(lq, lk, batch, heads, dim, **options):
    """Forward FLOPs of the (query, key) pairs the options allow: 2 matmuls of 2 flops each."""
    seqlens = options.get("seqlens")
    allowed = reference.allowed_keys(lq, lk, causal=options.get("causal", False),
                                     window=options.get("window", (-1, -1)), seqlens=seqlens,
                                     n_global=options.get("n_global", 0), device=DEVICE)
    pairs = allowed.sum().item() * (1 if seqlens is not None else batch)
    return 4.0 * pairs * heads * dim


def timed_attention(backend, q, k, v, options, backward):
    def forward():
        return attention(q, k, v, backend=backend, **options)

    if not backward:
        return gpu_ms(forward)
    out = forward()
    dout = torch.randn_like(out)
    return gpu_ms(lambda: torch.autograd.grad(forward(), (q, k, v), dout))


def sdpa_flash_ms(q, k, v, causal, backward):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def forward():
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    if not backward:
        return gpu_ms(forward)
    dout = torch.randn_like(q)
    return gpu_ms(lambda: torch.autograd.grad(forward(), (q, k, v), dout))


def inputs(length, dim, tokens=16384, model_dim=2048, dtype=torch.bfloat16):
    batch, heads = max(1, tokens // length), model_dim // dim
    return [torch.randn(batch, heads, length, dim, device=DEVICE, dtype=dtype, requires_grad=True)
            for _ in range(3)]


def bench_gpu_attention(lengths):
    rows = []
    for dim in (64, 128):
        for causal in (False, True):
            for length in lengths:
                q, k, v = inputs(length, dim)
                batch, heads = q.shape[:2]
                flops = attention_flops(length, length, batch, heads, dim, causal=causal)
                tf = lambda ms, factor=1.0: flops * factor / ms / 1e9  # noqa: E731  TFLOP/s
                fwd = timed_attention("triton", q, k, v, dict(causal=causal), False)
                sdpa = sdpa_flash_ms(q, k, v, causal, False)
                both = timed_attention("triton", q, k, v, dict(causal=causal), True)
                sdpa_both = sdpa_flash_ms(q, k, v, causal, True)
                ref = "-"
                if length <= 4096:  # the reference holds (B, H, L, L) scores
                    ref = f"{tf(timed_attention('reference', q, k, v, dict(causal=causal), False)):.1f}"
                rows.append([length, dim, "yes" if causal else "no", f"{tf(fwd):.1f}", f"{tf(sdpa):.1f}",
                             f"{sdpa / fwd:.2f}", ref, f"{tf(both, 3.5):.1f}", f"{tf(sdpa_both, 3.5):.1f}",
                             f"{sdpa_both / both:.2f}"])
                del q, k, v
    print_table("attention TFLOP/s, bf16, 16 k tokens x 2048 model dim per call "
                "(x SDPA = speed relative to SDPA-flash; target fwd >= 1.0 for L >= 2 k)",
                ["L", "D", "causal", "fwd", "sdpa fwd", "x sdpa", "ref fwd", "fwd+bwd", "sdpa f+b", "x sdpa"],
                rows)


def bench_gpu_features(length=4096, dim=64):
    q, k, v = inputs(length, dim)
    batch, heads = q.shape[:2]
    lengths = torch.randint(length // 2, length + 1, (batch,), device=DEVICE)
    variants = {
        "plain causal": dict(causal=True),
        "ALiBi causal": dict(causal=True, alibi_slopes=alibi_slopes(heads).to(DEVICE)),
        "window 256 causal": dict(causal=True, window=(256, 0)),
        "window 256 + 16 global": dict(window=(256, 256), n_global=16),
        "padded rows, causal": dict(causal=True, seqlens=lengths),
    }
    rows, plain = [], None
    for name, options in variants.items():
        flop_options = {key: val for key, val in options.items() if key != "alibi_slopes"}
        flops = attention_flops(length, length, batch, heads, dim, **flop_options)
        fwd = flops / timed_attention("triton", q, k, v, options, False) / 1e9
        both = 3.5 * flops / timed_attention("triton", q, k, v, options, True) / 1e9
        plain = plain or (fwd, both)
        rows.append([name, f"{fwd:.1f}", f"{(1 - fwd / plain[0]) * 100:+.0f}%", f"{both:.1f}",
                     f"{(1 - both / plain[1]) * 100:+.0f}%"])
    print_table(f"feature cost, L={length} D={dim} bf16: TFLOP/s over the allowed (query, key) pairs "
                "(cost = throughput lost vs plain causal; target <= 10%)",
                ["variant", "fwd", "cost", "fwd+bwd", "cost"], rows)


def bench_gpu_rope():
    rows = []
    name = torch.cuda.get_device_name()
    nominal = next((gbps for key, gbps in NOMINAL_GBPS.items() if key in name), None)
    for dtype in (torch.bfloat16, torch.float32):
        q = torch.randn(8, 16, 4096, 128, device=DEVICE, dtype=dtype)
        k = torch.randn(8, 16, 4096, 128, device=DEVICE, dtype=dtype)
        moved = 4 * q.numel() * q.element_size()  # read and write q and k
        gbps = lambda ms: moved / ms / 1e6  # noqa: E731
        fused = gpu_ms(lambda: rope(q, k, offset=11, backend="triton"))
        eager = gpu_ms(lambda: rope(q, k, offset=11, backend="reference"))
        copy = gpu_ms(lambda: (q.clone(), k.clone()))
        rows.append([str(dtype).removeprefix("torch."), f"{gbps(fused):.0f}", f"{gbps(eager):.0f}",
                     f"{eager / fused:.1f}", f"{gbps(fused) / gbps(copy) * 100:.0f}%",
                     f"{gbps(fused) / nominal * 100:.0f}%" if nominal else "-"])
    print_table(f"RoPE on q, k (8, 16, 4096, 128), {name} (targets: >= 80% of bandwidth, >= 5x eager)",
                ["dtype", "fused GB/s", "eager GB/s", "x eager", "of copy", "of nominal"], rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="GPU: sequence lengths 512 to 16 k")
    args = parser.parse_args()
    torch.manual_seed(0)
    if not torch.cuda.is_available():
        bench_cpu()
        return
    print(f"GPU: {torch.cuda.get_device_name()}")
    lengths = [512, 1024, 2048, 4096, 8192, 16384] if args.full else [512, 2048, 8192]
    bench_gpu_attention(lengths)
    bench_gpu_features()
    bench_gpu_rope()


if __name__ == "__main__":
    main()
