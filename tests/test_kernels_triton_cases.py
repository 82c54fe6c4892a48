"""Triton kernels against the float64 reference: outputs and every gradient.

These cases run on a CUDA device when there is one. Without one they run on
the CPU in the Triton interpreter, which must be switched on before the kernel
modules are imported: tests/test_kernels_interpreter.py starts this file in its
own pytest process with TRITON_INTERPRET=1. The interpreter's bfloat16 `tl.dot`
is wrong, so bfloat16 and long sequences are GPU-only (marked `gpu`).

Tolerance rule (the same for outputs and gradients): with `truth` the
reference computed in float64 from the same inputs,

    max|kernel - truth|  <=  FACTOR * max|reference_in_dtype - truth|  +  FLOOR

i.e. the kernel may be at most twice as wrong as eager PyTorch in the same
dtype. The floor covers cases where eager PyTorch happens to be almost exact:

    dtype       FACTOR   FLOOR   why the floor
    float32     2        1e-5    ~100 float32 ulps at 1: summation order of a tiled softmax
    float16     2        1e-3    one float16 ulp at 1 (2^-10)
    bfloat16    2        8e-3    one bfloat16 ulp at 1 (2^-7)
"""

import os

import pytest
import torch

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
if not INTERPRET and not torch.cuda.is_available():
    pytest.skip("runs on CUDA, or on the CPU via test_kernels_interpreter.py (TRITON_INTERPRET=1)",
                allow_module_level=True)

from genotx.ops.attention import alibi_slopes, attention  # noqa: E402
from genotx.ops.rope import rope  # noqa: E402

DEVICE = "cpu" if INTERPRET else "cuda"
TOLERANCE = {  # dtype: (FACTOR, FLOOR), see the module docstring
    torch.float32: (2.0, 1e-5),
    torch.float16: (2.0, 1e-3),
    torch.bfloat16: (2.0, 8e-3),
}
gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

# name: (Lq, Lk, head_dim, options). L = 37 spans three 16-row interpreter blocks with a tail.
CASES = {
    "plain": (37, 37, 32, {}),
    "causal": (37, 37, 32, dict(causal=True)),
    "softmax_scale": (37, 37, 32, dict(softmax_scale=0.3)),
    "alibi": (37, 37, 32, dict(alibi=True)),
    "alibi_causal": (37, 37, 32, dict(alibi=True, causal=True)),
    "window": (37, 37, 32, dict(window=(5, 3))),
    "window_left_causal": (40, 40, 32, dict(window=(9, -1), causal=True)),
    "window_right_only": (37, 37, 32, dict(window=(-1, 4))),
    "window_global": (37, 37, 32, dict(window=(4, 4), n_global=3)),
    "window_global_causal_wide": (48, 48, 32, dict(window=(6, 0), n_global=18, causal=True)),
    "seqlens": (37, 37, 32, dict(seqlens=[37, 11])),
    "seqlens_empty_row": (37, 37, 32, dict(seqlens=[0, 30], causal=True)),
    "seqlens_alibi_causal": (37, 37, 32, dict(seqlens=[20, 33], alibi=True, causal=True)),
    "decode": (5, 40, 32, dict(causal=True)),
    "decode_one_token": (1, 37, 32, dict(causal=True, alibi=True, window=(8, 0))),
    "decode_everything": (20, 45, 32, dict(seqlens=[45, 30], window=(7, 2), n_global=2, alibi=True)),
    "everything": (37, 37, 32, dict(causal=True, alibi=True, window=(6, 0), n_global=2, seqlens=[37, 25])),
    "head_dim_64": (37, 37, 64, dict(causal=True)),
    "head_dim_24_padded": (37, 37, 24, dict(window=(5, 5))),
    "transposed_layout": (37, 37, 32, dict(causal=True, layout="bhld_view")),
}
FLOAT16_CASES = ["plain", "causal", "alibi_causal", "window_global", "seqlens_alibi_causal",
                 "decode_everything", "everything", "head_dim_64"]


