"""A model's dynamic state as arrays and plain data, and back: what a checkpoint holds.

:func:`capture` takes every part of a model that the rules change as they run -- residents'
and merchants' arrays, cash and the ledger's books, knowledge, queues of entrants and vacant
shops, last month's unmet needs, the positions of the named random streams -- and
:func:`restore` puts them into a freshly built model of the same scenario and seed (whose city,
homes, ages and walking tables are rebuilt from the scenario, as they never change). What is
derived from that state (walking and choice tables, nearest outlets) is recomputed, so a restored
model continues exactly as the model it was captured from would have. The memo of the street
network's reach from the nodes searched so far is kept too (up to :data:`REACH_MEMO_BYTES`): a
cache, which changes no result, only spares a restored model the searches a continuous run no
longer makes.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING

import numpy as np

from sim.economy import entry
from sim.io.checkpoint import Checkpoint
from sim.economy.merchants import Merchants

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

REACH_MEMO_BYTES = 64 * 2**20
"""Most bytes of the model's reach memo (:meth:`LifeCircleModel.nodes_within`: the nodes within
walking reach of each shop node searched so far) a checkpoint keeps, in the order they were first
searched. The memo is a cache: a restored model answers the same without it, but searches again
what a continuous run has kept (the first month ends after a load: on 1,000,000 residents the
first month end spent 0.14 s of 0.63 s on them; the 3,783 nodes' reach there is 8.4 MiB)."""

_POPULATION_STATIC = {"home", "age", "elderly", "disabled", "speed_class", "household"}
"""Population arrays fixed for a run (rebuilt from the scenario, checked on restore)."""


def capture(model: LifeCircleModel) -> Checkpoint:
    """The model's dynamic state now (it must be between days)."""
    pop, mer, ledger = model.population, model.merchants, model.ledger
    arrays: dict[str, np.ndarray] = {}
    for f in fields(pop):
        arrays[f"population.{f.name}"] = getattr(pop, f.name)
    for f in fields(mer):
        arrays[f"merchants.{f.name}"] = getattr(mer, f.name)
    arrays["ledger.resident_cash"] = ledger.resident_cash
    arrays["ledger.merchant_cash"] = ledger.merchant_cash
    arrays["model.unmet_last_month"] = model.unmet_last_month
    arrays["model.unmet_this_month"] = model.unmet_this_month
    arrays["model.commercial"] = model.commercial
    names = list(dict.fromkeys(name for _, _, values in model._warmup_records for name in values))
    arrays["warmup.day"] = np.array([d for d, _, _ in model._warmup_records], dtype=np.int64)
    arrays["warmup.month"] = np.array([m for _, m, _ in model._warmup_records], dtype=np.int64)
    arrays["warmup.values"] = np.array([[values.get(n, np.nan) for n in names] for _, _, values in model._warmup_records],
                                       dtype=np.float64).reshape(len(model._warmup_records), len(names))
    arrays.update(_reach_memo_arrays(model._within_cache))
    queue, vacancies = model.licence_queue, model.vacancies
    header = {
        "seed": model.seed,
        "day": model.day,
        "month": model.month,
        "warmup_days": model.warmup_days,
        "streams": model.streams.state(),
        "ledger": {"external": ledger.external, "flows": [[*k, v] for k, v in ledger.flows.items()]},
        "licence_queue": {name: getattr(queue, name) for name in entry.QUEUE_COLUMNS},
        "licence_versions": {str(k): v for k, v in queue.version.items()},
        "vacancies": {"node": vacancies.node, "category": vacancies.category, "month": vacancies.month},
        "volunteer_visits_left": model.volunteer_visits_left,
        "warmup_indicators": names,
    }
    return Checkpoint(arrays={k: np.ascontiguousarray(v) for k, v in arrays.items()}, header=_plain(header))


def restore(model: LifeCircleModel, checkpoint: Checkpoint) -> None:
    """Put a captured state into ``model``, freshly built from the same scenario and seed, before
    its first day: the arrays, the books, the queues, the streams; then rebuild the walking and
    choice tables from the outlets that are open."""
    from sim.economy.ledger import Ledger

    a, h = checkpoint.arrays, checkpoint.header
    pop = model.population
    for f in fields(pop):
        value = a[f"population.{f.name}"]
        if f.name in _POPULATION_STATIC and not np.array_equal(value, getattr(pop, f.name)):
            raise ValueError(f"checkpoint does not fit this model: population.{f.name} differs")
        setattr(pop, f.name, value.copy())
    model.merchants = Merchants(**{f.name: a[f"merchants.{f.name}"].copy() for f in fields(Merchants)})
    ledger = Ledger(a["ledger.resident_cash"])
    ledger.merchant_cash = a["ledger.merchant_cash"].copy()
    # In the ledger's own order (the header's keys are sorted): accounts.csv lists the accounts the
    # same way whether the warm-up was computed or loaded.
    saved = h["ledger"]["external"]
    ledger.external = {k: int(saved[k]) for k in [*ledger.external, *sorted(set(saved) - set(ledger.external))]
                       if k in saved}
    for source, target, purpose, value in h["ledger"]["flows"]:
        ledger.flows[(source, target, purpose)] = int(value)
    ledger.reset_total()
    model.ledger = ledger
    model.unmet_last_month = a["model.unmet_last_month"].copy()
    model.unmet_this_month = a["model.unmet_this_month"].copy()
    model.commercial = a["model.commercial"].copy()
    names = h["warmup_indicators"]
    model._warmup_records = [
        (int(d), int(m), {n: float(v) for n, v in zip(names, row)})
        for d, m, row in zip(a["warmup.day"], a["warmup.month"], a["warmup.values"])
    ]
    queue = entry.LicenceQueue()
    for name in entry.QUEUE_COLUMNS:
        setattr(queue, name, [int(v) for v in h["licence_queue"][name]])
    queue.version = {int(k): int(v) for k, v in h["licence_versions"].items()}
    model.licence_queue = queue
    model.vacancies = entry.Vacancies(**{k: [int(v) for v in h["vacancies"][k]] for k in ("node", "category", "month")})
    model.volunteer_visits_left = float(h["volunteer_visits_left"])
    model.streams.restore(h["streams"])
    model.mark_low_income(model.population.income_last)  # as the last warm-up month end left it
    model._within_cache = _reach_memo(a)
    model.day, model.month = int(h["day"]), int(h["month"])
    _rebuild_tables(model)


def _rebuild_tables(model: LifeCircleModel) -> None:
    """Walking reach, choice tables and nearest outlets of every category, from the open outlets
    (the tables depend only on which outlets are open, never on the order they opened in)."""
    mer, econ = model.merchants, model.scenario.economy
    open_ids = mer.open_ids()
    model.reach.add(open_ids, mer.node[open_ids], mer.category[open_ids])
    categories = np.arange(model.catalogue.n)
    model.choice_tables.update(categories, model.reach, econ.walk_minute_weight, econ.max_walk_minutes)
    model.nearest_m[:] = model.nearest_outlets.update(
        categories, [mer.node[open_ids[mer.category[open_ids] == c]] for c in categories]).T
    model.nearest_version += 1


def _reach_memo_arrays(memo: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """The reach memo as flat arrays (each entry's nodes and distances end to end), its entries in
    order until :data:`REACH_MEMO_BYTES`."""
    keys, used = [], 0
    for key, (nodes, dist) in memo.items():
        used += nodes.nbytes + dist.nbytes
        if used > REACH_MEMO_BYTES:
            break
        keys.append(key)
    first = np.zeros(len(keys) + 1, dtype=np.int64)
    first[1:] = np.cumsum([len(memo[key][0]) for key in keys])
    return {
        "reach_memo.source": np.array([v for v, _ in keys], dtype=np.int64),
        "reach_memo.limit_m": np.array([limit for _, limit in keys], dtype=np.float64),
        "reach_memo.first": first,
        "reach_memo.nodes": np.concatenate([memo[key][0] for key in keys]) if keys else np.zeros(0, np.int32),
        "reach_memo.dist": np.concatenate([memo[key][1] for key in keys]) if keys else np.zeros(0, np.float32),
    }


def _reach_memo(a: dict[str, np.ndarray]) -> dict[tuple[int, float], tuple[np.ndarray, np.ndarray]]:
    """The reach memo a checkpoint kept (:func:`_reach_memo_arrays`)."""
    first, nodes, dist = a["reach_memo.first"], a["reach_memo.nodes"], a["reach_memo.dist"]
    return {(int(v), float(limit)): (nodes[first[i]:first[i + 1]], dist[first[i]:first[i + 1]])
            for i, (v, limit) in enumerate(zip(a["reach_memo.source"], a["reach_memo.limit_m"]))}


def _plain(value):
    """``value`` with NumPy scalars turned into Python ones (for JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
