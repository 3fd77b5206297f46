"""The Mesa discrete space of a district's streets, filled only when a view or a notebook asks.

:func:`attach_space` builds a :class:`mesa.discrete_space.Network` over the walking network (grid
and OpenStreetMap cities alike): one cell per street node, at the node's planar position in
metres. It becomes ``model.grid`` (where Mesa's own ``SolaraViz`` looks for a space) and every
agent is put in its cell: residents, freelancers and retirees at home, merchants at their outlet's
node. :func:`sync_space` brings the space up to date after steps (outlets that opened, closed or,
as mobile vendors, moved; residents whose role changed and so became a new agent).

The population arrays stay the truth: the space is a picture of them at view or notebook sizes.
A batch never attaches one, so the daily rules cost exactly the same with or without this module.

Movement goes through one function, :func:`move_to`; walking paths are the shortest paths along
the streets (:meth:`StreetSpace.path`), the same network distances the walking tables use.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
from mesa.discrete_space import CellAgent, Network
from scipy.sparse.csgraph import dijkstra

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

PATH_CACHE_SOURCES = 4096
"""Shortest-path trees kept (one per destination node asked about; a tree is one int32 and one
float64 per node: 4,096 trees of a 5,000-node district are about 250 MB at most)."""


class StreetSpace:
    """A district's street network as a Mesa ``Network`` space, with shortest walking paths.

    Args:
        model: The model whose city and agents to show.

    Attributes:
        network: The Mesa space (also ``model.grid``).
        cells: Cell of each street node (index = node id).
    """

    def __init__(self, model: LifeCircleModel) -> None:
        city = model.city
        n = city.graph.shape[0]
        graph = nx.Graph()
        graph.add_nodes_from(range(n))
        graph.add_edges_from(map(tuple, np.asarray(city.edges, dtype=np.int64).tolist()))
        layout = {node: city.node_xy[node] for node in range(n)}
        self.model = model
        self.network = Network(graph, layout=layout, random=model.random)
        self.cells = [self.network[node] for node in range(n)]
        self._trees: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def cell_of(self, node: int):  # noqa: ANN201 - a mesa Cell
        """The cell of street node ``node``."""
        return self.cells[int(node)]

    def _tree(self, target: int) -> tuple[np.ndarray, np.ndarray]:
        """(predecessor towards ``target``, metres to ``target``) of every node."""
        hit = self._trees.get(target)
        if hit is None:
            dist, pred = dijkstra(self.model.city.graph, directed=True, indices=target, return_predecessors=True)
            hit = (pred.astype(np.int32), dist)
            self._trees[target] = hit
            if len(self._trees) > PATH_CACHE_SOURCES:
                self._trees.popitem(last=False)
        else:
            self._trees.move_to_end(target)
        return hit

    def path(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """The shortest walking path from ``start`` to ``end`` along the streets.

        Returns:
            (nodes from start to end inclusive, metres walked on reaching each of them); a single
            node when start is end, and empty arrays when no path exists.
        """
        start, end = int(start), int(end)
        pred, dist = self._tree(end)
        if not np.isfinite(dist[start]):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        nodes = [start]
        while nodes[-1] != end:
            nodes.append(int(pred[nodes[-1]]))
        nodes = np.array(nodes, dtype=np.int64)
        return nodes, dist[start] - dist[nodes]


def attach_space(model: LifeCircleModel) -> StreetSpace:
    """Build the street space of ``model`` (once), put every agent in its cell, and return it.

    The space is ``model.street_space``; its Mesa ``Network`` is ``model.grid``.
    """
    space = vars(model).get("street_space")  # attached at most once; a batch never has one
    if space is None:
        space = StreetSpace(model)
        model.street_space = space
        model.grid = space.network
    sync_space(model)
    return space


def move_to(agent: CellAgent, node: int) -> None:
    """Move ``agent`` to the cell of street node ``node`` (the one way agents move in the space)."""
    agent.cell = agent.model.street_space.cell_of(node)


def home_node(agent: CellAgent) -> int:
    """Where ``agent`` belongs when nobody is walking: a resident's home, an outlet's node."""
    if hasattr(agent, "resident_id"):
        return int(agent.model.population.home[agent.resident_id])
    return int(agent.model.merchants.node[agent.merchant_id])


def sync_space(model: LifeCircleModel) -> None:
    """Put every agent that has no cell yet in its place, and move outlets whose node changed.

    Residents who are out on a shown day's trip keep their cell; :class:`sim.view.animation.DayAnimation`
    brings them home.
    """
    space: StreetSpace = model.street_space
    cells = space.cells
    home = model.population.home
    for idx, agent in model.resident_agents.items():
        if agent.cell is None:
            agent.cell = cells[home[idx]]
    node = model.merchants.node
    for m, agent in model.merchant_agents.items():
        cell = cells[node[m]]
        if agent.cell is not cell:
            agent.cell = cell
