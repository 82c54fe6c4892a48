"""Cached generation: `step` gives the logits of a full causal forward pass, chunk by chunk."""

import pytest
import torch

from genotx.errors import InputError
from genotx.models import GenomicModel, ModelConfig

torch.set_num_threads(1)


def causal_model(**changes):
    options = dict(vocab_size=10, d_model=32, n_layers=2, n_heads=4, window=5, hybrid_pattern="MA", causal=True)
    options.update(changes)
    torch.manual_seed(0)
    return GenomicModel(ModelConfig(**options)).eval()


@pytest.mark.parametrize("mixer, pe", [
    ("attention", "rope"), ("attention", "alibi"), ("window", "rope"), ("linear", "rope"), ("linear", "sinusoidal"),
    ("mamba", "learned"), ("hybrid", "hierarchical"), ("hybrid", "alibi"),
])
def test_stepping_through_the_cache_reproduces_the_full_forward_pass(mixer, pe):
    # Tolerance 1e-5: the same float32 math in another order (chunked sums, cached keys).
    model = causal_model(mixer=mixer, pe=pe)
    ids = torch.randint(5, 9, (2, 70), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = model(ids).logits
    cache = model.new_cache(2, 80)
    pieces = [model.step(ids[:, :33], cache), model.step(ids[:, 33:34], cache), model.step(ids[:, 34:], cache)]
    assert cache.position == 70
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)


def test_a_full_cache_is_refused_with_the_limit():
    model = causal_model()
    cache = model.new_cache(1, 8)
    model.step(torch.full((1, 6), 5), cache)
    with pytest.raises(InputError, match="holds 8 positions; step would reach 10"):
        model.step(torch.full((1, 4), 5), cache)


def test_bidirectional_models_have_no_generation_cache():
    model = causal_model(causal=False)
    with pytest.raises(InputError, match="causal=True and head='lm'"):
        model.new_cache(1, 8)
