"""Employment inside the community: merchants prefer nearby residents.

The share of shop vacancies filled by residents rises towards ``local_hire_share`` with the
lever's strength, and each such vacancy is offered first to the nearest job seeker living within
``max_commute_minutes`` of the shop (planning walk speed), then to any seeker in the circle.
"""

from __future__ import annotations

import numpy as np

from sim.levers.base import Lever


class LocalHiring(Lever):
    name = "local_hiring"
    measure = "employment inside the community"
    mechanism = "merchants fill more vacancies with residents, nearest seekers first"
    indicator = "local_job_share; employment barely (residents hired locally would mostly have found a job outside) and mean income falls a little (shop jobs pay less)"
    claims = (("local_job_share", +1),)
    overrides = {"local_hire_share": "local_hire_share"}

    def match_nearby(self, model, vacancies: np.ndarray, seekers: np.ndarray, rng: np.random.Generator):
        """Pair vacancies with seekers, nearest first; returns (merchant ids, resident ids)."""
        limit = self.config.max_commute_minutes * model.scenario.population.walk_speed_m_per_min
        available = np.ones(len(seekers), dtype=bool)
        home = model.population.home[seekers]
        jobs, people = [], []
        distance_cache: dict[int, np.ndarray] = {}
        for m in vacancies:
            if not available.any():
                break
            node = int(model.merchants.node[m])
            if node not in distance_cache:
                dist = np.full(model.city.graph.shape[0], np.inf)
                nodes, d = model.nodes_within(node, limit)
                dist[nodes] = d
                distance_cache[node] = dist
            d = np.where(available, distance_cache[node][home], np.inf)
            pick = int(np.argmin(d)) if np.isfinite(d).any() else int(np.flatnonzero(available)[0])
            available[pick] = False
            jobs.append(int(m))
            people.append(int(seekers[pick]))
        return np.array(jobs, dtype=np.int64), np.array(people, dtype=np.int64)
