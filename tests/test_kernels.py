"""The compiled loops and their generator against plain NumPy, the reference algorithm or
hand-worked answers."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.services import fastrng, kernels
from sim.services.demand import NeedRates, alias_table

_M64 = (1 << 64) - 1


def _xoshiro_reference(state: list[int], n: int) -> list[int]:
    """xoshiro256** in plain Python integers (https://prng.di.unimi.it/xoshiro256starstar.c)."""
    def rotl(x: int, k: int) -> int:
        return ((x << k) | (x >> (64 - k))) & _M64
    s, out = list(state), []
    for _ in range(n):
        out.append(rotl((s[1] * 5) & _M64, 7) * 9 & _M64)
        t = (s[1] << 17) & _M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


def test_xoshiro_matches_the_reference_algorithm_and_its_first_known_output():
    state = np.array([1, 2, 3, 4], dtype=np.uint64)
    got = [int(v) for v in fastrng.draw_u64(state.copy(), 50)]
    assert got == _xoshiro_reference([1, 2, 3, 4], 50)
    assert got[0] == 11520  # the published first output for state (1, 2, 3, 4)
    # The state is advanced in place: two calls continue one stream.
    first, second = fastrng.draw_u64(state, 20), fastrng.draw_u64(state, 30)
    assert [int(v) for v in np.concatenate([first, second])] == got


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**63), n_blocks=st.integers(1, 9), before=st.integers(0, 5))
def test_generator_states_are_the_full_range_draws_they_replace(seed, n_blocks, before):
    # seed_state and block_states take the bit generator's raw words: the same words, and the same
    # generator afterwards, as the full-range integers draws the runs were first made with, after
    # other draws of the stream (uint32 and float draws that keep a half-used word, among them).
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    for rng in (ours, theirs):
        rng.integers(0, 10, before, dtype=np.uint32)
        rng.random(before)
    full_range = dict(low=0, high=np.iinfo(np.uint64).max, dtype=np.uint64, endpoint=True)
    assert np.array_equal(fastrng.seed_state(ours), theirs.integers(size=4, **full_range))
    assert np.array_equal(fastrng.block_states(ours, n_blocks), theirs.integers(size=(n_blocks, 4), **full_range))
    assert ours.random() == theirs.random() and ours.integers(0, 7) == theirs.integers(0, 7)


def test_seeded_generators_are_reproducible_and_uniform():
    a = fastrng.draw_unit(fastrng.seed_state(np.random.default_rng(9)), 200_000)
    b = fastrng.draw_unit(fastrng.seed_state(np.random.default_rng(9)), 200_000)
    assert np.array_equal(a, b)
    assert a.min() >= 0 and a.max() < 1
    assert stats.kstest(a, "uniform").pvalue > 1e-3


@pytest.mark.parametrize("weights", [[1, 2, 3, 4], [0, 5, 0, 1, 1e-3], [7], [0.2] * 36])
def test_alias_tables_draw_in_proportion_to_weight(weights):
    w = np.array(weights, dtype=float)
    prob, alias = alias_table(w)
    # Exact: each column's kept mass plus what aliases send to it is the target probability.
    mass = prob.copy()
    np.add.at(mass, alias, 1 - prob)
    assert np.allclose(mass / len(w), w / w.sum())
    table = fastrng.pack_alias(prob, alias)[None, :]
    draws = fastrng.draw_alias(fastrng.seed_state(np.random.default_rng(1)), table, 0, 200_000)
    counts = np.bincount(draws, minlength=len(w))
    assert counts[w == 0].sum() == 0  # an index with no weight is never drawn
    expected = 200_000 * w / w.sum()
    keep = expected > 0
    if keep.sum() == 1:
        assert counts[keep][0] == 200_000
        return
    assert stats.chisquare(counts[keep], expected[keep] * counts.sum() / expected[keep].sum()).pvalue > 1e-4


