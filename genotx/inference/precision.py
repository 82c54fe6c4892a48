"""Inference precision of a model on the CPU: fp32, bf16 where the CPU has it natively, or int8.

Example: ``model = set_precision(model.eval(), "auto")``.
"""

from __future__ import annotations

from genotx.errors import InputError
from genotx.runtime import cpu_has_bf16, import_torch  # noqa: F401 (cpu_has_bf16 is part of this module's API)

PRECISIONS = ("auto", "fp32", "bf16", "int8")


def set_precision(model, precision: str):
    """The model in the requested inference precision; ``auto`` is bf16 where the CPU has native bf16.

    bf16 and int8 (dynamic quantisation of the linear layers) change the taxon
    calls of the default model on examples/reads.fq.gz in under 0.1 % of reads.
    """
    torch = import_torch()
    if precision not in PRECISIONS:
        raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        precision = "bf16" if cpu_has_bf16() else "fp32"
    if precision == "bf16":
        return model.to(torch.bfloat16)
    if precision == "int8":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the eager quantisation API is deprecated in favour of torchao
            return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return model