def make_inputs(lq, lk, head_dim, dtype, *, batch=2, heads=2, layout="contiguous", seed=0):
    gen = torch.Generator().manual_seed(seed)

    def tensor(length):
        if layout == "bhld_view":  # (B, L, H, D) storage seen as (B, H, L, D), as models produce
            x = torch.randn(batch, length, heads, head_dim, generator=gen).transpose(1, 2)
        else:
            x = torch.randn(batch, heads, length, head_dim, generator=gen)
        return x.to(device=DEVICE, dtype=dtype).requires_grad_()

    q, k, v = tensor(lq), tensor(lk), tensor(lk)
    dout = torch.randn(batch, heads, lq, head_dim, generator=gen).to(device=DEVICE, dtype=dtype)
    return q, k, v, dout


def attention_options(options, heads=2):
    options = dict(options)
    options.pop("layout", None)
    if options.pop("alibi", False):
        options["alibi_slopes"] = alibi_slopes(heads).to(DEVICE)
    if "seqlens" in options:
        options["seqlens"] = torch.tensor(options["seqlens"], device=DEVICE)
    return options


def forward_and_grads(backend, q, k, v, dout, options, dtype=None):
    inputs = [x.detach().to(dtype or x.dtype).requires_grad_() for x in (q, k, v)]
    out = attention(*inputs, backend=backend, **options)
    grads = torch.autograd.grad(out, inputs, dout.to(out.dtype))
    return [out, *grads]


def assert_within_tolerance(kernel, eager, truth, dtype, names):
    factor, floor = TOLERANCE[dtype]
    for name, a, b, t in zip(names, kernel, eager, truth):
        kernel_error = (a.double() - t).abs().max().item()
        eager_error = (b.double() - t).abs().max().item()
        assert kernel_error <= factor * eager_error + floor, (
            f"{name}: kernel error {kernel_error:.3g} > {factor} x eager error {eager_error:.3g} + {floor}")


def check_attention_case(name, dtype):
    lq, lk, head_dim, raw = CASES[name]
    q, k, v, dout = make_inputs(lq, lk, head_dim, dtype, layout=raw.get("layout", "contiguous"))
    options = attention_options(raw)
    kernel = forward_and_grads("triton", q, k, v, dout, options)
    eager = forward_and_grads("reference", q, k, v, dout, options)
    truth = forward_and_grads("reference", q, k, v, dout, options, dtype=torch.float64)
    assert all(x.dtype == dtype for x in kernel)
    assert_within_tolerance(kernel, eager, truth, dtype, ["out", "dq", "dk", "dv"])
    if "seqlens" in options:  # padded query rows are exactly zero, padded keys get no gradient
        for b, length in enumerate(options["seqlens"].tolist()):
            first_padded_row = max(0, length - (lk - lq))  # query row i sits at position lk - lq + i
            assert kernel[0][b, :, first_padded_row:].abs().sum().item() == 0
            assert kernel[1][b, :, first_padded_row:].abs().sum().item() == 0
            assert kernel[2][b, :, length:].abs().sum().item() == 0
            assert kernel[3][b, :, length:].abs().sum().item() == 0


@pytest.mark.parametrize("name", list(CASES))
def test_attention_kernel_matches_reference_float32(name):
    check_attention_case(name, torch.float32)


@pytest.mark.parametrize("name", FLOAT16_CASES)
def test_attention_kernel_matches_reference_float16(name):
    check_attention_case(name, torch.float16)


def test_attention_kernel_backward_accepts_broadcast_output_gradient():
    q, k, v, _ = make_inputs(37, 37, 32, torch.float32)
    grads = torch.autograd.grad(attention(q, k, v, causal=True, backend="triton").sum(), (q, k, v))
    expected = torch.autograd.grad(attention(q, k, v, causal=True, backend="reference").sum(), (q, k, v))
    for a, b in zip(grads, expected):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


ROPE_CASES = {
    "rotate_half": dict(),
    "interleaved": dict(interleaved=True),
    "offset_and_scale": dict(offset=1000, scale=4.0),
    "interleaved_offset": dict(interleaved=True, offset=17, base=500.0),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=["float32", "float16"])
