"""Monthly accounts: incomes of residents, and merchants' wages, rent, costs, payouts and closures.

Mechanism (last day of each month):

* Wages are monthly salaries, each employee's own (drawn log-normally around the catalogue's
  median when the job is taken), paid by the merchant (local jobs), by outside employers (jobs
  outside the circle) or, for commuting shop staff, at the median shop wage to outside workers.
* Pensions (pension fund; retirees in paid work keep theirs), unemployment insurance for insured
  job losers for ``benefit_months`` (public budget), gig pay (gig clients) and households' property
  income (asset returns) are paid.
* Merchants pay rent (landlords; renovated public space is partly paid by the public budget),
  fixed operating costs and the cost of goods (suppliers), then pay out a share of any profit to
  their owner. A merchant (mobile vendors too) with ``closure_months`` consecutive losses and
  negative cash closes: its staff lose their jobs, its remaining cash repays its investors' capital
  and the rest goes to its owner (outside creditors absorb debts). Owners also leave for reasons
  the model does not follow (retirement, a move, a lease that ends) with ``exit_per_month``: a
  going concern (cash in hand, or not losing money month after month) is taken over and goes on
  trading (a transfer); a business in trouble closes (one that closes for its losses anyway: in
  effect owners' exits are hand-overs).
* Households whose income per member is below the dibao standard get the difference (public budget).
* Households pool their members' cash, pay for necessities outside the catalogue, save by their
  income, keep what their members' services usually cost and spend the rest elsewhere
  (:func:`_household_spending`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.services.catalogue import FEN_PER_CNY
from sim.economy.households import pool_cash
from sim.economy.ledger import MERCHANT, RESIDENT
from sim.economy.labour import lose_jobs
from sim.economy.population import FREELANCER, OUTSIDE_JOB, UNEMPLOYED
from sim.services.kernels import scatter_add, split_among_members

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

URBAN_MEDIAN_INCOME_FEN = 392_700
"""Urban median per-capita disposable income, fen a month: 47,122 CNY a year (NBS 2023 communique)."""


def merchant_costs(model: LifeCircleModel, ids: np.ndarray, revenue: np.ndarray) -> dict[str, np.ndarray]:
    """A month's costs (fen) of merchants ``ids`` with the given revenue, by kind: a mobile vendor's
    stall permit, each local employee's own wage, commuters at the median shop wage, rent, fixed
    costs, cost of goods.

    An outlet that opened this month has hired nobody yet (its jobs are filled at the month end's
    labour market): its jobs are done by temporary staff from outside at the median shop wage for the
    days it traded (:func:`opening_staff`)."""
    mer, money, pop = model.merchants, model.catalogue.money, model.population
    cats = mer.category[ids]
    smart_saving = np.where(mer.smart[ids], model.smart_cost_saving(), 0.0)
    local = np.flatnonzero(pop.employer >= 0)
    payroll = np.bincount(pop.employer[local], weights=local_wages(model, local), minlength=mer.n)
    vendors = model.levers.get("mobile_vendors")
    permit = vendors.permit_fee_fen() if vendors is not None else 0  # only the lever licenses mobile outlets
    return {
        "permit": np.where(mer.mobile[ids], permit, 0).astype(np.int64),
        "wages_local": np.round(payroll[ids]).astype(np.int64),
        "wages_outside": mer.staff_outside[ids].astype(np.int64) * model.shop_wage_fen() + opening_staff(model, ids),
        "rent": mer.rent[ids],
        "fixed": np.round(np.where(mer.mobile[ids], money["vendor_fixed_cost"], money["fixed_cost"])
                          * (1 - smart_saving)).astype(np.int64),
        "cogs": np.round(revenue * model.catalogue.cogs_share[cats] * (1 - smart_saving / 4)).astype(np.int64),
    }


def opening_staff(model: LifeCircleModel, ids: np.ndarray) -> np.ndarray:
    """Wages (fen) of the temporary staff of merchants ``ids`` that opened this month: each job not yet
    filled, at the median shop wage, for the share of the month's days the outlet traded (it opened
    on ``opened_day`` and trades that day; called on the month's last day)."""
    mer = model.merchants
    days = model.date.day                       # the month's days so far: all of them on its last day
    traded = model.day - mer.opened_day[ids].astype(np.int64) + 1
    new = traded <= days
    if not new.any():
        return np.zeros(len(ids), dtype=np.int64)
    unfilled = np.maximum(mer.staff_target[ids].astype(np.int64) - mer.staff_local[ids] - mer.staff_outside[ids], 0)
    return np.where(new, np.round(unfilled * model.shop_wage_fen() * np.minimum(traded, days) / days), 0).astype(np.int64)


