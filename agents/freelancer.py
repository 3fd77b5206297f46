"""A freelancer: a resident in platform gig work (instant-retail delivery, catering, online training)."""

from __future__ import annotations

from agents.resident import Resident


class Freelancer(Resident):
    """A resident whose labour status is freelancer; earns per task from gig clients and deliveries."""

    @property
    def trained(self) -> bool:
        """Trained under the flexible-employment lever (earns more per task)."""
        return bool(self.model.population.trained[self.resident_id])
