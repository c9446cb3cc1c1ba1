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
    total gives none of them away. Returns (hidden indices, whether the total must be hidden too)."""
    hidden = set(hidden)
    order = sorted(range(len(values)), key=lambda i: (values[i], labels[i] if labels else "", i))
    for i in order:
        if enough([values[j] for j in hidden], k):
            return hidden, False
        if i not in hidden:
            hidden.add(i)
    return hidden, not enough([values[j] for j in hidden], k)


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


def protect_sessions(rows: list[dict], basins: list[dict], k: int) -> tuple[list[dict], set]:
    """Apply the rule to the sessions ``rows`` [{training, session, basin, submitted, accepted,
    fill_rate, ...}] (every session, all years) together with the basin breakdown of all years
    ``basins`` [{basin, pre_registrations, in_tension}]: the sessions of a basin sum to its count and
    all of them to the total, so ``submitted`` is protected within each basin and overall, every
    session of a basin whose count is hidden is hidden too (else they would add up to it), and a basin
    whose sessions would give one away is hidden; repeated until nothing changes (each pass only
    hides more). ``accepted`` has no published total: the primary secret on it and on the not
    accepted (``submitted - accepted``); ``fill_rate`` goes with ``accepted``. Returns (rows with
    hidden cells None and a ``secret`` list, the basins to hide in every basin breakdown)."""
    groups: dict = {}
    for i, row in enumerate(rows):
        groups.setdefault(row.get("basin"), []).append(i)
    values = [int(r["submitted"]) for r in rows]
    labels = [f"{r['training']}\x00{r['session']}" for r in rows]
    hidden = {i for i, v in enumerate(values) if small(v, k)}
    forced: set = set()
    for _ in range(len(rows) + len(basins) + 2):
        before = (set(hidden), set(forced))
        for basin, members in groups.items():
            if basin is not None and str(basin) in forced:
                hidden |= set(members)
                continue
            local, whole = secondary([values[i] for i in members], {j for j, i in enumerate(members) if i in hidden},
                                     k, [labels[i] for i in members])
            hidden |= {members[j] for j in local}
            if whole and basin is not None:
                forced.add(str(basin))
        hidden, _ = secondary(values, hidden, k, labels)  # the overall total is the breakdowns' total
        table, _, _ = protect_breakdown(basins, "pre_registrations", "in_tension", k, "basin", forced)
        forced |= {str(b["basin"]) for b in table if b["pre_registrations"] is None}
        if (hidden, forced) == before:
            break
    out = []
    for i, row in enumerate(rows):
        row = dict(row)
        secret = []
        n, a = int(row["submitted"]), int(row["accepted"] or 0)
        if i in hidden:
            row["submitted"] = None
            secret.append("submitted")
        if i in hidden or small(a, k) or small(n - a, k):
            row["accepted"] = row["fill_rate"] = None
            secret += ["accepted", "fill_rate"]
        row["secret"] = secret
        out.append(row)
    return out, forced
