"""The parametric scaling law L(N, D) = E + A/N^alpha + B/D^beta and its compute-optimal frontier."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# Training compute per parameter per token (forward + backward), as in Kaplan et al. and Chinchilla.
FLOPS_PER_PARAM_TOKEN = 6.0


@dataclass(frozen=True, kw_only=True)
class ScalingLaw:
    """Loss as a function of parameters N and training tokens D.

    Example::

        law = ScalingLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
        law.loss(70e9, 1.4e12)          # ~1.94
        law.optimal_params(5.76e23)     # ~N_opt for Chinchilla's budget
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    @classmethod
    def from_theta(cls, theta) -> "ScalingLaw":
        """From the fitting parameters (a, b, e, alpha, beta) = (log A, log B, log E, alpha, beta)."""
        a, b, e, alpha, beta = (float(v) for v in theta)
        return cls(E=float(np.exp(e)), A=float(np.exp(a)), B=float(np.exp(b)), alpha=alpha, beta=beta)

    def to_dict(self) -> dict:
        return asdict(self)

    def loss(self, params, tokens):
        return self.E + self.A / np.power(params, self.alpha) + self.B / np.power(tokens, self.beta)

    @property
    def params_exponent(self) -> float:
        """a in N_opt ∝ C^a, equal to beta / (alpha + beta); NaN without a frontier."""
        return self.beta / (self.alpha + self.beta) if self.has_frontier else float("nan")

    @property
    def tokens_exponent(self) -> float:
        """b in D_opt ∝ C^b, equal to alpha / (alpha + beta); NaN without a frontier."""
        return self.alpha / (self.alpha + self.beta) if self.has_frontier else float("nan")

    @property
    def has_frontier(self) -> bool:
        """Whether loss has a minimum along every IsoFLOP line (both exponents positive)."""
        return self.alpha > 0 and self.beta > 0

    def optimal_params(self, compute):
        """N minimising the loss at fixed compute C = 6 N D (Hoffmann et al. eq. 4); NaN without a frontier."""
        compute = np.asarray(compute, dtype=np.float64)
        if not self.has_frontier:
            return np.full(compute.shape, np.nan)
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))
        return g * np.power(compute / FLOPS_PER_PARAM_TOKEN, self.params_exponent)

    def optimal_tokens(self, compute):
        return np.asarray(compute, dtype=np.float64) / (FLOPS_PER_PARAM_TOKEN * self.optimal_params(compute))

    def optimal_loss(self, compute):
        return self.loss(self.optimal_params(compute), self.optimal_tokens(compute))
