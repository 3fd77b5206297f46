"""The per-agent reference model: the life circle's rules written a second time, agent by agent,
the plain Mesa way -- a specification to read rule by rule, and the yardstick the engine
(:mod:`sim.model`) is docked against (:mod:`benchmarks.reference.docking`) and timed against
(``benchmarks/bench_model.py``).

**Its own world.** From the scenario and the seed it builds its own households, residents, outlets
and walking distances, with its own random draws (Mesa's ``model.random`` and ``model.rng``, seeded
by ``rng=seed``). Residents and outlets are ``CellAgent`` agents standing in a
``mesa.discrete_space.Network`` of the streets (``model.grid``); one step is one day on Mesa's clock
(``model.run_for(days)``). Only input data is read with the engine's loaders: the service catalogue
(:func:`sim.services.catalogue.load_catalogue`) and the street network with its shop space
(:func:`sim.city.grid.build_city`, given the seed's ``"city"`` stream, so that both models of a seed walk
the same streets); on a real district the mapped shops (``City.initial_outlets``) too. Walking
distances are networkx Dijkstra (:mod:`benchmarks.reference.streets`), not the engine's tables.

**What it covers** (one concept per file):

* :mod:`~benchmarks.reference.resident` -- needs (with the children's, carried by a carer),
  lockers and vending, outlet choice (logit in walking time, price and crowding, among the known
  of the k nearest), searching, orders, affordability, the second try of walk-ins turned away;
  income, job changes, word of mouth, movers.
* :mod:`~benchmarks.reference.merchant` -- attraction, capacity, payments, the monthly accounts
  (wages, rent, fixed costs, cost of goods, payouts), closure after ``closure_months`` losing
  months with negative cash, exits and hand-overs.
* :mod:`~benchmarks.reference.household` -- dibao, pooled cash, spending after necessities.
* :mod:`~benchmarks.reference.labour` -- separations, vacancies and local hiring, jobs outside,
  gig work, participation.
* :mod:`~benchmarks.reference.entry` -- successors, would-be entrants (each weighs the best of
  ``sites_considered`` premises), resident founders, the market study, licences and openings.
* :mod:`~benchmarks.reference.levers` -- the platform, lockers and siting levers.
* :mod:`~benchmarks.reference.outlet_map`, :mod:`~benchmarks.reference.streets` -- where outlets are.
* :mod:`~benchmarks.reference.tally`, :mod:`~benchmarks.reference.records` -- counts and indicators.
* :mod:`~benchmarks.reference.model` -- the day and the month, in the engine's order.

Each rule is the engine's rule stated once more per agent; where the engine draws a quantity for a
whole population at once (a uniformly random subset of visits at a full outlet, Poisson needs per
category), the reference reaches the same distribution its own way (residents act in a random order
and a full outlet turns the late-comers away; one Poisson total per resident and each need's
category in proportion to its rate).

**Not covered:** the other eleven levers (smart stores, service map, local hiring, flexible
employment, graduate start-ups, disability priority, retirees, governance, renovation, licences,
mobile vendors), mobile vendors' moves, checkpoints and the indicators the docking does not compare.

**Where it differs on purpose.** The entry market study reads each rival's own attraction; the
engine reads the attraction of the outlet that held each rank of the choice table when the day's
tables were made, which lags a closure made at that month end by one day. Residents' courier pay
for the day's deliveries arrives after the day's first tries (the engine pays it then too, in one
settlement pass).
"""

from benchmarks.reference.household import Household
from benchmarks.reference.merchant import Merchant
from benchmarks.reference.model import ReferenceModel
from benchmarks.reference.resident import Resident

__all__ = ["Household", "Merchant", "ReferenceModel", "Resident"]
