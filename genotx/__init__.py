"""genotx: transformer and state-space language models for DNA, as Unix tools."""

__version__ = "0.1.0"