def test_needs_are_poisson_per_resident_and_category_in_resident_order():
    """Per (resident, category, time of day), counts are independent Poisson with the catalogue
    rate (mean = variance), elderly rates for the elderly, and the needs come out sorted by resident."""
    visits = np.array([0.5, 0.1, 0.02])
    night_share = np.array([0.2, 0.0, 0.5])
    elderly_factor = np.array([1.0, 3.0, 0.5])
    rates = NeedRates([visits, visits * elderly_factor], night_share)
    n, days = 2000, 30
    group = (np.arange(n) >= 1500).astype(np.uint8)  # the last 500 are elderly
    counts = np.zeros(n, dtype=np.uint8)
    res = np.zeros(n * 8, dtype=np.int32)
    cats = np.zeros_like(res)
    night = np.zeros(n * 8, dtype=bool)
    state = fastrng.seed_state(np.random.default_rng(3))
    per = np.zeros((days, n, 6))
    for d in range(days):
        slots = np.zeros(6, dtype=np.int64)
        E = kernels.count_needs(state, group, rates.count_table, counts)
        assert kernels.fill_needs(state, group, counts, rates.slot_table, 3, res, cats, night, slots) == E
        assert (np.diff(res[:E]) >= 0).all()
        assert np.array_equal(np.bincount(res[:E], minlength=n), counts)
        np.add.at(per[d], (res[:E], cats[:E] + 3 * night[:E]), 1)
        assert np.array_equal(np.bincount(cats[:E] + 3 * night[:E], minlength=6), slots)
    day_rates = np.concatenate([visits * (1 - night_share), visits * night_share])
    for g, factor in ((0, np.ones(3)), (1, elderly_factor)):
        who = group == g
        expected = day_rates * np.tile(factor, 2)
        x = per[:, who, :].reshape(-1, 6)
        se = np.sqrt(np.maximum(expected, 1e-9) / len(x))
        assert np.all(np.abs(x.mean(axis=0) - expected) < 4 * se + 1e-12)
        busy = expected > 0.05
        assert np.allclose(x.var(axis=0)[busy], expected[busy], rtol=0.1)  # Poisson: var = mean
        assert x[:, expected == 0].sum() == 0


def _choose(bits: int, weights: list[float], n: int = 1, night: bool = False, map_user: bool = False, seed: int = 0):
    """``n`` needs of resident 0 (node 0, speed class 0, category 0) against 4 ranked outlets 10-13."""
    K = 4
    knows = np.array([bits], dtype=np.uint8)
    walk = np.array(weights, dtype=np.float32)
    outlets = np.arange(K, dtype=np.int32) + 10
    factor = np.zeros(14, dtype=np.float32)
    factor[10:] = 1.0
    att = np.zeros(K, dtype=np.float32)
    kernels.rank_attraction(factor, outlets, att)
    factor_night = factor.copy()
    factor_night[10] = 0.0  # outlet 10 is shut at night
    night_att = np.zeros(K, dtype=np.float32)
    kernels.rank_attraction(factor_night, outlets, night_att)
    chosen = np.zeros(n, dtype=np.int32)
    zeros = np.zeros(n, dtype=np.int32)
    kernels.choose_outlets(
        fastrng.seed_state(np.random.default_rng(seed)), n, zeros, zeros, np.full(n, night), np.zeros(n, bool),
        np.zeros(1, np.int8), zeros[:1], knows, np.array([map_user]), walk, att, night_att, outlets,
        1, 1, chosen, tuple(range(K)))
    return chosen, int(knows[0])


def _choose_one(bits: int, weights: list[float], night: bool = False, map_user: bool = False):
    chosen, knows = _choose(bits, weights, 1, night, map_user)
    return int(chosen[0]), knows


def test_choice_draws_among_known_outlets_in_proportion_to_weight():
    chosen, bits = _choose(0b1010, [5.0, 1.0, 7.0, 3.0], n=20_000)  # knows ranks 1 and 3
    assert bits == 0b1010
    assert set(np.unique(chosen)) == {11, 13}
    share = (chosen == 13).mean()
    assert share == pytest.approx(0.75, abs=4 * np.sqrt(0.75 * 0.25 / 20_000))


def test_choice_never_picks_an_unknown_or_weightless_rank():
    chosen, _ = _choose(0b1111, [0.0, 2.0, 0.0, 3.0], n=20_000)
    assert set(np.unique(chosen)) == {11, 13}
    assert (chosen == 13).mean() == pytest.approx(0.6, abs=0.015)
    chosen, bits = _choose(0b0101, [0.0, 2.0, 0.0, 3.0], n=10)  # knows only weightless ranks:
    assert (chosen == 13).all() and bits == 0b1101                  # searches once, then knows 13


