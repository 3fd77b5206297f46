"""Score statistics of the outlet-choice rule: how far each model's choices lean from what the rule
says, in walking minutes, relative price and crowding.

A resident who knows outlets in reach draws one with probability ``p_o`` proportional to
``exp(-walk_minute_weight * minutes_o - price_weight * (price_o / typical - 1) - crowding_weight
* min(load_o, 2))``. For any attribute ``x`` of the outlets, ``x_chosen - sum_o p_o x_o`` then has
mean zero whatever the world looks like -- so, averaged over a month's choices, it measures the rule
itself and hardly the city: it moves away from zero when a model weighs walks, prices or crowds
differently from the scenario (the derivative of the choice log-likelihood by each weight: a score
test). The docking computes it from both models' observed choices, with the scenario's weights.
"""

from __future__ import annotations

import numpy as np

from sim.scenario import EconomyConfig

SCORES = ("walk_score", "price_score", "crowding_score")
"""Minutes, relative price and load of the outlet chosen minus their expectation under the rule."""


def choice_scores(minutes: np.ndarray, price_term: np.ndarray, load: np.ndarray, drawable: np.ndarray,
                  chosen: np.ndarray, economy: EconomyConfig) -> np.ndarray:
    """Summed scores of a batch of choices.

    Args:
        minutes, price_term, load: (n, k) per choice and option: walking minutes, price / typical
            price - 1, and yesterday's visits wanted over capacity.
        drawable: (n, k) the options the resident could draw from (known, in reach, open).
        chosen: (n,) column of the option chosen.
        economy: The scenario's economy (the rule's weights).

    Returns:
        (3,) the sums over choices of the walk, price and crowding scores (:data:`SCORES`).
    """
    if len(chosen) == 0:
        return np.zeros(3)
    crowd = np.minimum(load, 2.0)
    utility = (-economy.walk_minute_weight * minutes - economy.price_weight * price_term
               - economy.crowding_weight * crowd)
    utility = np.where(drawable, utility, -np.inf)
    weight = np.exp(utility - utility.max(axis=1, keepdims=True))
    p = weight / weight.sum(axis=1, keepdims=True)
    rows = np.arange(len(chosen))
    out = np.zeros(3)
    for i, x in enumerate((minutes, price_term, crowd)):
        x = np.where(drawable, x, 0.0)
        out[i] = float((x[rows, chosen] - (p * x).sum(axis=1)).sum())
    return out
