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
4. **Across requests** (:func:`protect_years`): every year's breakdowns and the all-years ones are
   protected together as one table with margins (values x years, the all-years column, the year
   totals): every line holds the rule, no hidden cell is a bridge of the table (no combination of
   lines fixes it), and each hidden cell of 1 to k-1 lies on a rectangle of hidden cells along
   which it may reach ``k``. A request for a year or for all years reads a slice of it, so that
   subtracting one answer from another gives nothing one table does not.

Pure functions over plain lists (no I/O).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

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
                     basins: list[dict], k: int, forced: set[str] = frozenset()) -> tuple[set[int], set[int], set[str]]:
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
    breakdown). ``forced``: basins already hidden in the all-years breakdown (their sessions go too)."""
    groups: dict = {}
    for i, basin in enumerate(basin_of):
        groups.setdefault(basin, []).append(i)
    hidden = {i for i, v in enumerate(submitted) if 0 < v < k}
    forced = {str(b) for b in forced}
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


# ---- the years: one protected table whatever the request (no differencing between two requests) ----
ALL = None
"""The column of all years together (the request without ``year``)."""


@dataclass
class YearCube:
    """Which cells of every year's and of the all-years breakdowns are hidden, decided together.

    ``hidden_n[dim]`` / ``hidden_p[dim]``: (value, column) whose count / in-tension part (and so its
    complement) is hidden, ``column`` a year or :data:`ALL`; ``hidden_total`` / ``hidden_part_total``:
    the columns whose grand total / in-tension total is hidden; ``part_bounds_unmet``: below."""

    hidden_n: dict[str, set]
    hidden_p: dict[str, set]
    hidden_total: set
    hidden_part_total: set
    part_bounds_unmet: dict = None
    """{dim: {((value, column), "P" or "Q")}}: hidden in-tension (P) or not-in-tension (Q) counts of 1
    to k-1 that no rectangle lets reach k without hiding a count total (they keep the protection of
    their lines and are never fixed by the shown figures)."""


def _line(values: dict, hidden: set, total_hidden: bool, k: int) -> tuple[set, bool]:
    """One additive line (cells ``values`` {key: n} summing to a total; only the cells of rows that
    are listed, i.e. of at least one person: a row of zero people is not listed, so that zero is
    public): complete ``hidden`` (keys) so that the line gives none away. A published total:
    :func:`secondary`. A hidden total: at least one cell hidden too, else the shown cells add up to
    it. Returns (hidden keys, whether the total must be hidden)."""
    keys = sorted(values, key=lambda key: (values[key], str(key)))
    if not keys:
        return hidden, False
    mine = {i for i, key in enumerate(keys) if key in hidden}
    if total_hidden:
        return (hidden if mine else hidden | {keys[0]}), False
    chosen, whole = secondary([values[key] for key in keys], mine, k, [str(key) for key in keys])
    return hidden | {keys[i] for i in chosen}, whole


def _bridges(edges: list[tuple]) -> list[tuple]:
    """The bridges of an undirected multigraph given as (u, v) edges (Tarjan, iterative): the edges
    on no cycle. Each is returned as the edge tuple given."""
    adjacency: dict = {}
    for i, (u, v) in enumerate(edges):
        adjacency.setdefault(u, []).append((v, i))
        adjacency.setdefault(v, []).append((u, i))
    order: dict = {}
    low: dict = {}
    out = []
    for root in adjacency:
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack = [(root, -1, iter(adjacency[root]))]
        while stack:
            node, via, neighbours = stack[-1]
            for other, edge in neighbours:
                if edge == via:
                    continue
                if other in order:
                    low[node] = min(low[node], order[other])
                else:
                    order[other] = low[other] = len(order)
                    stack.append((other, edge, iter(adjacency[other])))
                    break
            else:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > order[parent]:
                        out.append(edges[via])
    return out


def _component(edges: list[tuple], start, without: tuple) -> set:
    """Nodes reachable from ``start`` over ``edges`` less one copy of the edge ``without``."""
    adjacency: dict = {}
    skipped = False
    for u, v in edges:
        if not skipped and (u, v) == without:
            skipped = True
            continue
        adjacency.setdefault(u, []).append(v)
        adjacency.setdefault(v, []).append(u)
    seen, todo = {start}, [start]
    while todo:
        for other in adjacency.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


TOTAL_ROW = ("total",)
"""The row node of the grand totals in the bridge graph (a tuple: never a value of a breakdown)."""


def _repair_bridges(n: dict, hidden: set, hidden_total: set, columns: list, values: list) -> bool:
    """Exact disclosure across the whole table: write the table with its margins as a matrix whose
    lines all sum to zero (the all-years column and the totals row negated); a hidden cell is then
    determined by the shown ones exactly when it is a *bridge* of the bipartite graph whose nodes are
    the lines and whose edges are the hidden cells. For each bridge, hide the smallest shown non-zero
    cell joining its two sides (the bridge then lies on a cycle: it can move by the same amount as
    the other cells of the cycle, with every total kept). Returns whether a cell was added."""
    edges = [(("row", v), ("col", c)) for v, c in hidden]
    edges += [(("row", TOTAL_ROW), ("col", c)) for c in hidden_total]
    added = False
    for bridge in _bridges(edges):
        side = _component(edges, bridge[0], bridge)
        if bridge[1] in side:  # an earlier repair closed a cycle through it
            continue
        candidates = [(n[v, c], str(v), str(c), v, c) for v in values for c in columns
                      if n.get((v, c), 0) > 0 and (v, c) not in hidden
                      and ((("row", v) in side) != (("col", c) in side))]
        if not candidates:  # nothing joins the two sides: hide the bridge's whole line
            v = bridge[0][1]
            candidates = [(n[v, c], str(v), str(c), v, c) for c in columns if n.get((v, c), 0) > 0 and (v, c) not in hidden]
        if candidates:
            _, _, _, v, c = min(candidates)
            hidden.add((v, c))
            edges.append((("row", v), ("col", c)))
            added = True
    return added


def _sign(row, column) -> int:
    """The sign of a cell in the zero-sum form of a table with margins: inner cells and the grand
    total +1, the all-years column and the totals row -1."""
    return 1 if (row == TOTAL_ROW) == (column is ALL) else -1


def _lines(cells) -> tuple[dict, dict]:
    """The lines of a table given by its (row, column) cells: ({column: [rows]}, {row: [columns]}),
    in the cells' order."""
    rows_of: dict = {}
    cols_of: dict = {}
    for (r, c) in cells:
        rows_of.setdefault(c, []).append(r)
        cols_of.setdefault(r, []).append(c)
    return rows_of, cols_of


