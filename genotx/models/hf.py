"""Hugging Face model directories run through transformers, as a `ModelAdapter`.

A directory is recognised by its config.json (a ``model_type``, see
`genotx.models.hf_load`) and loaded as it is, with no conversion: weights from
safetensors, ``local_files_only`` and the hub offline. The model class follows
``architectures[0]``: ``*ForMaskedLM`` (kind mlm), ``*ForCausalLM`` (ar),
``*ForSequenceClassification`` (classifier, or regressor with one label),
anything else the bare encoder (embeddings only). A classifier written by
``genotx finetune --from`` carries genotx.json (`genotx.models.hf_load`): its
class names, and for a regressor the scale its values are given back in.

Tokens: DNABERT's k-mer vocabularies and the Nucleotide Transformer's
6-mers + single bases are encoded from the vocabulary with numpy
(`genotx.models.hf_tokenize`); the special tokens around a sequence come from
the directory's own tokenizer. Other vocabularies go through the directory's
tokenizer itself (a fast tokenizer is needed for the offsets of its tokens).

Example::

    adapter = HfAdapter.load("InstaDeepAI-nt-50m", dtype=torch.float32, device="cpu")
    hidden = adapter.hidden(adapter.batch([adapter.tokenize("ACGT" * 50)[0]]), -1)
"""

from __future__ import annotations

import os

import numpy as np

from genotx.errors import InputError
from genotx.models.adapter import ModelAdapter, TokenBatch
from genotx.models.hf_load import (check_hf_dir, is_hf_dir, offline_transformers,  # noqa: F401 (is_hf_dir re-exported)
                                   read_finetune_record)
from genotx.models.hf_tokenize import detect_scheme, read_vocab

HEADS = (("ForMaskedLM", "mlm"), ("ForCausalLM", "ar"), ("LMHeadModel", "ar"), ("ForSequenceClassification", "classifier"))


def _kind(config: dict) -> str:
    architecture = (config.get("architectures") or [""])[0]
    kind = next((k for suffix, k in HEADS if architecture.endswith(suffix)), "encoder")
    if kind == "classifier" and (config.get("problem_type") == "regression" or len(config.get("id2label") or {0: 0, 1: 1}) == 1):
        return "regressor"
    return kind


def _auto_class(transformers, kind: str):
    return {"mlm": transformers.AutoModelForMaskedLM, "ar": transformers.AutoModelForCausalLM,
            "classifier": transformers.AutoModelForSequenceClassification,
            "regressor": transformers.AutoModelForSequenceClassification}.get(kind, transformers.AutoModel)


def _load_tokenizer(transformers, path: str, trust_remote_code: bool):
    """The directory's tokenizer, or None where transformers cannot build it offline."""
    try:
        return transformers.AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code)
    except Exception:  # noqa: BLE001 - a missing or custom tokenizer: the vocabulary decides alone
        return None


def _frame(tokenizer, vocab: list[str], sample: str) -> tuple[list[int], list[int]]:
    """Special ids before and after a sequence: the directory tokenizer's, else [CLS]/[SEP] or <cls>/<eos> of the vocab."""
    if tokenizer is not None:
        bare = tokenizer(sample, add_special_tokens=False)["input_ids"]
        framed = tokenizer(sample, add_special_tokens=True)["input_ids"]
        for start in range(len(framed) - len(bare) + 1):
            if framed[start : start + len(bare)] == bare:
                return list(framed[:start]), list(framed[start + len(bare) :])
    index = {t: i for i, t in enumerate(vocab)}
    for cls, sep in (("[CLS]", "[SEP]"), ("<cls>", "<eos>")):
        if cls in index:
            return [index[cls]], [index[sep]] if sep in index else []
    return [], []


