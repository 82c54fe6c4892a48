"""Metrics reported beside every model: classification and regression.

Predictions that are not a class (``unclassified``) count as misses of the
true class and as nobody's false positive, the convention of read classifiers.
"""

from __future__ import annotations

import numpy as np


def classification_metrics(truth, predicted, classes=None) -> dict[str, float]:
    """Accuracy, macro-F1 (over ``classes``, default: the true labels) and MCC.

    Example: ``classification_metrics(["a", "b"], ["a", "unclassified"])["accuracy"] == 0.5``.
    """
    from sklearn.metrics import f1_score, matthews_corrcoef

    truth, predicted = np.asarray(truth), np.asarray(predicted)
    if len(truth) == 0:
        return {"n": 0, "accuracy": float("nan"), "macro_f1": float("nan"), "mcc": float("nan")}
    labels = sorted(set(truth.tolist())) if classes is None else list(classes)
    return {
        "n": int(len(truth)),
        "accuracy": float(np.mean(truth == predicted)),
        "macro_f1": float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        "mcc": float(matthews_corrcoef(truth, predicted)),
    }


def auroc(truth: np.ndarray, probs: np.ndarray) -> float:
    """Area under the ROC curve: binary (probs of class 1) or macro one-vs-rest (n, C)."""
    from sklearn.metrics import roc_auc_score

    truth, probs = np.asarray(truth), np.asarray(probs)
    if len(np.unique(truth)) < 2:
        return float("nan")
    if probs.ndim == 2 and probs.shape[1] == 2:
        probs = probs[:, 1]
    if probs.ndim == 1:
        return float(roc_auc_score(truth, probs))
    present = np.unique(truth)
    scores = [roc_auc_score(truth == c, probs[:, c]) for c in present]
    return float(np.mean(scores))


def regression_metrics(truth, predicted) -> dict[str, float]:
    """Pearson and Spearman correlation and RMSE: ``regression_metrics([1, 2, 3], [1, 2, 4])``."""
    from scipy.stats import pearsonr, spearmanr

    truth, predicted = np.asarray(truth, dtype=float), np.asarray(predicted, dtype=float)
    constant = np.ptp(truth) == 0 or np.ptp(predicted) == 0
    return {
        "n": int(len(truth)),
        "pearson": float("nan") if constant else float(pearsonr(truth, predicted)[0]),
        "spearman": float("nan") if constant else float(spearmanr(truth, predicted)[0]),
        "rmse": float(np.sqrt(np.mean((truth - predicted) ** 2))),
    }
