"""Operations on tensors, without parameters: what the mixers in `genotx.models` call.

    from genotx.ops.attention import attention
    from genotx.ops.rope import rope
    from genotx.ops.scan import selective_scan
    from genotx.ops.linear_attention import linear_attention

An op with a fused kernel is a package: `reference.py` (plain PyTorch, the
definition of what every backend computes), `triton.py` (the fused kernel,
imported only when a CUDA tensor asks for it) and an `__init__` whose one
public function chooses the backend from the tensors' device. The modules in
`genotx.models` never branch on the device themselves. Nothing here imports
from genotx beyond `genotx.errors` and `genotx.runtime`.
"""