class HfAdapter(ModelAdapter):
    def __init__(self, model, config: dict, path: str, tokenizer, *, device: str):
        self.model, self.source, self.device = model, path, device
        self.kind = _kind(config)
        self.hf_tokenizer = tokenizer
        vocab_file = os.path.join(path, "vocab.txt")
        vocab = read_vocab(vocab_file) if os.path.isfile(vocab_file) else []
        unk = getattr(tokenizer, "unk_token", None)
        self.scheme = detect_scheme(vocab, unk) if vocab else None
        if self.scheme is None and (tokenizer is None or not getattr(tokenizer, "is_fast", False)):
            raise InputError(f"{path}: neither a DNA vocabulary this version reads (k-mers, 6-mers + bases, bases) "
                             "nor a fast tokenizer (tokenizer.json) to encode sequences with")
        self.prefix, self.suffix = _frame(tokenizer, vocab, "ACGTAC")
        index = {t: i for i, t in enumerate(vocab)}
        self.mask_id = getattr(tokenizer, "mask_token_id", None) or index.get("[MASK]", index.get("<mask>"))
        pad = config.get("pad_token_id")
        self.pad_id = int(pad if pad is not None else getattr(tokenizer, "pad_token_id", None) or 0)
        self.max_tokens = self._max_tokens(config, tokenizer)
        self.n_layers = int(config.get("num_hidden_layers") or config.get("n_layer") or config.get("num_layers") or 0)
        self.d_model = int(config.get("hidden_size") or config.get("d_model") or config.get("n_embd") or 0)
        labels = config.get("id2label") or {}
        self.classes = [labels[k] for k in sorted(labels, key=int)] if self.kind == "classifier" else []
        self.record = read_finetune_record(path) or {}  # genotx.json of a model from genotx finetune

    @property
    def window_bases(self) -> int:
        """Most bases read at once: overlapping k-mers take k - 1 more bases than tokens, the Nucleotide
        Transformer's 6-mers six per token (a window whose Ns make it longer is read in halves, see
        `genotx.models.windows.base_windows`); other tokens at least one base each."""
        tokens = self.max_sequence_tokens
        if self.scheme is not None and self.scheme.kind == "kmer":
            return tokens + self.scheme.k - 1
        if self.scheme is not None and self.scheme.kind == "greedy":
            return tokens * self.scheme.k
        return tokens

    @staticmethod
    def _max_tokens(config: dict, tokenizer) -> int:
        limit = int(config.get("max_position_embeddings") or config.get("n_positions") or 512)
        if config.get("model_type") == "esm" and config.get("position_embedding_type", "absolute") == "absolute":
            limit -= int(config.get("pad_token_id") or 0) + 1  # ESM counts positions from padding_idx + 1
        elif config.get("model_type") in ("roberta", "camembert", "xlm-roberta"):
            limit -= int(config.get("pad_token_id") or 0) + 1
        model_max = getattr(tokenizer, "model_max_length", None)
        if isinstance(model_max, int) and 0 < model_max < limit:
            limit = model_max
        return limit

    @classmethod
    def load(cls, path: str, *, dtype=None, device: str = "cpu", allow_pickle: bool = False,
             trust_remote_code: bool = False, labels: list[str] | None = None) -> "HfAdapter":
        """The model of a directory; with ``labels`` (fine-tuning) its encoder under a sequence classification
        head of those labels (one label: a regressor), the head kept where it has that shape, else new."""
        config = check_hf_dir(path, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
        transformers = offline_transformers()
        safe = any(os.path.exists(os.path.join(path, f)) for f in ("model.safetensors", "model.safetensors.index.json"))
        options = {"local_files_only": True, "use_safetensors": safe, "trust_remote_code": trust_remote_code, "dtype": dtype}
        kind = _kind(config)
        if labels is not None:
            kind = "regressor" if len(labels) == 1 else "classifier"
            problem = "regression" if kind == "regressor" else "single_label_classification"
            options.update(num_labels=len(labels), id2label=dict(enumerate(labels)), problem_type=problem,
                           label2id={v: i for i, v in enumerate(labels)}, ignore_mismatched_sizes=True)
        try:
            model = _auto_class(transformers, kind).from_pretrained(path, **options)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise InputError(f"{path}: transformers cannot load the model ({str(exc).splitlines()[0]})") from None
        if labels is not None:
            model.config.architectures = [type(model).__name__]
            config = model.config.to_dict()
        tokenizer = _load_tokenizer(transformers, path, trust_remote_code)
        return cls(model.to(device).eval(), config, path, tokenizer, device=device)

    def tokenize(self, seq: str) -> tuple[np.ndarray, np.ndarray]:
        if self.scheme is not None:
            return self.scheme.encode(seq)
        encoded = self.hf_tokenizer(seq, add_special_tokens=False, return_offsets_mapping=True)
        return np.asarray(encoded["input_ids"], np.int64), np.asarray(encoded["offset_mapping"], np.int64).reshape(-1, 2)

    def _forward(self, batch: TokenBatch, **options):
        attention = batch.attention.long() if batch.padded else None
        return self.model(input_ids=batch.ids, attention_mask=attention, **options)

    def hidden(self, batch: TokenBatch, layer: int = -1):
        index = self.layer_index(layer)
        # The encoder alone: an MLM head would project every token onto the vocabulary (4,101 x 256
        # multiply-adds per token for DNABERT-6 at d=256, about a fifth of the encoder's work), for nothing.
        attention = batch.attention.long() if batch.padded else None
        encoder = self.model.base_model
        if index == self.n_layers:
            return encoder(input_ids=batch.ids, attention_mask=attention).last_hidden_state.float()
        return encoder(input_ids=batch.ids, attention_mask=attention, output_hidden_states=True).hidden_states[index].float()

    def log_probs(self, batch: TokenBatch, select=None):
        if self.kind not in ("mlm", "ar"):
            raise InputError(f"{self.source}: {self.kind} model ({type(self.model).__name__}) has no token probabilities")
        head = getattr(self.model, "cls", None) or getattr(self.model, "lm_head", None)
        if select is not None and self.kind == "mlm" and head is not None:
            # The vocabulary projection only where asked: (64 rows x 1000 tokens x 4107) logits would be 1 GB.
            attention = batch.attention.long() if batch.padded else None
            hidden = self.model.base_model(input_ids=batch.ids, attention_mask=attention).last_hidden_state
            return head(hidden[select]).float().log_softmax(-1)
        logits = self._forward(batch).logits
        return (logits if select is None else logits[select]).float().log_softmax(-1)

    def logits(self, batch: TokenBatch):
        if self.kind not in ("classifier", "regressor"):
            raise InputError(f"{self.source}: {self.kind} model ({type(self.model).__name__}) has no classification head")
        return self._forward(batch).logits.float()

    def head(self, batch: TokenBatch):
        logits = self.logits(batch)
        if self.kind == "regressor":  # genotx finetune trains on standardised values and keeps their scale
            return logits.squeeze(-1) * self.record.get("target_std", 1.0) + self.record.get("target_mean", 0.0)
        return logits.softmax(-1)

    def attentions(self, batch: TokenBatch) -> tuple:
        """Attention probabilities of every layer, each (B, heads, T, T)."""
        if getattr(self.model.config, "_attn_implementation", "eager") != "eager":
            self.model.set_attn_implementation("eager")  # the fused kernels (sdpa, flash) return no weights
        return tuple(self._forward(batch, output_attentions=True).attentions)
