"""Simple baselines reported beside every model accuracy, on the same split.

- k-mer spectrum + logistic regression: each sequence becomes the frequency
  vector of its canonical k-mers (a k-mer and its reverse complement are one
  feature, so both strands of a read look alike); k-mers with N are skipped.
- one-hot + logistic regression (equal-length sets such as splice sites),
  where the signal is positional and a k-mer spectrum would lose it.
- ridge regression on the k-mer spectrum for expression values.
- a small CNN on one-hot input (`CNNBaseline`): one convolution of motif-sized
  filters, a second one over their matches, global max pooling and a linear
  layer, trained a few epochs on CPU; unlike a k-mer spectrum it sees motifs
  with their flanks, and unlike one-hot LR it finds them anywhere.

The fitted weights are plain arrays, saved as safetensors + JSON, and
prediction is a matrix product in numpy.
"""

from __future__ import annotations

import json

import numpy as np

from genotx.errors import InputError
from genotx.io.codes import encode, strings_to_codes


def _canonical_columns(k: int) -> tuple[np.ndarray, int]:
    """Column of each k-mer index after merging reverse complements, and the column count."""
    index = np.arange(4**k, dtype=np.int64)
    rc = np.zeros_like(index)
    rest = index.copy()
    for _ in range(k):  # complement = 3 - base, read backwards
        rc = rc * 4 + (3 - rest % 4)
        rest //= 4
    canonical = np.minimum(index, rc)
    reps, column = np.unique(canonical, return_inverse=True)
    return column, len(reps)


def kmer_profiles(seqs: list[str], k: int = 6, canonical: bool = True):
    """Sparse (n, features) matrix of k-mer frequencies per sequence (rows sum to 1).

    Example: ``kmer_profiles(["ACGTAC", "GTACGT"], k=3).shape == (2, 32)``.
    """
    from scipy.sparse import csr_matrix

    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    codes = encode("".join(seqs)).astype(np.int64)
    row_of = np.repeat(np.arange(len(seqs)), lengths)
    start_of = np.repeat(np.cumsum(lengths) - lengths, lengths)
    n_kmers = len(codes) - k + 1
    if n_kmers > 0:
        kmer = np.zeros(n_kmers, dtype=np.int64)
        is_n = np.zeros(n_kmers, dtype=bool)
        for j in range(k):
            part = codes[j : j + n_kmers]
            kmer = kmer * 4 + np.minimum(part, 3)
            is_n |= part == 4
        # A k-mer is kept when it lies inside one sequence and has no N.
        pos = np.arange(n_kmers)
        keep = (~is_n) & (pos - start_of[:n_kmers] + k <= lengths[row_of[:n_kmers]])
        rows, kmer = row_of[:n_kmers][keep], kmer[keep]
    else:
        rows, kmer = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if canonical:
        column, width = _canonical_columns(k)
        kmer = column[kmer]
    else:
        width = 4**k
    counts = csr_matrix((np.ones(len(kmer)), (rows, kmer)), shape=(len(seqs), width))
    totals = np.asarray(counts.sum(axis=1)).ravel()
    totals[totals == 0] = 1
    return csr_matrix(counts.multiply(1 / totals[:, None]))


def onehot_features(seqs: list[str]) -> np.ndarray:
    """(n, 4 * length) one-hot matrix; N is all zeros; sequences must have equal length."""
    lengths = {len(s) for s in seqs}
    if len(lengths) != 1:
        raise InputError(f"one-hot features need sequences of one length, found lengths {sorted(lengths)[:5]}")
    codes = strings_to_codes(seqs)
    eye = np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), dtype=np.float32)])
    return eye[codes].reshape(len(seqs), -1)


def _features(seqs: list[str], kind: str, k: int):
    if kind == "kmer":
        return kmer_profiles(seqs, k=k)
    if kind == "onehot":
        return onehot_features(seqs)
    raise InputError(f"unknown baseline features {kind!r} (choose kmer or onehot)")


