"""Statistical disclosure control of the funders' figures (the *secret statistique* of French public
statistics applied to counts of people).

The rule, for a threshold ``k`` (``settings.statistical_secret_threshold``, default 5):

1. **Primary secret.** A count of people ``n`` with ``0 < n < k`` is not published. Nor is a count
   whose complement in its row is such a count (the in-tension pre-registrations of a basin when
   those *not* in tension number 1 to k-1; the accepted people of a session when those not accepted
   do). A zero is published: rows of zero people are not listed at all.
2. **Secondary secret.** Where a column has a published total, the hidden cells of that column must
   not be recoverable by subtraction: at least two cells are hidden, and their sum ``s`` (which the
   total gives away) satisfies ``s >= k + hidden - 1``, so that each hidden cell, known only to be
   at least 1, may still be ``k`` or more. Until that holds, the smallest published cell of the
   column (then the first by label) is hidden too; if every cell is hidden and it still does not
   hold, the total is hidden as well.
3. Every hidden cell is the same ``null`` with the same marker, whatever the reason: telling a
   primary cell (1 to k-1) from a secondary one (k or more) would let a reader bound them against
   the total. A median over fewer than ``k`` people is not published either.

Pure functions over plain lists (no I/O).
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_THRESHOLD = 5
RULE = ("statistical secret: a count of fewer than {k} people (1 to {k1}) is not published, nor a count "
        "whose complement in its row is one; where a total would give a hidden cell away by subtraction, "
        "further cells are hidden (at least two per column, summing to at least {k} + hidden - 1); a median "
        "over fewer than {k} people is not published. Hidden cells are null and listed in 'secret'.")


def small(n: int | None, k: int) -> bool:
    """A count of people too small to publish (1 to k-1); zero and unknown are not small."""
    return n is not None and 0 < n < k


def enough(hidden: Sequence[int], k: int) -> bool:
    """Whether hidden cells of a column with a published total are safe: none, or at least two whose
    sum is at least ``k + len(hidden) - 1``."""
    return not hidden or (len(hidden) >= 2 and sum(hidden) >= k + len(hidden) - 1)


def secondary(values: Sequence[int], hidden: set[int], k: int, labels: Sequence[str] | None = None
              ) -> tuple[set[int], bool]:
    """Complete ``hidden`` (indices into ``values``, a column whose total is published) until the
    total gives none of them away. Returns (hidden indices, whether the total must be hidden too).
    One sort at most, the sum kept as cells are added."""
    hidden = set(hidden)
    count, total = len(hidden), sum(values[j] for j in hidden)
    if not count or (count >= 2 and total >= k + count - 1):
        return hidden, False
    order = (sorted(range(len(values)), key=lambda i: (values[i], labels[i], i)) if labels
             else sorted(range(len(values)), key=values.__getitem__))  # stable: ties by index
    for i in order:
        if i in hidden:
            continue
        hidden.add(i)
        count, total = count + 1, total + values[i]
        if total >= k + count - 1:  # count >= 2 here
            return hidden, False
    return hidden, True


def protect_breakdown(rows: list[dict], count: str, part: str, k: int, label: str,
                      forced: set[str] = frozenset()) -> tuple[list[dict], bool, bool]:
    """Apply the rule to one breakdown: ``rows`` [{label: value, count: n, part: p}] (p <= n, e.g.
    the in-tension ones), whose ``count`` and ``part`` columns have published totals; ``forced``:
    labels whose count is hidden whatever it is (a finer table would give it away). Returns (rows with hidden cells set to None and a ``secret``
    list naming them, whether ``total`` must be hidden, whether ``part_total`` must be hidden)."""
    labels = [str(r[label]) for r in rows]
    counts = [int(r[count]) for r in rows]
    parts = [int(r[part]) for r in rows]
    primary = {i for i, n in enumerate(counts) if small(n, k) or labels[i] in forced}
    hide_n, hide_total = secondary(counts, primary, k, labels)
    # the part column and its complement (count - part) both have a published total
    hide_p = set(hide_n) | {i for i in range(len(rows)) if small(parts[i], k) or small(counts[i] - parts[i], k)}
    hide_part_total = hide_total
    for _ in range(len(rows) + 1):  # each pass only adds cells: a fixpoint within len(rows) passes
        before = set(hide_p)
        hide_p, a = secondary(parts, hide_p, k, labels)
        hide_p, b = secondary([n - p for n, p in zip(counts, parts)], hide_p, k, labels)
        hide_part_total = hide_part_total or a or b
        if hide_p == before:
            break
    out = []
    for i, row in enumerate(rows):
        row = dict(row)
        secret = []
        if i in hide_n:
            row[count] = None
            secret.append(count)
        if i in hide_p:
            row[part] = None
            secret.append(part)
        row["secret"] = secret
        out.append(row)
    return out, hide_total, hide_part_total


def protect_sessions(basin_of: Sequence, submitted: Sequence[int], accepted: Sequence[int],
                     basins: list[dict], k: int) -> tuple[set[int], set[int], set[str]]:
    """Apply the rule to every session (all years), given as columns in a fixed order (by training
    then session: ties between equal cells go to the first): its basin, pre-registrations
    (``submitted``) and accepted people, together with the basin breakdown of all years ``basins``
    [{basin, pre_registrations, in_tension}]. The sessions of a basin sum to its count and all of
    them to the total, so ``submitted`` is protected within each basin and overall, every session of
    a basin whose count is hidden is hidden too (else they would add up to it), and a basin whose
    sessions would give one away is hidden; repeated until nothing changes (each pass only hides
    more). ``accepted`` has no published total: the primary secret on it and on the not accepted
    (``submitted - accepted``); the fill rate goes with it. Returns (sessions whose ``submitted`` is
    hidden, sessions whose ``accepted`` and fill rate are hidden, basins to hide in every basin
    breakdown)."""
    groups: dict = {}
    for i, basin in enumerate(basin_of):
        groups.setdefault(basin, []).append(i)
    hidden = {i for i, v in enumerate(submitted) if 0 < v < k}
    forced: set[str] = set()
    for _ in range(len(submitted) + len(basins) + 2):
        before = (len(hidden), len(forced))
        for basin, members in groups.items():
            if basin is not None and str(basin) in forced:
                hidden.update(members)
                continue
            local = {j for j, i in enumerate(members) if i in hidden}
            if not local:
                continue
            local, whole = secondary([submitted[i] for i in members], local, k)
            hidden.update(members[j] for j in local)
            if whole and basin is not None:
                forced.add(str(basin))
        hidden, _ = secondary(submitted, hidden, k)  # the overall total is the breakdowns' total
        table, _, _ = protect_breakdown(basins, "pre_registrations", "in_tension", k, "basin", forced)
        forced |= {str(b["basin"]) for b in table if b["pre_registrations"] is None}
        if (len(hidden), len(forced)) == before:  # sets only grow: same sizes, same sets
            break
    no_accepted = hidden | {i for i, (n, a) in enumerate(zip(submitted, accepted)) if 0 < a < k or 0 < n - a < k}
    return hidden, no_accepted, forced
