"""`GenomicModel`: embed -> blocks -> norm -> head, every architecture from one `ModelConfig`.

Each block is pre-norm: x = x + mixer(norm(x)); x = x + mlp(norm(x)). The mixer
of layer i is `cfg.layer_mixers[i]` (attention, linear, window or mamba).

RC equivariance (`rc_equivariant=True`) runs the backbone on each row and on its
reverse complement (same weights, one batch of 2B) and combines the strands so
that outputs of revcomp(x) are the flipped outputs of x: hidden states and
per-token heads average h(x) and the flipped h(revcomp x); sequence heads
average the two pooled vectors; LM logits average the logits of x with the
flipped reverse-strand logits of each token's complement.

Example::

    model = GenomicModel(ModelConfig(vocab_size=9, d_model=32, n_layers=2))
    out = model(ids, attention_mask=mask)       # out.hidden, out.logits, out.attentions
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genotx.errors import InputError
from genotx.models.config import ModelConfig
from genotx.models.heads import HEADS
from genotx.models.mixers import Context
from genotx.models.mixers.attention import Attention
from genotx.models.mixers.linear import LinearAttention
from genotx.models.mixers.mamba import Mamba
from genotx.models.mixers.window import WindowAttention
from genotx.models.positional import build_absolute_pe
from genotx.models.rc import flip_rows, reverse_index, revcomp_ids
from genotx.models.stem import ConvStem, strand_revcomp

MIXERS = {"attention": Attention, "linear": LinearAttention, "window": WindowAttention, "mamba": Mamba}
INIT_STD = 0.02


@dataclass
class ModelOutput:
    hidden: torch.Tensor  # (B, L, d_model)
    logits: torch.Tensor
    attentions: list[torch.Tensor] | None = None


@dataclass
class GenerationCache:
    """Per-layer state of cached generation; `position` = tokens consumed so far."""

    states: list
    batch_size: int
    max_len: int
    position: int = 0


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, mixer: str):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.mixer = MIXERS[mixer](cfg)
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.fc1 = nn.Linear(cfg.d_model, cfg.d_ff)
        self.fc2 = nn.Linear(cfg.d_ff, cfg.d_model)
        self.dropout = nn.Dropout(cfg.dropout)
        # LayerScale (Touvron et al. 2021): the branches start nearly shut, so a fresh model begins as its
        # embeddings (and conv stem) alone; without it a motif in 500 bp was never learned (docs/finetune.md).
        if cfg.layer_scale:
            self.gain1 = nn.Parameter(torch.full((cfg.d_model,), cfg.layer_scale))
            self.gain2 = nn.Parameter(torch.full((cfg.d_model,), cfg.layer_scale))
        else:
            self.gain1 = self.gain2 = None

    def _branch(self, out: torch.Tensor, gain) -> torch.Tensor:
        out = self.dropout(out)
        return out if gain is None else out * gain

    def forward(self, x: torch.Tensor, ctx: Context, state=None):
        mixed, state, probs = self.mixer(self.norm1(x), ctx, state)
        x = x + self._branch(mixed, self.gain1)
        x = x + self._branch(self.fc2(F.gelu(self.fc1(self.norm2(x)))), self.gain2)
        return x, state, probs

    def forward_selected(self, x: torch.Tensor, ctx: Context, select: torch.Tensor) -> torch.Tensor:
        """The block's output (N, d_model) at the N True positions of `select` (B, L) only."""
        h = self.norm1(x)
        if isinstance(self.mixer, Attention) and self.mixer.selectable(ctx):
            mixed = self.mixer.forward_selected(h, ctx, select)
        else:  # the mixer's output anywhere needs its work everywhere: run it whole, keep the selection
            mixed = self.mixer(h, ctx)[0][select]
        x = x[select] + self._branch(mixed, self.gain1)
        return x + self._branch(self.fc2(F.gelu(self.fc1(self.norm2(x)))), self.gain2)


class GenomicModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pe = build_absolute_pe(cfg, INIT_STD)
        self.stem = ConvStem(cfg) if cfg.conv_stem else None
        self.dropout = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, mixer) for mixer in cfg.layer_mixers)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = HEADS[cfg.head](cfg) if cfg.head != "lm" else None
        complement = torch.tensor(cfg.complement_ids if cfg.complement_ids is not None else [], dtype=torch.long)
        self.register_buffer("complement", complement, persistent=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """GPT-2 style: N(0, 0.02), residual outputs scaled by 1/sqrt(2 layers); Mamba keeps its own SSM init."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=INIT_STD)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
        for block in self.blocks:
            out = block.mixer.out_proj if isinstance(block.mixer, Mamba) else block.mixer.out
            nn.init.normal_(out.weight, std=INIT_STD / math.sqrt(2 * self.config.n_layers))
            nn.init.normal_(block.fc2.weight, std=INIT_STD / math.sqrt(2 * self.config.n_layers))
            if isinstance(block.mixer, Mamba):
                block.mixer.reset_ssm_parameters()

    # -- the forward pass -----------------------------------------------------------------
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_attentions: bool = False, annotation: torch.Tensor | None = None,
                logit_mask: torch.Tensor | None = None, masked_only: bool = False,
                one_strand: bool = False) -> ModelOutput:
        """input_ids (B, L) long; attention_mask (B, L) bool, True = real token, right padded;
        annotation (B, L, 3) long for pe='hierarchical'; logit_mask (B, L) bool: LM logits only
        at its True positions, as (N, vocab) in row-major order (an MLM loss needs no others).
        masked_only (with logit_mask): the last block computes only what those logits need, and
        out.hidden is then (N, d_model) at the logit_mask positions; same logits, less work.
        one_strand: a strand_average model reads the given strand only (as in training)."""
        cfg = self.config
        self._check_ids(input_ids)
        seqlens, key_mask = _lengths(attention_mask, input_ids.shape)
        if logit_mask is not None and cfg.head != "lm":
            raise InputError(f"logit_mask selects LM logits; this model has head={cfg.head!r}")
        if masked_only and logit_mask is None:
            raise InputError("masked_only=True needs a logit_mask (the positions whose logits are wanted)")
        if cfg.strand_average and not (self.training or one_strand) and cfg.head in ("classify", "regress"):
            return self._forward_strand_average(input_ids, attention_mask, seqlens)
        if cfg.rc_equivariant:
            return self._forward_both_strands(input_ids, seqlens, key_mask, output_attentions, annotation, logit_mask)
        ctx = Context(seqlens=seqlens, key_mask=key_mask, output_attentions=output_attentions,
                      flip_index=None if cfg.causal else reverse_index(seqlens, input_ids.shape[1], input_ids.shape[0], input_ids.device))
        # With masked_only the last block runs at the logit_mask positions only (hidden is (N, d)).
        select = logit_mask if masked_only and not output_attentions else None
        hidden, _, probs = self.backbone(input_ids, ctx, annotation=annotation, select=select)
        if cfg.head == "lm":
            selected = hidden if logit_mask is None or select is not None else hidden[logit_mask]
            logits = F.linear(selected, self.embed.weight)
        elif cfg.head == "token_classify":
            logits = self.head(hidden)
        else:
            logits = self.head(self.head.pool(hidden, key_mask))
        return ModelOutput(hidden=hidden, logits=logits, attentions=probs if output_attentions else None)

    def backbone(self, input_ids, ctx: Context, *, annotation=None, states=None, select=None):
        """Embeddings, blocks and the final norm: (hidden (B, L, d), new states, attention probs).
        select (B, L) bool: the last block runs at its True positions only and hidden is (N, d)."""
        batch, length = input_ids.shape
        x = self.embed(input_ids)
        if self.pe is not None:
            positions = torch.arange(ctx.offset, ctx.offset + length, device=input_ids.device).expand(batch, length)
            x = x + self.pe(positions, annotation).to(x.dtype)
        if self.stem is not None:
            x = self.stem(x, ctx.key_mask)
        x = self.dropout(x)
        new_states, probs = [], []
        for i, block in enumerate(self.blocks):
            if select is not None and i == len(self.blocks) - 1:
                x = block.forward_selected(x, ctx, select)
                break
            x, state, p = block(x, ctx, states[i] if states is not None else None)
            new_states.append(state)
            if p is not None:
                probs.append(p)
        return self.norm(x), new_states, probs

    def _forward_strand_average(self, ids, attention_mask, seqlens) -> ModelOutput:
        """Post-hoc conjoining (see models/stem.py): logits averaged over the two strands, each run on its own.

        Two passes of the same shape rather than one batch of both strands, so that the
        prediction of a sequence and of its reverse complement are the same sum, bit for bit."""
        forward = self(ids, attention_mask, one_strand=True)
        reverse = self(strand_revcomp(ids, seqlens, self.complement), attention_mask, one_strand=True)
        return ModelOutput(hidden=forward.hidden, logits=(forward.logits + reverse.logits) / 2)

    def _forward_both_strands(self, ids, seqlens, key_mask, output_attentions, annotation, logit_mask):
        cfg = self.config
        batch, length = ids.shape
        index = reverse_index(seqlens, length, batch, ids.device)
        both = torch.cat([ids, revcomp_ids(ids, index, self.complement)])
        if annotation is not None:
            # The annotation belongs to the base pair, so it travels with the flipped base.
            annotation = torch.cat([annotation, flip_rows(annotation, index)])
        twice = (lambda t: None if t is None else torch.cat([t, t]))
        ctx = Context(seqlens=twice(seqlens), key_mask=twice(key_mask), output_attentions=output_attentions,
                      flip_index=torch.cat([index, index]))
        hidden, _, probs = self.backbone(both, ctx, annotation=annotation)
        forward, reverse = hidden[:batch], flip_rows(hidden[batch:], index)  # reverse aligned to forward positions
        merged = (forward + reverse) / 2
        if cfg.head == "lm":
            if logit_mask is not None:
                forward, reverse = forward[logit_mask], reverse[logit_mask]
            # Logit of token v on the reverse strand = logit of complement(v) here.
            weight = torch.cat([self.embed.weight, self.embed.weight[self.complement]], dim=1)
            logits = F.linear(torch.cat([forward, reverse], dim=-1), weight) / 2
        elif cfg.head == "token_classify":
            logits = self.head(merged)
        else:
            pooled = (self.head.pool(hidden[:batch], key_mask) + self.head.pool(hidden[batch:], key_mask)) / 2
            logits = self.head(pooled)
        attentions = [p[:batch] for p in probs] if output_attentions else None
        return ModelOutput(hidden=merged, logits=logits, attentions=attentions)

    def _check_ids(self, input_ids: torch.Tensor) -> None:
        if input_ids.dim() != 2 or input_ids.dtype not in (torch.long, torch.int32):
            raise InputError(f"input_ids must be (batch, length) integers, got {tuple(input_ids.shape)} {input_ids.dtype}")
        if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= self.config.vocab_size):
            raise InputError(f"token ids must lie in [0, {self.config.vocab_size}) (vocab_size), got {int(input_ids.min())}..{int(input_ids.max())}: "
                             "was the model trained with another tokenizer?")

    # -- cached generation ---------------------------------------------------------------
    def new_cache(self, batch_size: int, max_len: int) -> GenerationCache:
        """Empty per-layer state for `step` (causal LM models only)."""
        cfg = self.config
        if not cfg.causal or cfg.head != "lm":
            raise InputError(f"cached generation needs causal=True and head='lm', this model has causal={cfg.causal}, head={cfg.head!r}")
        like = self.embed.weight
        states = [block.mixer.new_state(batch_size, max_len, like) for block in self.blocks]
        return GenerationCache(states=states, batch_size=batch_size, max_len=max_len)

    @torch.no_grad()
    def step(self, input_ids: torch.Tensor, cache: GenerationCache) -> torch.Tensor:
        """Logits (B, T, vocab) of the next T positions; feeds input_ids (B, T) and advances the cache."""
        self._check_ids(input_ids)
        batch, length = input_ids.shape
        if batch != cache.batch_size:
            raise InputError(f"step got {batch} rows but the cache was made for {cache.batch_size}")
        if cache.position + length > cache.max_len:
            raise InputError(f"generation cache holds {cache.max_len} positions; step would reach {cache.position + length}: make new_cache(..., max_len) larger")
        ctx = Context(offset=cache.position)
        hidden, cache.states, _ = self.backbone(input_ids, ctx, states=cache.states)
        cache.position += length
        return F.linear(hidden, self.embed.weight)

    # -- bookkeeping ----------------------------------------------------------------------
    def param_counts(self) -> dict[str, int]:
        """Total parameters and those outside the token and position embeddings (Kaplan et al.)."""
        total = sum(p.numel() for p in self.parameters())
        embedding = self.embed.weight.numel() + (sum(p.numel() for p in self.pe.parameters()) if self.pe is not None else 0)
        return {"total": total, "non_embedding": total - embedding}

    @torch.no_grad()
    def load_backbone_from(self, other: "GenomicModel") -> None:
        """Copy every weight except the task head from `other` (a pretrained model)."""
        mine = {k: v for k, v in self.state_dict().items() if not k.startswith("head.")}
        theirs = {k: v for k, v in other.state_dict().items() if not k.startswith("head.")}
        missing = sorted(set(mine) - set(theirs))
        if missing:
            raise InputError(f"pretrained model lacks {len(missing)} backbone weight(s), e.g. {missing[0]}: its architecture differs "
                             f"(mixer={other.config.mixer!r} vs {self.config.mixer!r}, n_layers={other.config.n_layers} vs {self.config.n_layers})")
        for name, tensor in mine.items():
            if tensor.shape != theirs[name].shape:
                raise InputError(f"backbone weight {name} is {tuple(theirs[name].shape)} in the pretrained model but {tuple(tensor.shape)} here")
            tensor.copy_(theirs[name])


def _lengths(attention_mask: torch.Tensor | None, shape) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(seqlens, key_mask) of a right-padded attention mask; (None, None) when nothing is padded."""
    if attention_mask is None:
        return None, None
    if tuple(attention_mask.shape) != tuple(shape):
        raise InputError(f"attention_mask must match input_ids {tuple(shape)}, got {tuple(attention_mask.shape)}")
    mask = attention_mask.bool()
    seqlens = mask.sum(dim=1)
    if bool(mask.all()):
        return None, None
    expected = torch.arange(shape[1], device=mask.device)[None, :] < seqlens[:, None]
    if not bool((expected == mask).all()):
        raise InputError("attention_mask must be right-padded: True for the real tokens, then False to the end of the row")
    return seqlens, mask