def test_a_resident_who_knows_none_searches_finds_the_best_and_learns_it():
    chosen, bits = _choose_one(0b0000, [1.0, 3.0, 2.0, 0.0])
    assert chosen == 11 and bits == 0b0010


def test_a_known_outlet_is_chosen_and_knowledge_is_kept():
    chosen, bits = _choose_one(0b0100, [1.0, 3.0, 2.0, 0.0])
    assert chosen == 12 and bits == 0b0100


def test_service_map_users_know_every_outlet_in_reach():
    chosen, bits = _choose_one(0b0000, [0.0, 0.0, 0.0, 1.0], map_user=True)
    assert chosen == 13 and bits == 0  # no search, nothing to learn


def test_night_needs_skip_outlets_shut_at_night():
    chosen, _ = _choose_one(0b0001, [5.0, 0.0, 1.0, 0.0], night=True)
    assert chosen == 12  # knows only the nearest, shut at night: searches for the best open one


def test_nothing_in_reach_is_unreachable():
    chosen, bits = _choose_one(0b1111, [0.0, 0.0, 0.0, 0.0])
    assert chosen == -1 and bits == 0b1111  # nothing chosen, nothing learnt


def _settle(chosen, cash, capacity, price, seed=0, parcel_category=-1, parcel_fee=0, outlet_category=None):
    E, M = len(chosen), len(capacity)
    res = np.arange(E, dtype=np.int32)
    outlet_category = np.zeros(M, np.int16) if outlet_category is None else np.asarray(outlet_category, np.int16)
    cats = np.where(np.asarray(chosen) >= 0, outlet_category[np.maximum(chosen, 0)], 0).astype(np.int32)
    served = np.zeros(E, bool)
    visit = np.zeros(E, bool)
    mcash = np.zeros(M, np.int64)
    out = [np.zeros(M, np.int64) for _ in range(4)]
    met, full, broke, out_of_range, night_met, helped = (np.zeros(2, np.int64) for _ in range(6))
    rcash = np.asarray(cash, np.int64).copy()
    chosen = np.asarray(chosen, np.int32)
    price = np.asarray(price, np.int64)
    no_orders = np.zeros(E, bool)
    outcome = np.zeros(E, np.uint8)
    kernels.want_visits(E, res, chosen, served, no_orders, False, 0, price, rcash, visit, out[0], outcome)
    walk, parcels = kernels.settle_visits(
        fastrng.seed_state(np.random.default_rng(seed)), E, res, chosen, served, no_orders, False, price,
        outlet_category, np.asarray(capacity, np.int32), rcash, mcash, parcel_category, parcel_fee, visit,
        *out, met, outcome)
    kernels.close_day(np.ones(4, np.uint64), E, res, cats, np.zeros(E, bool), served, outcome,
                      np.zeros(E, np.int32), 2, -1, 0, 0, helped, out_of_range, full, broke, np.zeros(2, np.int64),
                      night_met)
    return dict(walk=walk, parcels=parcels, served=served, visit=visit, rcash=rcash, mcash=mcash,
                visits=out[1], takings=out[3], met=met, full=full, broke=broke, out_of_range=out_of_range)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_a_second_try_weighs_full_outlets_at_zero_as_a_table_with_them_shut_would(seed, n_blocks):
    """The second try reads the first choice's tables with a per-outlet ``room`` mask instead of
    tables rebuilt with the full outlets shut: the same outlets, knowledge and draws, to the bit,
    unblocked and in blocks."""
    rng = np.random.default_rng(seed)
    n_nodes, S, C, K, M, N = 7, 2, 3, 4, 12, 40
    walk = rng.random(n_nodes * S * C * K).astype(np.float32) * (rng.random(n_nodes * S * C * K) < 0.8)
    outlets = rng.integers(-1, M, n_nodes * C * K).astype(np.int32)
    factor = rng.random(M).astype(np.float32)
    factor_night = np.where(rng.random(M) < 0.5, factor, 0).astype(np.float32)
    room = rng.random(M) < 0.6
    res = np.sort(rng.integers(0, N, 200)).astype(np.int32)
    E = len(res)
    cats = rng.integers(0, C, E).astype(np.int32)
    night = rng.random(E) < 0.3
    skip = rng.random(E) < 0.5
    speed_class = rng.integers(0, S, N).astype(np.int8)
    home = np.sort(rng.integers(0, n_nodes, N)).astype(np.int32)
    map_user = rng.random(N) < 0.2
    knows0 = rng.integers(0, 256, N * C).astype(np.uint8)
    # Blocks of residents, as the model cuts them: a resident's needs all in one block (the blocked
    # kernels write a resident's knowledge from its block's thread only; blocks cut inside a resident's
    # needs let two threads write the same knowledge byte, and the results vary from run to run).
    need_first = np.searchsorted(res, np.linspace(0, N, n_blocks + 1).astype(np.int64)).astype(np.int64)

    def table(f):
        out = np.zeros(len(outlets), dtype=np.float32)
        kernels.rank_attraction(f, outlets, out)
        return out

    def choose(day, night_att, mask, blocked):
        knows, chosen = knows0.copy(), np.zeros(E, dtype=np.int32)
        args = (res, cats, night, skip, speed_class, home, knows, map_user, walk, day, night_att, outlets, S, C,
                chosen, tuple(range(K)), mask)
        if blocked:
            states = fastrng.block_states(np.random.default_rng(seed), n_blocks)
            kernels.choose_outlets_blocks(states, need_first, *args)
        else:
            states = fastrng.seed_state(np.random.default_rng(seed))
            kernels.choose_outlets(states, E, *args)
        return chosen, knows, states

    shut = table(np.where(room, factor, 0).astype(np.float32)), table(np.where(room, factor_night, 0).astype(np.float32))
    for blocked in (False, True):
        rebuilt = choose(*shut, None, blocked)
        masked = choose(table(factor), table(factor_night), room, blocked)
        for a, b in zip(rebuilt, masked):
            assert np.array_equal(a, b)
        picked = rebuilt[0][rebuilt[0] >= 0]
        assert room[picked].all()  # a full outlet is never chosen on the second try


