"""The pool index: job seekers and job offers as sparse skill sets, with inverted postings, updated in place.

    seekers = ProfileIndex(n_skills, n_occupations)          # or ProfileIndex.build(...) in bulk
    seekers.upsert(key, skills=[...], occupations=[...], lat=, lon=, radius_km=, visible=True)
    offers  = ProfileIndex(n_skills, n_occupations, weighted=True)
    offers.upsert(key, skills, occupations=[b], lat=, lon=, cov=..., must=...)

A profile lives in a *slot* (int32); ``key`` is the caller's int64 identifier (the store's rowid).
Each index holds, in flat numpy arrays of growable lists (:class:`ListStore`):

- forward lists   slot -> skill ids (offers: with their cov / must weights), slot -> occupation rows
- postings        skill -> (slot, cell), occupation -> slots (the inverted index); ``cell``: the
                  slot's 1 x 1 degree square of latitude / longitude (uint8, see ``N_CELLS``), so a
                  query skips out-of-reach postings without touching the slot
- per slot        key (int64), flags (uint8: alive, visible), geo (float32 lat, lon, radius, cos lat:
                  16 bytes, one cache line for a distance check)

Writes are incremental: an upsert removes the slot's old postings (swap-remove, order inside a
posting list does not matter) and appends the new ones; a list that outgrows its capacity moves to
the end of its flat array with 1.25x its capacity (+8). The garbage this leaves is repacked when it
exceeds a quarter of the live data (amortised O(1) per write); nothing is ever rebuilt from the store.

Memory: a seeker with 30 skills and 2 occupations costs 30 x 2 B (forward, uint16 when the
referential has < 65,536 skills) + 30 x (4 + 1) B (postings: slot and geographic cell) + 2 x (2 + 4) B
+ per-slot arrays and list headers (~60 B): about 275 B on 1M seekers of ROME (``nbytes()``
measures it; queries keep one bit per slot of scratch on the matcher, not here).

Pure numpy / numba; no I/O. The scoring kernels are in :mod:`matching.match`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

ALIVE: np.uint8 = np.uint8(1)
VISIBLE: np.uint8 = np.uint8(2)   # seekers: consent to appear in employers' searches; offers: open


@njit(cache=True)
def stable_order(list_ids: np.ndarray, n_lists: int) -> np.ndarray:
    """``np.argsort(list_ids, kind="stable")`` for ids in [0, n_lists), by counting: O(n), no comparison sort."""
    counts = np.zeros(n_lists + 1, dtype=np.int64)
    for i in range(list_ids.shape[0]):
        counts[list_ids[i] + 1] += 1
    for i in range(n_lists):
        counts[i + 1] += counts[i]
    order = np.empty(list_ids.shape[0], dtype=np.int64)
    for i in range(list_ids.shape[0]):
        c = list_ids[i]
        order[counts[c]] = i
        counts[c] += 1
    return order


@njit(cache=True)
def unique_per_row(rows: np.ndarray, ids: np.ndarray, n_rows: int, keep_order: bool):
    """Each id once per row. ``rows`` (m,) non-decreasing row of each id. Returns (ptr (n_rows+1,),
    positions (k,) in the input of the kept ids): per row sorted by id, or in first-seen order with
    ``keep_order``; a repeated id keeps its first position."""
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    keep = np.empty(ids.shape[0], dtype=np.int64)
    n_kept = 0
    m = ids.shape[0]
    s = 0
    while s < m:
        e = s
        while e < m and rows[e] == rows[s]:
            e += 1
        start = n_kept
        if keep_order:
            for i in range(s, e):
                dup = False
                for j in range(start, n_kept):
                    if ids[keep[j]] == ids[i]:
                        dup = True
                        break
                if not dup:
                    keep[n_kept] = i
                    n_kept += 1
        else:
            order = np.argsort(ids[s:e], kind="mergesort")
            for o in order:
                i = s + o
                if n_kept == start or ids[keep[n_kept - 1]] != ids[i]:
                    keep[n_kept] = i
                    n_kept += 1
        ptr[rows[s] + 1] = n_kept - start
        s = e
    for r in range(n_rows):
        ptr[r + 1] += ptr[r]
    return ptr, keep[:n_kept]


class ListStore:
    """``n_lists`` growable lists of values, stored in one flat array per column.

    Attributes:
        columns:  tuple of 1-D arrays (same length), e.g. (int32 ids,) or (int32 ids, float32 w)
        start:    (n_lists,) int64 offset of each list in the columns
        length:   (n_lists,) int32 number of values in each list
        capacity: (n_lists,) int32 room reserved for each list
        used:     end of the occupied area of the columns
    """

    def __init__(self, n_lists: int, dtypes: tuple, reserve: int = 0) -> None:
        self.dtypes = tuple(np.dtype(d) for d in dtypes)
        self.columns = tuple(np.empty(max(reserve, 16), dtype=d) for d in self.dtypes)
        self.start = np.zeros(n_lists, dtype=np.int64)
        self.length = np.zeros(n_lists, dtype=np.int32)
        self.capacity = np.zeros(n_lists, dtype=np.int32)
        self.used = 0
        self.garbage = 0

    # ---- construction -----------------------------------------------------------------------
    @classmethod
    def from_pairs(cls, n_lists: int, list_ids: np.ndarray, values: tuple, dtypes: tuple,
                   slack: float = 0.0) -> "ListStore":
        """Bulk build: value ``values[c][j]`` goes to list ``list_ids[j]`` (stable order).

        ``slack``: extra capacity per list as a share of its length (room for later appends).
        """
        store = cls(0, dtypes)
        list_ids = np.asarray(list_ids, dtype=np.int64)
        order = stable_order(list_ids, n_lists)
        counts = np.bincount(list_ids, minlength=n_lists).astype(np.int64)
        caps = counts + np.ceil(counts * slack).astype(np.int64)
        starts = np.zeros(n_lists, dtype=np.int64)
        np.cumsum(caps[:-1], out=starts[1:])
        total = int(caps.sum())
        # destination of the j-th sorted value: its list's start + its rank inside the list
        sorted_ids = list_ids[order]
        first_of_list = np.zeros(n_lists, dtype=np.int64)
        np.cumsum(counts[:-1], out=first_of_list[1:])
        rank = np.arange(len(sorted_ids), dtype=np.int64) - first_of_list[sorted_ids]
        dest = starts[sorted_ids] + rank
        cols = []
        for value, dtype in zip(values, store.dtypes):
            col = np.zeros(max(total, 16), dtype=dtype)
            col[dest] = np.asarray(value)[order]
            cols.append(col)
        store.columns = tuple(cols)
        store.start, store.length, store.capacity = starts, counts.astype(np.int32), caps.astype(np.int32)
        store.used = total
        return store

    def ensure_lists(self, n_lists: int) -> None:
        """Make room for list ids up to ``n_lists - 1`` (new lists are empty)."""
        old = len(self.start)
        if n_lists <= old:
            return
        new = max(n_lists, old + old // 2 + 16)
        for name in ("start", "length", "capacity"):
            array = getattr(self, name)
            grown = np.zeros(new, dtype=array.dtype)
            grown[:old] = array
            setattr(self, name, grown)

    # ---- reads ------------------------------------------------------------------------------
    def get(self, i: int, column: int = 0) -> np.ndarray:
        """A view of list ``i`` (column ``column``); copy it before the store changes."""
        s = int(self.start[i])
        return self.columns[column][s:s + int(self.length[i])]

    @property
    def n_lists(self) -> int:
        return len(self.start)

    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.columns) + self.start.nbytes + self.length.nbytes + self.capacity.nbytes

    # ---- writes -----------------------------------------------------------------------------
    def _grow_columns(self, needed: int) -> None:
        size = len(self.columns[0])
        if needed <= size:
            return
        new = max(needed, size + size // 4)  # x1.25, like the lists: memory stays near the budget
        grown = []
        for col in self.columns:
            g = np.empty(new, dtype=col.dtype)
            g[:self.used] = col[:self.used]
            grown.append(g)
        self.columns = tuple(grown)

    def _relocate(self, i: int, capacity: int) -> None:
        """Move list ``i`` to the end with room for ``capacity`` values."""
        if self.garbage > max(self.used // 4, 1 << 16):
            self.compact(extra=capacity, slack=0.125)
        n = int(self.length[i])
        self._grow_columns(self.used + capacity)
        old = int(self.start[i])
        for col in self.columns:
            col[self.used:self.used + n] = col[old:old + n]
        self.garbage += int(self.capacity[i])
        self.start[i] = self.used
        self.capacity[i] = capacity
        self.used += capacity

    def extend(self, i: int, *values) -> None:
        """Append values (one array per column) to list ``i``."""
        add = len(values[0])
        if add == 0:
            return
        n = int(self.length[i])
        if n + add > int(self.capacity[i]):
            cap = int(self.capacity[i])
            self._relocate(i, max(n + add, cap + cap // 4 + 8))  # x1.25: amortised O(1), little slack
        s = int(self.start[i]) + n
        for col, value in zip(self.columns, values):
            col[s:s + add] = value
        self.length[i] = n + add

    def replace(self, i: int, *values) -> None:
        """Set list ``i`` to exactly ``values``."""
        self.length[i] = 0
        self.extend(i, *values)

    def remove(self, i: int, value: int) -> bool:
        """Remove one occurrence of ``value`` (column 0) from list ``i`` by swapping in the last one."""
        s, n = int(self.start[i]), int(self.length[i])
        hits = np.flatnonzero(self.columns[0][s:s + n] == value)
        if len(hits) == 0:
            return False
        j, last = s + int(hits[0]), s + n - 1
        for col in self.columns:
            col[j] = col[last]
        self.length[i] = n - 1
        return True

    def compact(self, extra: int = 0, slack: float = 0.25) -> None:
        """Repack every list at its current length (plus ``slack`` x length of room), dropping the garbage."""
        lengths = self.length.astype(np.int64)
        caps = lengths + np.ceil(lengths * slack).astype(np.int64)
        starts = np.zeros(len(caps), dtype=np.int64)
        np.cumsum(caps[:-1], out=starts[1:])
        total = int(caps.sum())
        first = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1], out=first[1:])
        offset = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(first, lengths)
        src = np.repeat(self.start, lengths) + offset
        dst = np.repeat(starts, lengths) + offset
        cols = []
        for col in self.columns:
            new = np.empty(max(total + extra, 16), dtype=col.dtype)
            new[dst] = col[src]
            cols.append(new)
        self.columns = tuple(cols)
        self.start, self.capacity = starts, caps.astype(np.int32)
        self.used, self.garbage = total, 0


def geo_rows(lat, lon, radius_km) -> np.ndarray:
    """(n, 4) or (4,) float32 rows [lat, lon, radius_km, cos(lat)]: what a distance check reads, in one cache line."""
    lat = np.asarray(lat, dtype=np.float32)
    lon = np.asarray(lon, dtype=np.float32)
    radius = np.broadcast_to(np.asarray(radius_km, dtype=np.float32), lat.shape)
    return np.stack([lat, lon, radius, np.cos(np.radians(lat)).astype(np.float32)], axis=-1)


N_CELLS = 256
"""Geographic cells of a seekers index: cell 0 holds unknown locations, cells 1..255 the 1 degree x 1 degree
squares of latitude / longitude in order of first use (a square met after 255 others goes to cell 0)."""
OFFER_CELLS = 4096
"""Offers (no memory budget) use finer cells: 0.25 x 0.25 degree squares (``OFFER_CELL_SIZE``), uint16
ids, cell 0 for unknown locations and for squares met after 4,095 others."""
OFFER_CELL_SIZE = 0.25


def _id_dtype(n: int) -> np.dtype:
    return np.dtype(np.uint16) if n < 65_536 else np.dtype(np.int32)


@dataclass(frozen=True)
class Profile:
    """One seeker or offer as the index sees it (row ids of the referential, not codes).

    ``skills``: (m,) int32 skill columns, unique. ``cov`` / ``must``: (m,) float32 per-skill shares
    of the offer's requirement weight and must-have weight (offers only; None for seekers).
    ``occupations``: (o,) int32 occupation rows (seekers: current first, then past ones; offers: one).
    ``radius_km``: NaN when unknown / not applicable. ``visible``: seekers' consent, offers' openness.
    """

    skills: np.ndarray
    occupations: np.ndarray
    lat: float = float("nan")
    lon: float = float("nan")
    radius_km: float = float("nan")
    visible: bool = True
    cov: np.ndarray | None = None
    must: np.ndarray | None = None


class ProfileIndex:
    """Seekers (``weighted=False``) or offers (``weighted=True``): forward lists, postings, per-slot data.

    Not thread-safe for writes; the caller serialises writes. Queries hold no scratch here: the
    PoolMatcher owns it and serialises its queries on its lock.
    """

    def __init__(self, n_skills: int, n_occupations: int, weighted: bool = False, capacity: int = 0) -> None:
        self.n_skills, self.n_occupations, self.weighted = int(n_skills), int(n_occupations), weighted
        sid, oid = _id_dtype(n_skills), _id_dtype(n_occupations)
        # postings: slot, (offers) cov and must weights and the offer's occupation (its only distinct one,
        # -1 when it has none or several), and the slot's geographic cell (uint8), so a query skips
        # postings out of reach, or (offers) too weak even with their own share and bridge, without
        # touching the slot's own data
        post = (np.int32, np.float32, np.float32, np.int32, np.uint16) if weighted else (np.int32, np.uint8)
        # offers keep their per-skill (cov, must) weights in the forward list too: the kernel scores a
        # candidate from its own list
        self.skills = ListStore(0, (sid, np.float32, np.float32) if weighted else (sid,))
        self.occupations = ListStore(0, (oid,))
        self.skill_postings = ListStore(n_skills, post)
        self.occupation_postings = ListStore(n_occupations, (np.int32,))
        self.keys = np.full(0, -1, dtype=np.int64)
        self.flags = np.zeros(0, dtype=np.uint8)
        # geographic cells: 1 degree squares in uint8 for seekers (memory), 0.25 degree in uint16 for offers
        self.cell_size = OFFER_CELL_SIZE if weighted else 1.0
        self.n_cells = OFFER_CELLS if weighted else N_CELLS
        cell_dtype = np.uint16 if weighted else np.uint8
        self.cell = np.zeros(0, dtype=cell_dtype)  # each slot's geographic cell (see N_CELLS)
        self.geo = np.zeros((0, 4), dtype=np.float32)
        self.slot_of_key = np.full(0, -1, dtype=np.int32)
        self.has_must = np.zeros(0, dtype=np.uint8) if weighted else None
        # offers: the largest coverage share any offer has given each skill (never lowered by a delete,
        # so it stays an upper bound): what one query term can add at most, for the kernel's pruning
        self.skill_max = np.zeros(n_skills if weighted else 0, dtype=np.float32)
        # geographic cells (see N_CELLS): south-west corner of each square and the largest mobility radius
        # of a profile ever put in it (inf for a profile without radius; never lowered: an upper bound)
        self.cell_ids: dict[tuple[int, int], int] = {}
        self.cell_corner = np.full((self.n_cells, 2), np.nan, dtype=np.float32)
        self.cell_radius = np.full(self.n_cells, -np.inf, dtype=np.float32)
        self.cell_radius[0] = np.inf
        self.n_slots = 0
        self.free: list[int] = []
        self.count = 0
        self._ensure_slots(capacity)

    # ---- sizes ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.count

    def __contains__(self, key: int) -> bool:
        return self.slot(key) >= 0

    def nbytes(self) -> int:
        """Bytes held by the index (arrays only, capacity included)."""
        arrays = (self.keys, self.flags, self.cell, self.geo, self.slot_of_key)
        arrays += (self.has_must, self.skill_max) if self.weighted else ()
        arrays += (self.cell_corner, self.cell_radius)
        return (sum(a.nbytes for a in arrays) + self.skills.nbytes() + self.occupations.nbytes()
                + self.skill_postings.nbytes() + self.occupation_postings.nbytes())

    def _ensure_slots(self, n: int) -> None:
        old = len(self.keys)
        if n <= old:
            return
        new = max(n, old + old // 4 + 64)
        names = [("keys", -1), ("flags", 0), ("cell", 0)]
        if self.weighted:
            names.append(("has_must", 0))
        for name, fill in names:
            array = getattr(self, name)
            grown = np.full(new, fill, dtype=array.dtype)
            grown[:old] = array
            setattr(self, name, grown)
        geo = np.full((new, 4), np.nan, dtype=np.float32)
        geo[:old] = self.geo
        self.geo = geo
        self.skills.ensure_lists(new)
        self.occupations.ensure_lists(new)

    def _ensure_keys(self, max_key: int) -> None:
        old = len(self.slot_of_key)
        if max_key < old:
            return
        grown = np.full(max(max_key + 1, old + old // 4 + 64), -1, dtype=np.int32)
        grown[:old] = self.slot_of_key
        self.slot_of_key = grown

    @property
    def lat(self) -> np.ndarray:
        """(capacity,) float32 latitude of each slot in degrees (NaN: unknown); a view of ``geo``."""
        return self.geo[:, 0]

    @property
    def lon(self) -> np.ndarray:
        return self.geo[:, 1]

    @property
    def radius(self) -> np.ndarray:
        """(capacity,) float32 mobility radius in km (NaN: none)."""
        return self.geo[:, 2]

    def cells_of(self, lat, lon, radius_km) -> np.ndarray:
        """(n,) geographic cell of each location (assigning new squares), widening the cells' radii."""
        geo = np.atleast_2d(geo_rows(lat, lon, radius_km))
        known = ~(np.isnan(geo[:, 0]) | np.isnan(geo[:, 1]))
        cells = np.zeros(len(geo), dtype=self.cell.dtype)
        if known.any():
            size = self.cell_size
            per = int(round(360 / size)) + 2
            squares = np.floor(geo[known, :2].astype(np.float64) / size).astype(np.int64)
            lat0, lon0 = int(round(90 / size)), int(round(180 / size))
            codes, inverse = np.unique((squares[:, 0] + lat0) * per + squares[:, 1] + lon0, return_inverse=True)
            ids = np.zeros(len(codes), dtype=self.cell.dtype)
            for i, code in enumerate(codes.tolist()):
                a, b = code // per - lat0, code % per - lon0
                c = self.cell_ids.get((a, b))
                if c is None and len(self.cell_ids) < self.n_cells - 1:
                    c = len(self.cell_ids) + 1
                    self.cell_ids[(a, b)] = c
                    self.cell_corner[c] = (a * size, b * size)
                ids[i] = c or 0
            cells[known] = ids[inverse.reshape(-1)]
        radius = np.where(np.isnan(geo[:, 2]), np.float32(np.inf), geo[:, 2])
        np.maximum.at(self.cell_radius, cells, radius)
        return cells

    # ---- keys -------------------------------------------------------------------------------
    def slot(self, key: int) -> int:
        """Slot of ``key``, -1 when absent."""
        return int(self.slot_of_key[key]) if 0 <= key < len(self.slot_of_key) else -1

    def profile(self, key: int) -> Profile | None:
        """The profile stored under ``key`` (copies), or None."""
        s = self.slot(key)
        if s < 0:
            return None
        cov = self.skill_weights(s) if self.weighted else (None, None)
        return Profile(skills=self.skills.get(s).astype(np.int32), occupations=self.occupations.get(s).astype(np.int32),
                       lat=float(self.lat[s]), lon=float(self.lon[s]), radius_km=float(self.radius[s]),
                       visible=bool(self.flags[s] & VISIBLE), cov=cov[0], must=cov[1])

    def skill_weights(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        """(cov, must) float32 weights of an offer's skills, in the order of ``skills.get(slot)``."""
        return self.skills.get(slot, 1).copy(), self.skills.get(slot, 2).copy()

    # ---- writes -----------------------------------------------------------------------------
    def _check(self, p: Profile) -> tuple[np.ndarray, np.ndarray]:
        skills = np.asarray(p.skills, dtype=np.int64)
        occs = np.asarray(p.occupations, dtype=np.int64)
        if skills.size and (skills.min() < 0 or skills.max() >= self.n_skills):
            raise ValueError(f"skill ids must be in [0, {self.n_skills}), got {skills.min()}..{skills.max()}")
        if occs.size and (occs.min() < 0 or occs.max() >= self.n_occupations):
            raise ValueError(f"occupation rows must be in [0, {self.n_occupations})")
        if len(np.unique(skills)) != len(skills):
            raise ValueError("skill ids of a profile must be unique")
        if self.weighted and (p.cov is None or p.must is None or len(p.cov) != len(skills) or len(p.must) != len(skills)):
            raise ValueError("an offer profile needs cov and must weights, one per skill")
        return skills, occs

    def upsert(self, key: int, profile: Profile) -> int:
        """Insert or replace the profile under ``key`` (int >= 0). Returns its slot."""
        key = int(key)
        if key < 0:
            raise ValueError(f"keys are integers >= 0, got {key}")
        skills, occs = self._check(profile)
        slot = self.slot(key)
        if slot >= 0:
            self._unlink(slot)
        else:
            slot = self.free.pop() if self.free else self.n_slots
            if slot == self.n_slots:
                self.n_slots += 1
                self._ensure_slots(self.n_slots)
            self._ensure_keys(key)
            self.slot_of_key[key] = slot
            self.keys[slot] = key
            self.count += 1
        if self.weighted:
            cov = np.asarray(profile.cov, dtype=np.float32)
            self.skills.replace(slot, skills.astype(self.skills.dtypes[0]), cov, np.asarray(profile.must, dtype=np.float32))
            np.maximum.at(self.skill_max, skills, cov)
        else:
            self.skills.replace(slot, skills.astype(self.skills.dtypes[0]))
        self.occupations.replace(slot, occs.astype(self.occupations.dtypes[0]))
        one = np.array([slot], dtype=np.int32)
        cell = self.cells_of(profile.lat, profile.lon, profile.radius_km)
        self.cell[slot] = cell[0]
        distinct = np.unique(occs)
        only_occ = np.array([distinct[0] if len(distinct) == 1 else -1], dtype=np.int32)
        for j, s in enumerate(skills):
            if self.weighted:
                self.skill_postings.extend(int(s), one, profile.cov[j:j + 1], profile.must[j:j + 1], only_occ, cell)
            else:
                self.skill_postings.extend(int(s), one, cell)
        for o in np.unique(occs):
            self.occupation_postings.extend(int(o), one)
        self.geo[slot] = geo_rows(profile.lat, profile.lon, profile.radius_km)
        self.flags[slot] = ALIVE | (VISIBLE if profile.visible else 0)
        if self.weighted:
            self.has_must[slot] = np.uint8(bool(np.any(np.asarray(profile.must) > 0)))
        return slot

    def _unlink(self, slot: int) -> None:
        for s in self.skills.get(slot).tolist():
            self.skill_postings.remove(int(s), slot)
        for o in np.unique(self.occupations.get(slot)).tolist():
            self.occupation_postings.remove(int(o), slot)
        self.skills.length[slot] = 0
        self.occupations.length[slot] = 0

    def delete(self, key: int) -> bool:
        """Remove ``key``; False when it was absent."""
        slot = self.slot(key)
        if slot < 0:
            return False
        self._unlink(slot)
        self.flags[slot] = 0
        self.keys[slot] = -1
        self.slot_of_key[key] = -1
        self.free.append(slot)
        self.count -= 1
        return True

    def set_visible(self, key: int, visible: bool) -> None:
        slot = self.slot(key)
        if slot < 0:
            raise KeyError(key)
        self.flags[slot] = ALIVE | (VISIBLE if visible else 0)

    # ---- bulk -------------------------------------------------------------------------------
    def extend(self, keys: np.ndarray, skill_ptr: np.ndarray, skill_ids: np.ndarray,
               occ_ptr: np.ndarray, occ_ids: np.ndarray, lat: np.ndarray, lon: np.ndarray,
               radius_km: np.ndarray, visible: np.ndarray,
               cov: np.ndarray | None = None, must: np.ndarray | None = None) -> None:
        """Add many profiles at once (CSR-style lists: profile i's skills are ``skill_ids[skill_ptr[i]:skill_ptr[i+1]]``).

        Keys already present are replaced. Postings of new profiles are appended per skill in one
        numpy operation each (no per-profile Python loop), so a million profiles take seconds.
        """
        keys = np.asarray(keys, dtype=np.int64)
        n = len(keys)
        if n == 0:
            return
        if keys.min() < 0:
            raise ValueError("keys are integers >= 0")
        if len(np.unique(keys)) != n:
            raise ValueError("keys of one bulk must be unique")
        skill_ptr = np.asarray(skill_ptr, dtype=np.int64)
        occ_ptr = np.asarray(occ_ptr, dtype=np.int64)
        skill_ids = np.asarray(skill_ids, dtype=np.int64)
        occ_ids = np.asarray(occ_ids, dtype=np.int64)
        if skill_ids.size and (skill_ids.min() < 0 or skill_ids.max() >= self.n_skills):
            raise ValueError(f"skill ids must be in [0, {self.n_skills})")
        if occ_ids.size and (occ_ids.min() < 0 or occ_ids.max() >= self.n_occupations):
            raise ValueError(f"occupation rows must be in [0, {self.n_occupations})")
        if self.weighted and (cov is None or must is None):
            raise ValueError("offers need cov and must weights")
        for key in keys[keys < len(self.slot_of_key)]:
            if self.slot_of_key[key] >= 0:
                self.delete(int(key))
        # slots: reuse free ones first, then new ones at the end
        n_reuse = min(len(self.free), n)
        reused = [self.free.pop() for _ in range(n_reuse)]
        slots = np.concatenate([np.asarray(reused, dtype=np.int64),
                                np.arange(self.n_slots, self.n_slots + n - n_reuse, dtype=np.int64)])
        self.n_slots += n - n_reuse
        self._ensure_slots(self.n_slots)
        self._ensure_keys(int(keys.max()))
        self.slot_of_key[keys] = slots
        self.keys[slots] = keys
        self.geo[slots] = geo_rows(lat, lon, radius_km)
        self.flags[slots] = ALIVE | np.where(np.asarray(visible, dtype=bool), VISIBLE, np.uint8(0)).astype(np.uint8)
        self.count += n
        if self.weighted:
            must_sum = np.add.reduceat(np.append(np.asarray(must, dtype=np.float64), 0.0), skill_ptr[:-1] - skill_ptr[0]) \
                if len(skill_ptr) > 1 else np.zeros(0)
            must_sum[np.diff(skill_ptr) == 0] = 0.0
            self.has_must[slots] = (must_sum > 0).astype(np.uint8)
        skill_counts = np.diff(skill_ptr)
        occ_counts = np.diff(occ_ptr)
        owner = np.repeat(slots, skill_counts)
        self.cell[slots] = self.cells_of(lat, lon, radius_km)
        cell = np.repeat(self.cell[slots], skill_counts)
        occ_owner = np.repeat(slots, occ_counts)
        tail: tuple = (cell,)
        if self.weighted:
            # each offer's only occupation (-1 when it has none or several: the kernel then assumes the best)
            only_occ = np.full(n, -1, dtype=np.int32)
            one = occ_counts == 1
            only_occ[one] = occ_ids[occ_ptr[:-1][one] - occ_ptr[0]]
            tail = (np.repeat(only_occ, skill_counts), cell)
        if self.n_slots == n and self.count == n and self.skill_postings.used == 0:
            self._build_fresh(slots, owner, skill_ids, occ_owner, occ_ids, cov, must, tail)
            return
        if self.weighted:
            np.maximum.at(self.skill_max, skill_ids, np.asarray(cov, dtype=np.float32))
        self._append_lists(self.skills, slots, skill_ptr, skill_ids,
                           (np.asarray(cov, dtype=np.float32), np.asarray(must, dtype=np.float32)) if self.weighted else ())
        self._append_lists(self.occupations, slots, occ_ptr, occ_ids)
        self._append_postings(self.skill_postings, skill_ids, owner,
                              (cov, must, *tail) if self.weighted else tail)
        pairs = np.unique(occ_owner * self.n_occupations + occ_ids)
        self._append_postings(self.occupation_postings, pairs % self.n_occupations, pairs // self.n_occupations, ())
        for store in (self.skills, self.occupations, self.skill_postings, self.occupation_postings):
            if store.garbage > store.used // 8:  # a bulk append relocated many lists: give the room back
                store.compact(slack=0.0)

    def _build_fresh(self, slots, owner, skill_ids, occ_owner, occ_ids, cov, must, tail) -> None:
        n = self.n_slots
        extra = (np.asarray(cov, dtype=np.float32), np.asarray(must, dtype=np.float32)) if self.weighted else ()
        if self.weighted:
            np.maximum.at(self.skill_max, skill_ids, extra[0])
        self.skills = ListStore.from_pairs(n, owner, (skill_ids, *extra), self.skills.dtypes)
        self.occupations = ListStore.from_pairs(n, occ_owner, (occ_ids,), self.occupations.dtypes)
        self.skills.ensure_lists(len(self.keys))
        self.occupations.ensure_lists(len(self.keys))
        self.skill_postings = ListStore.from_pairs(self.n_skills, skill_ids, (owner.astype(np.int32), *extra, *tail),
                                                   self.skill_postings.dtypes)
        pairs = np.unique(occ_owner * self.n_occupations + occ_ids)
        self.occupation_postings = ListStore.from_pairs(
            self.n_occupations, pairs % self.n_occupations, ((pairs // self.n_occupations).astype(np.int32),),
            self.occupation_postings.dtypes)

    @staticmethod
    def _append_lists(store: ListStore, slots: np.ndarray, ptr: np.ndarray, ids: np.ndarray, extra: tuple = ()) -> None:
        """Forward lists of brand-new slots: one block at the end of the store (``extra``: further columns)."""
        ptr = ptr - ptr[0]
        counts = np.diff(ptr)
        total = int(counts.sum())
        store._grow_columns(store.used + total)
        for col, values in zip(store.columns, (ids, *extra)):
            col[store.used:store.used + total] = values
        starts = store.used + ptr[:-1]
        store.start[slots] = starts
        store.length[slots] = counts
        store.capacity[slots] = counts
        store.used += total

    @staticmethod
    def _append_postings(store: ListStore, list_ids: np.ndarray, owners: np.ndarray, extra: tuple) -> None:
        """Append (owner, *extra) to the posting lists ``list_ids``, grouped per list."""
        if len(list_ids) == 0:
            return
        order = stable_order(np.asarray(list_ids, dtype=np.int64), store.n_lists)
        sorted_lists = list_ids[order]
        bounds = np.flatnonzero(np.diff(sorted_lists)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(order)]])
        owners32 = owners[order].astype(np.int32)
        extra_sorted = [np.asarray(e, dtype=dtype)[order] for e, dtype in zip(extra, store.dtypes[1:])]
        for a, b in zip(starts.tolist(), ends.tolist()):
            store.extend(int(sorted_lists[a]), owners32[a:b], *(e[a:b] for e in extra_sorted))