def _rectangles(n: dict, hidden: set, hidden_total: set, total_n: dict, columns: list, k: int,
                done: set, nearest: int = 24) -> bool:
    """Bounds, not only equations: a hidden count of 1 to k-1 must be able to reach ``k`` with every
    shown figure kept and every hidden cell at least 1 (the hypercube method of statistical offices,
    in two dimensions). In the zero-sum form, moving +t, -t, -t, +t around a rectangle of hidden
    cells keeps every line; for a small cell ``x`` it is enough that one rectangle through it lets
    ``t = k - x`` with the corners that go down staying >= 1 (the true figures are one solution, this
    move gives another where the cell is ``k``). Where no rectangle of hidden cells does, the
    cheapest of those through the ``nearest`` smallest fitting cells of its column is hidden (the
    fewest people hidden more), a total only when nothing else will do (a hidden total hides its whole
    column in every breakdown: added to ``hidden_total``). ``done``: cells already shown to have
    their rectangle (it stays: cells are only ever added). Returns whether a cell was added."""
    cells = dict(n)
    cells.update({(TOTAL_ROW, c): total_n[c] for c in columns if total_n.get(c, 0) > 0})
    shut = set(hidden) | {(TOTAL_ROW, c) for c in hidden_total}
    rows_of, cols_of = _lines(cells)
    sizes: dict = {}
    for c in rows_of:  # the inner rows of each column by size (the total row apart)
        inner = sorted((r for r in rows_of[c] if r != TOTAL_ROW), key=lambda r: (cells[(r, c)], str(r)))
        rows_of[c], sizes[c] = inner, [cells[(r, c)] for r in inner]
    shut_rows: dict = {}
    shut_cols: dict = {}
    for (r, c) in shut:
        if (r, c) in cells:
            shut_rows.setdefault(c, set()).add(r)
            shut_cols.setdefault(r, set()).add(c)

    def fits(r, c, r2, c2, delta, t) -> bool:
        return all(cells[(a, b)] + _sign(a, b) * d * t >= 1 for a, b, d in ((r, c2, -delta), (r2, c, -delta),
                                                                               (r2, c2, delta)))
    added = False
    for (r, c) in sorted(shut, key=str):
        x = cells.get((r, c), 0)
        if (r, c) in done or not small(x, k):
            continue
        t, delta = k - x, _sign(r, c)  # delta: the move of M at (r, c) that raises the figure
        # a rectangle of hidden cells that fits (whether one exists does not depend on the order)
        if any(fits(r, c, r2, c2, delta, t) for c2 in shut_cols.get(r, ()) if c2 != c
               for r2 in shut_rows.get(c, set()) & shut_rows.get(c2, set())
               if r2 != r and (r2 == TOTAL_ROW or cells[(r2, c)] > t)):
            done.add((r, c))
            continue
        best = None
        # another inner row of the column goes down by t (the same sign): it needs t + 1 people at least
        column = rows_of.get(c, [])
        others = column[bisect.bisect_left(sizes.get(c, []), t + 1):]
        if r != TOTAL_ROW and (TOTAL_ROW, c) in cells:
            others = [TOTAL_ROW, *others]
        for c2 in cols_of.get(r, ()):
            if c2 == c:
                continue
            tried = 0
            for r2 in others:
                if r2 == r or (r2, c2) not in cells or not fits(r, c, r2, c2, delta, t):
                    continue
                new = [q for q in ((r, c2), (r2, c), (r2, c2)) if q not in shut]
                cost = (any(a == TOTAL_ROW for a, _ in new), sum(cells[q] for q in new), len(new), str(new))
                if best is None or cost < best[0]:
                    best = (cost, new)
                tried += 1
                if tried >= nearest:
                    break
        done.add((r, c))  # found, or none fits at all (the figures do not change: it never will)
        if best:
            for q in best[1]:
                if q[0] == TOTAL_ROW:
                    hidden_total.add(q[1])
                else:
                    hidden.add(q)
                shut.add(q)
                shut_rows.setdefault(q[1], set()).add(q[0])
                shut_cols.setdefault(q[0], set()).add(q[1])
            added = True
    return added


