"""The ledger: the one way money moves, and the check that it is conserved to the fen.

Money is held as integer fen. Residents' and merchants' cash live in arrays here (the agents read
them); everything outside the circle is a named external account (a source such as the pension
fund, a sink such as landlords). Every transfer goes through :meth:`Ledger.transfer`, which moves
the same amount out of one account and into another and books it under a purpose, so that public
spending per lever and any other flow can be read off :attr:`Ledger.flows` -- except the day's
walk-in purchases and parcel fees, which the compiled settlement loop moves between the cash
arrays itself and books in one :meth:`Ledger.booked` call. The daily :meth:`Ledger.check` covers
both.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from sim.kernels import scatter_add

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
    "couriers",             # pay parcel points (or locker operators) per parcel
    "platform",             # receives commission and its share of delivery fees
    "technology_vendors",   # receive smart-store adoption and locker/vending installation costs
    "automated_outlets",    # operators of lockers and vending points: receive their sales
    "outside_consumption",  # everything residents buy that the catalogue does not model
)

RESIDENT = "resident"
MERCHANT = "merchant"


class ConservationError(AssertionError):
    """Money was created or destroyed."""


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
        key = (source if isinstance(source, str) else source[0],
               target if isinstance(target, str) else target[0], purpose)
        self.flows[key] += moved_out
        return moved_out

    def booked(self, source: str, target: str, purpose: str, total: int) -> None:
        """Book a transfer whose resident and merchant cash a compiled loop has already moved
        (:func:`sim.kernels.settle_visits`): ``source`` and ``target`` are ``"resident"``,
        ``"merchant"`` or an external account, whose balance is moved here. The daily
        :meth:`check` covers these transfers like any other."""
        total = int(total)
        for account, sign in ((source, -1), (target, +1)):
            if account in (RESIDENT, MERCHANT):
                continue
            if account not in self.external:
                raise KeyError(f"unknown ledger account {account!r}; known: {', '.join(self.external)}")
            self.external[account] += sign * total
        self.flows[(source, target, purpose)] += total

    def spent_on(self, prefix: str, account: str = "public_budget") -> int:
        """Fen paid out of ``account`` for purposes starting with ``prefix`` (e.g. ``"lever."``)."""
        paid = sum(v for (s, _, p), v in self.flows.items() if s == account and p.startswith(prefix))
        back = sum(v for (_, t, p), v in self.flows.items() if t == account and p.startswith(prefix))
        return paid - back

    def check(self) -> None:
        """Raise :class:`ConservationError` unless the total is what it was at the start."""
        now = self.total()
        if now != self._total:
            raise ConservationError(f"money not conserved: total {now} fen, expected {self._total} fen")