def test_capacity_keeps_exactly_capacity_and_every_visit_is_equally_likely_kept():
    chosen = [0] * 10 + [1] * 3 + [-1]
    kept = np.zeros(10)
    for seed in range(3000):
        r = _settle(chosen, [100] * 14, capacity=[4, 5], price=[10, 20], seed=seed)
        assert r["visit"][:10].sum() == 4 and r["visit"][10:13].all() and not r["served"][13]
        assert r["full"][0] == 6 and r["met"][0] == 7 and r["out_of_range"][0] == 1
        kept += r["visit"][:10]
    assert np.allclose(kept / 3000, 0.4, atol=0.03)


def test_walk_ins_pay_the_price_and_money_is_conserved():
    r = _settle([0, 0, 1, 1], cash=[100, 5, 100, 100], capacity=[9, 9], price=[10, 30],
                parcel_category=0, parcel_fee=2, outlet_category=[0, 1])
    # Resident 1 cannot pay 10 out of 5: counted, not served, charged nothing.
    assert r["broke"][0] == 1 and not r["served"][1]
    assert r["rcash"].tolist() == [90, 5, 70, 70]
    assert r["visits"].tolist() == [1, 2] and r["takings"].tolist() == [10 + 2, 60]  # a parcel point earns the fee
    assert r["met"].tolist() == [1, 2]
    assert r["walk"] == 70 and r["parcels"] == 2
    assert r["mcash"].sum() == (305 - r["rcash"].sum()) + r["parcels"]  # what residents paid, plus couriers


def test_scatter_add_matches_add_at_exactly():
    rng = np.random.default_rng(2)
    target = rng.integers(-1000, 1000, 50).astype(np.int64)
    idx = rng.integers(0, 50, 1000)
    amount = rng.integers(0, 10**12, 1000).astype(np.int64)
    expected = target.copy()
    np.add.at(expected, idx, -amount)
    kernels.scatter_add(target, idx, amount, -1)
    assert np.array_equal(target, expected)


