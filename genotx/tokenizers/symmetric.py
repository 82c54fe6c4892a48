"""The merge engine of rcbpe: symmetric rounds of parallel merges on numpy arrays.

A token array holds whole batches: sequences are separated by a separator id
that no merge contains, so they never interact. Each pair of adjacent tokens
has the rank of its merge class (`NO_RANK` when it has none). One round merges,
at once, every maximal run of equal ranks that is lower than the ranks on both
sides of it; see `select_pairs` for the choice inside a run and
genotx/tokenizers/rcbpe.py for why every rule commutes with reverse complement.
"""

from __future__ import annotations

import numpy as np

from genotx.tokenizers.base import FIRST_BASE_ID

try:  # the rounds of encoding in C; this module's numpy rounds are the reference and the trainer's
    from genotx.tokenizers._symmetric import merge_rounds as _merge_rounds
except ImportError:  # built without a C compiler
    _merge_rounds = None

NO_RANK = np.iinfo(np.int32).max
DENSE_IDS = 1024  # pairs of tokens with ids below this are looked up in a dense table
SEARCH_ONLY = 4096  # lookups of fewer pairs than this skip the dense table


class PairTable:
    """Class rank and merged token id of every pair that has a merge.

    Example::

        table = PairTable(radix=11)
        table.add([5 * 11 + 5], ranks=[0], made=[10])     # A + A -> AA
        table.lookup(np.array([5]), np.array([5]))         # ([0], [10])
    """

    def __init__(self, radix: int):
        self.radix = radix
        self.keys = np.zeros(0, dtype=np.int64)
        self.ranks = np.zeros(0, dtype=np.int32)
        self.made = np.zeros(0, dtype=np.int32)
        side = min(radix, DENSE_IDS)
        self.side = side
        self.dense_rank = np.full(side * side, NO_RANK, dtype=np.int32)
        self.dense_made = np.zeros(side * side, dtype=np.int32)

    def add(self, keys, ranks, made) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        ranks = np.asarray(ranks, dtype=np.int32)
        made = np.asarray(made, dtype=np.int32)
        all_keys = np.concatenate([self.keys, keys])
        order = np.argsort(all_keys, kind="stable")
        self.keys = all_keys[order]
        self.ranks = np.concatenate([self.ranks, ranks])[order]
        self.made = np.concatenate([self.made, made])[order]
        left, right = keys // self.radix, keys % self.radix
        small = (left < self.side) & (right < self.side)
        self.dense_rank[left[small] * self.side + right[small]] = ranks[small]
        self.dense_made[left[small] * self.side + right[small]] = made[small]

    def lookup(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rank or NO_RANK, merged id) of each pair (left[i], right[i])."""
        if left.size < SEARCH_ONLY:
            return self._search(left, right, with_made=True)
        small = (left < self.side) & (right < self.side)
        dense_at = np.where(small, left * self.side + right, 0)
        rank = self.dense_rank[dense_at]
        made = self.dense_made[dense_at]
        if small.all():
            return rank, made
        big = np.flatnonzero(~small)
        rank[big], made[big] = self._search(left[big], right[big], with_made=True)
        return rank, made

    def _search(self, left: np.ndarray, right: np.ndarray, with_made: bool):
        """Binary search in the sorted keys: fewer array operations than the dense path,
        which pays off on the small arrays of the later merge rounds."""
        if not self.keys.size:
            none = np.full(left.size, NO_RANK, dtype=np.int32)
            return (none, np.zeros(left.size, dtype=np.int32)) if with_made else none
        keys = left.astype(np.int64)
        keys *= self.radix
        keys += right
        at = np.searchsorted(self.keys, keys)
        np.minimum(at, self.keys.size - 1, out=at)
        rank = self.ranks[at]
        rank[self.keys[at] != keys] = NO_RANK
        return (rank, self.made[at]) if with_made else rank


def select_pairs(rank: np.ndarray) -> np.ndarray:
    """Positions of the pairs merged this round, given the rank of every pair.

    Ranks are compared after a run of exactly two equal ranks is set to
    NO_RANK: such a run (``AAA``, ``x P rc(x)``) has no symmetric choice and
    never merges, so it must not hold back its neighbours either. Then every
    maximal run of equal ranks lower than the ranks on both sides of it merges:
    a single pair merges whole, a run of m >= 3 overlapping pairs takes the
    pairs at even distance from its nearer end that do not touch their mirror
    image. Example: ranks ``[5, 3, 3, 3, 7, 2, 2, 9]`` -> ``[1, 3]``: the run of
    three 3s, lower than 5 and 7, takes its first and last pair; the two 2s are
    a stuck run.
    """
    n = rank.size
    equal = np.zeros(n + 1, dtype=bool)  # equal[j]: pair j-1 and pair j have the same finite rank
    np.equal(rank[1:], rank[:-1], out=equal[1:n])
    equal[1:n] &= rank[1:] != NO_RANK
    in_run = equal[:n] | equal[1:]
    padded = np.full(n + 2, NO_RANK, dtype=np.int32)
    padded[1:-1] = rank
    if in_run.any():
        stuck_start = equal[1:n] & ~equal[:n - 1] & ~equal[2:]  # pairs j, j+1 form a run of two
        stuck = np.flatnonzero(stuck_start)
        padded[stuck + 1] = NO_RANK
        padded[stuck + 2] = NO_RANK
    masked = padded[1:-1]
    chosen = (masked < padded[:-2]) & (masked < padded[2:]) & ~in_run
    singles = np.flatnonzero(chosen)
    runs = np.flatnonzero(in_run & (masked != NO_RANK))
    if not runs.size:
        return singles
    return np.sort(np.concatenate([singles, _select_in_runs(runs, padded)]))


def _select_in_runs(runs: np.ndarray, padded: np.ndarray) -> np.ndarray:
    """The symmetric choice inside runs of three or more equal ranks (positions `runs`)."""
    rank = padded[runs + 1]
    new_run = np.concatenate([[True], (runs[1:] != runs[:-1] + 1) | (rank[1:] != rank[:-1])])
    starts = np.flatnonzero(new_run)
    length = np.diff(np.append(starts, runs.size))
    first, run_rank = runs[starts], rank[starts]
    last = first + length - 1
    minimum = (run_rank < padded[first]) & (run_rank < padded[last + 2])
    starts, length, first = starts[minimum], length[minimum], first[minimum]
    if not starts.size:
        return starts
    offset = np.cumsum(length) - length
    at = np.arange(length.sum()) - np.repeat(offset, length)
    m = np.repeat(length, length)
    from_end = m - 1 - at
    take = ((at % 2 == 0) & (2 * at + 2 < m)) | ((from_end % 2 == 0) & (2 * from_end + 2 < m))
    take |= (at == from_end) & (at % 2 == 0)
    return (np.repeat(first, length) + at)[take]


def _unique(values: np.ndarray, bound: int) -> np.ndarray:
    """Sorted unique values in [0, bound): a bit mask when they are many, else a sort
    (numpy's own `unique` hashes, which is much slower on these arrays)."""
    if values.size > bound >> 2:
        mask = np.zeros(bound, dtype=bool)
        mask[values] = True
        return np.flatnonzero(mask)
    values = np.sort(values, kind="stable")  # timsort: candidates are a few sorted runs joined
    if values.size < 2:
        return values
    return values[np.concatenate([[True], values[1:] != values[:-1]])]


class TokenChain:
    """Tokens as a doubly linked list over a fixed array, so merges never move data.

    Node i holds token ``token[i]``; its pair is (node i, node ``next[i]``),
    ``rank[i]`` is that pair's rank and ``made[i]`` the token it merges into
    (kept beside the rank, so that a merge needs no second lookup). The first
    and last nodes are separators.
    """

    def __init__(self, tokens: np.ndarray, table: PairTable, rank=None, made=None):
        """`rank` and `made` of the pairs of `tokens`, if given, spare looking them up."""
        n = tokens.size
        self.token = tokens.astype(np.int32)
        self.next = np.arange(1, n + 1, dtype=np.int32)
        self.next[-1] = n - 1
        self.prev = np.arange(-1, n - 1, dtype=np.int32)
        self.prev[0] = 0
        self.alive = np.ones(n, dtype=bool)
        self.table = table
        self.rank = np.full(n, NO_RANK, dtype=np.int32)
        self.made = np.zeros(n, dtype=np.int32)
        if rank is None:
            rank, made = table.lookup(self.token[:-1], self.token[1:])
        self.rank[:-1], self.made[:-1] = rank, made

    def refresh(self) -> None:
        """Look up every live pair again (after merges were added to the table)."""
        live = np.flatnonzero(self.alive)
        self.rank[:] = NO_RANK
        self.rank[live], self.made[live] = self.table.lookup(self.token[live], self.token[self.next[live]])

    def tokens(self) -> np.ndarray:
        return self.token[self.alive]

    def merge_band(self, candidates: np.ndarray, low: int, high: int, changes: list | None = None) -> np.ndarray:
        """Merge rounds with the classes ranked in [low, high), starting from `candidates`.

        `candidates` must hold every node whose pair ranks in [low, high) (more
        are ignored). Pairs ranked below `low` are stuck runs left by earlier
        bands; they join in only where a merge beside them may have freed them.
        Returns the nodes whose pairs changed (with repeats), to be filed for later bands.
        With `changes`, the pairs removed and added are appended as
        ``(left, right, sign)``.
        """
        changed = []
        rank = self.rank
        # Merged-away nodes rank NO_RANK, so rank filters also drop them.
        found = rank[candidates]
        candidates = _unique(candidates[(found >= low) & (found < high)], self.token.size)
        if changes is None and _merge_rounds is not None and candidates.size:
            return self._merge_rounds_in_c(candidates, high)
        while candidates.size:
            chosen = candidates[_select_in_chain(candidates, self.next, self.rank)]
            if not chosen.size:
                break
            right = self.next[chosen]
            if changes is not None:
                gone = _unique(np.concatenate([self.prev[chosen], chosen, right]), self.token.size)
                changes.append((self.token[gone], self.token[self.next[gone]], -1))
            self.token[chosen] = self.made[chosen]
            self.alive[right] = False
            after = self.next[right]
            self.next[chosen] = after
            self.prev[after] = chosen
            rank[right] = NO_RANK
            before = self.prev[chosen]
            dirty = _interleave_unique(before, chosen)
            rank[dirty], self.made[dirty] = self.table.lookup(self.token[dirty], self.token[self.next[dirty]])
            if changes is not None:
                changes.append((self.token[dirty], self.token[self.next[dirty]], 1))
            changed.append(dirty)
            # The pair two away on each side may have formed a stuck run with a pair that just
            # changed, and be free now; its other neighbour joins when of equal rank, so that a
            # run that is still stuck is judged whole. Pairs with a separator never merge.
            left2 = self.prev[before]
            left3 = self.prev[left2]
            right3 = self.next[after]
            far = np.concatenate([left3, right3])
            far = far[rank[far] == rank[np.concatenate([left2, after])]]
            near = np.concatenate([candidates, dirty, left2, after, far])
            candidates = _unique(near[rank[near] < high], self.token.size)
        return np.concatenate(changed) if changed else candidates[:0]


    def _merge_rounds_in_c(self, candidates: np.ndarray, high: int) -> np.ndarray:
        """The rounds of `merge_band` by the C extension: the same merges, in place."""
        table = self.table
        changed = _merge_rounds(self.token, self.next, self.prev, self.rank, self.made, self.alive,
                                candidates.astype(np.int32), int(high), table.dense_rank, table.dense_made,
                                table.side, table.keys, table.ranks, table.made, table.radix)
        return np.frombuffer(changed, dtype=np.int32)


def _interleave_unique(before: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Sorted unique nodes of ``before`` and ``nodes`` where ``before[i]`` is the node
    preceding ``nodes[i]`` in the chain: interleaved they are already in order, and a
    value repeats only when a merged node precedes the next one."""
    both = np.empty(2 * nodes.size, dtype=nodes.dtype)
    both[0::2] = before
    both[1::2] = nodes
    if both.size < 2:
        return both
    keep = np.empty(both.size, dtype=bool)
    keep[0] = True
    np.not_equal(both[1:], both[:-1], out=keep[1:])
    return both[keep]


def _select_in_chain(nodes: np.ndarray, next_node: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """`select_pairs` on the candidate nodes, with a NO_RANK gap wherever two are not neighbours."""
    gap = np.empty(nodes.size, dtype=np.int64)
    gap[0] = 0
    np.not_equal(next_node[nodes[:-1]], nodes[1:], out=gap[1:])
    at = np.cumsum(gap)
    at += np.arange(nodes.size)
    ranks = np.full(at[-1] + 1, NO_RANK, dtype=np.int32)
    ranks[at] = rank[nodes]
    chosen = select_pairs(ranks)
    if chosen.size < 256:
        return np.searchsorted(at, chosen)
    which = np.empty(ranks.size, dtype=np.int64)
    which[at] = np.arange(nodes.size)
    return which[chosen]


SEPARATOR_CODE = 5  # in `encode_in_bands` input, after the base codes A C G T N = 0-4


def encode_in_bands(codes: np.ndarray, separator: int, table: PairTable, band_ends: np.ndarray) -> np.ndarray:
    """Encode base codes framed by SEPARATOR_CODE, each band's classes in turn, as training
    applied them; returns the tokens with `separator` ids between the sequences.

    The 36 possible pairs of codes are looked up once, and the pairs of each band found by
    one radix sort of their pair codes."""
    n_bands = band_ends.size
    id_of_code = np.array([FIRST_BASE_ID + c for c in range(SEPARATOR_CODE)] + [separator], dtype=np.int32)
    if not n_bands:
        return id_of_code[codes]  # no merges: single bases
    band_of_rank = np.repeat(np.arange(n_bands, dtype=np.int16), np.diff(band_ends, prepend=0))
    left, right = np.divmod(np.arange(36), 6)
    pair_rank, pair_made = table.lookup(id_of_code[left], id_of_code[right])
    pair_band = np.where(pair_rank != NO_RANK, band_of_rank[np.minimum(pair_rank, band_ends[-1] - 1)], n_bands)
    slot_order = np.argsort(pair_band, kind="stable")  # pair codes ordered by band
    slot = np.empty(36, dtype=np.uint8)
    slot[slot_order] = np.arange(36)
    pair_code = codes[:-1] * np.uint8(6) + codes[1:]
    chain = TokenChain(id_of_code[codes], table, pair_rank[pair_code], pair_made[pair_code])
    node_slot = slot[pair_code]
    nodes = np.argsort(node_slot, kind="stable")  # a radix sort on 8-bit keys
    slot_starts = np.concatenate([[0], np.cumsum(np.bincount(node_slot, minlength=36))])
    band_starts = slot_starts[np.searchsorted(pair_band[slot_order], np.arange(n_bands + 1))]
    pending: dict[int, list] = {}
    for b, high in enumerate(band_ends.tolist()):
        found = [nodes[band_starts[b] : band_starts[b + 1]]] + pending.pop(b, [])
        if not sum(map(len, found)):
            continue
        later = chain.merge_band(np.concatenate(found), band_ends[b - 1] if b else 0, high)
        rank = chain.rank[later]
        later = later[(rank >= high) & (rank != NO_RANK)]
        if later.size:
            _file_by_band(later, band_of_rank[chain.rank[later]], pending)
    return chain.tokens()


def _file_by_band(nodes: np.ndarray, bands: np.ndarray, pending: dict) -> None:
    """Append each node to ``pending[its band]``."""
    order = np.argsort(bands, kind="stable")
    bands, nodes = bands[order], nodes[order]
    edges = np.flatnonzero(bands[1:] != bands[:-1]) + 1
    starts = [0] + edges.tolist()
    ends = edges.tolist() + [bands.size]
    for band, start, end in zip(bands[starts].tolist(), starts, ends):
        pending.setdefault(band, []).append(nodes[start:end])