class LinearBaseline:
    """Logistic regression (classes) or ridge (values) on k-mer or one-hot features.

    Example::

        model = LinearBaseline(features="kmer", k=5).fit(train_seqs, train_labels, classes)
        probs = model.predict_proba(test_seqs)            # (n, len(classes))
    """

    def __init__(self, *, features: str = "kmer", k: int = 5, c: float = 10.0, max_iter: int = 100, seed: int = 0):
        self.features, self.k, self.c, self.max_iter, self.seed = features, k, c, max_iter, seed
        self.classes: list[str] | None = None
        self.coef = self.intercept = None

    def fit(self, seqs: list[str], labels: np.ndarray, classes: list[str]) -> "LinearBaseline":
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        # k-mer frequencies are small numbers; scaling by the feature count puts them near 1.
        x = _features(seqs, self.features, self.k) * self._scale()
        with warnings.catch_warnings():
            # A capped number of iterations is a deliberate speed/accuracy trade-off here.
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = LogisticRegression(C=self.c, max_iter=self.max_iter, random_state=self.seed).fit(x, labels)
        coef, intercept = fit.coef_, fit.intercept_
        if len(fit.classes_) == 2 and coef.shape[0] == 1:  # sklearn keeps one row for 2 classes
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef = np.zeros((len(classes), coef.shape[1]), dtype=np.float32)
        self.intercept = np.full(len(classes), -1e4, dtype=np.float32)  # classes absent from training
        self.coef[fit.classes_] = coef
        self.intercept[fit.classes_] = intercept
        self.classes = list(classes)
        return self

    def _scale(self) -> float:
        return float(self.coef_width()) if self.features == "kmer" else 1.0

    def coef_width(self) -> int:
        return _canonical_columns(self.k)[1]

    def predict_proba(self, seqs: list[str]) -> np.ndarray:
        x = _features(seqs, self.features, self.k) * self._scale()
        logits = np.asarray(x @ self.coef.T) + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        return probs / probs.sum(axis=1, keepdims=True)

    def predict(self, seqs: list[str]) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(seqs).argmax(axis=1)]

    def save(self, path: str) -> None:
        """Write weights (safetensors) with the settings as metadata, atomically."""
        from safetensors.numpy import save_file

        meta = {"features": self.features, "k": self.k, "c": self.c, "classes": self.classes}
        from genotx.io.atomic import atomic_path

        with atomic_path(path) as tmp:
            save_file({"coef": self.coef, "intercept": self.intercept}, tmp, metadata={"baseline": json.dumps(meta)})

    @classmethod
    def load(cls, path: str) -> "LinearBaseline":
        from safetensors import safe_open

        try:
            with safe_open(path, framework="numpy") as f:
                meta = json.loads(f.metadata()["baseline"])
                coef, intercept = f.get_tensor("coef"), f.get_tensor("intercept")
        except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not a genotx baseline ({exc})") from None
        model = cls(features=meta["features"], k=meta["k"], c=meta["c"])
        model.classes, model.coef, model.intercept = meta["classes"], coef, intercept
        return model


def _onehot_padded(seqs: list[str]):
    """(n, 4, longest) one-hot tensor (N and padding all zeros) and the (n,) lengths."""
    import torch

    longest = max(len(s) for s in seqs)
    codes = np.full((len(seqs), longest), 4, dtype=np.int64)
    for i, s in enumerate(seqs):
        codes[i, : len(s)] = encode(s)
    eye = torch.cat([torch.eye(4), torch.zeros(1, 4)])
    return eye[torch.from_numpy(codes)].transpose(1, 2).contiguous(), torch.tensor([len(s) for s in seqs])


