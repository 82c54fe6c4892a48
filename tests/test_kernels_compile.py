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
FLOAT_ARGS = {"softmax_scale", "scale"}


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


def attention_constants(config, head_dim, dtype, flags_on, backward=None):
    flags = dict(CAUSAL=flags_on, HAS_ALIBI=flags_on, HAS_WINDOW=flags_on, HAS_GLOBAL=flags_on,
                 HAS_SEQLENS=flags_on)
    if backward is not None:  # the rows kernel: forward, or dq
        flags["BACKWARD"] = backward
    return dict(HEAD_DIM=head_dim, BLOCK_D=max(16, triton.next_power_of_2(head_dim)),
                DOT_PRECISION="ieee" if dtype == torch.float32 else "tf32", **config.kwargs, **flags)


PASSES = {  # name: (autotuned kernel, BACKWARD flag of the rows kernel)
    "forward": (attention_kernels._attention_rows, False),
    "dq": (attention_kernels._attention_rows, True),
    "dkdv": (attention_kernels._attention_dkdv, None),
}


DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
# Checked by default: the largest tiles (listed first) of each pass in bf16, and in fp32 those of
# dq, which needs the most shared memory. The rest, about 3 minutes (float32 compiles take 10-35 s
# each), with GENOTX_ALL_CONFIGS=1.
DEFAULT_SWEEP = {("forward", "bf16"), ("dq", "bf16"), ("dkdv", "bf16"), ("dq", "fp32")}
ALL_CONFIGS = [pytest.mark.slow, pytest.mark.skipif(os.environ.get("GENOTX_ALL_CONFIGS") != "1",
                                                    reason="set GENOTX_ALL_CONFIGS=1 to compile every configuration")]


def config_sweep():
    """(pass, element type, config) for every configuration the autotuner may run on a GPU."""
    for pass_name, (kernel, _) in PASSES.items():
        for element_type, dtype in DTYPES.items():
            for i, config in enumerate(attention_kernels._fit(kernel.configs, {"Q": torch.empty(0, dtype=dtype)})):
                marks = [] if i == 0 and (pass_name, element_type) in DEFAULT_SWEEP else ALL_CONFIGS
                name = "{}-{}-m{BLOCK_M}-n{BLOCK_N}".format(pass_name, element_type, **config.kwargs)
                yield pytest.param(pass_name, element_type, config, marks=marks,
                                   id=f"{name}-w{config.num_warps}-s{config.num_stages}")


@pytest.mark.parametrize("pass_name,element_type,config", list(config_sweep()))
def test_autotuning_configs_compile_for_h100_within_shared_memory(pass_name, element_type, config):
    # Head dim 128 with every flag on: the largest tiles and the most live values.
    kernel, backward = PASSES[pass_name]
    constants = attention_constants(config, 128, DTYPES[element_type], True, backward)
    compiled = compile_for_h100(kernel.fn, element_type, constants, config.num_warps, config.num_stages)
    assert compiled.asm["cubin"]
    assert 0 < compiled.metadata.shared <= H100_SHARED_BYTES


@pytest.mark.parametrize("pass_name", list(PASSES))
def test_attention_kernels_compile_for_head_dim_64_without_flags(pass_name):
    kernel, backward = PASSES[pass_name]
    config = kernel.configs[0]
    constants = attention_constants(config, 64, torch.float16, False, backward)
    compiled = compile_for_h100(kernel.fn, "fp16", constants, config.num_warps, config.num_stages)
    assert compiled.asm["cubin"]


def test_interpreter_runs_one_autotuning_config_and_a_gpu_several(monkeypatch):
    for table in (attention_kernels.ROWS_CONFIGS, attention_kernels.DKDV_CONFIGS):
        assert len(attention_kernels._configs(table)) == len(table) > 1
        monkeypatch.setenv("TRITON_INTERPRET", "1")
        assert len(attention_kernels._configs(table)) == 1
        monkeypatch.delenv("TRITON_INTERPRET")


@pytest.mark.parametrize("interleaved", [False, True], ids=["rotate_half", "interleaved"])
def test_rope_kernel_compiles_for_h100(interleaved):
    constants = dict(HALF=64, BLOCK_L=32, BLOCK_HALF=64, INTERLEAVED=interleaved, BACKWARD=interleaved)
    compiled = compile_for_h100(rope_kernels._rope_kernel, "bf16", constants, 4, 1)
    assert compiled.asm["cubin"]


@pytest.mark.parametrize("pass_name", ["forward", "dkdv"])
def test_attention_kernels_compile_when_lengths_and_window_are_specialised_to_one(pass_name):
    # Triton turns integer arguments equal to 1 into compile-time constants; the first step of
    # generating from a one-token prompt has Lq = Lk = 1, and a window of one is legal.
    kernel, backward = PASSES[pass_name]
    config = kernel.configs[0]
    constants = attention_constants(config, 64, torch.float16, True, backward)
    constants.update(lq=1, lk=1, window_left=1, window_right=1, n_global=1, lq_bucket=1, lk_bucket=1)
    compiled = compile_for_h100(kernel.fn, "fp16", constants, config.num_warps, config.num_stages)
    assert compiled.asm["cubin"]