def test_knowledge_follows_outlets_when_rank_tables_change():
    # Node 0: outlets [5, 6, 7] become [6, 9, 5] (6 moves up, 9 is new, 7 is gone); node 1 is unchanged.
    old = np.array([[5, 6, 7], [1, 2, -1]], dtype=np.int32)
    new = np.array([[6, 9, 5], [1, 2, -1]], dtype=np.int32)
    first_resident = np.array([0, 3, 4])
    knows = np.zeros((4, 2), dtype=np.uint8)
    knows[:, 1] = [0b001, 0b110, 0b100, 0b010]   # category 1; the last resident lives at node 1
    before = knows.copy()
    kernels.remap_knowledge(fastrng.seed_state(np.random.default_rng(0)), knows, 1, old, new, first_resident, np.zeros(10))
    # Knew 5 -> knows 5 at rank 2 (and the nearest, 6); knew 6 and 7 -> 6 (rank 0); knew 7 -> nearest only.
    assert knows[:, 1].tolist() == [0b101, 0b001, 0b001, 0b010]
    assert knows[:, 0].tolist() == [0, 0, 0, 0]  # other categories untouched
    # With awareness 1, everyone at node 0 also knows the newcomer 9 (rank 1).
    knows = before.copy()
    kernels.remap_knowledge(fastrng.seed_state(np.random.default_rng(0)), knows, 1, old, new, first_resident, np.ones(10))
    assert knows[:, 1].tolist() == [0b111, 0b011, 0b011, 0b010]


def test_an_outlet_new_to_a_list_is_known_with_the_awareness_probability():
    old = np.array([[5, -1]], dtype=np.int32)
    new = np.array([[5, 8]], dtype=np.int32)
    n = 20_000
    knows = np.ones((n, 1), dtype=np.uint8)
    kernels.remap_knowledge(fastrng.seed_state(np.random.default_rng(1)), knows, 0, old, new, np.array([0, n]),
                            np.full(9, 0.6))
    share = ((knows[:, 0] >> 1) & 1).mean()
    assert abs(share - 0.6) < 4 * np.sqrt(0.6 * 0.4 / n)  # binomial, 4 standard errors


def _remap_serially(state, knows, cat, old, new, first_resident, awareness):
    """The remapping rule as one serial loop (the kernel's reference): nodes, residents, ranks in
    order, one draw per resident for each outlet new to its node's list."""
    s = tuple(state)  # numpy uint64s, for the compiled step
    for v in range(old.shape[0]):
        if np.array_equal(old[v], new[v]):
            continue
        moved = [(list(old[v]).index(o) if o in old[v] else -2) if o >= 0 else -1 for o in new[v]]
        for i in range(first_resident[v], first_resident[v + 1]):
            bits, out = int(knows[i, cat]), 1
            for r in range(1, old.shape[1]):
                if moved[r] >= 0:
                    out |= ((bits >> moved[r]) & 1) << r
                elif moved[r] == -2:
                    x, *s = (np.uint64(y) for y in fastrng.step(*s))
                    out |= int(fastrng.unit53(x) < awareness[new[v, r]]) << r
            knows[i, cat] = out
    state[:] = np.array(s, dtype=np.uint64)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), threads=st.sampled_from([1, 2]))
def test_knowledge_remap_draws_what_a_serial_loop_draws_on_any_threads(seed, threads):
    """The remap compares nodes and rewrites knowledge in parallel but draws in one serial run: the
    knowledge and the generator's state after it are a serial loop's, bit for bit."""
    rng = np.random.default_rng(seed)
    V, K, O = int(rng.integers(1, 40)), int(rng.integers(1, 6)), 12
    old = np.where(rng.random((V, K)) < 0.2, -1, rng.integers(0, O, (V, K))).astype(np.int32)
    new = old.copy()
    redo = rng.random(V) < 0.6
    new[redo] = np.where(rng.random((int(redo.sum()), K)) < 0.2, -1, rng.integers(0, O, (int(redo.sum()), K)))
    first_resident = np.concatenate([[0], np.cumsum(rng.integers(0, 5, V))]).astype(np.int64)
    knows = rng.integers(0, 2**K, (first_resident[-1], 3)).astype(np.uint8)
    awareness = rng.random(O)
    state = fastrng.seed_state(np.random.default_rng(seed + 1))
    want_knows, want_state = knows.copy(), state.copy()
    _remap_serially(want_state, want_knows, 2, old, new, first_resident, awareness)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        kernels.remap_knowledge(state, knows, 2, old, new, first_resident, awareness)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(knows, want_knows)
    assert np.array_equal(state, want_state)


