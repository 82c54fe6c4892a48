"""Fused GPU kernels with plain PyTorch references and one dispatch point each.

    from genotx.kernels.attention import attention
    from genotx.kernels.rope import rope

Each subpackage holds `reference.py` (the readable definition), `triton.py`
(the fused kernel, imported only when a CUDA tensor asks for it) and an
`__init__` whose one public function picks the backend.
"""
