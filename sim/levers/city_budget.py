"""The city budget of the mayor responsibility system, allocated between life circles.

A city evaluates its life circles (:mod:`sim.city.circles`) and funds follow the evaluation. With
the governance lever on in a city of several circles (or with
``levers.governance.budget_cny_per_resident`` above zero), at the start of the lever and of every
evaluation period after it:

1. **Evaluation.** Each circle is scored: the share of its residents with every basic-guarantee
   service within 15 minutes on foot; it passes at ``circles.target_basic_coverage``. Every
   evaluation is a row of :attr:`LifeCircleModel.circle_evaluations` (period, month, circle,
   residents, coverage, passed, rank, allocation, sites built, funds left, spent so far).
2. **Allocation.** The period's budget (``budget_cny_per_resident`` x residents x months / 12) is divided between
   the circles by ``allocation`` (:func:`allocate`); each circle's funds carry over.
3. **Spending.** A circle's funds fit out public shop space for basic services it lacks: at its
   inhabited nodes with the fewest basic categories within 15 minutes, a site is put to public
   tender: of the basic categories missing there, the entrant that passes the entry test at the
   discounted rent (``rent_discount``), with the site fitted out by the city and a monthly
   operating subsidy of at most ``operating_subsidy_share`` of its running costs, needing the least
   subsidy, applies for a licence; only then is the site fitted out (``fit_out_cny_per_m2`` x the outlet's floor area, from the circle's
   funds). A trade is tendered only if the circle's funds cover its commitment: the fit-out and a
   year of the rent discount and of the largest operating subsidy allowed. Outlets on budget sites pay
   ``1 - rent_discount`` of the rent; the circle's funds pay the rest, and the operating subsidy,
   each month while the lever acts, as far as they go, from the month the outlet opens (for that
   month when it opens: rent is a whole month's, whatever the day). A site no entrant wants costs nothing; a circle tenders at most
   ``tenders_per_period`` sites a period.

Money moves through the ledger (``lever.governance.sites``, ``lever.governance.rent``), so the
budget shows in ``public_spending``. With one circle, the whole budget goes to the district.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.economy.ledger import MERCHANT
from sim.services.catalogue import FEN_PER_CNY

if TYPE_CHECKING:
    from sim.model import LifeCircleModel
    from sim.scenario import GovernanceLever

RULES = ("equal", "need", "reward", "support", "pilot")


def allocate(rule: str, budget: float, residents: np.ndarray, coverage: np.ndarray, passed: np.ndarray, *,
             bonus: float = 1.0, pilots: np.ndarray | None = None, scaled_up: bool = False) -> np.ndarray:
    """Each circle's share of ``budget`` under ``rule`` (see ``GovernanceLever.allocation``).

    Args:
        residents, coverage, passed: (K,) per circle: residents, basic coverage (0-1), whether it
            passed the evaluation just made.
        bonus: Extra weight per resident for ``reward`` (passed) and ``support`` (failed).
        pilots: (K,) bool, the pilot circles (``pilot``).
        scaled_up: ``pilot``: whether scale-up has been decided (then every circle takes part).

    Returns:
        (K,) non-negative amounts summing to ``budget`` (to rounding), or all zero when no circle
        qualifies (no residents; ``need`` with everyone covered).
    """
    residents = np.asarray(residents, dtype=np.float64)
    if rule == "equal":
        weight = residents
    elif rule == "need":
        weight = residents * (1.0 - np.nan_to_num(np.asarray(coverage, dtype=np.float64), nan=1.0))
    elif rule == "reward":
        weight = residents * (1.0 + bonus * np.asarray(passed, dtype=np.float64))
    elif rule == "support":
        weight = residents * (1.0 + bonus * (1.0 - np.asarray(passed, dtype=np.float64)))
    elif rule == "pilot":
        taking = np.ones(len(residents), dtype=bool) if scaled_up or pilots is None else np.asarray(pilots, dtype=bool)
        weight = residents * taking
    else:
        raise ValueError(f"allocation rule {rule!r}; allowed: {', '.join(RULES)}")
    weight = np.maximum(weight, 0.0)
    total = weight.sum()
    return budget * weight / total if total > 0 else np.zeros(len(residents))


class CityBudget:
    """The budget's evaluations, allocations and sites for one run (owned by the governance lever)."""

    def __init__(self, config: GovernanceLever, model: LifeCircleModel, rng: np.random.Generator) -> None:
        self.config, self.model = config, model
        k = model.circles.k
        self.funds = np.zeros(k)                       # CNY held by each circle
        self.spent = np.zeros(k)                       # CNY each circle has spent so far
        self.site_node = np.zeros(0, dtype=np.int64)   # budget sites: node, category tendered
        self.site_category = np.zeros(0, dtype=np.int64)
        self.site_subsidy = np.zeros(0, dtype=np.int64)    # fen a month promised to each site's outlet
        n_pilots = max(1, int(round(config.pilot_share * k)))
        self.pilots = np.zeros(k, dtype=bool)
        if config.allocation == "pilot":
            self.pilots[rng.choice(k, size=n_pilots, replace=False)] = True
        self.pilot_start: float | None = None
        self.scaled_up = False
        self.period = 0

    # ------------------------------------------------------------------ monthly
    def on_month(self, month: int, acting: bool) -> None:
        """Pay the month's rent discounts; at a period's start, evaluate, allocate and tender."""
        self._rent(acting)
        cfg = self.config
        since = month - cfg.start_month
        if not acting or since < 0 or since % cfg.evaluation_period_months:
            return
        coverage, residents = self._coverage()
        passed = coverage >= self.model.scenario.circles.target_basic_coverage
        if cfg.allocation == "pilot" and not self.scaled_up and since >= cfg.scale_up_month:
            gain = np.nanmean(coverage[self.pilots]) - self.pilot_start
            self.scaled_up = bool(gain >= cfg.scale_up_min_gain)
        if self.pilot_start is None:
            self.pilot_start = float(np.nanmean(coverage[self.pilots])) if self.pilots.any() else 0.0
        budget = cfg.budget_cny_per_resident * self.model.population.n * cfg.evaluation_period_months / 12.0
        share = allocate(cfg.allocation, budget, residents, coverage, passed,  # funds follow this evaluation
                         bonus=cfg.evaluation_bonus, pilots=self.pilots, scaled_up=self.scaled_up)
        self.funds += share
        built = self._tender_all()
        rank = _rank(coverage)
        for k in range(len(residents)):
            self.model.circle_evaluations.append({
                "period": self.period, "month": month, "circle": k, "name": self.model.circles.names[k],
                "residents": int(residents[k]), "basic_coverage_15": float(coverage[k]), "passed": bool(passed[k]),
                "rank": int(rank[k]), "allocation_cny": float(share[k]), "sites_built": int(built[k]),
                "funds_left_cny": float(self.funds[k]), "spent_cny": float(self.spent[k]), "pilot": bool(self.pilots[k]),
                "scaled_up": self.scaled_up})
        self.period += 1

    def _coverage(self) -> tuple[np.ndarray, np.ndarray]:
        from sim.metrics.circles import circle_coverage

        return circle_coverage(self.model)

    def on_outlets_opened(self, ids: np.ndarray, acting: bool) -> None:
        """Outlets opening on budget sites while the lever acts: their month's rent discount and
        operating subsidy, from their circle's funds (:meth:`_rent` paid the month's for the others)."""
        if acting:
            self._rent(acting, among=ids)

    def _rent(self, acting: bool, among: np.ndarray | None = None) -> None:
        """Outlets on budget sites (those of ``among``, if given) pay the discounted rent and receive
        their operating subsidy; each circle's funds pay both, as far as they go (a circle whose funds
        run out pays a smaller share of every site's support, and never goes into debt)."""
        if not len(self.site_node):
            return
        model, mer = self.model, self.model.merchants
        ids, site = _on_sites(mer, self.site_node, self.site_category)
        if among is not None:
            keep = np.isin(ids, among)
            ids, site = ids[keep], site[keep]
            if not len(ids):
                return
        full = np.round(model.catalogue.area_m2[mer.category[ids]] * model.rent_fen_per_m2()).astype(np.int64)
        if acting:
            rent_due = np.round(full * self.config.rent_discount).astype(np.int64)
            subsidy_due = self.site_subsidy[site]
        else:
            rent_due = subsidy_due = np.zeros(len(ids), dtype=np.int64)
        circle = model.circles.of_node[mer.node[ids]]
        k = len(self.funds)
        due_by_circle = np.bincount(circle, weights=rent_due + subsidy_due, minlength=k)
        funds_fen = np.maximum(self.funds, 0.0) * FEN_PER_CNY
        factor = np.where(due_by_circle > 0, np.minimum(1.0, funds_fen / np.maximum(due_by_circle, 1)), 0.0)
        rent_paid = np.floor(rent_due * factor[circle]).astype(np.int64)
        subsidy_paid = np.floor(subsidy_due * factor[circle]).astype(np.int64)
        mer.rent[ids] = full - rent_paid
        if rent_paid.sum() > 0:
            model.ledger.transfer("public_budget", "landlords", rent_paid, "lever.governance.rent")
        if subsidy_paid.sum() > 0:
            model.ledger.transfer("public_budget", (MERCHANT, ids), subsidy_paid, "lever.governance.operating")
        paid = np.bincount(circle, weights=rent_paid + subsidy_paid, minlength=k) / FEN_PER_CNY
        self.funds -= paid
        self.spent += paid

    def _tender_all(self) -> np.ndarray:
        """Spend each circle's funds on sites (worst-served circle first); returns sites built per circle."""
        model = self.model
        k = model.circles.k
        built = np.zeros(k, dtype=np.int64)
        cfg = self.config
        from sim.economy.entry import expected_revenue_costs_only

        basic = model.catalogue.basic_ids
        speed = model.scenario.population.walk_speed_m_per_min
        missing = model.nearest_m[:, basic] / speed > 15.0             # (nodes, basic)
        lacking = missing.sum(axis=1)
        renovation = model.levers.get("renovation")
        taken = np.zeros(len(lacking), dtype=bool)
        taken[self.site_node] = True
        if renovation is not None:
            taken |= renovation.renovated
        inhabited = (model.residents_at_node > 0) & ~taken & (lacking > 0)
        area = model.catalogue.area_m2.astype(np.float64)
        fit_out = area * cfg.fit_out_cny_per_m2                                     # CNY per category
        # A site is built only if the circle can fit it out and pay its first year's rent discount.
        monthly_costs = np.array([expected_revenue_costs_only(model, c) for c in range(len(area))]) / FEN_PER_CNY
        commitment = fit_out + 12 * (area * model.rent_fen_per_m2() / FEN_PER_CNY * cfg.rent_discount
                                     + cfg.operating_subsidy_share * monthly_costs)
        cheapest = commitment[basic].min()
        for circle in np.argsort(-self.funds, kind="stable"):
            nodes = np.flatnonzero(inhabited & (model.circles.of_node == circle))
            # Worst-served first, then the most residents (ties: lowest id).
            order = np.lexsort((-model.residents_at_node[nodes], -lacking[nodes]))
            tried = 0
            for node in nodes[order]:
                if self.funds[circle] < cheapest or tried >= cfg.tenders_per_period:
                    break
                tried += 1
                options = [int(c) for c in basic[missing[node]] if commitment[c] <= self.funds[circle]]
                category, subsidy = self._tender(int(node), options)
                if category is None:
                    continue
                self.site_subsidy = np.append(self.site_subsidy, subsidy)
                self.funds[circle] -= fit_out[category]
                self.spent[circle] += fit_out[category]
                built[circle] += 1
                missing[node, np.flatnonzero(basic == category)] = False
                model.commercial[node] = True
                model.ledger.transfer("public_budget", "fit_out_and_licences",
                                      np.array([int(round(fit_out[category] * FEN_PER_CNY))]), "lever.governance.sites")
                self.site_node = np.append(self.site_node, node)
                self.site_category = np.append(self.site_category, category)
        return built

    def _tender(self, node: int, categories: list[int]) -> tuple[int | None, int]:
        """Of ``categories``, the entrant that passes the entry test at the discounted rent, with the
        site fitted out and at most ``operating_subsidy_share`` of its running costs paid by the
        city, needing the least subsidy (then: the best margin) applies for a licence at ``node``.

        Returns:
            (its category or None, the monthly operating subsidy it was promised, fen).
        """
        from sim.economy.entry import expected_revenue, startup_cost_fen

        model = self.model
        econ = model.scenario.economy
        hurdle = econ.entry_hurdle
        # The city fits the site out, so the entrant's start-up cost is not among its costs.
        fitted = startup_cost_fen(model) / econ.payback_months  # fen a month
        best, best_key, best_subsidy = None, None, 0
        for category in categories:
            revenue, costs = expected_revenue(model, node, category)
            discount = model.catalogue.area_m2[category] * model.rent_fen_per_m2() * self.config.rent_discount
            net = max(costs - discount - fitted, 1.0)
            running = costs - fitted
            # The subsidy that makes revenue + subsidy pass the entry test, if within the cap.
            subsidy = max(0.0, hurdle * net - revenue)
            if subsidy > self.config.operating_subsidy_share * running:
                continue
            key = (subsidy, -revenue / net)
            if best_key is None or key < best_key:
                best, best_key, best_subsidy = category, key, int(round(subsidy))
        if best is not None:
            days = int(round(model.param("licence_days")))
            model.licence_queue.push(open_day=model.day + days, node=node, category=best,
                                     founder=-1, subsidy=0, applied_day=model.day, fitted=True,
                                     tender="governance")
        return best, best_subsidy


def _on_sites(mer, nodes: np.ndarray, categories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids of the open fixed outlets trading the tendered category on a budget site, their site)."""
    site_of = {(int(n), int(c)): i for i, (n, c) in enumerate(zip(nodes.tolist(), categories.tolist()))}
    candidates = np.flatnonzero(mer.open & ~mer.mobile & np.isin(mer.node, nodes))
    ids, site = [], []
    for m in candidates:
        i = site_of.get((int(mer.node[m]), int(mer.category[m])))
        if i is not None:
            ids.append(m)
            site.append(i)
    return np.array(ids, dtype=np.int64), np.array(site, dtype=np.int64)


def _rank(coverage: np.ndarray) -> np.ndarray:
    """1 = best coverage; circles with no residents last."""
    order = np.argsort(-np.nan_to_num(coverage, nan=-1.0), kind="stable")
    rank = np.empty(len(coverage), dtype=np.int64)
    rank[order] = np.arange(1, len(coverage) + 1)
    return rank