def test_volunteers_meet_a_uniform_subset_of_waiting_care_needs_and_unmet_needs_are_mapped():
    E, C = 8, 3
    res = np.arange(E, dtype=np.int32)
    home = np.array([0, 0, 1, 1, 2, 2, 3, 3], dtype=np.int32)
    cats = np.array([2, 2, 2, 2, 2, 0, 1, 2], dtype=np.int32)      # category 2 is elder care
    night = np.array([0, 0, 0, 0, 0, 1, 0, 0], dtype=bool)
    # Why each need is unmet so far: care needs 0, 2, 7 were turned away, 1 could not pay, 4 and
    # (category 1) 6 had nothing in range; 3 and 5 are served.
    T, P, N = kernels.TURNED_AWAY, kernels.CANNOT_PAY, kernels.NO_REASON
    outcome = np.array([T, P, T, N, N, N, N, T], dtype=np.uint8)
    kept = np.zeros(E)
    for seed in range(2000):
        served = np.array([0, 0, 0, 1, 0, 1, 0, 0], dtype=bool)    # waiting care needs: 0, 1, 2, 4, 7
        met, unmet_range, full, broke, night_met = (np.zeros(C, np.int64) for _ in range(5))
        unmet_at = np.zeros(4 * C, np.int64)
        waiting = kernels.count_waiting(E, cats, served, 2)
        helped = kernels.close_day(fastrng.seed_state(np.random.default_rng(seed)), E, res, cats, night, served,
                                   outcome, home, C, 2, 2, waiting, met, unmet_range, full,
                                   broke, unmet_at, night_met)
        assert waiting == 5 and helped == 2 and met.tolist() == [0, 0, 2]
        assert served[[3, 5]].all() and not served[6]
        # Each need still unmet is counted once, by its reason; those the volunteers met are not.
        left = np.flatnonzero(~served)
        assert unmet_range[1] == 1                                  # need 6: nothing in range
        assert full[2] == np.isin(left, [0, 2, 7]).sum() and broke[2] == np.isin(left, [1]).sum()
        assert unmet_range[2] == np.isin(left, [4]).sum()
        assert (unmet_range + full + broke).sum() == len(left) == 4
        assert unmet_at.sum() == 4 and unmet_at[3 * C + 1] == 1       # 3 care needs left + need 6
        assert night_met.tolist() == [1, 0, 0]
        kept += served
    assert np.allclose(kept[[0, 1, 2, 4, 7]] / 2000, 0.4, atol=0.04)  # each waiting need equally likely


def test_lockers_and_vending_points_meet_needs_within_reach():
    # Residents 0-3 live at nodes 0, 0, 1, 1; one speed class. A locker is near node 0 only, a
    # vending point near node 1 only. Category 0: parcels; category 1: convenience; 2: other.
    res = np.array([0, 1, 2, 2, 3, 0], dtype=np.int32)
    cats = np.array([0, 0, 0, 1, 1, 1], dtype=np.int32)
    served = np.zeros(6, dtype=bool)
    home = np.array([0, 0, 1, 1], dtype=np.int32)
    cash = np.array([50, 50, 50, 5], dtype=np.int64)
    met = np.zeros(3, dtype=np.int64)
    parcels, sales = kernels.intercept_automated(
        fastrng.seed_state(np.random.default_rng(0)), 6, res, cats, served, home, np.zeros(4, np.int8), 1,
        np.array([True, False]), np.array([False, True]), 0, 1, 1.0, 20, cash, met)
    assert served.tolist() == [True, True, False, True, False, False]  # resident 3 cannot pay 20
    assert (parcels, sales) == (2, 1) and met.tolist() == [2, 1, 0]
    assert cash.tolist() == [50, 50, 30, 5]


