"""The network's output and the k-mer index's evidence combined into one posterior, and the fit of their weights.

For a read, over the species and a background hypothesis ("none of these
species")::

    p(c | read) = softmax(w_model * log p_model(c | read) + w_memory * evidence[c])

where the network has no opinion on the background (its term there is 0, its
log-probabilities are <= 0), so a read whose k-mers look no more like any
species than like random sequence gets low species probabilities and
`predict --min-prob` leaves it unclassified. The two weights are fitted on
validation reads by likelihood; this also calibrates the probabilities (the
evidence alone is far too confident, as neighbouring k-mers are not
independent). A fitted ``w_model`` of 0 means the index decides alone, and
the network need not run at all (`genotx.taxon.classifier`).

The weights are stored once, in the model's ``config.json``
(``metadata.kmer_memory.weights``: ``[w_model, w_memory]``); the index file
holds only the bits.

Example::

    weights = fit_weights(model_log_probs, evidence, targets)
    probs = combine(weights, model_log_probs, evidence)     # (n, classes)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genotx.errors import InputError


@dataclass(frozen=True)
class Weights:
    """``model``: weight of the network's log-probabilities; ``memory``: weight of the k-mer evidence."""

    model: float = 1.0
    memory: float = 1.0
    # The cascade (`genotx.taxon.classifier`): a read whose memory-alone posterior puts more than this on
    # one hypothesis (a species or the background) skips the network. 1 (the default): every read runs it.
    cascade: float = 1.0

    @property
    def needs_network(self) -> bool:
        return self.model != 0

    @classmethod
    def from_metadata(cls, memory_meta: dict, where: str) -> "Weights":
        """The weights of a model's ``metadata.kmer_memory`` (``[w_model, w_memory]``, ``cascade``: default 1)."""
        try:
            w_model, w_memory = (float(w) for w in memory_meta["weights"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{where}: kmer_memory.weights must be two numbers [w_model, w_memory]") from None
        try:
            cascade = float(memory_meta.get("cascade", 1.0))
        except (TypeError, ValueError):
            cascade = -1.0
        if not 0.0 <= cascade <= 1.0:
            raise InputError(f"{where}: kmer_memory.cascade must be a probability in [0, 1]")
        return cls(w_model, w_memory, cascade)

    def as_list(self) -> list[float]:
        return [self.model, self.memory]


def log_posterior(weights, model_log_probs: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    """(n, classes + 1) log-probabilities of the species and the background; ``weights`` (w_model, w_memory)."""
    model_part = np.hstack([model_log_probs, np.zeros((len(model_log_probs), 1), dtype=model_log_probs.dtype)])
    logits = weights[0] * model_part + weights[1] * evidence
    top = logits.max(axis=1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))


def combine(weights: Weights, model_log_probs: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    """Posterior probabilities (n, classes) of the species; what they leave to 1 is the background's."""
    return np.exp(log_posterior(np.asarray(weights.as_list()), model_log_probs, evidence))[:, :-1]


def memory_alone(weights: Weights, evidence: np.ndarray) -> np.ndarray:
    """(n, classes + 1) log posterior with the network's term 0 for every species, as for the background.

    It is the combination of a read the network does not argue against: the posterior when the
    network's weight is 0, and in the cascade the posterior of a read that skips the network.
    """
    zeros = np.zeros((len(evidence), evidence.shape[1] - 1), dtype=evidence.dtype)
    return log_posterior(np.asarray(weights.as_list()), zeros, evidence)


def fit_weights(model_log_probs: np.ndarray, evidence: np.ndarray, targets: np.ndarray) -> Weights:
    """The weights >= 0 that maximise the likelihood of the validation targets."""
    from scipy.optimize import minimize

    rows = np.arange(len(targets))

    def nll(w: np.ndarray) -> float:
        log_post = log_posterior(w, model_log_probs, evidence)
        # A little L2 keeps the weights finite when validation is separated perfectly.
        return float(-np.mean(log_post[rows, targets]) + 1e-4 * (w @ w))

    best = min((minimize(nll, np.array(start), method="L-BFGS-B", bounds=[(0, 50), (0, 50)])
                for start in ((1.0, 0.1), (0.2, 1.0))), key=lambda r: r.fun)
    return Weights(float(best.x[0]), float(best.x[1]))
