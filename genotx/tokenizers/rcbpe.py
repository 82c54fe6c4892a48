"""rcbpe tokenizer (training and encoding land in the next commit)."""

from genotx.errors import InputError
from genotx.tokenizers.base import Tokenizer


class RcBpeTokenizer(Tokenizer):
    kind = "rcbpe"

    @classmethod
    def train(cls, paths, **options):
        raise InputError("rcbpe training is not available yet")

    @classmethod
    def _from_dict(cls, d):
        raise InputError("rcbpe tokenizers are not available yet")
