"""Sequence input and TSV output. Never imports torch."""

from genotx.io.reader import Record, RecordBatch, iter_batches, iter_records, normalise, record_id, revcomp
from genotx.io.tsv import TsvWriter

__all__ = ["Record", "RecordBatch", "iter_batches", "iter_records", "normalise", "record_id", "revcomp", "TsvWriter"]