def _rectangles_part(n: dict, p: dict, hidden_n: set, hidden_p: set, hidden_total: set, hidden_part_total: set,
                     total_n: dict, total_p: dict, columns: list, k: int, done: set, unmet: set,
                     scan: int = 16) -> bool:
    """:func:`_rectangles` for the in-tension part ``P`` and its complement ``Q = N - P``, which share
    their hidden cells: a hidden P (or Q) of 1 to k-1 must be able to reach ``k``. Two moves around a
    rectangle keep every line of P, Q and N: P moves and Q makes up for it cell by cell (N unchanged:
    the rectangle hidden in P; every P and Q stays >= 0), or P moves and N with it (Q unchanged: the
    rectangle hidden in N too; every N stays >= 1). The other row is one of the ``scan`` largest of
    the column (and the totals row); the cheapest rectangle that fits is kept (P-only first, then no
    total, then the fewest people), one already hidden (costing nothing) ends the search. A count
    total is never hidden for a part (it would hide that column of every breakdown): where only such
    a rectangle fits, the cell keeps the protection of its lines and of the bridge rule (never fixed
    by the shown figures) and is named in ``unmet`` ((cell, "P" or "Q")). ``done``: (cell, P or Q) already settled. Returns whether a cell was added."""
    N = dict(n)
    P = dict(p)
    for c in columns:
        if total_n.get(c, 0) > 0:
            N[(TOTAL_ROW, c)], P[(TOTAL_ROW, c)] = total_n[c], total_p[c]
    Q = {q: N[q] - P[q] for q in N}
    shut_p = set(hidden_p) | {(TOTAL_ROW, c) for c in hidden_part_total}
    shut_n = set(hidden_n) | {(TOTAL_ROW, c) for c in hidden_total}
    rows_of, cols_of = _lines(N)
    for c in rows_of:
        rows_of[c].sort(key=lambda r: (-N[(r, c)], str(r)))
        rows_of[c] = rows_of[c][:scan] + ([TOTAL_ROW] if (TOTAL_ROW, c) in N and TOTAL_ROW not in rows_of[c][:scan]
                                          else [])
    added = False
    for (r, c) in sorted(shut_p, key=str):
        if (r, c) not in N:
            continue
        for name, X, Y in (("P", P, Q), ("Q", Q, P)):
            x = X[(r, c)]
            if ((r, c), name) in done or not small(x, k):
                continue
            t, delta = k - x, _sign(r, c)
            best = None
            for c2 in cols_of.get(r, ()):
                if c2 == c or best == ():
                    continue
                for r2 in rows_of.get(c, ()):
                    if r2 == r or (r2, c2) not in N:
                        continue
                    corners = (((r, c), delta), ((r, c2), -delta), ((r2, c), -delta), ((r2, c2), delta))
                    moves = [(q, _sign(*q) * d * t) for q, d in corners]
                    if any(X[q] + dx < 0 for q, dx in moves):
                        continue
                    for mode, shut in (("Y", shut_p), ("N", shut_n)):
                        if mode == "Y" and any(Y[q] - dx < 0 for q, dx in moves):
                            continue
                        if mode == "N" and any(N[q] + dx < 1 for q, dx in moves):
                            continue
                        new = [q for q, _ in corners if q not in shut]
                        if not new:
                            best = ()
                            break
                        if mode == "N" and any(q[0] == TOTAL_ROW for q in new):
                            continue  # never a count total for a part: it would hide every breakdown's column
                        cost = (mode == "N", any(q[0] == TOTAL_ROW for q in new), sum(N[q] for q in new), len(new),
                                str(new))
                        if best is None or cost < best[0]:
                            best = (cost, mode, new)
                    if best == ():
                        break
            done.add(((r, c), name))
            if best is None:
                unmet.add(((r, c), name))
            if best:
                _, mode, new = best
                for q in new:
                    if mode == "N":
                        shut_n.add(q)
                        if q[0] == TOTAL_ROW:
                            hidden_total.add(q[1])
                        else:
                            hidden_n.add(q)
                    shut_p.add(q)
                    if q[0] == TOTAL_ROW:
                        hidden_part_total.add(q[1])
                    else:
                        hidden_p.add(q)
                added = True
    return added