def local_wages(model: LifeCircleModel, who: np.ndarray) -> np.ndarray:
    """Monthly wages (fen) of residents ``who`` in local shop jobs: their own (drawn when hired)."""
    return np.round(model.population.wage[who] * model.scenario.economy.wage_multiplier).astype(np.int64)


def pay_month(model: LifeCircleModel) -> None:
    """Pay the month's incomes and merchants' accounts; close merchants that failed; households
    pool their cash and spend outside the catalogue."""
    pop, ledger, money, econ = model.population, model.ledger, model.catalogue.money, model.scenario.economy
    pop.paid_as[:] = pop.status  # whose incomes these are: the labour market moves people after the accounts
    pop.paid_local[:] = pop.employer >= 0

    # Wages are monthly salaries, each resident's own (drawn when the job was taken).
    outside = np.flatnonzero(pop.employer == OUTSIDE_JOB)
    _income(model, "outside_employers", outside, np.round(pop.wage[outside] * econ.wage_multiplier), "wage.outside")
    # Pensions go on when a retiree takes paid work (as China's do).
    pensioners = np.flatnonzero(pop.pension > 0)
    _income(model, "pension_fund", pensioners, pop.pension[pensioners], "pension")
    insured = np.flatnonzero((pop.status == UNEMPLOYED) & (pop.benefit_left > 0))
    _income(model, "public_budget", insured, np.full(len(insured), money["unemployment_benefit"]), "benefit.unemployment")
    pop.benefit_left[insured] -= 1
    _gig_pay(model)
    hh = model.households
    owners = hh.first[:-1][hh.property_income > 0]
    _income(model, "asset_returns", owners, hh.property_income[hh.property_income > 0], "property_income")

    mer = model.merchants
    ids = mer.open_ids()
    revenue = mer.revenue_month[ids]
    costs = merchant_costs(model, ids, revenue)
    local = np.flatnonzero(pop.employer >= 0)
    if len(local):
        wages = local_wages(model, local)
        ledger.transfer((MERCHANT, pop.employer[local]), (RESIDENT, local), wages, "wage.shop")
        pop.income_month[local] += wages
    ledger.transfer((MERCHANT, ids), "outside_workers", costs["wages_outside"], "wage.commuters")
    ledger.transfer((MERCHANT, ids), "landlords", costs["rent"], "rent")
    support = mer.rent_support[ids]
    if support.any():
        ledger.transfer("public_budget", "landlords", support, "lever.renovation.rent")
    ledger.transfer((MERCHANT, ids), "suppliers", costs["fixed"], "operating_costs")
    ledger.transfer((MERCHANT, ids), "suppliers", costs["cogs"], "cost_of_goods")
    if costs["permit"].any():  # mobile vendors' stall permits: a cost of their month like any other
        ledger.transfer((MERCHANT, ids), "public_budget", costs["permit"], "lever.mobile_vendors.permit")
    profit = revenue - sum(costs.values())
    mer.profit_last[ids] = profit
    payout = np.where(profit > 0, np.round(profit * model.scenario.economy.owner_payout_share), 0).astype(np.int64)
    owned = mer.owner[ids] >= 0
    if (owned & (payout > 0)).any():
        sel = owned & (payout > 0)
        ledger.transfer((MERCHANT, ids[sel]), (RESIDENT, mer.owner[ids[sel]]), payout[sel], "payout.owner")
        scatter_add(pop.income_month, mer.owner[ids[sel]].astype(np.int64), payout[sel], 1)
    if (~owned & (payout > 0)).any():
        sel = ~owned & (payout > 0)
        ledger.transfer((MERCHANT, ids[sel]), "outside_owners", payout[sel], "payout.owner")
    mer.months_losing[ids] = np.where(profit < 0, mer.months_losing[ids] + 1, 0)
    failing = (mer.months_losing[ids] >= model.scenario.economy.closure_months) & (ledger.merchant_cash[ids] < 0)
    # Owners who leave for reasons of their own: a going concern (cash in hand, or not losing money
    # month after month) is taken over and trades on (a transfer); a business in trouble closes.
    leaving = model.streams["exit"].random(len(ids)) < model.scenario.economy.exit_per_month
    going = (ledger.merchant_cash[ids] > 0) | (mer.months_losing[ids] < model.scenario.economy.closure_months)
    close_merchants(model, ids[failing | (leaving & ~going)])
    transfer_businesses(model, ids[~failing & leaving & going])
    _minimum_living_guarantee(model)
    pool_cash(ledger, hh)
    _household_spending(model)


