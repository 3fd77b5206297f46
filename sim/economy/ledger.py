"""The ledger: the one way money moves, and the check that it is conserved to the fen.

Money is held as integer fen. Residents' and merchants' cash live in arrays here (the agents read
them); everything outside the circle is a named external account (a source such as the pension
fund, a sink such as landlords). Every transfer goes through :meth:`Ledger.transfer`, which moves
the same amount out of one account and into another and books it under a purpose, so that public
spending per lever and any other flow can be read off :attr:`Ledger.flows` -- except the day's
walk-in purchases and parcel fees, which the compiled settlement loop moves between the cash
arrays itself and books in one :meth:`Ledger.booked` call. The daily :meth:`Ledger.check` covers
both.

Money must not only be conserved but go where it belongs: every transfer and booking is checked
against :data:`TRANSFERS`, the table of who may pay whom for what (the kind of the paying account,
the kind of the receiving one, the purpose). A payment that matches no row -- wages paid to the
landlords, a subsidy paid to residents -- raises :class:`TransferNotAllowed` at once, before any
money moves. A new kind of payment is one new row of the table (see :class:`Transfer`).

:meth:`Ledger.accounts_csv` is the accounts summary written beside every run's outputs: the money
held by each account and sector at the start of the run and at its end.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from sim.services.kernels import scatter_add

EXTERNAL_ACCOUNTS = (
    "outside_employers",    # pay wages of residents who work outside the circle
    "pension_fund",         # pays pensions
    "public_budget",        # pays benefits and every lever's subsidies; receives permit fees
    "landlords",            # receive shop rent
    "suppliers",            # receive the cost of goods and fixed operating costs
    "outside_workers",      # receive wages of shop staff who commute in
    "outside_owners",       # receive payouts of merchants not owned by a resident; absorb their debts
    "investors",            # fund the start-up cost of new outlets not founded by residents
    "fit_out_and_licences", # receive start-up costs
    "gig_clients",          # pay freelancers for gig tasks from outside the circle
    "asset_returns",        # pay households' property income (rent, interest, dividends from outside)
    "couriers",             # pay parcel points (or locker operators) per parcel
    "platform",             # receives commission and its share of delivery fees
    "technology_vendors",   # receive smart-store adoption and locker/vending installation costs
    "automated_outlets",    # operators of lockers and vending points: receive their sales
    "outside_consumption",  # everything residents buy that the catalogue does not model
)

RESIDENT = "resident"
MERCHANT = "merchant"

SECTORS = {
    RESIDENT: "households", MERCHANT: "merchants",
    "public_budget": "government", "pension_fund": "government",
    "platform": "platform and automated outlets", "automated_outlets": "platform and automated outlets",
}
"""The sector of each account in the accounts summary; every other external account is the
economy outside the circle (``"outside"``)."""


@dataclass(frozen=True)
class Transfer:
    """One row of :data:`TRANSFERS`: a kind of payment the model may make.

    Attributes:
        source: Kind of the paying account: ``"resident"``, ``"merchant"`` or an external account.
        target: Kind of the receiving account (same forms).
        purpose: The purpose, exactly (``"rent"``), or a prefix ending in ``*`` that admits every
            purpose starting with it (``"lever.lockers.*"``).
        what: What the payment is, in a few words (documentation).
    """

    source: str
    target: str
    purpose: str
    what: str

    def admits(self, source: str, target: str, purpose: str) -> bool:
        """Whether a payment from ``source`` to ``target`` for ``purpose`` is of this kind."""
        if (source, target) != (self.source, self.target):
            return False
        if self.purpose.endswith("*"):
            return purpose.startswith(self.purpose[:-1])
        return purpose == self.purpose


TRANSFERS: tuple[Transfer, ...] = (
    # Incomes of residents.
    Transfer("outside_employers", RESIDENT, "wage.outside", "wages of residents who work outside the circle"),
    Transfer("pension_fund", RESIDENT, "pension", "pensions"),
    Transfer("public_budget", RESIDENT, "benefit.unemployment", "unemployment benefit"),
    Transfer(MERCHANT, RESIDENT, "wage.shop", "wages of shop staff living in the circle"),
    Transfer("gig_clients", RESIDENT, "gig", "pay for gig tasks from clients outside the circle"),
    Transfer("asset_returns", RESIDENT, "property_income", "households' rent, interest and dividends"),
    Transfer("public_budget", RESIDENT, "benefit.dibao", "minimum living guarantee (dibao) top-up"),
    Transfer(MERCHANT, RESIDENT, "payout.owner", "profit paid out to a resident owner"),
    Transfer(MERCHANT, RESIDENT, "closure.settlement", "a closing merchant's cash to its resident owner"),
    Transfer(MERCHANT, "investors", "closure.repay_investors", "a closing merchant's cash back to its investors, first"),
    Transfer(RESIDENT, RESIDENT, "delivery", "the courier's share of a delivery fee, to the freelancer"),
    Transfer(RESIDENT, RESIDENT, "household.pooling", "members of a household sharing their cash"),
    # Residents' spending.
    Transfer(RESIDENT, MERCHANT, "purchase", "walk-in purchases"),
    Transfer(RESIDENT, MERCHANT, "purchase.online", "orders through the platform, net of commission"),
    Transfer(RESIDENT, "platform", "platform.commission", "the platform's commission on orders"),
    Transfer(RESIDENT, "platform", "delivery", "the platform's share of delivery fees"),
    Transfer(RESIDENT, "automated_outlets", "vending", "purchases at vending points"),
    Transfer(RESIDENT, "outside_consumption", "other_consumption", "spending the catalogue does not model"),
    # Merchants' costs and owners.
    Transfer(MERCHANT, "outside_workers", "wage.commuters", "wages of shop staff commuting in"),
    Transfer(MERCHANT, "landlords", "rent", "shop rent"),
    Transfer(MERCHANT, "suppliers", "operating_costs", "fixed operating costs"),
    Transfer(MERCHANT, "suppliers", "cost_of_goods", "cost of goods sold"),
    Transfer(MERCHANT, "outside_owners", "payout.owner", "profit paid out to an owner outside the circle"),
    Transfer(MERCHANT, "outside_owners", "closure.settlement",
             "a closing merchant's cash to an outside owner (a debt, when negative, absorbed by it)"),
    Transfer(MERCHANT, "technology_vendors", "smart_store_adoption", "a store's own share of digitalising"),
    # Opening outlets.
    Transfer("investors", MERCHANT, "capital", "start-up cost and working capital of a new outlet"),
    Transfer(MERCHANT, "fit_out_and_licences", "startup_cost", "fit-out and licences of a new outlet"),
    # Parcels.
    Transfer("couriers", MERCHANT, "parcel_fee", "parcel points' fee per parcel"),
    Transfer("couriers", "automated_outlets", "parcel_fee.locker", "lockers' fee per parcel"),
    # Public spending on levers (read by the public_spending indicators: purposes "lever.<name>.*").
    Transfer("public_budget", "technology_vendors", "lever.smart_stores.subsidy", "smart-store adoption subsidy"),
    Transfer("public_budget", "technology_vendors", "lever.lockers.*", "installing lockers and vending points"),
    Transfer("public_budget", "suppliers", "lever.flexible_employment.training", "training freelancers"),
    Transfer("public_budget", MERCHANT, "lever.graduate_startups.subsidy", "graduates' start-up subsidy"),
    Transfer("public_budget", "landlords", "lever.renovation.rent", "rent discount on renovated space"),
    Transfer("public_budget", "fit_out_and_licences", "lever.governance.sites",
             "fitting out public shop space with the city budget"),
    Transfer("public_budget", "landlords", "lever.governance.rent", "rent discount on city-budget sites"),
    Transfer("public_budget", MERCHANT, "lever.governance.operating", "operating subsidy of outlets on city-budget sites"),
    Transfer(MERCHANT, "public_budget", "lever.mobile_vendors.permit", "mobile vendors' stall permits"),
)
"""Who may pay whom for what: every transfer and booking must match one row.

