"""Monthly accounts: incomes of residents, and merchants' wages, rent, costs, payouts and closures.

Mechanism (last day of each month):

* Wages accrue per work day (the month's Monday-to-Friday days / 21.75, the legal average of
  work days per month, MOHRSS 2008) and are paid by the merchant (local jobs), by outside
  employers (jobs outside the circle) or, for commuting shop staff, to outside workers.
* Pensions (pension fund), unemployment benefit (public budget) and gig pay (gig clients) are paid.
* Merchants pay rent (landlords; renovated public space is partly paid by the public budget),
  fixed operating costs and the cost of goods (suppliers), then pay out a share of any profit to
  their owner. A merchant (mobile vendors too) with ``closure_months`` consecutive losses and
  negative cash closes: its staff lose their jobs, its remaining cash repays its investors' capital
  and the rest goes to its owner (outside creditors absorb debts). Owners also leave for reasons
  the model does not follow (retirement, a move, a lease that ends) with ``exit_per_month``: a
  going concern (cash in hand, or not losing money month after month) is taken over and goes on
  trading (a transfer); a business in trouble closes.
* Residents spend ``1 - saving_rate`` of their income, less their typical service spending,
  outside the catalogue.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from sim.ledger import MERCHANT, RESIDENT
from sim.population import FREELANCER, NO_JOB, OUTSIDE_JOB, RETIRED, UNEMPLOYED

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

WORK_DAYS_PER_MONTH = 21.75


def work_days_through(day: dt.date) -> int:
    """Monday-to-Friday days from the first of ``day``'s month up to and including ``day``."""
    first = day.replace(day=1).toordinal()
    return sum(dt.date.fromordinal(d).weekday() < 5 for d in range(first, day.toordinal() + 1))


def merchant_costs(model: LifeCircleModel, ids: np.ndarray, revenue: np.ndarray, wage: int) -> dict[str, np.ndarray]:
    """A month's costs (fen) of merchants ``ids`` with the given revenue, by kind.

    Args:
        wage: What one employee is paid for the month, fen.
    """
    mer, money = model.merchants, model.catalogue.money
    cats = mer.category[ids]
    smart_saving = np.where(mer.smart[ids], model.smart_cost_saving(), 0.0)
    return {
        "wages_local": mer.staff_local[ids].astype(np.int64) * wage,
        "wages_outside": mer.staff_outside[ids].astype(np.int64) * wage,
        "rent": mer.rent[ids],
        "fixed": np.round(np.where(mer.mobile[ids], money["vendor_fixed_cost"], money["fixed_cost"])
                          * (1 - smart_saving)).astype(np.int64),
        "cogs": np.round(revenue * model.catalogue.cogs_share[cats] * (1 - smart_saving / 4)).astype(np.int64),
    }


def pay_month(model: LifeCircleModel, work_days: int) -> None:
    """Pay the month's incomes and merchants' accounts; close merchants that failed."""
    pop, ledger, money = model.population, model.ledger, model.catalogue.money
    day_share = work_days / WORK_DAYS_PER_MONTH

    outside = np.flatnonzero(pop.employer == OUTSIDE_JOB)
    wage_out = int(round(money["outside_wage"] * model.scenario.economy.wage_multiplier * day_share))
    _income(model, "outside_employers", outside, wage_out, "wage.outside")
    retired = np.flatnonzero(pop.status == RETIRED)
    _income(model, "pension_fund", retired, money["pension"], "pension")
    unemployed = np.flatnonzero(pop.status == UNEMPLOYED)
    _income(model, "public_budget", unemployed, money["unemployment_benefit"], "benefit.unemployment")
    _gig_pay(model)

    mer = model.merchants
    ids = mer.open_ids()
    revenue = mer.revenue_month[ids]
    wage = int(round(model.shop_wage_fen() * day_share))
    costs = merchant_costs(model, ids, revenue, wage)
    local = np.flatnonzero(pop.employer >= 0)
    if len(local):
        ledger.transfer((MERCHANT, pop.employer[local]), (RESIDENT, local), wage, "wage.shop")
        pop.income_month[local] += wage
    ledger.transfer((MERCHANT, ids), "outside_workers", costs["wages_outside"], "wage.commuters")
    ledger.transfer((MERCHANT, ids), "landlords", costs["rent"], "rent")
    support = mer.rent_support[ids]
    if support.any():
        ledger.transfer("public_budget", "landlords", support, "lever.renovation.rent")
    ledger.transfer((MERCHANT, ids), "suppliers", costs["fixed"], "operating_costs")
    ledger.transfer((MERCHANT, ids), "suppliers", costs["cogs"], "cost_of_goods")
    profit = revenue - sum(costs.values())
    mer.profit_last[ids] = profit
    payout = np.where(profit > 0, np.round(profit * model.scenario.economy.owner_payout_share), 0).astype(np.int64)
    owned = mer.owner[ids] >= 0
    if (owned & (payout > 0)).any():
        sel = owned & (payout > 0)
        ledger.transfer((MERCHANT, ids[sel]), (RESIDENT, mer.owner[ids[sel]]), payout[sel], "payout.owner")
        np.add.at(pop.income_month, mer.owner[ids[sel]], payout[sel])
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
    _other_spending(model)


def _income(model: LifeCircleModel, source: str, who: np.ndarray, amount: int, purpose: str) -> None:
    if len(who) and amount > 0:
        model.ledger.transfer(source, (RESIDENT, who), amount, purpose)
        model.population.income_month[who] += amount


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


def _other_spending(model: LifeCircleModel) -> None:
    """Residents spend (1 - saving rate) of income, less typical service spending, elsewhere."""
    pop, ledger = model.population, model.ledger
    wish = np.round((1 - model.scenario.economy.saving_rate) * pop.income_month - model.typical_service_spend).astype(np.int64)
    spend = np.clip(wish, 0, np.maximum(ledger.resident_cash, 0))
    if spend.any():
        ledger.transfer((RESIDENT, np.arange(pop.n)), "outside_consumption", spend, "other_consumption")


def transfer_businesses(model: LifeCircleModel, ids: np.ndarray) -> None:
    """Outlets whose owner leaves are taken over: they go on trading (same shop, staff, cash and
    customers), a resident owner leaves the business (retired at retirement age, else looking for
    work), and the new owner is from outside the circle."""
    if len(ids) == 0:
        return
    mer, pop = model.merchants, model.population
    owners = mer.owner[ids][mer.owner[ids] >= 0]
    pop.owned[owners] = -1
    pop.status[owners] = np.where(pop.elderly[owners], RETIRED, UNEMPLOYED)
    mer.owner[ids] = -1
    model.tally.transfers += len(ids)
    model.roles_changed(owners)


def close_merchants(model: LifeCircleModel, ids: np.ndarray) -> None:
    """Close merchants: staff laid off, owner out of business; cash repays the investors' capital
    first and the rest goes to the owner (a resident, or outside owners, who also absorb debts)."""
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
    pop.employer[staff] = NO_JOB
    pop.status[staff] = np.where(pop.elderly[staff], RETIRED, UNEMPLOYED)
    owners = mer.owner[ids][owned]
    pop.owned[owners] = -1
    pop.status[owners] = UNEMPLOYED
    mer.open[ids] = False
    mer.closed_day[ids] = model.day
    mer.staff_local[ids] = 0
    mer.staff_outside[ids] = 0
    model.tally.deaths += len(ids)
    shops = ids[~mer.mobile[ids]]
    model.vacancies.add(mer.node[shops], mer.category[shops], model.month)
    model.on_outlets_closed(ids)
    model.roles_changed(np.concatenate([staff, owners]))