def test_online_orders_route_beyond_walking_range_and_pay_merchant_platform_and_courier():
    # Needs: 0 walkable (ordered online at share 1); 1 out of range by day: the nearest outlet within
    # the radius (7) was full yesterday, the next (6) was not; 2 out of range at night: 6 is shut at
    # night, so the full 7; 3 already served; 4 and 5 of category 1, which cannot be delivered.
    res = np.arange(6, dtype=np.int32)
    cats = np.array([0, 0, 0, 0, 1, 1], dtype=np.int32)
    night = np.array([False, False, True, False, False, False])
    served = np.array([False, False, False, True, False, False])
    chosen = np.array([5, -1, -1, -1, -1, 5], dtype=np.int32)
    delivered = np.zeros(6, dtype=bool)
    home = np.zeros(6, dtype=np.int32)
    deliverable = np.array([True, False])
    table = np.array([[[7, 6]], [[6, -1]]], dtype=np.int32)  # (categories, nodes, k)
    outlet_night = np.zeros(8, bool)
    outlet_night[7] = True
    load = np.zeros(8, np.float32)
    load[7] = 1.0
    n = kernels.route_orders(fastrng.seed_state(np.random.default_rng(0)), 6, res, cats, night, served, chosen,
                             delivered, home, 1.0, deliverable, table.reshape(-1), 1, 2, outlet_night, load)
    assert n == 3 and delivered.tolist() == [True, True, True, False, False, False]
    assert chosen.tolist() == [5, 6, 7, -1, -1, 5]

    price = np.zeros(8, np.int64)
    price[5], price[6] = 1000, 2005
    cash = np.full(6, 10_000, np.int64)
    mcash, revenue = np.zeros(8, np.int64), np.zeros(8, np.int64)
    income = np.zeros(6, np.int64)
    met = np.zeros(2, np.int64)
    visit = np.array([True, True, False, False, False, False])
    freelancer = np.array([3])
    out = kernels.settle_orders(fastrng.seed_state(np.random.default_rng(0)), 6, res, cats, chosen, visit, delivered,
                                price, 0.1, 300, 200, freelancer, cash, mcash, revenue, income, met)
    # Commission rounds half to even: 100 and 200 (200.5). Each order costs price + 500 in fees.
    assert out == (900 + 1805, 100 + 200 + 2 * 200, 600, 0)
    assert mcash[5] == revenue[5] == 900 and mcash[6] == revenue[6] == 1805
    assert cash.tolist() == [10_000 - 1500, 10_000 - 2505, 10_000, 10_000 + 600, 10_000, 10_000] and income[3] == 600
    assert met.tolist() == [2, 0]
    assert cash.sum() + mcash.sum() + out[1] == 6 * 10_000  # the platform's share left the residents


def test_household_kernels_equal_numpy():
    """member_sums is reduceat (empty households included), split_among_members NumPy's divmod,
    repeat and remainder rule; whole numbers, so exact."""
    from sim.services.kernels import member_sums, split_among_members

    rng = np.random.default_rng(11)
    members = rng.integers(0, 5, size=500)
    members[[0, -1]] = 2  # reduceat's empty-segment rule needs an index inside the array
    first = np.concatenate([[0], np.cumsum(members)]).astype(np.int64)
    values = rng.integers(-10**12, 10**12, size=int(first[-1]))
    assert np.array_equal(member_sums(first, values), np.add.reduceat(values, first[:-1]))
    amount = rng.integers(-10**9, 10**9, size=len(members))
    share, rest = np.divmod(amount, np.maximum(members, 1))
    rank = np.arange(first[-1]) - np.repeat(first[:-1], members)
    expected = np.repeat(share, members) + (rank < np.repeat(rest, members))
    assert np.array_equal(split_among_members(first, amount), expected)


def test_a_free_visit_is_wanted_whatever_the_cash_and_a_paid_one_needs_the_price_on_hand():
    # Residents 0-2 hold -100, 0 and 500 fen; outlet 0 is free (a parcel point), outlet 1 costs 500.
    # A parcel pickup is never refused for money, even when the day's payments took cash below zero.
    res = np.array([0, 1, 2, 0, 1, 2], dtype=np.int64)
    chosen = np.array([0, 0, 0, 1, 1, 1], dtype=np.int32)
    price, rcash = np.array([0, 500], dtype=np.int64), np.array([-100, 0, 500], dtype=np.int64)
    visit, outcome = np.zeros(6, dtype=np.bool_), np.zeros(6, dtype=np.uint8)
    demand, served, delivered = np.zeros(2, dtype=np.int64), np.zeros(6, dtype=np.bool_), np.zeros(6, dtype=np.bool_)
    kernels.want_visits(6, res, chosen, served, delivered, False, 0, price, rcash, visit, demand, outcome)
    assert visit.tolist() == [True, True, True, False, False, True]
    assert outcome.tolist() == [kernels.NO_REASON] * 3 + [kernels.CANNOT_PAY] * 2 + [kernels.NO_REASON]
    assert demand.tolist() == [3, 1]
