"""lifecircle: an agent-based simulation of 15-minute convenient life circles.

The engine lives in :mod:`sim` (scenario, city, services, economy, levers, metrics, batches, CLI);
the four Mesa agent types live in :mod:`agents`. Build a model with
``sim.model.LifeCircleModel(scenario=sim.scenario.load_scenario(path))``.
"""

__version__ = "0.1.0"
