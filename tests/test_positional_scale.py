"""Absolute position codes enter at the scale of the token embeddings (a fixed code at +-1 drowns them)."""

from __future__ import annotations

import pytest
import torch

from genotx.models import GenomicModel, ModelConfig


@pytest.mark.parametrize("pe", ["sinusoidal", "learned"])
def test_absolute_position_code_has_the_token_embeddings_rms_at_init(pe):
    torch.manual_seed(0)
    model = GenomicModel(ModelConfig(vocab_size=10, d_model=64, n_layers=1, n_heads=4, pe=pe, max_len=512))
    positions = torch.arange(512)[None]
    code_rms = model.pe(positions).pow(2).mean().sqrt().item()
    token_rms = model.embed.weight.pow(2).mean().sqrt().item()
    assert 0.7 < code_rms / token_rms < 1.4, (code_rms, token_rms)


def test_sinusoidal_code_keeps_its_shape_only_its_size_changes():
    from genotx.models.positional import sinusoid

    model = GenomicModel(ModelConfig(vocab_size=10, d_model=32, n_layers=1, n_heads=2, pe="sinusoidal"))
    positions = torch.arange(100)[None]
    code, raw = model.pe(positions), sinusoid(positions, 32)
    ratio = code / raw.where(raw.abs() > 1e-3, torch.ones_like(raw))
    scale = ratio[raw.abs() > 1e-3]
    assert torch.allclose(scale, scale[0].expand_as(scale), rtol=1e-5)  # one common factor