To add a kind of payment (e.g. repaying investors when an outlet closes), add a row here -- source
and target as account kinds, the purpose exactly or as a ``prefix*`` -- next to the code that
pays it; the ledger then admits it and the accounts summary and flows show it."""

_admitted: set[tuple[str, str, str]] = set()  # (source, target, purpose) already matched to a row


class ConservationError(AssertionError):
    """Money was created or destroyed."""


class TransferNotAllowed(AssertionError):
    """A payment that matches no row of :data:`TRANSFERS` (money sent to the wrong account)."""


def check_transfer(source: str, target: str, purpose: str) -> None:
    """Raise :class:`TransferNotAllowed` unless a row of :data:`TRANSFERS` admits this payment.

    Args:
        source: Kind of the paying account (``"resident"``, ``"merchant"`` or an external account).
        target: Kind of the receiving account.
        purpose: The payment's purpose.
    """
    key = (source, target, purpose)
    if key in _admitted:
        return
    if any(rule.admits(source, target, purpose) for rule in TRANSFERS):
        _admitted.add(key)
        return
    same = [f"{r.source} -> {r.target}" for r in TRANSFERS if r.admits(r.source, r.target, purpose)]
    allowed = (f"'{purpose}' may go only {', '.join(same)}" if same
               else f"no row of the table has purpose '{purpose}'")
    raise TransferNotAllowed(
        f"ledger: {source} -> {target} for '{purpose}' is not an allowed transfer; {allowed}. Every payment "
        f"must match a row of sim.economy.ledger.TRANSFERS (add a row there for a new kind of payment)")


class Ledger:
    """Cash of every account, and the transfers between them.

    Attributes:
        resident_cash: (N,) int64 cash of each resident, fen.
        merchant_cash: (M,) int64 cash of each merchant (closed ones hold 0), fen.
        external: Balance of each external account, fen (sources go negative).
        flows: Cumulative fen moved, keyed by (from account, to account, purpose).
    """

    def __init__(self, resident_cash: np.ndarray) -> None:
        self.resident_cash = np.asarray(resident_cash, dtype=np.int64).copy()
        self.merchant_cash = np.zeros(0, dtype=np.int64)
        self.external: dict[str, int] = {name: 0 for name in EXTERNAL_ACCOUNTS}
        # The initial cash came from somewhere: book it against outside employers' past wages.
        self.external["outside_employers"] = -int(self.resident_cash.sum())
        self.flows: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self._total = self.total()
        self.opening: dict[str, int] | None = None
        """Balances at the start of the run (:meth:`mark_opening`; the first :meth:`check` sets them)."""

    def reset_total(self) -> None:
        """Take the current total as the one to conserve (after the books are restored from a
        checkpoint)."""
        self._total = self.total()

    def total(self) -> int:
        """Sum of all accounts, fen; constant for the life of the model."""
        return int(self.resident_cash.sum()) + int(self.merchant_cash.sum()) + sum(self.external.values())

    def add_merchants(self, count: int) -> None:
        """Open accounts (at zero) for ``count`` new merchants."""
        self.merchant_cash = np.concatenate([self.merchant_cash, np.zeros(count, dtype=np.int64)])

    def _side(self, account: str | tuple[str, np.ndarray], amount: np.ndarray, sign: int) -> int:
        if isinstance(account, str):
            if account not in self.external:
                raise KeyError(f"unknown ledger account {account!r}; known: {', '.join(self.external)}")
            total = int(amount.sum())
            self.external[account] += sign * total
            return total
        kind, idx = account
        arr = self.resident_cash if kind == RESIDENT else self.merchant_cash
        idx = np.asarray(idx, dtype=np.int64)
        if idx.ndim == 0:
            arr[idx] += sign * int(amount.sum())
        else:
            scatter_add(arr, idx, amount, sign)
        return int(amount.sum())

    def transfer(
        self,
        source: str | tuple[str, np.ndarray],
        target: str | tuple[str, np.ndarray],
        amount: int | np.ndarray,
        purpose: str,
    ) -> int:
        """Move ``amount`` fen from ``source`` to ``target``; returns the total moved.

        Args:
            source: An external account name, or ``("resident" | "merchant", ids)``.
            target: Same forms as ``source``.
            amount: Fen per id (an array aligned with the ids), or one integer.
            purpose: What the money is for (``"rent"``, ``"subsidy.smart_stores"`` ...).
        """
        key = (source if isinstance(source, str) else source[0],
               target if isinstance(target, str) else target[0], purpose)
        check_transfer(*key)
        amount = np.atleast_1d(np.asarray(amount, dtype=np.int64))
        for side in (source, target):
            if not isinstance(side, str):
                n = np.size(side[1])
                if amount.size not in (1, n):
                    raise ValueError(f"{purpose}: {amount.size} amounts for {n} accounts")
        if amount.size == 1:
            sizes = [np.size(s[1]) for s in (source, target) if not isinstance(s, str)]
            if sizes and sizes[0] > 1:
                amount = np.full(sizes[0], amount[0], dtype=np.int64)
        moved_out = self._side(source, amount, -1)
        self._side(target, amount, +1)
        self.flows[key] += moved_out
        return moved_out

    def among_residents(self, payers: np.ndarray, paid: np.ndarray, payees: np.ndarray, received: np.ndarray,
                        purpose: str) -> int:
        """Move money among residents: ``payers`` give ``paid`` fen each, ``payees`` get
        ``received`` fen each (the two sums must be equal); booked as one resident-to-resident
        flow. Returns the total moved."""
        check_transfer(RESIDENT, RESIDENT, purpose)
        paid, received = np.asarray(paid, dtype=np.int64), np.asarray(received, dtype=np.int64)
        total = int(paid.sum())
        if total != int(received.sum()):
            raise ConservationError(f"{purpose}: residents pay {total} fen but receive {int(received.sum())} fen")
        scatter_add(self.resident_cash, np.asarray(payers, dtype=np.int64), paid, -1)
        scatter_add(self.resident_cash, np.asarray(payees, dtype=np.int64), received, +1)
        self.flows[(RESIDENT, RESIDENT, purpose)] += total
        return total

    def booked(self, source: str, target: str, purpose: str, total: int) -> None:
        """Book a transfer whose resident and merchant cash a compiled loop has already moved
        (:func:`sim.services.kernels.settle_visits`): ``source`` and ``target`` are ``"resident"``,
        ``"merchant"`` or an external account, whose balance is moved here. The daily
        :meth:`check` covers these transfers like any other."""
        check_transfer(source, target, purpose)
        total = int(total)
        for account, sign in ((source, -1), (target, +1)):
            if account in (RESIDENT, MERCHANT):
                continue
            if account not in self.external:
                raise KeyError(f"unknown ledger account {account!r}; known: {', '.join(self.external)}")
            self.external[account] += sign * total
        self.flows[(source, target, purpose)] += total

    SERVICE_PURPOSES = ("purchase", "purchase.online", "platform.commission", "delivery", "vending")
    """What residents pay for the catalogue's services: walk-ins, orders, their fees, vending."""

    def service_spending(self) -> int:
        """Fen residents have paid for services since the start (cumulative)."""
        return sum(v for (source, _, purpose), v in self.flows.items()
                   if source == RESIDENT and purpose in self.SERVICE_PURPOSES)

    def spent_on(self, prefix: str, account: str = "public_budget") -> int:
        """Fen paid out of ``account`` for purposes starting with ``prefix`` (e.g. ``"lever."``)."""
        paid = sum(v for (s, _, p), v in self.flows.items() if s == account and p.startswith(prefix))
        back = sum(v for (_, t, p), v in self.flows.items() if t == account and p.startswith(prefix))
        return paid - back

    def check(self) -> None:
        """Raise :class:`ConservationError` unless the total is what it was at the start.

        The first check (the model makes it when it is built) also records the opening balances."""
        now = self.total()
        if now != self._total:
            raise ConservationError(f"money not conserved: total {now} fen, expected {self._total} fen")
        if self.opening is None:
            self.mark_opening()

    # ------------------------------------------------------------------ accounts summary

    def balances(self) -> dict[str, int]:
        """Money held now, fen: all residents together, all merchants together, each external account."""
        return {RESIDENT: int(self.resident_cash.sum()), MERCHANT: int(self.merchant_cash.sum()), **self.external}

    def mark_opening(self) -> None:
        """Record the current balances as the start of the run (e.g. at the end of a warm-up)."""
        self.opening = self.balances()

    def accounts(self) -> list[dict[str, object]]:
        """The accounts summary: one row per account with its sector, the money it held at the start
        and now (CNY; sources such as the pension fund go negative as they pay out), the change, and a
        last ``total`` row whose start and end are equal when money was conserved."""
        start = self.opening if self.opening is not None else self.balances()
        end = self.balances()
        rows: list[dict[str, object]] = []
        for account in end:
            rows.append({"account": account, "sector": SECTORS.get(account, "outside"),
                         "start_cny": start.get(account, 0) / 100, "end_cny": end[account] / 100,
                         "change_cny": (end[account] - start.get(account, 0)) / 100})
        rows.append({"account": "total", "sector": "", "start_cny": sum(start.values()) / 100,
                     "end_cny": sum(end.values()) / 100,
                     "change_cny": (sum(end.values()) - sum(start.values())) / 100})
        return rows

    def accounts_csv(self) -> str:
        """:meth:`accounts` as CSV text (``accounts.csv`` of a run's outputs)."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["account", "sector", "start_cny", "end_cny", "change_cny"],
                                lineterminator="\n")
        writer.writeheader()
        for row in self.accounts():
            writer.writerow({k: (f"{v:.2f}" if isinstance(v, float) else v) for k, v in row.items()})
        return buf.getvalue()
