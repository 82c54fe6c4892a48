"""Sequence logos as PNG with matplotlib (no logo library needed).

Each column is a stack of letters whose heights are p_b * IC (bits against
the input's background), the tallest on top. Letters are glyph outlines
(TextPath) stretched into their box, so heights are exact.
"""

from __future__ import annotations


import numpy as np

from genotx.motifs.pfm import BASES, information_content

COLOURS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}


def _letter(ax, letter: str, x: float, y: float, height: float) -> None:
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import PathPatch
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    box = path.get_extents()
    scale = Affine2D().translate(-box.x0, -box.y0).scale(0.9 / box.width, height / box.height).translate(x + 0.05, y)
    ax.add_patch(PathPatch(scale.transform_path(path), color=COLOURS[letter], lw=0))


def column_heights(pfm: np.ndarray, background_freqs=None) -> np.ndarray:
    """(width, 4) letter heights in bits: p_b times the column's information content."""
    pfm = np.asarray(pfm, dtype=float)
    return pfm * information_content(pfm, background_freqs)[:, None]


def write_logo(path: str, pfm: np.ndarray, background_freqs=None, title: str = "") -> None:
    """Write a PNG sequence logo (atomically).

    Example: ``write_logo("logos/motif1.png", pfm, title="motif1 ~ CTCF")``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heights = column_heights(pfm, background_freqs)
    top = max(2.0, float(heights.sum(axis=1).max()) * 1.05)
    fig, ax = plt.subplots(figsize=(max(3.0, 0.45 * len(heights) + 1), 2.2), dpi=100)
    for x, col in enumerate(heights):
        y = 0.0
        for b in np.argsort(col):
            if col[b] > 1e-3:
                _letter(ax, BASES[b], x, y, col[b])
                y += col[b]
    ax.set_xlim(0, len(heights))
    ax.set_ylim(0, top)
    ax.set_xticks(np.arange(len(heights)) + 0.5, [str(i + 1) for i in range(len(heights))], fontsize=7)
    ax.set_ylabel("bits")
    if title:
        ax.set_title(title, fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    from genotx.io.atomic import atomic_path

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