@pytest.mark.parametrize("name", list(ROPE_CASES))
def test_rope_kernel_matches_reference(name, dtype):
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(2, 3, 21, 48, generator=gen).to(DEVICE, dtype).requires_grad_()
    k = torch.randn(2, 1, 19, 48, generator=gen).to(DEVICE, dtype).requires_grad_()
    dq, dk = torch.randn_like(q), torch.randn_like(k)

    def run(backend, cast):
        inputs = [x.detach().to(cast).requires_grad_() for x in (q, k)]
        outs = rope(*inputs, backend=backend, **ROPE_CASES[name])
        return [*outs, *torch.autograd.grad(outs, inputs, (dq.to(cast), dk.to(cast)))]

    assert_within_tolerance(run("triton", dtype), run("reference", dtype), run("reference", torch.float64),
                            dtype, ["q", "k", "dq", "dk"])


@pytest.mark.parametrize("interleaved", [False, True], ids=["rotate_half", "interleaved"])
def test_rope_kernel_in_place_writes_into_its_inputs(interleaved):
    q = torch.randn(2, 2, 21, 32, device=DEVICE)
    k = torch.randn(2, 2, 21, 32, device=DEVICE)
    expected = rope(q.clone(), k.clone(), offset=5, interleaved=interleaved, backend="reference")
    got = rope(q, k, offset=5, interleaved=interleaved, inplace=True, backend="triton")
    assert got[0] is q and got[1] is k
    torch.testing.assert_close(q, expected[0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(k, expected[1], atol=1e-6, rtol=1e-5)


def test_rope_kernel_in_place_gradient_is_the_inverse_rotation():
    x = torch.randn(2, 2, 21, 32, device=DEVICE, requires_grad=True)
    grad_out = torch.randn_like(x)
    q, k = x * 1.0, torch.randn_like(x)
    rq, _ = rope(q, k, offset=3, inplace=True, backend="triton")
    (grad,) = torch.autograd.grad(rq, x, grad_out)
    x_ref = x.detach().requires_grad_()
    (expected,) = torch.autograd.grad(rope(x_ref, k, offset=3, backend="reference")[0], x_ref, grad_out)
    torch.testing.assert_close(grad, expected, atol=1e-6, rtol=1e-5)


# ---- GPU only: bfloat16, long sequences, the real dispatch --------------------------------


@gpu
@needs_cuda
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("name", ["causal", "alibi_causal", "window_global", "seqlens", "decode_everything",
                                  "everything", "head_dim_64"])
def test_gpu_attention_kernel_matches_reference_reduced_precision(name, dtype):
    check_attention_case(name, dtype)


@gpu
@needs_cuda
@pytest.mark.parametrize("length,head_dim,options", [
    (1000, 64, dict(causal=True)),
    (2048, 128, dict(causal=True, alibi=True)),
    (4096, 64, dict(window=(256, 256), n_global=16, alibi=True, seqlens=[4096, 3001])),
    (4096, 128, {}),
], ids=["1000_causal", "2048_d128_alibi", "4096_window_global", "4096_d128_plain"])
def test_gpu_attention_kernel_long_sequences_bfloat16(length, head_dim, options):
    dtype = torch.bfloat16
    q, k, v, dout = make_inputs(length, length, head_dim, dtype, batch=2, heads=2)
    options = attention_options(options)
    kernel = forward_and_grads("triton", q, k, v, dout, options)
    eager = forward_and_grads("reference", q, k, v, dout, options)
    truth = forward_and_grads("reference", q, k, v, dout, options, dtype=torch.float32)
    assert_within_tolerance(kernel, eager, truth, dtype, ["out", "dq", "dk", "dv"])


@gpu
@needs_cuda
def test_gpu_auto_dispatch_takes_triton_for_cuda_tensors(caplog):
    q, k, v, _ = make_inputs(64, 64, 64, torch.bfloat16)
    with caplog.at_level("DEBUG", logger="genotx.ops"):
        out = attention(q, k, v, causal=True)
    assert not [r for r in caplog.records if "instead of triton" in r.getMessage()]
    torch.testing.assert_close(out, attention(q, k, v, causal=True, backend="triton"))


@gpu
@needs_cuda
def test_gpu_rope_kernel_bfloat16_long():
    q = torch.randn(2, 8, 8192, 128, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(2, 8, 8192, 128, device="cuda", dtype=torch.bfloat16)
    got = rope(q, k, offset=100, backend="triton")
    eager = rope(q, k, offset=100, backend="reference")
    truth = rope(q.double(), k.double(), offset=100, backend="reference")
    assert_within_tolerance(got, eager, truth, torch.bfloat16, ["q", "k"])
