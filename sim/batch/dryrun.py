"""A batch checked and listed without running it: ``lifecircle validate BATCH.toml`` and
``lifecircle batch BATCH.toml --dry-run``.

Both load and validate the batch file (and every package scenario and input file), sample its
designs, and report what a run of it would do: packages and lever mixes, design points,
replications, the runs that would be simulated, the twins that would be copied, the warm-ups, the
memory a run needs, and every design point that cannot run (an end month before its start month,
say) with the file, the point and its values -- before any simulation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sim.batch.runner import Planned, plan_batch
from sim.batch.spec import BatchSpec
from sim.scenario import ScenarioError

FEASIBILITY_LIMIT = 100_000
"""(package, design point) pairs checked for feasibility one by one; larger designs are sampled."""


@dataclass
class BatchCheck:
    """What a batch would do."""

    planned: Planned
    infeasible: dict[tuple[str, int], str] = field(default_factory=dict)
    """(package, point) -> why that run cannot run (names file, point and values)."""
    checked_pairs: int = 0
    twins: int = 0
    warmups: int = 0

    @property
    def total(self) -> int:
        """Runs in the plan (twins included)."""
        return self.planned.plans.total


def check_batch(spec: BatchSpec) -> BatchCheck:
    """Plan the batch and try every (package, design point) scenario (up to :data:`FEASIBILITY_LIMIT`)."""
    from sim.batch.plan import describe

    planned = plan_batch(spec)
    check = BatchCheck(planned=planned)
    counts = describe(planned.plans.shape, spec.replications)
    check.twins, check.warmups = counts["twins"], counts["warmups"]
    design = planned.design
    for package in spec.package_names():
        base = planned.scenarios.get(package)
        for point in range(design.n_points):
            if check.checked_pairs >= FEASIBILITY_LIMIT:
                return check
            check.checked_pairs += 1
            if base is None:
                check.infeasible[(package, point)] = planned.errors[package]
                continue
            values = design.point_values(point)
            if not values:
                continue
            try:
                base.with_updates(values)
            except ScenarioError as err:
                shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
                check.infeasible[(package, point)] = (
                    f"{spec.source}: design point {point} ({shown}), package '{package}': "
                    + str(err).split(": invalid scenario", 1)[-1].strip())
    return check


def summary_lines(spec: BatchSpec, check: BatchCheck) -> list[str]:
    """The plan in a few lines."""
    from sim.io.memory import estimate

    planned = check.planned
    mixes = spec.mix_names()
    need = estimate(planned.scenarios[spec.baseline_package])
    pairs = len(spec.package_names()) * planned.design.n_points
    lines = [
        f"{spec.source}: valid batch '{spec.name}' (fingerprint {spec.fingerprint()})",
        f"  packages: {', '.join(spec.packages)}" + (f" + {len(mixes)} lever mixes ({mixes[0]} .. {mixes[-1]}, "
                                                      f"{spec.lever_design.method} over {', '.join(spec.levers)})"
                                                      if mixes else ""),
        f"  design points: {planned.design.n_points} ({planned.design.method}"
        + (f" over {', '.join(spec.parameters)})" if spec.parameters else ")"),
        f"  replications: {spec.replications}; years: {spec.years:g} measured (after each warm-up)",
        f"  runs: {check.total:,} = {len(spec.package_names())} packages x {planned.design.n_points} points x "
        f"{spec.replications} replications; {check.total - check.twins:,} simulated, {check.twins:,} twins copied "
        f"(they differ only in a lever that is off); about {check.warmups:,} warm-ups",
        f"  a run needs {need.describe()}",
    ]
    if spec.outcomes:
        lines.append(f"  outcomes: {', '.join(spec.outcomes)}")
    if check.checked_pairs < pairs:
        lines.append(f"  feasibility checked for the first {check.checked_pairs:,} of {pairs:,} (package, point) pairs")
    if check.infeasible:
        lines.append(f"  {len(check.infeasible)} (package, point) pair(s) cannot run; their runs will be recorded "
                     f"as failed and the others run:")
        for message in list(check.infeasible.values())[:10]:
            lines.append(f"    {message}")
        if len(check.infeasible) > 10:
            lines.append(f"    ... and {len(check.infeasible) - 10} more")
    return lines


def run_lines(spec: BatchSpec, check: BatchCheck, *, limit: int = 1000) -> Iterator[str]:
    """One line per planned run, in the order the batch computes them (at most ``limit``)."""
    planned = check.planned
    design = planned.design
    shown = 0
    for plan in planned.plans:
        if shown >= limit:
            yield f"... {check.total - limit:,} more runs"
            return
        shown += 1
        values = design.point_values(plan.point)
        text = ", ".join(f"{k}={v!r}" for k, v in values.items())
        note = ""
        if (plan.package, plan.point) in check.infeasible:
            note = "  [cannot run: infeasible]"
        elif plan.twin_of is not None:
            note = f"  [twin of {plan.twin_of}: copied]"
        yield f"{plan.run_id}  seed {plan.seed}" + (f"  {text}" if text else "") + note
