"""Compiled inner loops of the daily demand (numba), one pass over the day's needs each.

These are the two loops whose NumPy versions needed a dozen (needs x k) temporaries a day. They
implement exactly the rules documented in :mod:`sim.demand`; every random number they use is drawn
beforehand from the model's named streams and passed in, so results do not depend on the compiler.
Compiled functions are cached on disk (``cache=True``), so only the first process pays for
compilation.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def choose_outlets(res, cats, night, served, rows, knows, map_user, day_w, walk_w, factor_night,
                   outlet_t, u, n_nodes, n_categories):  # pragma: no cover - compiled
    """Each need's outlet (-1: none within walking range), and the knowledge it gains by searching.

    Args:
        res, cats, night, served: Per need: resident, category, night flag, already met.
        rows: Per resident: ``speed_class * C * n + home``.
        knows: (N * C,) uint8 knowledge bits (updated in place when a resident searches).
        map_user: Per resident: uses the service map (knows every outlet in reach).
        day_w: (S * C * n, k) today's weight of each rank: walk weight x outlet attraction.
        walk_w: (S * C * n, k) walk weights alone (for night needs).
        factor_night: (M + 1,) attraction of each outlet at night (0 if shut; last entry: none).
        outlet_t: (C * n, k) outlet id of each rank (-1: none).
        u: Per need: a uniform draw in [0, 1).

    Returns:
        (chosen outlet per need, reachable flag per need, searched flag per need).
    """
    E = res.shape[0]
    K = outlet_t.shape[1]
    CN = n_categories * n_nodes
    chosen = np.full(E, -1, dtype=np.int64)
    reachable = np.zeros(E, dtype=np.bool_)
    searched = np.zeros(E, dtype=np.bool_)
    w = np.empty(K, dtype=np.float32)
    cum = np.empty(K, dtype=np.float32)
    for e in range(E):
        if served[e]:
            continue
        r_id = res[e]
        c = cats[e]
        row = rows[r_id] + c * n_nodes
        col = row % CN
        bits = np.uint8(0xFF) if map_user[r_id] else knows[r_id * n_categories + c]
        total = np.float32(0.0)
        known_total = np.float32(0.0)
        for r in range(K):
            if night[e]:
                wr = walk_w[row, r] * factor_night[outlet_t[col, r]]
            else:
                wr = day_w[row, r]
            w[r] = wr
            total += wr
            if (bits >> r) & 1:
                known_total += wr
            cum[r] = known_total
        if total <= 0:
            continue
        reachable[e] = True
        if known_total <= 0:  # knows none in reach: searches and finds the best, and learns it
            best = 0
            for r in range(1, K):
                if w[r] > w[best]:
                    best = r
            searched[e] = True
            knows[r_id * n_categories + c] |= np.uint8(1 << best)
            chosen[e] = outlet_t[col, best]
            continue
        target = u[e] * known_total
        pick = -1
        for r in range(K):
            if ((bits >> r) & 1) and w[r] > 0:
                pick = r
                if cum[r] >= target:
                    break
        chosen[e] = outlet_t[col, pick]
    return chosen, reachable, searched


@njit(cache=True, nogil=True)
def turn_away(chosen, want, demand, capacity, u):  # pragma: no cover - compiled
    """Mask of visits turned away at full outlets: a uniformly random excess, exactly.

    Selection sampling (Knuth's Algorithm S): the visits to an outlet with more demand than
    capacity are accepted one by one with probability (places left) / (visits left), which picks a
    uniformly random subset of exactly ``capacity`` visits. ``u`` holds one uniform draw for each
    visit to a full outlet, consumed in order.
    """
    full = np.zeros(chosen.shape[0], dtype=np.bool_)
    places = capacity.astype(np.int64).copy()
    left = demand.copy()
    j = 0
    for e in range(chosen.shape[0]):
        if not want[e]:
            continue
        o = chosen[e]
        if demand[o] <= capacity[o]:
            continue
        if u[j] * left[o] < places[o]:
            places[o] -= 1
        else:
            full[e] = True
        left[o] -= 1
        j += 1
    return full


@njit(cache=True, nogil=True)
def sorted_uniform_indices(spacings, sizes, n):  # pragma: no cover - compiled
    """Sorted uniform indices in ``range(n)``, ``sizes[b]`` of them per block, from exponential
    spacings (``sizes.sum() + len(sizes)`` standard exponential draws).

    Within a block of k draws, the running sums of k + 1 exponential spacings divided by their
    total are the order statistics of k uniforms.
    """
    out = np.empty(sizes.sum(), dtype=np.int64)
    j = 0
    i = 0
    for b in range(sizes.shape[0]):
        k = sizes[b]
        total = 0.0
        for t in range(k + 1):
            total += spacings[i + t]
        run = 0.0
        for t in range(k):
            run += spacings[i + t]
            idx = int(run / total * n)
            out[j] = idx if idx < n else n - 1
            j += 1
        i += k + 1
    return out


@njit(cache=True, nogil=True)
def scatter_add(target, idx, amount, sign):  # pragma: no cover - compiled
    """``target[idx[i]] += sign * amount[i]`` for every i (repeated ids add up), in exact integers."""
    if amount.shape[0] == 1:
        a = sign * amount[0]
        for i in range(idx.shape[0]):
            target[idx[i]] += a
    else:
        for i in range(idx.shape[0]):
            target[idx[i]] += sign * amount[i]


@njit(cache=True, nogil=True)
def screen_visits(res, chosen, served, delivered, outlet_price, delivery_fee, cash, n_outlets):  # pragma: no cover - compiled
    """Price each need's visit and check that the resident can pay (price plus any delivery fee,
    against the cash held at the start of the day).

    Returns:
        (price per need, 0 where no visit is wanted; wanted-and-affordable mask; cannot-pay mask;
        affordable visits wanted per outlet).
    """
    E = res.shape[0]
    price = np.zeros(E, dtype=np.int64)
    want = np.zeros(E, dtype=np.bool_)
    broke = np.zeros(E, dtype=np.bool_)
    demand = np.zeros(n_outlets, dtype=np.int64)
    for e in range(E):
        o = chosen[e]
        if o < 0 or served[e]:
            continue
        p = outlet_price[o]
        extra = delivery_fee if delivered[e] else 0
        if p + extra > cash[res[e]]:
            broke[e] = True
            continue
        price[e] = p
        want[e] = True
        demand[o] += 1
    return price, want, broke, demand


@njit(cache=True, nogil=True)
def book_visits(chosen, cats, want, full, delivered, price, n_outlets, n_categories):  # pragma: no cover - compiled
    """The day's visits: per need whether it is served and walked to; per outlet visits and takings
    from walkers; per category walks and visits turned away at full outlets."""
    E = chosen.shape[0]
    visit = np.zeros(E, dtype=np.bool_)
    walk = np.zeros(E, dtype=np.bool_)
    visits = np.zeros(n_outlets, dtype=np.int64)
    takings = np.zeros(n_outlets, dtype=np.int64)
    walked = np.zeros(n_categories, dtype=np.int64)
    turned_away = np.zeros(n_categories, dtype=np.int64)
    for e in range(E):
        if not want[e]:
            continue
        if full[e]:
            turned_away[cats[e]] += 1
            continue
        o = chosen[e]
        visit[e] = True
        visits[o] += 1
        if not delivered[e]:
            walk[e] = True
            takings[o] += price[e]
            walked[cats[e]] += 1
    return visit, walk, visits, takings, walked, turned_away