def _income(model: LifeCircleModel, source: str, who: np.ndarray, amount: np.ndarray, purpose: str) -> None:
    amount = np.asarray(amount, dtype=np.int64)
    if len(who) and amount.any():
        model.ledger.transfer(source, (RESIDENT, who), amount, purpose)
        # Compiled, in exact integers (np.add.at took 30 ms of a 1,000,000-resident month end).
        scatter_add(model.population.income_month, np.asarray(who, dtype=np.int64), amount, 1)


def household_income(model: LifeCircleModel, income: np.ndarray | None = None) -> np.ndarray:
    """(H,) each household's income this month (or of ``income`` per resident), fen."""
    return model.households.total(model.population.income_month if income is None else income)


def _minimum_living_guarantee(model: LifeCircleModel) -> None:
    """Dibao: a household whose income per member falls below the local standard gets the difference
    from the public budget (paid to its first adult)."""
    hh = model.households
    persons = hh.persons
    short = model.catalogue.money["dibao"] * persons - household_income(model)
    poor = np.flatnonzero(short > 0)
    _income(model, "public_budget", hh.first[:-1][poor], short[poor], "benefit.dibao")


def saving_rate(model: LifeCircleModel, per_head_fen: np.ndarray) -> np.ndarray:
    """The share of income (after necessities) a household saves, by income per member: the
    median household saves ``saving_rate``, richer ones more, poorer ones less (0 to 0.6)."""
    econ = model.scenario.economy
    ratio = np.maximum(per_head_fen, 1.0) / URBAN_MEDIAN_INCOME_FEN
    return np.clip(econ.saving_rate + econ.saving_slope * np.log(ratio), 0.0, 0.6)


def _household_spending(model: LifeCircleModel) -> None:
    """Each household first pays for necessities outside the catalogue (``essentials_cny_month`` per
    member, at most its income), then saves its share of the rest (:func:`saving_rate`); of what is
    left it keeps what its members' needs usually cost at the catalogue's outlets and spends the
    remainder elsewhere. What it keeps, and its savings, pay for the services its members need; a
    household with little left after necessities cannot pay for all of them (unmet_money)."""
    pop, ledger, hh = model.population, model.ledger, model.households
    econ = model.scenario.economy
    income = household_income(model).astype(np.float64)
    persons = hh.persons
    essentials = np.minimum(income, econ.essentials_cny_month * FEN_PER_CNY * persons)
    rest = income - essentials
    kept = saving_rate(model, income / persons) * rest + model.household_typical_spend
    elsewhere = essentials + np.maximum(rest - kept, 0.0)
    cash = hh.total(ledger.resident_cash)
    pay = np.round(np.clip(elsewhere, 0, np.maximum(cash, 0))).astype(np.int64)
    # Paid from the members' pooled (equal) shares.
    each = split_among_members(hh.first.astype(np.int64, copy=False), pay)
    each = np.minimum(each, np.maximum(ledger.resident_cash, 0))
    if each.any():
        ledger.transfer((RESIDENT, np.arange(pop.n)), "outside_consumption", each, "other_consumption")