class CNNBaseline:
    """conv(4 -> filters, width) - ReLU - conv(filters -> filters, 5) - ReLU - global max pool - linear.

    ``both_strands`` also reads the reverse complement and keeps the larger
    match per filter, for sets where a motif's orientation carries no meaning.
    ``bins`` > 0 max-pools each of that many equal segments of the sequence
    instead of the whole of it and flattens them, so the linear layer knows
    where a match lies (splice sites: the GT must sit at the junction).

    Example::

        model = CNNBaseline(epochs=8).fit(train_seqs, train_labels, classes)
        probs = model.predict_proba(test_seqs)            # (n, len(classes))
    """

    def __init__(self, *, filters: int = 32, width: int = 11, epochs: int = 8, lr: float = 3e-3,
                 batch_size: int = 64, both_strands: bool = False, bins: int = 0, seed: int = 0):
        self.filters, self.width, self.epochs, self.lr, self.bins = filters, width, epochs, lr, bins
        self.batch_size, self.both_strands, self.seed = batch_size, both_strands, seed
        self.classes: list[str] | None = None
        self.net = None

    def _logits(self, x, lengths):
        import torch

        conv1, conv2, head = self.net
        # Past a sequence's end the second layer must read zeros (as at an unpadded end)
        # and nothing may win the max pool, so a sequence scores alike alone or in a batch.
        valid = (torch.arange(x.shape[-1])[None, :] < lengths[:, None])[:, None, :]

        def pooled(one_hot):
            h = torch.relu(conv1(one_hot)).masked_fill(~valid, 0.0)
            h = torch.relu(conv2(h)).masked_fill(~valid, float("-inf"))
            if self.bins:  # padding reads 0 here: -inf would fill whole bins of a short row
                return torch.nn.functional.adaptive_max_pool1d(h.clamp_min(0.0), self.bins).flatten(1)
            return h.amax(-1)

        best = pooled(x)
        if self.both_strands:  # reverse complement: flip A<->T, C<->G and the positions of each row
            rc = torch.zeros_like(x)
            for i, n in enumerate(lengths.tolist()):
                rc[i, :, :n] = x[i, :, :n].flip(0).flip(-1)
            best = torch.maximum(best, pooled(rc))
        return head(best)

    def fit(self, seqs: list[str], labels: np.ndarray, classes: list[str]) -> "CNNBaseline":
        import torch

        torch.manual_seed(self.seed)
        pad = self.width // 2
        self.net = torch.nn.ModuleList([
            torch.nn.Conv1d(4, self.filters, self.width, padding=pad),
            torch.nn.Conv1d(self.filters, self.filters, 5, padding=2),
            torch.nn.Linear(self.filters * max(1, self.bins), len(classes)),
        ])
        self.classes = list(classes)
        x, lengths = _onehot_padded(seqs)
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        counts = torch.bincount(y, minlength=len(classes)).float()
        weight = torch.where(counts > 0, counts.sum() / counts.clamp_min(1) / len(classes), torch.zeros(()))
        optimizer = torch.optim.AdamW(self.net.parameters(), lr=self.lr, weight_decay=1e-2)
        rng = np.random.default_rng(self.seed)
        self.net.train()
        for _ in range(self.epochs):
            for batch in np.array_split(rng.permutation(len(seqs)), max(1, len(seqs) // self.batch_size)):
                index = torch.from_numpy(batch)
                loss = torch.nn.functional.cross_entropy(self._logits(x[index], lengths[index]), y[index], weight=weight)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.net.eval()
        return self

    def predict_proba(self, seqs: list[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(seqs), 512):
                x, lengths = _onehot_padded(seqs[start : start + 512])
                out.append(self._logits(x, lengths).softmax(-1).numpy())
        return np.concatenate(out)

    def predict(self, seqs: list[str]) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(seqs).argmax(axis=1)]


def ridge_baseline(train_seqs: list[str], train_values: np.ndarray, test_seqs: list[str], k: int = 4,
                   alpha: float = 1.0) -> np.ndarray:
    """Predicted values of ``test_seqs`` from a ridge regression on k-mer spectra."""
    from sklearn.linear_model import Ridge

    width = _canonical_columns(k)[1]
    fit = Ridge(alpha=alpha).fit(kmer_profiles(train_seqs, k=k) * width, train_values)
    return fit.predict(kmer_profiles(test_seqs, k=k) * width)
