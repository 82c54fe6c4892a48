"""The taxon task: which species a sequencing read comes from.

- `genomes`: labelled genomes (a taxa TSV or ``taxon=`` header tags) and the shipped set.
- `simulate`: reads with a documented sequencing-error model and the truth in their ids.
- `kmer_index`: per-species bits of hashed canonical k-mers and the evidence they give (no weights);
  its hits are counted in C (`_kmer_hits`) where built, and its file (`index_file`) is memory-mapped.
- `heldout`: reads of strains the index has not seen (leave one strain out), to fit the combination on.
- `combine`: the network's output and the index's evidence in one posterior; the fit of their weights.
- `classifier`: a model directory's classifier, which runs the network only when its weight is not 0.

Everything but `classifier` is numpy only. Reads below `predict --min-prob` are called `UNCLASSIFIED`.
"""

UNCLASSIFIED = "unclassified"
