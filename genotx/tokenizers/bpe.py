"""bpe tokenizer (training and encoding land in the next commit)."""

from genotx.errors import InputError
from genotx.tokenizers.base import Tokenizer


class BpeTokenizer(Tokenizer):
    kind = "bpe"

    @classmethod
    def train(cls, paths, **options):
        raise InputError("bpe training is not available yet")

    @classmethod
    def _from_dict(cls, d):
        raise InputError("bpe tokenizers are not available yet")