def protect_years(tables: dict[str, dict], k: int, forced_all: dict[str, set] | None = None) -> YearCube:
    """Apply the rule to every breakdown of every year and of all years *together*, so that two
    requests (a year, all years, another year) are two slices of one protected table and subtracting
    one from the other gives nothing a single answer does not.

    ``tables``: {dim: {value: {year: (pre-registrations, of which in tension)}}}, every pre-registration
    in exactly one value of each dim (so each dim's cells of a year add up to that year's total);
    ``forced_all``: {dim: values whose all-years count is hidden whatever it is (a finer table,
    the sessions, would give it away)}.

    The lines of the table of a dim (values x years, with the all-years column and the totals row
    as margins), for the count, the in-tension part and its complement: each year's breakdown (and
    the all-years one) against its total; each value across the years against its all-years cell;
    the year totals against the grand total. Each line is completed (:func:`_line`) until every line
    holds, a hidden year total hides its whole column in every dim, and no hidden cell is a bridge
    of the table (:func:`_repair_bridges`: no combination of shown lines determines it). Only
    hides more at each pass: a fixpoint."""
    dims = list(tables)
    years = sorted({y for per_value in tables[dims[0]].values() for y in per_value}) if dims else []
    columns = [*years, ALL]
    n: dict[str, dict] = {}
    p: dict[str, dict] = {}
    for dim in dims:
        n[dim], p[dim] = {}, {}
        for value, per_year in tables[dim].items():
            for year, (count, part) in per_year.items():
                if count > 0:
                    n[dim][value, year], p[dim][value, year] = count, part
            n[dim][value, ALL] = sum(c for c, _ in per_year.values())
            p[dim][value, ALL] = sum(t for _, t in per_year.values())
    first = dims[0] if dims else None
    total_n = {c: sum(x for (_, col), x in n[first].items() if col == c) for c in columns} if first else {}
    total_p = {c: sum(x for (_, col), x in p[first].items() if col == c) for c in columns} if first else {}
    hidden_n = {d: {cell for cell, x in n[d].items() if small(x, k)} for d in dims}
    for dim, values in (forced_all or {}).items():
        if dim in hidden_n:
            hidden_n[dim] |= {(v, ALL) for v in values if n[dim].get((v, ALL), 0) > 0}
    hidden_p = {d: hidden_n[d] | {cell for cell, x in n[d].items() if small(p[d][cell], k) or small(x - p[d][cell], k)}
                for d in dims}
    hidden_total = {c for c in columns if small(total_n[c], k)}
    hidden_part_total = hidden_total | {c for c in columns if small(total_p[c], k) or small(total_n[c] - total_p[c], k)}
    values_of = {d: sorted({v for v, _ in n[d]}, key=str) for d in dims}
    by_column = {d: {c: {v: x for (v, col), x in n[d].items() if col == c} for c in columns} for d in dims}
    done: dict[str, set] = {d: set() for d in dims}
    done_p: dict[str, set] = {d: set() for d in dims}
    unmet: dict[str, set] = {d: set() for d in dims}
    for _ in range(10_000):  # each pass hides more or stops; the cells are finite
        before = (sum(map(len, hidden_n.values())), sum(map(len, hidden_p.values())), len(hidden_total),
                  len(hidden_part_total))
        # the year totals against the grand total (count, in tension, not in tension)
        hidden_total, whole = _line({c: total_n[c] for c in years}, hidden_total, ALL in hidden_total, k)
        if whole:
            hidden_total.add(ALL)
        hidden_part_total |= hidden_total
        for values in ({c: total_p[c] for c in years}, {c: total_n[c] - total_p[c] for c in years}):
            hidden_part_total, whole = _line(values, hidden_part_total, ALL in hidden_part_total, k)
            if whole:
                hidden_part_total.add(ALL)
        for d in dims:
            # a hidden total hides its column: every dim's cells add up to it
            hidden_n[d] |= {(v, c) for (v, c) in n[d] if c in hidden_total}
            hidden_p[d] |= hidden_n[d] | {(v, c) for (v, c) in n[d] if c in hidden_part_total}
            for c in columns:  # each column (a year's breakdown, all years) against its total
                cells = by_column[d][c]
                mine = {v for v, col in hidden_n[d] if col == c}
                mine, whole = _line(cells, mine, c in hidden_total, k)
                hidden_n[d] |= {(v, c) for v in mine}
                if whole:
                    hidden_total.add(c)
                hidden_p[d] |= hidden_n[d]
                mine = {v for v, col in hidden_p[d] if col == c}
                for values in ({v: p[d][v, c] for v in cells}, {v: cells[v] - p[d][v, c] for v in cells}):
                    mine, whole = _line(values, mine, c in hidden_part_total, k)
                    if whole:
                        hidden_part_total.add(c)
                hidden_p[d] |= {(v, c) for v in mine}
            for v in values_of[d]:  # each value across the years against its all-years cell
                cells = {c: n[d][v, c] for c in years if (v, c) in n[d]}
                mine = {c for c in years if (v, c) in hidden_n[d]}
                mine, whole = _line(cells, mine, (v, ALL) in hidden_n[d], k)
                hidden_n[d] |= {(v, c) for c in mine} | ({(v, ALL)} if whole else set())
                hidden_p[d] |= hidden_n[d]
                mine = {c for c in years if (v, c) in hidden_p[d]}
                top = (v, ALL) in hidden_p[d]
                for values in ({c: p[d][v, c] for c in cells}, {c: cells[c] - p[d][v, c] for c in cells}):
                    mine, whole = _line(values, mine, top, k)
                    top = top or whole
                hidden_p[d] |= {(v, c) for c in mine} | ({(v, ALL)} if top else set())
            # no combination of lines determines a hidden cell (count; in tension, whose complement
            # has the same hidden cells and is linked to it by the count only where that is shown)
            _repair_bridges(n[d], hidden_n[d], hidden_total, columns, values_of[d])
            _rectangles(n[d], hidden_n[d], hidden_total, total_n, columns, k, done[d])
            hidden_p[d] |= hidden_n[d]
            _repair_bridges(n[d], hidden_p[d], hidden_part_total, columns, values_of[d])
            _rectangles_part(n[d], p[d], hidden_n[d], hidden_p[d], hidden_total, hidden_part_total, total_n, total_p,
                             columns, k, done_p[d], unmet[d])
        after = (sum(map(len, hidden_n.values())), sum(map(len, hidden_p.values())), len(hidden_total),
                 len(hidden_part_total))
        if after == before:
            break
    return YearCube(hidden_n, hidden_p, hidden_total, hidden_part_total, unmet)