def _gig_pay(model: LifeCircleModel) -> None:
    """Freelancers' gig tasks from clients outside the circle (plus the lever's extra tasks)."""
    pop = model.population
    free = np.flatnonzero(pop.status == FREELANCER)
    if len(free) == 0:
        return
    tasks = model.streams["gig"].poisson(model.scenario.economy.gig_tasks_per_month, size=len(free))
    pay = tasks * model.catalogue.money["gig_task"]
    lever = model.levers.get("flexible_employment")
    if lever is not None:  # extra tasks while it acts; the trained keep their pay gain after it ends
        pay = lever.gig_pay(model, free, pay)
    pay = pay.astype(np.int64)
    model.ledger.transfer("gig_clients", (RESIDENT, free), pay, "gig")
    pop.income_month[free] += pay


def transfer_businesses(model: LifeCircleModel, ids: np.ndarray) -> None:
    """Outlets whose owner leaves are taken over: they go on trading (same shop, staff, cash and
    customers), a resident owner leaves the business (retired at retirement age, else looking for
    work), and the new owner is from outside the circle. A resident founder worked in the shop in
    place of one employee (:func:`sim.economy.entry.open_due`); an outside owner does not, so the shop
    needs its trade's full staff again (a mobile vendor's owner is its only staff)."""
    if len(ids) == 0:
        return
    mer, pop = model.merchants, model.population
    worked = ids[(mer.owner[ids] >= 0) & ~mer.mobile[ids]]
    mer.staff_target[worked] = model.catalogue.staff[mer.category[worked]]
    owners = mer.owner[ids][mer.owner[ids] >= 0]
    pop.owned[owners] = -1
    lose_jobs(model, owners, model.streams["labour.losses"])
    mer.owner[ids] = -1
    model.tally.transfers += len(ids)
    model.count_circle_events("transfers", mer.node[ids])
    model.roles_changed(owners)


def close_merchants(model: LifeCircleModel, ids: np.ndarray, rng: np.random.Generator | None = None) -> None:
    """Close merchants: staff laid off, owner out of business; cash repays the investors' capital
    first and the rest goes to the owner (a resident, or outside owners, who also absorb debts).

    ``rng``: where the job losers' insurance and the residents' knowledge of the outlets that take
    the closed ones' places are drawn from (default: the shared ``labour.losses`` and
    ``knowledge.new`` streams; a lever closing outlets of its own passes its stream, so that the
    closures the rules make later draw what they would without it)."""
    if len(ids) == 0:
        return
    mer, pop, ledger = model.merchants, model.population, model.ledger
    cash = ledger.merchant_cash[ids].copy()
    repay = np.clip(cash, 0, mer.capital_in[ids])
    if repay.any():
        ledger.transfer((MERCHANT, ids), "investors", repay, "closure.repay_investors")
    cash -= repay
    owned = mer.owner[ids] >= 0
    pos = owned & (cash > 0)
    if pos.any():
        ledger.transfer((MERCHANT, ids[pos]), (RESIDENT, mer.owner[ids[pos]]), cash[pos], "closure.settlement")
    rest = ~pos & (cash != 0)
    if rest.any():
        ledger.transfer((MERCHANT, ids[rest]), "outside_owners", cash[rest], "closure.settlement")
    staff = np.flatnonzero(np.isin(pop.employer, ids))
    owners = mer.owner[ids][owned]
    pop.owned[owners] = -1
    lose_jobs(model, np.concatenate([staff, owners]), model.streams["labour.losses"] if rng is None else rng)
    mer.open[ids] = False
    mer.closed_day[ids] = model.day
    mer.staff_local[ids] = 0
    mer.staff_outside[ids] = 0
    model.tally.deaths += len(ids)
    model.count_circle_events("deaths", mer.node[ids])
    shops = ids[~mer.mobile[ids]]
    model.vacancies.add(mer.node[shops], mer.category[shops], model.month)
    model.on_outlets_closed(ids, rng=rng)
    model.roles_changed(np.concatenate([staff, owners]))

