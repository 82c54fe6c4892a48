"""ModelConfig: validation messages, JSON round-trip, parameter counts."""

import json
import subprocess
import sys

import pytest
import torch

from genotx.errors import InputError
from genotx.models import GenomicModel, ModelConfig

torch.set_num_threads(1)
CHAR_COMPLEMENT = (0, 1, 2, 3, 4, 8, 7, 6, 5, 9)  # specials, A C G T -> T G C A, N


@pytest.mark.parametrize("cfg", [
    ModelConfig(vocab_size=10),
    ModelConfig(vocab_size=4101, d_model=64, n_layers=3, n_heads=4, pe="alibi", mixer="window", window=32, n_global=1),
    ModelConfig(vocab_size=10, mixer="hybrid", hybrid_pattern="MMA", causal=True, pe="sinusoidal", d_ff=100),
    ModelConfig(vocab_size=10, rc_equivariant=True, complement_ids=CHAR_COMPLEMENT, head="classify", n_outputs=3),
])
def test_config_json_round_trip_is_identity(cfg):
    text = json.dumps(cfg.to_dict())
    assert ModelConfig.from_dict(json.loads(text)) == cfg


def test_d_ff_defaults_to_four_times_d_model():
    assert ModelConfig(vocab_size=10, d_model=48, n_heads=4).d_ff == 192


def test_heads_must_divide_d_model_and_the_message_suggests_a_count():
    with pytest.raises(InputError, match=r"n_heads \(5\) must divide d_model \(64\); try n_heads=4"):
        ModelConfig(vocab_size=10, d_model=64, n_heads=5)


@pytest.mark.parametrize("field, value", [("pe", "xpos"), ("mixer", "hyena"), ("head", "span"), ("pooling", "median")])
def test_unknown_choices_name_the_field_and_the_options(field, value):
    with pytest.raises(InputError, match=rf"{field}='{value}' is not one of"):
        ModelConfig(vocab_size=10, **{field: value})


def test_learned_pe_refuses_inputs_past_max_len_and_suggests_rope_or_alibi():
    model = GenomicModel(ModelConfig(vocab_size=10, d_model=32, n_layers=1, n_heads=4, pe="learned", max_len=16))
    model(torch.randint(5, 9, (1, 16)))
    with pytest.raises(InputError, match=r"max_len=16.*pe='rope' or pe='alibi'"):
        model(torch.randint(5, 9, (1, 17)))


def test_rc_equivariance_of_a_causal_model_is_refused_naming_the_combination():
    with pytest.raises(InputError, match=r"rc_equivariant=True with causal=True \(mixer='mamba', pe='rope'\)"):
        ModelConfig(vocab_size=10, mixer="mamba", causal=True, rc_equivariant=True, complement_ids=CHAR_COMPLEMENT)


def test_rc_equivariance_needs_the_complement_map():
    with pytest.raises(InputError, match="needs complement_ids"):
        ModelConfig(vocab_size=10, rc_equivariant=True)


def test_complement_map_must_be_its_own_inverse():
    with pytest.raises(InputError, match="its own inverse"):
        ModelConfig(vocab_size=10, complement_ids=(0, 1, 2, 3, 4, 6, 7, 8, 5, 9))


def test_alibi_with_linear_attention_is_refused_with_alternatives():
    with pytest.raises(InputError, match="pe='alibi'.*linear attention.*pe='rope'"):
        ModelConfig(vocab_size=10, pe="alibi", mixer="linear")


def test_hybrid_pattern_letters_are_checked_and_repeat_over_depth():
    cfg = ModelConfig(vocab_size=10, mixer="hybrid", hybrid_pattern="MMA", n_layers=5)
    assert cfg.layer_mixers == ("mamba", "mamba", "attention", "mamba", "mamba")
    with pytest.raises(InputError, match="hybrid_pattern='MXA'"):
        ModelConfig(vocab_size=10, mixer="hybrid", hybrid_pattern="MXA")


def test_task_heads_need_outputs_and_lm_needs_none():
    with pytest.raises(InputError, match="n_outputs >= 1"):
        ModelConfig(vocab_size=10, head="classify")
    with pytest.raises(InputError, match="set n_outputs=0"):
        ModelConfig(vocab_size=10, n_outputs=2)


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(InputError, match="unknown field"):
        ModelConfig.from_dict({"vocab_size": 10, "d_modle": 32})


@pytest.mark.parametrize("pe", ["rope", "learned", "hierarchical"])
def test_param_counts_add_up_and_leave_out_token_and_position_embeddings(pe):
    cfg = ModelConfig(vocab_size=10, d_model=32, n_layers=2, n_heads=4, pe=pe, max_len=64)
    model = GenomicModel(cfg)
    counts = model.param_counts()
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    position = sum(p.numel() for p in model.pe.parameters()) if model.pe is not None else 0
    assert counts["total"] - counts["non_embedding"] == 10 * 32 + position
    # Block: 2 layer norms, qkv + out (no bias), fc1/fc2 with bias; final norm.
    block = 2 * 64 + 4 * 32 * 32 + (32 * 128 + 128) + (128 * 32 + 32)
    assert counts["non_embedding"] == 2 * block + 64


def test_importing_the_config_does_not_import_torch():
    code = "import sys, genotx.models; genotx.models.ModelConfig(vocab_size=10); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
