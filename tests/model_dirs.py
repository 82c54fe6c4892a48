"""Tiny random-weight model directories for tests: Hugging Face checkpoints of the two DNA model families, and genotx checkpoints.

- `bert_kmer_dir`: DNABERT's layout (BertForMaskedLM, vocab.txt of [PAD] [UNK] [CLS] [SEP] [MASK] + all k-mers);
- `esm_nt_dir`: the Nucleotide Transformer's layout (EsmForMaskedLM, vocab.txt of
  <unk> <pad> <mask> <cls> <eos> <bos> + all 6-mers in ATCG order + A T C G N).

Each directory is written by transformers itself (save_pretrained: config.json, model.safetensors,
tokenizer files), as a downloaded checkpoint would be.
"""

from __future__ import annotations

import itertools
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch  # noqa: E402
import transformers  # noqa: E402

transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
NT_SPECIALS = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]


def _kmers(k: int, alphabet: str = "ACGT") -> list[str]:
    return ["".join(p) for p in itertools.product(alphabet, repeat=k)]


def bert_kmer_dir(path, k: int = 6, *, layers: int = 2, d: int = 32, max_len: int = 64, seed: int = 0) -> str:
    """A DNABERT-like directory; max_len counts [CLS] and [SEP]."""
    os.makedirs(path, exist_ok=True)
    vocab = BERT_SPECIALS + _kmers(k)
    with open(os.path.join(path, "vocab.txt"), "w") as fh:
        fh.write("\n".join(vocab) + "\n")
    torch.manual_seed(seed)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=d, num_hidden_layers=layers,
                                     num_attention_heads=2, intermediate_size=2 * d, max_position_embeddings=max_len,
                                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    transformers.BertForMaskedLM(config).eval().save_pretrained(path)
    tokenizer = transformers.BertTokenizer(os.path.join(path, "vocab.txt"), do_lower_case=False,
                                           model_max_length=max_len)
    tokenizer.save_pretrained(path)
    return str(path)


def bert_tokens(seq: str, k: int = 6) -> str:
    """How a DNABERT user writes a sequence for the tokenizer: its overlapping k-mers, space-separated."""
    return " ".join(seq[i : i + k] for i in range(len(seq) - k + 1))


def esm_nt_dir(path, *, layers: int = 2, d: int = 32, max_len: int = 128, seed: int = 0,
               position: str = "rotary", architecture=None) -> str:
    """A Nucleotide-Transformer-like directory (EsmForMaskedLM unless `architecture` is given)."""
    os.makedirs(path, exist_ok=True)
    vocab = NT_SPECIALS + _kmers(6, "ATCG") + list("ATCGN")
    with open(os.path.join(path, "vocab.txt"), "w") as fh:
        fh.write("\n".join(vocab) + "\n")
    torch.manual_seed(seed)
    config = transformers.EsmConfig(vocab_size=len(vocab), hidden_size=d, num_hidden_layers=layers,
                                    num_attention_heads=2, intermediate_size=2 * d, max_position_embeddings=max_len,
                                    pad_token_id=1, mask_token_id=2, position_embedding_type=position,
                                    token_dropout=False, emb_layer_norm_before=False,
                                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (architecture or transformers.EsmForMaskedLM)(config).eval().save_pretrained(path)
    tokenizer = transformers.EsmTokenizer(os.path.join(path, "vocab.txt"), model_max_length=max_len)
    tokenizer.save_pretrained(path)
    return str(path)


def genotx_dir(path, *, head: str = "lm", causal: bool = False, tokenizer: str = "char", classes=None,
               d: int = 32, layers: int = 2, max_len: int = 256, seed: int = 0) -> str:
    """A genotx checkpoint with random weights: an MLM (default), an AR model (causal) or a classifier."""
    from genotx.models import GenomicModel, ModelConfig, save_checkpoint
    from genotx.tokenizers import build_tokenizer

    tok = build_tokenizer("char") if tokenizer == "char" else build_tokenizer("kmer", k=3, stride=3)
    torch.manual_seed(seed)
    config = ModelConfig(vocab_size=tok.vocab_size, d_model=d, n_layers=layers, n_heads=2, max_len=max_len,
                         causal=causal, head=head, n_outputs=len(classes) if classes else 0)
    model = GenomicModel(config)
    with torch.no_grad():  # away from the initial values: outputs then depend on every weight
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    metadata = {"task": "regulatory", "classes": list(classes)} if classes else {"objective": "ar" if causal else "mlm"}
    save_checkpoint(str(path), model.eval(), tok, metadata)
    return str(path)
