"""Near-duplicate headlines: the same story syndicated by several outlets.

MinHash over the shingles of a normalised title (``core.titles``), with
locality-sensitive hashing (bands of rows) to find candidates in constant time, then the
estimated Jaccard similarity decides. Pure and in memory: the caller decides where the
index lives.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from core.titles import normalise_title, title_shingles

_PRIME = np.uint64(4_294_967_311)  # the first prime above 2**32
_MAX = np.uint64(2**32 - 1)

Signature = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class MinHasher:
    """``num_perm`` universal hash functions (a*x + b mod p), from a fixed seed."""

    num_perm: int = 64
    seed: int = 1
    a: Signature = field(init=False, repr=False)
    b: Signature = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        object.__setattr__(self, "a", rng.integers(1, 2**32 - 1, self.num_perm, dtype=np.uint64))
        object.__setattr__(self, "b", rng.integers(0, 2**32 - 1, self.num_perm, dtype=np.uint64))

    def signature(self, hashes: set[int]) -> Signature:
        if not hashes:
            return np.full(self.num_perm, _MAX, dtype=np.uint64)
        x = np.fromiter(hashes, dtype=np.uint64, count=len(hashes))
        return np.asarray(((np.outer(x, self.a) + self.b) % _PRIME).min(axis=0), dtype=np.uint64)


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    return float(np.count_nonzero(a == b)) / len(a)


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    root: str  # the first report of the story this title belongs to
    at: datetime
    signature: Signature


#: Titles compared in full per check at most, whatever the buckets hold.
MAX_CANDIDATES = 64
#: Titles one LSH bucket keeps at most: past that, alike titles add nothing it lacks.
MAX_BUCKET = 32
#: Titles remembered at most (about 1.2 KB each): the oldest go first past it.
MAX_ENTRIES = 200_000


class NearDupIndex:
    """Remembers recent titles; ``check`` says which earlier item one duplicates.

    ``threshold`` is the estimated Jaccard similarity at or above which two titles are
    the same story; ``window`` how far back a first report counts. With 16 bands of 4
    rows, pairs at 0.6 similarity become candidates with probability ~0.9 and pairs at
    0.3 with ~0.12; the signature comparison then decides.

    The work per title is bounded whatever the titles are: at most ``max_candidates``
    full comparisons (oldest first in each bucket, the first match of a bucket ends its
    scan: later entries of it belong to the same story), a bucket keeps its oldest
    ``max_bucket`` titles (a title it cannot keep is still remembered through its other
    buckets and by id), and the index forgets its oldest titles past ``max_entries``.
    """

    def __init__(
        self,
        threshold: float = 0.6,
        window: timedelta = timedelta(hours=24),
        bands: int = 16,
        rows: int = 4,
        *,
        max_candidates: int = MAX_CANDIDATES,
        max_bucket: int = MAX_BUCKET,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if min(max_candidates, max_bucket, max_entries) < 1:
            raise ValueError("max_candidates, max_bucket and max_entries must be at least 1")
        self.threshold, self.window, self.bands, self.rows = threshold, window, bands, rows
        self.max_candidates, self.max_bucket = max_candidates, max_bucket
        self.max_entries = max_entries
        self.hasher = MinHasher(num_perm=bands * rows)
        self._buckets: dict[tuple[int, bytes], deque[Entry]] = {}
        self._order: deque[tuple[datetime, Entry]] = deque()
        self._by_id: dict[str, Entry] = {}

    def __len__(self) -> int:
        return len(self._order)

    def _keys(self, signature: Signature) -> list[tuple[int, bytes]]:
        r = self.rows
        return [
            (band, signature[band * r : (band + 1) * r].tobytes()) for band in range(self.bands)
        ]

    def _evict(self, now: datetime) -> None:
        while self._order and (
            self._order[0][0] < now - self.window or len(self._order) > self.max_entries
        ):
            self._forget(self._order.popleft()[1])

    def _forget(self, old: Entry) -> None:
        if self._by_id.get(old.id) is old:
            del self._by_id[old.id]
        for key in self._keys(old.signature):
            entries = self._buckets.get(key)
            if not entries:
                continue
            if entries[0] is old:  # the usual case: buckets fill in the order of _order
                entries.popleft()
            elif any(e is old for e in entries):
                entries.remove(old)
            if not entries:
                del self._buckets[key]

    def signature_of(self, title: str) -> Signature:
        """The title's MinHash signature: the costly part of a check, and one that needs
        no state of the index (callers may compute it outside their locks)."""
        return self.hasher.signature(title_shingles(normalise_title(title)))

    def check(
        self, item_id: str, title: str, at: datetime, signature: Signature | None = None
    ) -> str | None:
        """The id of the earliest remembered near-duplicate of ``title``, or None; then
        remember this title (a duplicate is remembered too, pointing at the same story).
        An id already remembered gets the same answer again and is not added twice.
        ``signature``: ``signature_of(title)`` when the caller computed it already."""
        self._evict(at)
        known = self._by_id.get(item_id)
        if known is not None:
            return known.root if known.root != item_id else None
        if signature is None:
            signature = self.signature_of(title)
        keys = self._keys(signature)
        best = self._earliest_match(item_id, signature, keys)
        root = best.root if best is not None else None
        self._add(Entry(item_id, root or item_id, at, signature), keys)
        self._evict(at)  # past max_entries
        return root

    def _earliest_match(
        self, item_id: str, signature: Signature, keys: list[tuple[int, bytes]]
    ) -> Entry | None:
        best: Entry | None = None
        seen: set[int] = set()
        budget = self.max_candidates
        for key in keys:
            for entry in self._buckets.get(key, ()):
                if id(entry) in seen or entry.id == item_id:
                    continue
                if budget == 0:
                    return best
                budget -= 1
                seen.add(id(entry))
                if similarity(signature, entry.signature) >= self.threshold:
                    if best is None or entry.at < best.at:
                        best = entry
                    break  # the bucket's later titles are younger reports of this story
        return best

    def remember(self, item_id: str, title: str, at: datetime, root: str | None) -> None:
        """Remember an item whose verdict is already known (``root``: the first report it
        copies, or None), e.g. when a restarted process reloads the last window."""
        self._evict(at)
        if item_id in self._by_id:
            return
        signature = self.signature_of(title)
        self._add(Entry(item_id, root or item_id, at, signature), self._keys(signature))
        self._evict(at)  # past max_entries

    def _add(self, entry: Entry, keys: list[tuple[int, bytes]]) -> None:
        for key in keys:
            entries = self._buckets.setdefault(key, deque())
            if len(entries) < self.max_bucket:
                entries.append(entry)
        self._order.append((entry.at, entry))
        self._by_id[entry.id] = entry
