"""The city interface every city implements, and the synthetic grid city.

A city is a walking network (nodes with planar coordinates in metres, edges with lengths in metres)
plus where people live, where shop space is and which blocks are old communities. Residents and
outlets sit on nodes; walking time is the shortest path along the network divided by each
person's walk speed (:mod:`sim.city.walk`). The road-network city (:mod:`sim.city.osm`) implements the
same interface, so the model, levers and indicators run on either unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from sim.services.catalogue import Catalogue
    from sim.scenario import Scenario


@runtime_checkable
class City(Protocol):
    """What the model needs from a city.

    Attributes:
        name: The district's name, printed on the scorecard and the map.
        attribution: Data attribution to print with any output ("" for synthetic cities).
        node_xy: (n, 2) planar node coordinates, metres.
        graph: (n, n) symmetric sparse matrix of walking-edge lengths, metres.
        edges: (m, 2) node pairs of the walking edges (for drawing).
        area_km2: Area of the district, square kilometres.
        residential_weight: (n,) relative number of residents living at each node (sums > 0).
        commercial: (n,) True where there is shop space for a new outlet.
        old_blocks: (n,) True for nodes in old communities (renovation targets).
    """

    name: str
    attribution: str
    node_xy: np.ndarray
    graph: sp.csr_array
    edges: np.ndarray
    area_km2: float
    residential_weight: np.ndarray
    commercial: np.ndarray
    old_blocks: np.ndarray

    def initial_outlets(
        self, catalogue: Catalogue, residents: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The outlets open on day one, as (node ids, category ids)."""
        ...


@dataclass
class GridCity:
    """A synthetic grid of streets: intersections are nodes, block sides are edges.

    The south-west ``old_block_share`` of the grid is old communities with a third of the usual
    street-front shop space, so that coverage there starts lower (as in pre-2000 estates).
    """

    blocks_x: int
    blocks_y: int
    block_m: float
    commercial_share: float
    old_block_share: float
    rng: np.random.Generator = field(repr=False)
    name: str = "grid city"
    attribution: str = ""

    def __post_init__(self) -> None:
        nx, ny = self.blocks_x + 1, self.blocks_y + 1
        ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="xy")
        self.node_xy = np.column_stack([ix.ravel(), iy.ravel()]).astype(np.float64) * self.block_m
        node = np.arange(nx * ny).reshape(ny, nx)
        horizontal = np.column_stack([node[:, :-1].ravel(), node[:, 1:].ravel()])
        vertical = np.column_stack([node[:-1, :].ravel(), node[1:, :].ravel()])
        self.edges = np.vstack([horizontal, vertical])
        self.graph = edges_to_graph(self.edges, np.full(len(self.edges), self.block_m), nx * ny)
        self.area_km2 = max(self.blocks_x * self.blocks_y * self.block_m**2 / 1e6, 1e-6)
        self.residential_weight = np.ones(nx * ny)
        # Old communities: the south-west corner holding old_block_share of the nodes.
        side = np.sqrt(self.old_block_share)
        self.old_blocks = (ix.ravel() < side * nx) & (iy.ravel() < side * ny)
        if self.old_block_share <= 0:
            self.old_blocks[:] = False
        shop_chance = np.where(self.old_blocks, self.commercial_share / 3, self.commercial_share)
        self.commercial = self.rng.random(nx * ny) < shop_chance
        if not self.commercial.any():
            self.commercial[self.rng.integers(nx * ny)] = True

    @classmethod
    def from_scenario(cls, scenario: Scenario, rng: np.random.Generator) -> GridCity:
        """The grid city a scenario describes."""
        c = scenario.city
        return cls(
            blocks_x=c.blocks_x, blocks_y=c.blocks_y, block_m=c.block_m,
            commercial_share=c.commercial_share, old_block_share=c.old_block_share, rng=rng,
            name=f"grid city {c.blocks_x}x{c.blocks_y} blocks of {c.block_m:g} m",
        )

    def initial_outlets(
        self, catalogue: Catalogue, residents: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``per_10k`` outlets per 10,000 residents for each category, on random shop-space nodes."""
        return outlets_by_density(self.commercial, catalogue, residents, rng)


def outlets_by_density(
    commercial: np.ndarray, catalogue: Catalogue, residents: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Place ``round(per_10k * residents / 10,000)`` outlets of each category on shop-space nodes."""
    shop_nodes = np.flatnonzero(commercial)
    counts = np.round(catalogue.per_10k * residents / 10_000).astype(np.int64)
    counts = np.where((catalogue.per_10k > 0) & (counts == 0), 1, counts)
    categories = np.repeat(np.arange(catalogue.n), counts)
    nodes = shop_nodes[rng.integers(len(shop_nodes), size=len(categories))]
    return nodes.astype(np.int64), categories.astype(np.int64)


def edges_to_graph(edges: np.ndarray, lengths_m: np.ndarray, n_nodes: int) -> sp.csr_array:
    """A symmetric sparse walking graph from undirected edges (the shortest of parallel edges kept)."""
    u = np.concatenate([edges[:, 0], edges[:, 1]])
    v = np.concatenate([edges[:, 1], edges[:, 0]])
    w = np.concatenate([lengths_m, lengths_m]).astype(np.float64)
    keep = u != v
    u, v, w = u[keep], v[keep], w[keep]
    # Keep the shortest of parallel edges: sort by length descending so the last write wins.
    order = np.lexsort((-w, v, u))
    u, v, w = u[order], v[order], w[order]
    last = np.ones(len(u), dtype=bool)
    last[:-1] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    graph = sp.csr_array((w[last], (u[last], v[last])), shape=(n_nodes, n_nodes))
    graph.sort_indices()
    return graph


def build_city(scenario: Scenario, rng: np.random.Generator) -> City:
    """The city a scenario names (grid, or a real district from an OSM file)."""
    if scenario.city.kind == "grid":
        return GridCity.from_scenario(scenario, rng)
    from sim.city.osm import OsmCity  # only real-district runs pay for the OSM readers

    return OsmCity.from_scenario(scenario, rng)
