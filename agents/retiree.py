"""A retiree: a resident of retirement age with a pension, who may volunteer or want work."""

from __future__ import annotations

from agents.resident import Resident


class Retiree(Resident):
    """A retired resident: draws a pension, walks slower, needs more care, may volunteer."""

    @property
    def pension(self) -> float:
        """This retiree's own monthly pension, CNY (drawn around the catalogue's median; what the
        accounts pay)."""
        return self.model.population.pension[self.resident_id] / 100

    @property
    def volunteering(self) -> bool:
        """Volunteers in community services this month."""
        return bool(self.model.population.volunteer[self.resident_id])

    @property
    def wants_work(self) -> bool:
        """Wants paid work (served by the re-employment service)."""
        return bool(self.model.population.wants_work[self.resident_id])
