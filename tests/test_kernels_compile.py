"""The Triton kernels compile for an H100 (sm_90) without a GPU present.

The interpreter runs kernels as NumPy code and accepts programs the real
compiler rejects (a variable whose type differs between branches, an op with
no GPU lowering). Compiling ahead of time down to a cubin catches those, and
the compiled kernel reports the shared memory its block sizes need, which must
fit an H100's 227 KiB per block.
"""

import os

import pytest
import torch

pytestmark = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") == "1",
                                reason="kernels are interpreted in this process")

triton = pytest.importorskip("triton")
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from genotx.ops.attention import triton as attention_kernels  # noqa: E402
from genotx.ops.rope import triton as rope_kernels  # noqa: E402

H100 = GPUTarget("cuda", 90, 32)
H100_SHARED_BYTES = 227 * 1024
POINTER_TYPES = {"LSE": "*fp32", "Delta": "*fp32", "Slopes": "*fp32", "Seqlens": "*i32", "InvFreq": "*fp32"}
FLOAT_ARGS = {"qk_scale", "softmax_scale", "scale"}


def compile_for_h100(kernel, element_type, constants, num_warps, num_stages):
    """Compile `kernel` with tensors of `element_type` ("fp16", "bf16", "fp32") for sm_90."""
    signature = {}
    for param in kernel.params:
        name = param.name
        if param.is_constexpr or name in constants:
            signature[name] = "constexpr"
        elif name in POINTER_TYPES:
            signature[name] = POINTER_TYPES[name]
        elif name[0].isupper():  # Q, K, V, Out, DO, DQ, ...: tensors of the input dtype
            signature[name] = "*" + element_type
        else:
            signature[name] = "fp32" if name in FLOAT_ARGS else "i32"
    source = ASTSource(fn=kernel, signature=signature, constexprs=constants)
    return triton.compile(source, target=H100, options=dict(num_warps=num_warps, num_stages=num_stages))


def attention_constants(pass_name, head_dim, dtype, flags_on):
    block_m, block_n, block_d, warps, stages = attention_kernels._blocks(pass_name, head_dim, dtype)
    flags = dict(CAUSAL=flags_on, HAS_ALIBI=flags_on, HAS_WINDOW=flags_on, HAS_GLOBAL=flags_on,
                 HAS_SEQLENS=flags_on)
    constants = dict(HEAD_DIM=head_dim, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d,
                     DOT_PRECISION="ieee" if dtype == torch.float32 else "tf32", **flags)
    return constants, warps, stages


@pytest.mark.parametrize("kernel,pass_name,element_type,dtype,head_dim,flags_on", [
    (attention_kernels._attention_forward, "forward", "fp16", torch.float16, 128, True),
    (attention_kernels._attention_forward, "forward", "bf16", torch.bfloat16, 64, False),
    (attention_kernels._attention_backward_dkdv, "backward", "bf16", torch.bfloat16, 128, True),
    (attention_kernels._attention_backward_dq, "backward", "fp16", torch.float16, 64, False),
], ids=["forward_fp16_d128_all_flags", "forward_bf16_d64_no_flags", "dkdv_bf16_d128_all_flags",
        "dq_fp16_d64_no_flags"])
def test_attention_kernels_compile_for_h100_within_shared_memory(kernel, pass_name, element_type, dtype,
                                                                 head_dim, flags_on):
    constants, warps, stages = attention_constants(pass_name, head_dim, dtype, flags_on)
    compiled = compile_for_h100(kernel, element_type, constants, warps, stages)
    assert compiled.asm["cubin"]
    assert 0 < compiled.metadata.shared <= H100_SHARED_BYTES


@pytest.mark.parametrize("interleaved", [False, True], ids=["rotate_half", "interleaved"])
def test_rope_kernel_compiles_for_h100(interleaved):
    constants = dict(HALF=64, BLOCK_L=32, BLOCK_HALF=64, INTERLEAVED=interleaved, BACKWARD=interleaved)
    compiled = compile_for_h100(rope_kernels._rope_kernel, "bf16", constants, 4, 1)
    assert compiled.asm["cubin"]


@pytest.mark.parametrize("kernel,pass_name", [
    (attention_kernels._attention_forward, "forward"),
    (attention_kernels._attention_backward_dkdv, "backward"),
], ids=["forward", "dkdv"])
def test_attention_kernels_compile_when_lengths_and_window_are_specialised_to_one(kernel, pass_name):
    # Triton turns integer arguments equal to 1 into compile-time constants; the first step of
    # generating from a one-token prompt has Lq = Lk = 1, and a window of one is legal.
    constants, warps, stages = attention_constants(pass_name, 64, torch.float16, True)
    constants.update(lq=1, lk=1, window_left=1, window_right=1, n_global=1)
    compiled = compile_for_h100(kernel, "fp16", constants, warps, stages)
    assert compiled.asm["cubin"]
