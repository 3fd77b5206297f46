"""How much memory a run will need, estimated before it starts, and whether this machine has it.

The schema allows sizes (20 million residents, 3,000 x 3,000 blocks) that no laptop holds; such a
run used to grow until the operating system killed it, after minutes of work and with no message.
:func:`estimate` gives the peak resident memory of one run from its sizes, and :func:`check_fits`
refuses -- before anything is built -- a run that would not fit in the memory this machine has free
(a :class:`~sim.scenario.ScenarioError`, exit status 2, with the estimate in the message).

The coefficients were measured (peak RSS, ``resource.getrusage``) on the grid city with every Mesa
agent view made (a run makes them only when something asks for them: 300,000 residents peaked at
424 MB without, 481 MB with them): about 235-300 MB for the interpreter and libraries, ~0.6 kB
per resident (population arrays, agents, outlets in proportion, daily buffers: 1,000,000
residents peak at ~890 MB) and ~3.1 kB per street intersection (walking tables and per-node
arrays; 300 x 300 blocks add ~280 MB), plus the indicator records; and, for a population of
several blocks, numba compiling the parallel loops on the first run after installing (~210 MB).
Each is rounded up by about a quarter, so the estimate errs on the safe side. A real district's
street network is estimated from its file's size (pyrosm reads an ``.osm.pbf`` into tables about a
hundred times its size).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sim.scenario import ScenarioError

if TYPE_CHECKING:
    from sim.batch.design import Design
    from sim.batch.spec import BatchSpec
    from sim.scenario import Scenario

BASE_BYTES = 350 * 2**20
"""Interpreter, NumPy, pandas, numba's compiled loops, Mesa: what any run holds."""
PER_RESIDENT_BYTES = 900
"""Per resident (measured ~600-650 bytes, rounded up)."""
PER_NODE_BYTES = 4096
"""Per street intersection of a grid city (measured ~3,100 bytes, rounded up)."""
PER_VALUE_BYTES = 200
"""Per collected indicator value (the records and the tidy frame made from them)."""
OSM_FIXED_BYTES = 200 * 2**20
"""The OSM readers (pyrosm, geopandas, shapely) once loaded."""
OSM_BYTES_PER_FILE_BYTE = {".pbf": 100, ".osm": 10, ".xml": 10, ".graphml": 20}
"""Memory per byte of a district file while it is read, by type (compressed PBF expands most)."""
ALL_INDICATORS = 250
"""Values collected per collection when ``output.indicators = ["all"]`` (families included)."""
COMPILE_BYTES = 224 * 2**20
"""A population of several blocks (:mod:`sim.services.blocks`) runs the parallel kernels, which the
first run after installing compiles: LLVM's working memory (measured: a 300,000-resident run
peaked at 665 MB compiling them and at 458 MB with them cached; a little over the difference)."""


@dataclass(frozen=True)
class Estimate:
    """A run's estimated peak memory, in bytes, by part."""

    residents: int
    network: int
    records: int
    base: int = BASE_BYTES
    compile: int = 0

    @property
    def total(self) -> int:
        """Everything, bytes."""
        return self.base + self.residents + self.network + self.records + self.compile

    def describe(self) -> str:
        """``about 13.4 GB (residents 12.1 GB, street network 0.0 GB, ...)``."""
        return (f"about {gb(self.total)} (residents {gb(self.residents)}, street network {gb(self.network)}, "
                f"indicator records {gb(self.records)}, libraries {gb(self.base)}"
                + (f", compiling the parallel loops {gb(self.compile)})" if self.compile else ")"))


def gb(nbytes: float) -> str:
    """Bytes as gigabytes with one decimal (``"13.4 GB"``)."""
    return f"{nbytes / 2**30:.1f} GB"


def estimate(scenario: Scenario) -> Estimate:
    """Estimated peak memory of one run of ``scenario`` (see the module docstring for the method)."""
    city = scenario.city
    if city.kind == "grid":
        network = (city.blocks_x + 1) * (city.blocks_y + 1) * PER_NODE_BYTES
    else:
        network = OSM_FIXED_BYTES
        path = scenario.input_files().get("city.path")
        if path is not None and Path(path).is_file():
            suffix = Path(path).suffix.lower()
            network += Path(path).stat().st_size * OSM_BYTES_PER_FILE_BYTE.get(suffix, 100)
    days = scenario.years * 365.25
    collections = days if scenario.output.collect_every == "day" else days / 30.4
    indicators = scenario.output.indicators
    per_collection = ALL_INDICATORS if "all" in indicators else 10 * len(indicators)
    from sim.services.blocks import RESIDENT_BLOCK

    compile_bytes = COMPILE_BYTES if scenario.population.residents > RESIDENT_BLOCK else 0
    return Estimate(residents=scenario.population.residents * PER_RESIDENT_BYTES, network=int(network),
                    records=int(collections * per_collection * PER_VALUE_BYTES), compile=compile_bytes)


def available_bytes() -> int:
    """Memory this process can still use: the system's available memory, or what is left under
    the container's (cgroup v2) limit when that is lower."""
    import psutil

    free = int(psutil.virtual_memory().available)
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            free = min(free, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(free, 0)


def check_fits(scenario: Scenario, *, source: str, copies: int = 1) -> Estimate:
    """Refuse a run (or ``copies`` runs at once) that would not fit in this machine's free memory.

    Raises:
        ScenarioError: the estimate exceeds the free memory; the message gives both.
    """
    need = estimate(scenario)
    free = available_bytes()
    if need.total * copies > free:
        what = (f"population.residents = {scenario.population.residents:,}" +
                (f", city.blocks_x x blocks_y = {scenario.city.blocks_x:,} x {scenario.city.blocks_y:,}"
                 if scenario.city.kind == "grid" else f", district {scenario.city.path}"))
        times = f" x {copies} runs at once" if copies > 1 else ""
        raise ScenarioError(
            f"{source}: {what}: a run needs {need.describe()}{times} by lifecircle's estimate, and this machine "
            f"has {gb(free)} of memory free; allowed: a scenario that fits (fewer residents or blocks)"
            + (", fewer --workers," if copies > 1 else "") + " or a machine with more memory")
    return need


SIZE_KEYS = ("population.residents", "city.blocks_x", "city.blocks_y")
"""Batch parameters that change a run's size: checked at the largest value the design draws."""


def check_batch_fits(spec: BatchSpec, design: Design, *, workers: int) -> None:
    """Refuse a local batch whose largest run, once per worker, would not fit in free memory."""
    names = list(design.problem["names"])
    largest = {key: design.X[:, names.index(key)].max() for key in SIZE_KEYS if key in names and design.n_points}
    for package in spec.packages:
        scenario = spec.package_scenario(package)
        if largest:
            from sim.batch.spec import coerce_value

            scenario = scenario.with_updates({k: coerce_value(k, v) for k, v in largest.items()})
        check_fits(scenario, source=f"{spec.source}: package '{package}'", copies=max(1, workers))
