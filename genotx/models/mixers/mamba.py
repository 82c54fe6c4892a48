"""Mamba selective-SSM mixer (Gu & Dao, 2023), bidirectional unless the model is causal.

Parameters carry the names and initialisation of mamba-ssm's `Mamba` module
(in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj), so weights move between
the two; the scan goes through `genotx.ops.scan.selective_scan` (the CUDA
kernel where mamba-ssm has it, else a PyTorch scan). A bidirectional model runs
the same weights over each row and over its flip, and adds the two (the BiMamba
of Caduceus with tied weights); a causal one keeps (conv, ssm) state for
cached generation.

Example::

    y, state, _ = Mamba(cfg)(x, Context())
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genotx.models.config import ModelConfig
from genotx.models.mixers import Context
from genotx.models.rc import flip_rows
from genotx.ops.scan import selective_scan

DT_MIN, DT_MAX, DT_FLOOR = 1e-3, 1e-1, 1e-4


class Mamba(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.causal = cfg.causal
        self.d_inner = cfg.expand * cfg.d_model
        self.d_state, self.d_conv = cfg.d_state, cfg.d_conv
        self.dt_rank = math.ceil(cfg.d_model / 16)
        self.in_proj = nn.Linear(cfg.d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, cfg.d_conv, groups=self.d_inner, bias=True)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * cfg.d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, cfg.d_state + 1, dtype=torch.float32)).repeat(self.d_inner, 1))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, cfg.d_model, bias=False)
        self.reset_ssm_parameters()

    @torch.no_grad()
    def reset_ssm_parameters(self) -> None:
        """mamba-ssm's init: dt log-uniform in [1e-3, 1e-1] through the softplus bias; A = -(1..n)."""
        std = self.dt_rank ** -0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(DT_MAX) - math.log(DT_MIN)) + math.log(DT_MIN)).clamp(min=DT_FLOOR)
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        self.A_log.copy_(torch.log(torch.arange(1, self.d_state + 1, dtype=torch.float32)).repeat(self.d_inner, 1))
        self.D.fill_(1.0)

    def forward(self, x: torch.Tensor, ctx: Context, state=None):
        if self.causal:
            return (*self.scan(x, state), None)
        y, _ = self.scan(x)
        y_back, _ = self.scan(flip_rows(x, ctx.flip_index))
        return y + flip_rows(y_back, ctx.flip_index), None, None

    def scan(self, x: torch.Tensor, state=None):
        """One left-to-right pass over x (B, L, d_model); state = (conv inputs, ssm state) or None."""
        xz = self.in_proj(x).transpose(1, 2)  # (B, 2 * d_inner, L)
        u, z = xz.chunk(2, dim=1)
        history = state[0] if state is not None else u.new_zeros(u.shape[0], self.d_inner, self.d_conv - 1)
        padded = torch.cat([history.to(u.dtype), u], dim=2)
        u = F.silu(self.conv1d(padded))  # causal depthwise conv: length L again
        params = self.x_proj(u.transpose(1, 2))
        dt, B, C = torch.split(params, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = (dt @ self.dt_proj.weight.t()).transpose(1, 2)
        y, ssm_state = selective_scan(
            u, dt, -torch.exp(self.A_log.float()), B.transpose(1, 2), C.transpose(1, 2), self.D.float(), z,
            delta_bias=self.dt_proj.bias.float(), delta_softplus=True, return_last_state=True,
            initial_state=state[1] if state is not None else None)
        new_state = (padded[:, :, padded.shape[2] - (self.d_conv - 1):].detach(), ssm_state) if state is not None else None
        return self.out_proj(y.transpose(1, 2)), new_state

    def new_state(self, batch: int, max_len: int, like: torch.Tensor):
        return (like.new_zeros(batch, self.d_inner, self.d_conv - 1),
                like.new_zeros(batch, self.d_inner, self.d_state, dtype=torch.float32))
