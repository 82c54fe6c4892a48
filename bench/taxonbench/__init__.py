"""The parts of `bench/taxon.py`: tools (Kraken2, the k-mer baseline, `genotx predict` as timed
processes), accuracy (truth of real reads, scores, held-out strain rows), speed (whole processes
side by side) and regulatory (baselines of the shipped regulatory sets)."""
