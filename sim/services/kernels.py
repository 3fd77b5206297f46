"""Compiled loops of the daily demand (numba): a few passes over the day's needs, in resident order.

They implement exactly the rules documented in :mod:`sim.services.demand`. Each loop that draws random
numbers owns a small generator (:mod:`sim.services.fastrng`) seeded that day from the model's named stream,
so results depend on the seed alone, never on the compiler. Outputs go into buffers that live for
the whole run (:class:`sim.services.demand.DayBuffers`): fresh arrays of a day's size cost more in page
faults than the loops themselves. Compiled functions are cached on disk (``cache=True``), so only
the first process pays for compilation. Above 65,536 residents the passes run as their ``*_blocks``
versions (below): the same rules over fixed blocks of residents, each with its own generator,
shared among threads (:mod:`sim.services.blocks`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim.services.fastrng import alias_column, alias_resolve, step, unit24, unit53

# Why a need went unmet (per need, ``DayBuffers.outcome``); a need with no reason had no outlet
# in range (or none open, or no delivery).
NO_REASON = 0
CANNOT_PAY = 1
TURNED_AWAY = 2


@njit(cache=True, nogil=True)
def dealt_order(n):  # pragma: no cover - compiled
    """(n,) the items 0..n-1 in bit-reversed order (0, 8, 4, 12, 2, ... for 16), for a parallel loop
    to take in turn: numba gives each of T threads one run of consecutive loop positions, and a run
    of this order holds items spread evenly over 0..n-1 (every other one for 2 threads, every fourth
    for 4). Blocks of residents are stored in home-node order, so consecutive blocks cover one part
    of the city and cost alike; dealt out like this, each thread gets its share of the dense and the
    sparse parts. Only speed depends on the order: every block writes its own results."""
    bits = 0
    while (1 << bits) < n:
        bits += 1
    order = np.empty(n, dtype=np.int64)
    k = 0
    for j in range(1 << bits):
        r = 0
        for q in range(bits):
            r |= ((j >> q) & 1) << (bits - 1 - q)
        if r < n:
            order[k] = r
            k += 1
    return order


@njit(cache=True, nogil=True)
def count_needs(state, group, count_table, counts):  # pragma: no cover - compiled
    """Each resident's number of needs today, drawn from their group's row of ``count_table`` (a
    packed alias table of the Poisson distribution, :func:`sim.services.fastrng.pack_alias`).

    Returns:
        The total number of needs.
    """
    total, s0, s1, s2, s3 = _count_range(state[0], state[1], state[2], state[3], 0, group.shape[0],
                                         group, count_table, counts)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return total


@njit(cache=True, nogil=True)
def _count_range(s0, s1, s2, s3, lo, hi, group, count_table, counts):  # pragma: no cover - compiled
    """:func:`count_needs` for residents ``lo:hi``: (their needs, the generator's new state)."""
    J = count_table.shape[1]
    total = 0
    for i in range(np.uint64(lo), np.uint64(hi)):  # unsigned: no wrap-around checks
        x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
        j = alias_column(x, J)
        k = alias_resolve(x, j, count_table[group[i], np.uint64(j)])
        counts[i] = k
        total += k
    return total, s0, s1, s2, s3


@njit(cache=True, nogil=True)
def fill_needs(state, group, counts, slot_table, n_categories, res, cats, night, slot_tally):  # pragma: no cover - compiled
    """Write each resident's needs (in resident order; the buffers need 4 entries of headroom).

    Each need's slot is drawn from the resident's group row of ``slot_table`` (packed alias
    table): slot j is category ``j % C``, by day (j < C) or at night (j >= C). ``slot_tally``
    counts the slots drawn.
    """
    e, s0, s1, s2, s3 = _fill_range(state[0], state[1], state[2], state[3], 0, group.shape[0], 0, res.shape[0],
                                    group, counts, slot_table, n_categories, res, cats, night, slot_tally)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return e


@njit(cache=True, nogil=True)
def _fill_range(s0, s1, s2, s3, lo, hi, first_need, end, group, counts, slot_table, n_categories, res, cats, night,
                slot_tally):  # pragma: no cover - compiled
    """:func:`fill_needs` for residents ``lo:hi``, whose needs start at ``first_need``; nothing is
    written at or beyond ``end`` (the next block's needs). Returns (end of these needs, state)."""
    e = np.uint64(first_need)  # unsigned indices: no wrap-around checks
    u_end = np.uint64(end)
    for i in range(np.uint64(lo), np.uint64(hi)):  # expand counts to resident ids; most residents have < 4
        k = np.uint64(counts[i])
        if e + np.uint64(4) <= u_end:
            res[e] = i
            res[e + np.uint64(1)] = i
            res[e + np.uint64(2)] = i
            res[e + np.uint64(3)] = i
            for t in range(4, k):
                res[e + np.uint64(t)] = i
        else:
            for t in range(k):
                res[e + np.uint64(t)] = i
        e += k
    J = slot_table.shape[1]
    for f in range(np.uint64(first_need), e):
        x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
        col = alias_column(x, J)
        j = alias_resolve(x, col, slot_table[group[np.uint64(res[f])], np.uint64(col)])
        is_night = j >= n_categories
        cats[f] = j - n_categories * is_night
        night[f] = is_night
        slot_tally[np.uint64(j)] += 1
    return np.int64(e), s0, s1, s2, s3


@njit(cache=True, nogil=True)
def intercept_automated(state, E, res, cats, served, home, speed_class, S, locker_near, vending_near,
                        parcel_category, vending_category, vending_share, vending_price, resident_cash,
                        met_automated):  # pragma: no cover - compiled
    """Needs met by automated points before anyone walks (lockers lever).

    A parcel whose resident lives within reach of a locker (``locker_near[home * S + speed
    class]``) is collected there. A need of ``vending_category`` within reach of a vending point
    is, with ``vending_share``, a small purchase the point meets if the resident can pay
    ``vending_price`` (paid here, from their cash). Met needs are marked ``served`` and counted in
    ``met_automated``.

    Returns:
        (parcels collected at lockers, vending sales).
    """
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    parcels = 0
    sales = 0
    uS = np.uint64(S)
    for e in range(E):
        if served[e]:
            continue
        c = cats[e]
        if c != parcel_category and c != vending_category:
            continue
        r = np.uint64(res[e])
        near = np.uint64(home[r]) * uS + np.uint64(speed_class[r])
        if c == parcel_category:
            if locker_near[near]:
                served[e] = True
                met_automated[np.uint64(c)] += 1
                parcels += 1
        elif vending_near[near]:
            x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
            if unit53(x) < vending_share and resident_cash[r] >= vending_price:
                resident_cash[r] -= vending_price
                served[e] = True
                met_automated[np.uint64(c)] += 1
                sales += 1
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return parcels, sales


@njit(cache=True, nogil=True)
def rank_attraction(factor, outlet_flat, out):  # pragma: no cover - compiled
    """``out[i] = factor[outlet_flat[i]]`` (0 where there is no outlet): today's attraction (by day
    or at night) of the outlet at each (node x category, rank) slot of the choice tables."""
    for i in range(outlet_flat.shape[0]):
        o = outlet_flat[i]
        out[i] = factor[max(o, 0)] if o >= 0 else np.float32(0.0)


@njit(cache=True, nogil=True)
def choose_outlets(state, E, res, cats, night, served, speed_class, home, knows, map_user, walk_flat,
                   day_att, night_att, outlet_flat, S, C, chosen, ranks, room=None):  # pragma: no cover - compiled
    """Each need's outlet (-1: none within walking range); knowledge gained by searching.

    Args:
        state: Generator state of the choice stream (advanced).
        E: Number of needs (the buffers may be longer).
        res, cats, night, served: Per need: resident, category, night flag, already met.
        speed_class, home: Per resident.
        knows: (N * C,) uint8 knowledge bits (updated in place when a resident searches).
        map_user: Per resident: uses the service map (knows every outlet in reach).
        walk_flat: (n * S * C * width,) walk weight of each rank by home node, speed class and
            category, exp(-b * minutes), 0 beyond the limit and for padding ranks.
        day_att, night_att: (n * C * width,) today's attraction of the outlet at each rank, by day
            and at night (0 if shut at night), from :func:`rank_attraction`.
        outlet_flat: (n * C * width,) outlet id of each rank (-1: none).
        S, C: Numbers of speed classes and categories.
        chosen: Per need, written.
        ranks: ``tuple(range(width))``, where width is the number of ranks per row of the tables
            (``k`` padded with empty ranks). A tuple's length is part of its type, so the width is
            compiled in as a constant: a loop over ranks the compiler can unroll is twice as fast.
        room: None, or per outlet: whether it still has room today (a second try, which weighs a
            full outlet at 0; the tables are left as the first choice wrote them). None compiles
            without the check: the first choice's loop reads the tables alone.

    A need's weights are recomputed from its table row in each pass rather than kept in a
    scratch array: the row is in cache, and this measured faster.
    """
    s0, s1, s2, s3 = _choose_range(state[0], state[1], state[2], state[3], 0, E, res, cats, night, served,
                                   speed_class, home, knows, map_user, walk_flat, day_att, night_att,
                                   outlet_flat, S, C, chosen, ranks, room)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


@njit(cache=True, nogil=True)
def _choose_range(s0, s1, s2, s3, lo, hi, res, cats, night, served, speed_class, home, knows, map_user, walk_flat,
                  day_att, night_att, outlet_flat, S, C, chosen, ranks, room):  # pragma: no cover - compiled
    """:func:`choose_outlets` for needs ``lo:hi``; returns the generator's new state."""
    K = len(ranks)
    uS, uC, uK = np.uint64(S), np.uint64(C), np.uint64(K)
    zero = np.float32(0.0)
    for e in range(np.uint64(lo), np.uint64(hi)):  # unsigned: no wrap-around checks
        chosen[e] = -1
        if served[e]:
            continue
        # Unsigned indices: no negative-index wrap-around checks (a quarter of the loop's time).
        r_id = np.uint64(res[e])
        c = np.uint64(cats[e])
        v = np.uint64(home[r_id])
        base = ((v * uS + np.uint64(speed_class[r_id])) * uC + c) * uK
        slot = (v * uC + c) * uK
        att = night_att if night[e] else day_att
        bits = 0xFF if map_user[r_id] else np.int64(knows[r_id * uC + c])
        total = zero
        known = zero
        for r in range(K):
            wr = walk_flat[base + np.uint64(r)] * _attraction(att, slot + np.uint64(r), outlet_flat, room)
            total += wr
            known += wr if (bits >> r) & 1 else zero
        if total <= zero:
            continue
        pick = 0
        if known > zero:  # a draw among the known outlets, in proportion to their weights
            x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
            # u * known < known in float32 (u <= 1 - 2**-24), and the running sum below repeats
            # the sum above exactly, so some known rank with weight is always picked.
            target = unit24(x) * known
            run = zero
            for r in range(K):
                wr = walk_flat[base + np.uint64(r)] * _attraction(att, slot + np.uint64(r), outlet_flat, room)
                run += wr if (bits >> r) & 1 else zero
                pick += run <= target
        else:  # knows none in reach: searches, finds the best, and learns it
            best = np.float32(-1.0)
            for r in range(K):
                wr = walk_flat[base + np.uint64(r)] * _attraction(att, slot + np.uint64(r), outlet_flat, room)
                if wr > best:
                    best = wr
                    pick = r
            knows[r_id * uC + c] |= np.uint8(1 << pick)
        chosen[e] = outlet_flat[slot + np.uint64(pick)]
    return s0, s1, s2, s3


@njit(cache=True, nogil=True)
def _attraction(att, i, outlet_flat, room):  # pragma: no cover - compiled
    """``att[i]``, or 0 when ``room`` is given and the outlet at slot ``i`` is full (``room is None``
    is decided when the caller is compiled: the first choice's loop has no check)."""
    if room is None:
        return att[i]
    o = outlet_flat[i]
    return att[i] if o >= 0 and room[o] else np.float32(0.0)


@njit(cache=True, nogil=True)
def route_orders(state, E, res, cats, night, served, chosen, delivered, home, online_share,
                 deliverable, delivery_outlet, n_nodes, k, outlet_night, outlet_load):  # pragma: no cover - compiled
    """Online orders (platform lever), for needs of ``deliverable`` categories only: a need with an
    outlet in walking range is ordered online from that outlet with ``online_share``; a need with
    none is ordered from the nearest of the ``k`` nearest outlets within the delivery radius
    (``delivery_outlet[(c * n_nodes + home) * k + rank]``, -1: none) that was not full yesterday
    (``outlet_load`` < 1; the nearest if all were) and, for a night need, is open at night. Sets
    ``delivered`` (and ``chosen`` for the latter).

    Returns:
        The number of needs delivered.
    """
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    un = np.uint64(n_nodes)
    uk = np.uint64(k)
    count = 0
    for e in range(E):
        delivered[e] = False
        if served[e] or not deliverable[np.uint64(cats[e])]:
            continue
        if chosen[e] >= 0:
            x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
            if unit53(x) < online_share:
                delivered[e] = True
                count += 1
            continue
        row = (np.uint64(cats[e]) * un + np.uint64(home[np.uint64(res[e])])) * uk
        pick = -1
        for r in range(k):
            o = delivery_outlet[row + np.uint64(r)]
            if o < 0:
                break
            if night[e] and not outlet_night[np.uint64(o)]:
                continue
            if pick < 0:
                pick = o
            if outlet_load[np.uint64(o)] < 1.0:
                pick = o
                break
        if pick >= 0:
            chosen[e] = pick
            delivered[e] = True
            count += 1
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return count


@njit(cache=True, nogil=True)
def settle_orders(state, E, res, cats, chosen, visit, delivered, outlet_price, commission_rate, courier_fee,
                  platform_fee, freelancers, resident_cash, merchant_cash, revenue_month, income_month,
                  met_delivery):  # pragma: no cover - compiled
    """Payments for the day's delivered orders (platform lever), after capacity: the resident
    pays the price plus the delivery fee; the merchant gets the price less the commission
    (rounded to the fen); the platform keeps the commission and ``platform_fee``; a freelancer
    drawn uniformly from ``freelancers`` earns ``courier_fee`` (the platform keeps it when there
    are none).

    Returns:
        (fen to merchants, fen of commission and fees to the platform, fen to couriers, fen of
        courier fees the platform keeps for want of freelancers).
    """
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    F = freelancers.shape[0]
    to_merchants = 0
    to_platform = 0
    to_couriers = 0
    kept = 0
    for e in range(E):
        if not (visit[e] and delivered[e]):
            continue
        o = np.uint64(chosen[e])
        r = np.uint64(res[e])
        price = outlet_price[o]
        commission = np.int64(np.round(price * commission_rate))
        merchant_cash[o] += price - commission
        revenue_month[o] += price - commission
        to_merchants += price - commission
        resident_cash[r] -= price + platform_fee + courier_fee
        to_platform += commission + platform_fee
        if F > 0 and courier_fee > 0:
            x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
            who = np.uint64(freelancers[np.uint64((x >> np.uint64(11)) % np.uint64(F))])
            resident_cash[who] += courier_fee
            income_month[who] += courier_fee
            to_couriers += courier_fee
        else:
            kept += courier_fee
        met_delivery[np.uint64(cats[e])] += 1
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return to_merchants, to_platform, to_couriers, kept


@njit(cache=True, nogil=True)
def want_visits(E, res, chosen, served, delivered, any_delivered, delivery_fee, outlet_price,
                resident_cash, visit, demand, outcome):  # pragma: no cover - compiled
    """Step 1 of :func:`settle_visits`: a need with a chosen outlet is a wanted visit (``visit``,
    counted in ``demand`` per outlet) if its resident can pay the price, plus the delivery fee for
    an order, out of the cash held at the start of the day (a free visit always can); otherwise its ``outcome`` is
    ``CANNOT_PAY`` (``NO_REASON`` for every other need)."""
    demand[:] = 0
    _want_range(0, E, res, chosen, served, delivered, any_delivered, delivery_fee, outlet_price, resident_cash,
                visit, demand, outcome)


@njit(cache=True, nogil=True)
def _want_range(lo, hi, res, chosen, served, delivered, any_delivered, delivery_fee, outlet_price, resident_cash,
                visit, demand, outcome):  # pragma: no cover - compiled
    """:func:`want_visits` for needs ``lo:hi``, adding to ``demand``."""
    for e in range(np.uint64(lo), np.uint64(hi)):  # unsigned: no wrap-around checks
        visit[e] = False
        outcome[e] = NO_REASON
        if chosen[e] < 0 or served[e]:
            continue
        o = np.uint64(chosen[e])  # unsigned indices: no wrap-around checks
        extra = delivery_fee if (any_delivered and delivered[e]) else 0
        cost = outlet_price[o] + extra
        # A free visit (a parcel pickup) needs no cash, even from a resident whose day's payments
        # have taken their cash below zero.
        if cost > 0 and cost > resident_cash[np.uint64(res[e])]:
            outcome[e] = CANNOT_PAY
            continue
        visit[e] = True
        demand[o] += 1


@njit(cache=True, nogil=True)
def settle_visits(state, E, res, chosen, served, delivered, any_delivered,
                  outlet_price, outlet_category, capacity, resident_cash, merchant_cash,
                  parcel_category, parcel_fee, visit, demand, visits, walk_ins, takings,
                  met_walk, outcome):  # pragma: no cover - compiled
    """Affordability, capacity and walk-in payments for the day's chosen outlets.

    1. A need with a chosen outlet is a wanted visit if its resident can pay the price (plus the
       delivery fee for an order) out of the cash held at the start of the day; otherwise it is
       counted in ``unmet_money``.
    2. An outlet with more wanted visits than ``capacity`` keeps a uniformly random subset of
       exactly ``capacity`` of them (selection sampling, Knuth's Algorithm S: each visit is kept
       with probability places left / visits left); the others' ``outcome`` is ``TURNED_AWAY``.
    3. A kept visit is served (``visit``, ``served``); a walk-in pays the outlet's price from the
       resident's cash to the merchant's; every parcel collected earns the parcel point
       ``parcel_fee`` from the couriers.

    The loop over needs touches only the resident's cash and the outlet's counters, branch-free
    (whether a visit is kept is a coin toss the processor cannot predict); the merchants' money
    and the per-category tallies follow per outlet afterwards (an outlet has one price and one
    category). ``demand`` is a per-outlet work buffer; ``visits``, ``walk_ins`` and ``takings``
    are written, the tallies incremented. Every wanted visit takes one draw, full outlet or not
    (as :func:`settle_visits_blocks` does, block by block).

    Returns:
        (fen paid by walk-ins to merchants, fen of parcel fees paid by couriers).
    """
    M = demand.shape[0]
    for o in range(M):
        visits[o] = 0
        walk_ins[o] = 0
    for o in range(M):  # from here on: visits still to decide at a full outlet (0: not full)
        if demand[o] <= capacity[o]:
            demand[o] = 0
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for e in range(E):  # 2. capacity, 3. walk-ins pay
        if not visit[e]:
            continue
        o = np.uint64(chosen[e])  # a wanted visit has an outlet; unsigned: no wrap-around checks
        x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
        left = demand[o]
        full = left > 0
        keep = (not full) or (unit53(x) * left < capacity[o] - visits[o])
        demand[o] = left - full
        walks = keep and not (any_delivered and delivered[e])
        visit[e] = keep
        served[e] = keep
        outcome[e] = NO_REASON if keep else TURNED_AWAY
        visits[o] += keep
        walk_ins[o] += walks
        resident_cash[np.uint64(res[e])] -= outlet_price[o] * walks
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return _pay_outlets(outlet_price, outlet_category, parcel_category, parcel_fee, visits, walk_ins,
                        merchant_cash, takings, met_walk)


@njit(cache=True, nogil=True)
def _pay_outlets(outlet_price, outlet_category, parcel_category, parcel_fee, visits, walk_ins, merchant_cash,
                 takings, met_walk):  # pragma: no cover - compiled
    """Step 3 of :func:`settle_visits` per outlet: walk-ins' payments and parcel fees to the merchants."""
    walk_total = 0
    parcel_total = 0
    for o in range(visits.shape[0]):
        paid = outlet_price[o] * walk_ins[o]
        fees = parcel_fee * visits[o] if outlet_category[o] == parcel_category else 0
        merchant_cash[o] += paid + fees
        takings[o] = paid + fees
        walk_total += paid
        parcel_total += fees
        if outlet_category[o] >= 0:
            met_walk[outlet_category[o]] += walk_ins[o]
    return walk_total, parcel_total


@njit(cache=True, nogil=True)
def count_waiting(E, cats, served, category):  # pragma: no cover - compiled
    """Needs of ``category`` not served (yet) today."""
    n = 0
    for e in range(E):
        n += (not served[e]) and cats[e] == category
    return n


@njit(cache=True, nogil=True)
def close_day(state, E, res, cats, night, served, outcome, home, n_categories,
              care_category, places, waiting, met_volunteer, unmet_range, unmet_capacity,
              unmet_money, unmet_at, night_met):  # pragma: no cover - compiled
    """Volunteers, then the end-of-day counts.

    Volunteers (retirees) meet ``min(places, waiting)`` of the ``waiting`` elder-care needs
    (``care_category``) that found no place, a uniformly random subset when there are more needs
    than places (selection sampling, as in :func:`settle_visits`; draws only then). Then every
    need still unmet is counted once, by why: its outlet was full (``unmet_capacity``), its
    resident could not pay (``unmet_money``), or nothing was in range (``unmet_range``); and at its
    resident's home node (``unmet_at``: node * C + category). Night needs met are counted too.
    Counting here, after the volunteers, keeps the outcomes a partition of the needs.

    Returns:
        The number of needs the volunteers met.
    """
    helped = _volunteers(state, E, cats, served, care_category, places, waiting, met_volunteer)
    _count_unmet(0, E, res, cats, night, served, outcome, home, n_categories, unmet_range, unmet_capacity,
                 unmet_money, unmet_at, night_met)
    return helped


@njit(cache=True, nogil=True)
def _volunteers(state, E, cats, served, care_category, places, waiting, met_volunteer):  # pragma: no cover - compiled
    """The volunteers' part of :func:`close_day` (one generator, in need order); returns the needs met."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    take_left = min(places, waiting)
    wait_left = waiting
    helped = 0
    for e in range(E):
        if wait_left <= 0:
            break
        c = np.uint64(cats[e])  # unsigned indices: no wrap-around checks
        if c == care_category and not served[e]:
            take = take_left >= wait_left
            if not take:
                x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
                take = unit53(x) * wait_left < take_left
            wait_left -= 1
            if take:
                take_left -= 1
                served[e] = True
                met_volunteer[c] += 1
                helped += 1
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return helped


@njit(cache=True, nogil=True)
def _count_unmet(lo, hi, res, cats, night, served, outcome, home, n_categories, unmet_range, unmet_capacity,
                 unmet_money, unmet_at, night_met):  # pragma: no cover - compiled
    """The counting part of :func:`close_day`, for needs ``lo:hi``."""
    for e in range(np.uint64(lo), np.uint64(hi)):  # unsigned: no wrap-around checks
        c = np.uint64(cats[e])  # unsigned indices: no wrap-around checks
        if served[e]:
            if night[e]:
                night_met[c] += 1
            continue
        why = outcome[e]
        if why == TURNED_AWAY:
            unmet_capacity[c] += 1
        elif why == CANNOT_PAY:
            unmet_money[c] += 1
        else:
            unmet_range[c] += 1
        unmet_at[np.uint64(home[np.uint64(res[e])]) * np.uint64(n_categories) + c] += 1


# Blocked passes (issue 18): the same rules over fixed blocks of residents (:mod:`sim.services.blocks`),
# each block with its own generator (row b of ``states``; row 0 is the unblocked pass's state), the
# blocks shared among threads (``prange``, the blocks taken in :func:`dealt_order`). A block's needs
# are ``need_first[b]:need_first[b + 1]`` (needs are in resident order). What a block writes is its own (its needs, its residents' cash and
# knowledge) or a per-block partial count (``block_*`` arrays, added up afterwards in a fixed order),
# so the results do not depend on which thread ran which block, nor on how many threads there are.
# Where a rule is ordered across residents (capacity of an outlet), the order-dependent part runs
# serially in need order after the parallel part.


@njit(cache=True, nogil=True, parallel=True)
def count_needs_blocks(states, first, group, count_table, counts, block_needs):  # pragma: no cover - compiled
    """:func:`count_needs` per block of residents ``first[b]:first[b + 1]``; ``block_needs[b]``: the block's needs."""
    order = dealt_order(states.shape[0])
    for i_b in prange(states.shape[0]):
        b = order[i_b]
        total, s0, s1, s2, s3 = _count_range(states[b, 0], states[b, 1], states[b, 2], states[b, 3],
                                             first[b], first[b + 1], group, count_table, counts)
        states[b, 0], states[b, 1], states[b, 2], states[b, 3] = s0, s1, s2, s3
        block_needs[b] = total


@njit(cache=True, nogil=True, parallel=True)
def fill_needs_blocks(states, first, need_first, group, counts, slot_table, n_categories, res, cats, night,
                      block_slots):  # pragma: no cover - compiled
    """:func:`fill_needs` per block (each block's needs from ``need_first[b]``); ``block_slots[b]``:
    the slots its needs drew."""
    B = states.shape[0]
    order = dealt_order(B)
    for i_b in prange(B):
        b = order[i_b]
        end = need_first[b + 1] if b + 1 < B else res.shape[0]
        block_slots[b, :] = 0
        e, s0, s1, s2, s3 = _fill_range(states[b, 0], states[b, 1], states[b, 2], states[b, 3], first[b], first[b + 1],
                                        need_first[b], end, group, counts, slot_table, n_categories, res, cats,
                                        night, block_slots[b])
        states[b, 0], states[b, 1], states[b, 2], states[b, 3] = s0, s1, s2, s3


@njit(cache=True, nogil=True, parallel=True)
def rank_attraction_blocks(factor, outlet_flat, out):  # pragma: no cover - compiled
    """:func:`rank_attraction`, its slots shared among threads (no random numbers)."""
    for i in prange(outlet_flat.shape[0]):
        o = outlet_flat[i]
        out[i] = factor[max(o, 0)] if o >= 0 else np.float32(0.0)


@njit(cache=True, nogil=True, parallel=True)
def choose_outlets_blocks(states, need_first, res, cats, night, served, speed_class, home, knows, map_user,
                          walk_flat, day_att, night_att, outlet_flat, S, C, chosen, ranks,
                          room=None):  # pragma: no cover - compiled
    """:func:`choose_outlets` per block of needs (a resident's knowledge is only written by its own block:
    ``need_first`` must cut the needs between residents, as blocks of residents do)."""
    order = dealt_order(states.shape[0])
    for i_b in prange(states.shape[0]):
        b = order[i_b]
        s0, s1, s2, s3 = _choose_range(states[b, 0], states[b, 1], states[b, 2], states[b, 3], need_first[b],
                                       need_first[b + 1], res, cats, night, served, speed_class, home, knows,
                                       map_user, walk_flat, day_att, night_att, outlet_flat, S, C, chosen, ranks,
                                       room)
        states[b, 0], states[b, 1], states[b, 2], states[b, 3] = s0, s1, s2, s3


@njit(cache=True, nogil=True, parallel=True)
def want_visits_blocks(need_first, res, chosen, served, delivered, any_delivered, delivery_fee, outlet_price,
                       resident_cash, visit, demand, outcome, block_counts):  # pragma: no cover - compiled
    """:func:`want_visits` per block of needs, each counting its demand in ``block_counts[b]``, then
    added up per outlet (exact integers: the same counts in any order)."""
    B = need_first.shape[0] - 1
    order = dealt_order(B)
    for i_b in prange(B):
        b = order[i_b]
        block_counts[b, :] = 0
        _want_range(need_first[b], need_first[b + 1], res, chosen, served, delivered, any_delivered, delivery_fee,
                    outlet_price, resident_cash, visit, block_counts[b], outcome)
    for o in prange(demand.shape[0]):
        total = 0
        for b in range(B):
            total += block_counts[b, o]
        demand[o] = total


SAMPLING_CHUNKS = 64
"""Runs of full outlets of about equal deferred visits that :func:`settle_visits_blocks` shares among
threads (more runs than threads, so that an outlet with many visits does not leave a thread idle)."""


@njit(cache=True, nogil=True, parallel=True)
def settle_visits_blocks(states, need_first, res, chosen, served, delivered, any_delivered, outlet_price,
                         outlet_category, capacity, resident_cash, merchant_cash, parcel_category, parcel_fee, visit,
                         demand, visits, walk_ins, takings, met_walk, outcome, deferred, deferred_draw, by_outlet,
                         by_outlet_draw, block_visits, block_walk_ins, block_deferred):  # pragma: no cover - compiled
    """:func:`settle_visits` per block of needs, with the same rule.

    Every wanted visit takes its draw from its block's generator, in need order. A visit to an
    outlet that is not full is kept at once (no draw decides it), counted in the block's partial
    counts. A visit to a full outlet is deferred with its draw (``deferred``, ``deferred_draw``
    from ``need_first[b]``; ``block_deferred[b]`` of them). The deferred visits are then grouped by
    outlet, block after block, so each outlet's in need order (``by_outlet``, ``by_outlet_draw``),
    and each full outlet runs its selection sampling over them: it sees its visits in the order
    and with the draws :func:`settle_visits` gives them (with one block, the very same draws),
    whatever the number of threads. The kept ones pay last, block by block.
    """
    M = demand.shape[0]
    B = states.shape[0]
    for o in range(M):  # from here on: visits still to decide at a full outlet (0: not full)
        if demand[o] <= capacity[o]:
            demand[o] = 0
    # 1. Per block: visits to outlets with room are kept; those to full outlets wait, with their draw.
    #    block_visits[b, o]: visits kept at o if it has room, else visits deferred at o.
    order = dealt_order(B)
    for i_b in prange(B):
        b = order[i_b]
        s0, s1, s2, s3 = states[b, 0], states[b, 1], states[b, 2], states[b, 3]
        block_visits[b, :] = 0
        block_walk_ins[b, :] = 0
        lo = need_first[b]
        n_deferred = 0
        for e in range(np.uint64(lo), np.uint64(need_first[b + 1])):  # unsigned: no wrap-around checks
            if not visit[e]:
                continue
            o = np.uint64(chosen[e])
            x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
            block_visits[b, o] += 1
            if demand[o] > 0:
                deferred[lo + n_deferred] = e
                deferred_draw[lo + n_deferred] = unit53(x)
                n_deferred += 1
                continue
            walks = not (any_delivered and delivered[e])
            served[e] = True
            outcome[e] = NO_REASON
            block_walk_ins[b, o] += walks
            resident_cash[np.uint64(res[e])] -= outlet_price[o] * walks
        states[b, 0], states[b, 1], states[b, 2], states[b, 3] = s0, s1, s2, s3
        block_deferred[b] = n_deferred
    # 2. Per outlet: totals of an outlet with room; where each block's deferred visits go for a full one.
    for o in prange(M):
        v = 0
        w = 0
        for b in range(B):
            v += block_visits[b, o]
            w += block_walk_ins[b, o]
        visits[o] = v if demand[o] == 0 else 0
        walk_ins[o] = w
    start = np.zeros(M + 1, dtype=np.int64)
    for o in range(M):  # a full outlet's deferred visits are its wanted visits: demand[o] of them
        start[o + 1] = start[o] + demand[o]
    for o in prange(M):
        if demand[o] > 0:
            at = start[o]
            for b in range(B):
                n = block_visits[b, o]
                block_visits[b, o] = at
                at += n
    order = dealt_order(B)
    for i_b in prange(B):
        b = order[i_b]
        lo = need_first[b]
        for j in range(np.uint64(lo), np.uint64(lo + block_deferred[b])):  # unsigned: no wrap-around checks
            e = deferred[j]
            o = np.uint64(chosen[np.uint64(e)])
            at = block_visits[b, o]
            block_visits[b, o] = at + 1
            by_outlet[np.uint64(at)] = e
            by_outlet_draw[np.uint64(at)] = deferred_draw[j]
    # 3. Per full outlet: selection sampling over its visits in need order. The full outlets are
    #    cut into SAMPLING_CHUNKS runs of about equal visits (a few outlets in the dense part of the
    #    city hold most of them), the runs shared among threads.
    chunks = SAMPLING_CHUNKS
    bounds = np.searchsorted(start, np.arange(chunks + 1) * (start[M] / chunks), side="left")
    bounds[0] = 0
    bounds[chunks] = M
    for j in prange(chunks):
        for o in range(bounds[j], bounds[j + 1]):
            left = demand[o]
            kept = 0
            walked = 0
            for at in range(np.uint64(start[o]), np.uint64(start[o + 1])):
                e = np.uint64(by_outlet[at])
                keep = by_outlet_draw[at] * left < capacity[o] - kept
                left -= 1
                walks = keep and not (any_delivered and delivered[e])
                visit[e] = keep
                served[e] = keep
                outcome[e] = NO_REASON if keep else TURNED_AWAY
                kept += keep
                walked += walks
            demand[o] = left
            if start[o + 1] > start[o]:
                visits[o] = kept
                walk_ins[o] = walked
    # 4. Per block: the kept visits to full outlets pay (a resident's cash is only its block's).
    order = dealt_order(B)
    for i_b in prange(B):
        b = order[i_b]
        lo = need_first[b]
        for j in range(np.uint64(lo), np.uint64(lo + block_deferred[b])):
            e = np.uint64(deferred[j])
            o = np.uint64(chosen[e])
            walks = visit[e] and not (any_delivered and delivered[e])
            resident_cash[np.uint64(res[e])] -= outlet_price[o] * walks
    return _pay_outlets(outlet_price, outlet_category, parcel_category, parcel_fee, visits, walk_ins,
                        merchant_cash, takings, met_walk)


@njit(cache=True, nogil=True, parallel=True)
def count_waiting_blocks(need_first, cats, served, category):  # pragma: no cover - compiled
    """:func:`count_waiting`, blocks shared among threads (an integer count: the same in any order)."""
    B = need_first.shape[0] - 1
    per_block = np.zeros(B, dtype=np.int64)
    order = dealt_order(B)
    for i_b in prange(B):
        b = order[i_b]
        n = 0
        for e in range(np.uint64(need_first[b]), np.uint64(need_first[b + 1])):
            n += (not served[e]) and cats[e] == category
        per_block[b] = n
    return per_block.sum()


@njit(cache=True, nogil=True, parallel=True)
def close_day_blocks(state, need_first, res, cats, night, served, outcome, home, n_categories, care_category,
                     places, waiting, met_volunteer, unmet_range, unmet_capacity, unmet_money, unmet_at, night_met,
                     low_income, block_counts, waiting_at):  # pragma: no cover - compiled
    """:func:`close_day`, its counts shared among threads; also the needs of low-income residents.

    The volunteers choose serially with the one generator ``state`` (in need order, as
    :func:`close_day`), among the waiting elder-care needs each block lists first (``waiting_at``
    from ``need_first[b]``, a work buffer). The counts are made per chunk of needs, each with its
    partial counts ``block_counts[b]`` (4, C: unmet for want of range, capacity, money; night needs
    met); the chunks are the blocks with their bounds moved forward to the next change of home
    node, so that no two chunks count at the same node of ``unmet_at`` (residents are stored in
    home-node order, which the caller checks).

    Returns:
        (needs the volunteers met, needs of ``low_income`` residents, of them met).
    """
    E = need_first[-1]
    B = need_first.shape[0] - 1
    helped = 0
    if waiting > 0:
        listed = np.zeros(B, dtype=np.int64)
        order = dealt_order(B)
        for i_b in prange(B):
            b = order[i_b]
            lo = need_first[b]
            n = 0
            for e in range(np.uint64(lo), np.uint64(need_first[b + 1])):  # unsigned: no wrap-around checks
                if cats[e] == care_category and not served[e]:
                    waiting_at[lo + n] = e
                    n += 1
            listed[b] = n
        s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
        take_left = min(places, waiting)
        wait_left = waiting
        for b in range(B):
            lo = need_first[b]
            for j in range(np.uint64(lo), np.uint64(lo + listed[b])):
                e = np.uint64(waiting_at[j])
                take = take_left >= wait_left
                if not take:
                    x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
                    take = unit53(x) * wait_left < take_left
                wait_left -= 1
                if take:
                    take_left -= 1
                    served[e] = True
                    met_volunteer[np.uint64(cats[e])] += 1
                    helped += 1
        state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    bounds = np.empty(B + 1, dtype=np.int64)
    bounds[0] = 0
    bounds[B] = E
    for b in range(1, B):
        s = max(need_first[b], bounds[b - 1])
        while 0 < s < E and home[res[s]] == home[res[s - 1]]:
            s += 1
        bounds[b] = s
    poor = np.zeros(B, dtype=np.int64)
    poor_met = np.zeros(B, dtype=np.int64)
    order = dealt_order(B)
    for i_b in prange(B):
        b = order[i_b]
        counts = block_counts[b]
        counts[:, :] = 0
        _count_unmet(bounds[b], bounds[b + 1], res, cats, night, served, outcome, home, n_categories, counts[0],
                     counts[1], counts[2], unmet_at, counts[3])
        n = 0
        met = 0
        for e in range(np.uint64(bounds[b]), np.uint64(bounds[b + 1])):
            is_poor = low_income[np.uint64(res[e])]
            n += is_poor
            met += is_poor and served[e]
        poor[b] = n
        poor_met[b] = met
    for b in range(B):
        for c in range(n_categories):
            unmet_range[c] += block_counts[b, 0, c]
            unmet_capacity[c] += block_counts[b, 1, c]
            unmet_money[c] += block_counts[b, 2, c]
            night_met[c] += block_counts[b, 3, c]
    return helped, poor.sum(), poor_met.sum()


@njit(cache=True, nogil=True, parallel=True)
def mark_retry_blocks(need_first, outcome, delivered, any_delivered, skip, again):  # pragma: no cover - compiled
    """The needs that try again (:func:`sim.services.demand._try_again`): ``skip`` is False for a
    walk-in turned away, True for every other need; block b's needs that try again are listed, in
    need order, in ``again`` from ``need_first[b]``. Returns how many try again in each block."""
    B = need_first.shape[0] - 1
    per_block = np.zeros(B, dtype=np.int64)
    order = dealt_order(B)
    for i_b in prange(B):
        b = order[i_b]
        n = 0
        lo = need_first[b]
        for e in range(np.uint64(lo), np.uint64(need_first[b + 1])):
            done = outcome[e] != TURNED_AWAY or (any_delivered and delivered[e])
            skip[e] = done
            if not done:
                again[lo + n] = e
                n += 1
        per_block[b] = n
    return per_block


@njit(cache=True, nogil=True, parallel=True)
def learn_bits_blocks(states, first, n_categories, knows, mask_table):  # pragma: no cover - compiled
    """:func:`learn_bits` per block of residents ``first[b]:first[b + 1]`` (their ``n_categories``
    knowledge bytes each)."""
    J = mask_table.shape[1]
    C = np.uint64(n_categories)
    order = dealt_order(states.shape[0])
    for i_b in prange(states.shape[0]):
        b = order[i_b]
        s0, s1, s2, s3 = states[b, 0], states[b, 1], states[b, 2], states[b, 3]
        for i in range(np.uint64(first[b]) * C, np.uint64(first[b + 1]) * C):
            x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
            j = alias_column(x, J)
            knows[i] |= np.uint8(alias_resolve(x, j, mask_table[0, j]))
        states[b, 0], states[b, 1], states[b, 2], states[b, 3] = s0, s1, s2, s3


@njit(cache=True, nogil=True)
def learn_bits(state, knows, mask_table):  # pragma: no cover - compiled
    """Word of mouth: OR into every (resident, category) knowledge byte a mask of newly learnt
    ranks drawn from ``mask_table`` (a packed alias table over the 2**k masks, in which each rank
    is learnt independently with the month's discovery probability)."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    J = mask_table.shape[1]
    for i in range(knows.shape[0]):
        x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
        j = alias_column(x, J)
        knows[i] |= np.uint8(alias_resolve(x, j, mask_table[0, j]))
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


@njit(cache=True, nogil=True, parallel=True)
def remap_knowledge(state, knows, cat, old, new, first_resident, awareness):  # pragma: no cover - compiled
    """Keep residents' knowledge of category ``cat`` attached to outlets, not ranks, when the
    category's rank table changes from ``old`` to ``new`` (both (n_nodes, k) outlet ids).

    Residents are stored in home-node order: the residents of node v are
    ``first_resident[v]:first_resident[v + 1]``, so only those of nodes whose list changed are
    touched. A known outlet stays known at its new rank; an outlet ``o`` new to the list (it opened,
    or a closure brought it into the k nearest) is known with ``awareness[o]`` (each resident
    independently, one draw of the generator ``state`` each), and everyone knows the nearest (rank 0).

    The draws go in node order, then resident, then rank. How many each node takes is known before
    any is drawn (its residents x the outlets new to its list), so the nodes are compared and
    counted in parallel, the draws made in one serial run into a buffer, and the knowledge then
    rewritten in parallel, each node reading its own stretch of draws: the very draws, in the
    very order, of a serial loop, on any number of threads.
    """
    V, K = old.shape[0], old.shape[1]
    moved = np.empty((V, K), dtype=np.int8)  # old rank of the outlet now at each rank (-1 none, -2 new)
    first_draw = np.zeros(V + 1, dtype=np.int64)
    changed = np.zeros(V, dtype=np.bool_)
    for v in prange(V):
        same = True
        for r in range(K):
            if old[v, r] != new[v, r]:
                same = False
        if same:
            continue
        changed[v] = True
        fresh = 0
        for r in range(K):
            q = -1
            if new[v, r] >= 0:
                q = -2  # an outlet new to the list, unless found below
                for p in range(K):
                    if old[v, p] == new[v, r]:
                        q = p
                        break
            moved[v, r] = q
            fresh += r >= 1 and q == -2
        first_draw[v + 1] = fresh * (first_resident[v + 1] - first_resident[v])
    for v in range(V):
        first_draw[v + 1] += first_draw[v]
    draws = np.empty(first_draw[V], dtype=np.float64)
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for j in range(draws.shape[0]):
        x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
        draws[j] = unit53(x)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    for v in prange(V):
        if not changed[v]:
            continue
        j = first_draw[v]
        for i in range(first_resident[v], first_resident[v + 1]):
            bits = knows[i, cat]
            out = 1
            for r in range(1, K):
                q = moved[v, r]
                if q >= 0:
                    if (bits >> q) & 1:
                        out |= 1 << r
                elif q == -2:
                    if draws[j] < awareness[np.uint64(new[v, r])]:
                        out |= 1 << r
                    j += 1
            knows[i, cat] = out


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
def expected_visits(nodes, dist_m, wanted, speeds, minute_weight, max_minutes, walk_flat,
                    day_att, reach_dist, pending_dist, c, C, W, p_aware):  # pragma: no cover - compiled
    """Visits a day a new outlet of category ``c`` would draw, by the residents' own choice rule.

    For each home node ``u`` within reach (``nodes``, at network distance ``dist_m``) and speed
    class ``s``: the new outlet enters the residents' list of the ``k`` nearest outlets if fewer
    than ``k`` existing ones are nearer (ties go to the existing outlets, which have lower ids),
    pushing out the farthest; its share of the residents' needs is then its logit weight
    ``exp(-minute_weight * minutes)`` (a typical price, no crowding) over the sum of the weights of
    the outlets on the list (walk weight x today's attraction, as the daily choice reads them),
    times the share of them who know it when it opens: all if it becomes their nearest, else
    ``p_aware`` (as :func:`remap_knowledge` makes them). The entrant judges the market it opens into,
    before word of mouth spreads its name further. The nearest entrant of the category already
    waiting for its licence (``pending_dist``) counts as a rival on the list, with a typical price.

    Args:
        nodes, dist_m: Home nodes within walking reach of the site and their distances, metres.
        wanted: (n_nodes, S) visits a day of category ``c`` the residents of each home node and
            speed class want (children's needs with their carer's).
        speeds: (S,) walk speeds, metres per minute.
        minute_weight, max_minutes: The choice rule's walking disutility and longest walk.
        walk_flat, day_att: The choice tables (:class:`sim.services.demand.ChoiceTables`), flattened.
        reach_dist: (n_nodes, k) distances to the k nearest existing outlets of ``c`` (inf: none).
        pending_dist: (n_nodes,) distance to the nearest waiting entrant of ``c`` (inf: none).
        c, C, W: The category, the number of categories and the tables' rank width.
        p_aware: Share of the residents whose list it joins (not as the nearest) who know it.

    Returns:
        Expected visits a day.
    """
    S = speeds.shape[0]
    k = reach_dist.shape[1]
    total = 0.0
    for i in range(nodes.shape[0]):
        u = nodes[i]
        d = dist_m[i]
        dp = pending_dist[u]
        has_pending = dp < np.inf
        existing = 0
        nearer = 0
        for r in range(k):
            existing += reach_dist[u, r] < np.inf
            nearer += reach_dist[u, r] <= d
        nearer += has_pending and dp <= d
        if nearer >= k:
            continue
        # The list with the new outlet: every rival if there were fewer than k, else all but the
        # farthest; rivals in distance order (existing ranks, the waiting entrant slotted in).
        rivals = existing + has_pending
        keep = rivals if rivals < k else k - 1
        slot = (u * C + c) * W
        aware = 1.0 if nearer == 0 else p_aware
        for s in range(S):
            n = wanted[u, s]
            if n == 0:
                continue
            minutes = d / speeds[s]
            if minutes > max_minutes:
                continue
            w_new = np.exp(-minute_weight * minutes)
            base = ((u * S + s) * C + c) * W
            denominator = w_new
            r = 0
            pending_left = has_pending
            for _ in range(keep):
                if pending_left and (r >= existing or dp < reach_dist[u, r]):
                    pending_minutes = dp / speeds[s]
                    if pending_minutes <= max_minutes:
                        denominator += np.exp(-minute_weight * pending_minutes)
                    pending_left = False
                else:
                    denominator += walk_flat[base + r] * day_att[slot + r]
                    r += 1
            total += n * aware * w_new / denominator
    return total



@njit(cache=True, nogil=True)
def expected_visits_sites(first, nodes, dist_m, wanted, speeds, minute_weight, max_minutes, walk_flat,
                          day_att, reach_dist, pending_dist, c, C, W, p_aware):  # pragma: no cover - compiled
    """:func:`expected_visits` at several sites of category ``c`` in one call: site ``j``'s home
    nodes and distances are ``nodes[first[j]:first[j + 1]]``, ``dist_m[...]`` (the sites an entrant
    weighs together; one call each cost more in dispatch than in arithmetic).

    Returns:
        (sites,) expected visits a day at each site, each exactly what :func:`expected_visits` gives.
    """
    out = np.empty(first.shape[0] - 1)
    for j in range(out.shape[0]):
        out[j] = expected_visits(nodes[first[j]:first[j + 1]], dist_m[first[j]:first[j + 1]], wanted, speeds,
                                 minute_weight, max_minutes, walk_flat, day_att, reach_dist, pending_dist, c, C, W,
                                 p_aware)
    return out



@njit(cache=True, nogil=True)
def _ranked_site(j, first, nodes, dist_m, wanted, speeds, minute_weight, max_minutes, rank_weight, reach_dist,
                 pending_dist, p_aware):  # pragma: no cover - compiled
    """Expected visits a day to site ``j`` (:func:`expected_visits_ranked`): :func:`expected_visits`
    line for line over the rank-weight layout, written out twice on purpose (one memory read per
    home and rank instead of two; the tests hold the two equal to the bit)."""
    S = speeds.shape[0]
    k = reach_dist.shape[1]
    total = 0.0
    for i in range(first[j], first[j + 1]):
        u = nodes[i]
        d = dist_m[i]
        dp = pending_dist[u]
        has_pending = dp < np.inf
        existing = 0
        nearer = 0
        for r in range(k):
            existing += reach_dist[u, r] < np.inf
            nearer += reach_dist[u, r] <= d
        nearer += has_pending and dp <= d
        if nearer >= k:
            continue
        rivals = existing + has_pending
        keep = rivals if rivals < k else k - 1
        aware = 1.0 if nearer == 0 else p_aware
        for s in range(S):
            n = wanted[u, s]
            if n == 0:
                continue
            minutes = d / speeds[s]
            if minutes > max_minutes:
                continue
            w_new = np.exp(-minute_weight * minutes)
            denominator = w_new
            r = 0
            pending_left = has_pending
            for _ in range(keep):
                if pending_left and (r >= existing or dp < reach_dist[u, r]):
                    pending_minutes = dp / speeds[s]
                    if pending_minutes <= max_minutes:
                        denominator += np.exp(-minute_weight * pending_minutes)
                    pending_left = False
                else:
                    denominator += rank_weight[u, s, r]
                    r += 1
            total += n * aware * w_new / denominator
    return total


@njit(cache=True, nogil=True)
def expected_visits_ranked(first, nodes, dist_m, site_category, wanted, speeds, minute_weight, max_minutes,
                           rank_weight, reach_dist, pending_dist, p_aware):  # pragma: no cover - compiled
    """:func:`expected_visits_sites` for sites of any categories (``site_category``, one a site),
    with the rivals' weights of category ``c`` read from ``rank_weight[c]`` (C, n_nodes, S, width)
    float32: walk weight x the attraction of the outlet at each rank, the float32 products
    :func:`expected_visits` forms from the node-major choice tables. ``wanted`` (C, n_nodes, S),
    ``reach_dist`` (C, n_nodes, k) and ``pending_dist`` (C, n_nodes) are every category's, read
    at the site's own.

    The same rule and arithmetic as :func:`expected_visits`, line for line, so each site's answer is
    the same to the bit; only the memory read differs: a node's weights for one category are one
    cache line here, five in the choice tables (a month end's ~16,000 sites at 1,000,000 residents
    spent most of their time waiting for memory). Sites of several trades in one call: a month end's
    would-be entrants are weighed a window at a time, whatever their trades.
    """
    out = np.empty(first.shape[0] - 1)
    for j in range(out.shape[0]):
        c = site_category[j]
        out[j] = _ranked_site(j, first, nodes, dist_m, wanted[c], speeds, minute_weight, max_minutes, rank_weight[c],
                              reach_dist[c], pending_dist[c], p_aware)
    return out


@njit(cache=True, nogil=True, parallel=True)
def expected_visits_ranked_threads(first, nodes, dist_m, site_category, wanted, speeds, minute_weight, max_minutes,
                                   rank_weight, reach_dist, pending_dist, p_aware):  # pragma: no cover - compiled
    """:func:`expected_visits_ranked` with the sites shared among threads (each site's answer the
    same to the bit: a site is one thread's, summed in the same order)."""
    out = np.empty(first.shape[0] - 1)
    for j in prange(out.shape[0]):
        c = site_category[j]
        out[j] = _ranked_site(j, first, nodes, dist_m, wanted[c], speeds, minute_weight, max_minutes, rank_weight[c],
                              reach_dist[c], pending_dist[c], p_aware)
    return out


@njit(cache=True, nogil=True, parallel=True)
def rank_weights_all(walk, attraction, out):  # pragma: no cover - compiled
    """Fill ``out`` (C, n_nodes, S, width) float32 with ``walk[v, s, c, r] * attraction[(v * C + c) *
    width + r]`` (float32 products, as :func:`expected_visits` forms them) for every category in one
    pass, each node's row read once (a pass per category read whole cache lines for the quarter of
    each it used: ~30 ms a category on 299,793 nodes); nodes shared among threads."""
    V, S, C, W = walk.shape[0], walk.shape[1], walk.shape[2], walk.shape[3]
    for v in prange(V):
        for s in range(S):
            for c in range(C):
                at = (v * C + c) * W
                for r in range(W):
                    out[c, v, s, r] = walk[v, s, c, r] * attraction[at + r]
    return out


@njit(cache=True, nogil=True, parallel=True)
def known_in_reach(walk, k, home, speed_class, map_user, knows, first, popcount):  # pragma: no cover - compiled
    """(outlets in reach, of them known) summed over residents, for ``known_outlet_share``.

    The bit mask of the ranks of category ``c`` within walking reach of node ``v`` at speed class
    ``s`` has bit ``r`` set where ``walk[v, s, c, r] > 0`` (``r < k``); a resident knows what
    ``knows`` says of them, a map user all of them. Residents are counted per block
    ``first[b]:first[b + 1]`` (the blocks shared among threads) and the block counts added up: whole
    numbers, so the same on any number of threads.
    """
    B = first.shape[0] - 1
    V, S, C = walk.shape[0], walk.shape[1], walk.shape[2]
    in_range = np.zeros((V, S, C), dtype=np.uint8)
    for v in prange(V):
        for s in range(S):
            for c in range(C):
                bits = 0
                for r in range(k):
                    if walk[v, s, c, r] > 0:
                        bits |= 1 << r
                in_range[v, s, c] = bits
    block_reach = np.zeros(B, dtype=np.int64)
    block_known = np.zeros(B, dtype=np.int64)
    order = dealt_order(B)
    for i_b in prange(B):
        b = order[i_b]
        reach = 0
        known = 0
        for i in range(first[b], first[b + 1]):
            u, s = home[i], speed_class[i]
            for c in range(C):
                mine = in_range[u, s, c]
                reach += popcount[mine]
                known += popcount[mine] if map_user[i] else popcount[knows[i, c] & mine]
        block_reach[b] = reach
        block_known[b] = known
    return block_reach.sum(), block_known.sum()


@njit(cache=True, nogil=True, parallel=True)
def member_sums(first, values):  # pragma: no cover - compiled
    """``np.add.reduceat(values, first[:-1])`` for int64 ``values`` (households' totals of their
    residents ``first[h]:first[h + 1]``, the last to the end of ``values``), households shared among
    threads: whole numbers, so exactly NumPy's answer on any number of threads. As ``reduceat``, an
    empty household gets ``values[first[h]]``."""
    H = first.shape[0] - 1
    out = np.empty(H, dtype=np.int64)
    for h in prange(H):
        lo = first[h]
        hi = first[h + 1] if h + 1 < H else values.shape[0]
        total = values[lo]
        for i in range(lo + 1, hi):
            total += values[i]
        out[h] = total
    return out


@njit(cache=True, nogil=True, parallel=True)
def split_among_members(first, amount):  # pragma: no cover - compiled
    """(N,) int64: household ``h``'s ``amount[h]`` shared equally among its residents
    ``first[h]:first[h + 1]``, the remainder one fen each to its first members (``np.divmod`` by the
    members, at least 1, floor rounding), households shared among threads."""
    H = first.shape[0] - 1
    out = np.empty(first[H], dtype=np.int64)
    for h in prange(H):
        lo, hi = first[h], first[h + 1]
        members = max(hi - lo, 1)
        share = amount[h] // members
        rest = amount[h] - share * members
        for i in range(lo, hi):
            out[i] = share + 1 if i - lo < rest else share
    return out
