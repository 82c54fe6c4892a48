#!/usr/bin/env bash
# Reproduce models/taxon-default from scratch (fixed seed) on a 2-core CPU.
#
# Species: the training split of data/genomes/taxa.tsv (10 species; one strain
# each of H. pylori, S. aureus and V. cholerae is held out for evaluation).
# Reads: simulated on the fly from both strands, 150 bp, per-read error rate
# uniform in 0-3 % (80 % substitutions, 10 % insertions, 10 % deletions).
# Model: preset taxon-tiny (d_model 64, 2 layers, 4 heads, learned positions)
# on 6-mers taken every 3 bases (kmer6:3), mean pooling, classification head.
# Stride 3 keeps a 150 bp read at 49 tokens: every base is in two tokens, at a
# third of the cost of overlapping 6-mers (146 tokens). Non-overlapping 6-mers
# (26 tokens) were faster but reached only macro-F1 0.67 after 2000 steps.
# k-mer memory: canonical 13-mers of each species hashed into 2^23 buckets (one bit per species and bucket)
# (genotx.taxon.kmer_index, 10.5 MB); its weight against the transformer (genotx.taxon.combine) is
# fitted on the 2000 validation reads after training.
#
# Usage: models/train_taxon_default.sh [OUT_DIR]   (default: models/taxon-default)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-models/taxon-default}
GENOTX=${GENOTX:-.venv/bin/genotx}
train=$(awk -F'\t' 'NR > 1 && $6 == "train" { printf "data/genomes/%s ", $1 }' data/genomes/taxa.tsv)
# shellcheck disable=SC2086
"$GENOTX" finetune --task taxon $train --taxa data/genomes/taxa.tsv \
    --preset taxon-tiny --tokenizer kmer6:3 --pooling mean --read-lengths 150 --error-rate 0-0.03 \
    --steps "${STEPS:-6000}" --batch-size 128 --lr 3e-3 --eval-every 500 --patience 4 \
    --kmer-memory 13:23 --seed 1 -o "$out"
