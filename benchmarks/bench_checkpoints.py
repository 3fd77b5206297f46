"""Benchmark: a batch that starts every run of a seed from one settled checkpoint, against the same
batch warming up every run (prints figures; not a timed test).

The batch: 8 packages (the baseline and 7 single levers) x 4 seeds = 32 runs of the baseline grid
at ``--residents`` residents, the default 20-year warm-up, ``--years`` measured years, on
``--workers`` local worker processes. With checkpoints the batch warms up 4 times (one per seed);
without (``lifecircle batch --no-checkpoints``) 32 times. Both are run ``--repeats`` times in turn
(A B A B ...), each in a fresh process and a fresh output folder, and the ratio is taken pair by
pair, so a drift of the machine's speed does not bias it. Both batches write identical run files
(checked).

    .venv/bin/python benchmarks/bench_checkpoints.py [--residents 5000] [--years 1] [--workers 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sim.scenario import WARMUP_YEARS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LEVERS = ("lockers", "platform", "smart_stores", "service_map", "local_hiring", "flexible_employment", "retirees")


def write_batch(folder: Path, residents: int, years: float) -> Path:
    for lever in LEVERS:
        (folder / f"{lever}.toml").write_text(
            f'extends = "{(REPO / "scenarios" / "baseline.toml").as_posix()}"\nname = "{lever}"\n\n'
            f"[levers.{lever}]\nenabled = true\n", encoding="utf-8")
    packages = "\n".join(f'{lever} = "{lever}.toml"' for lever in LEVERS)
    path = folder / "batch.toml"
    path.write_text(f"""name = "checkpoints"
master_seed = 7
replications = 4
years = {years}
indicators = ["basic_coverage_15", "needs_met_share", "employment_rate", "merchants_open"]
baseline = "baseline"

[packages]
baseline = "{(REPO / 'scenarios' / 'baseline.toml').as_posix()}"
{packages}

[overrides]
"population.residents" = {residents}
""", encoding="utf-8")
    return path


def run(batch: Path, out: Path, workers: int, checkpoints: bool) -> float:
    command = [sys.executable, "-m", "sim.cli", "batch", str(batch), "--out", str(out), "--workers", str(workers),
               "--quiet"] + ([] if checkpoints else ["--no-checkpoints"])
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=5000)
    parser.add_argument("--years", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lifecircle-bench-") as tmp:
        folder = Path(tmp)
        batch = write_batch(folder, args.residents, args.years)
        shared, alone = [], []
        for i in range(args.repeats):
            shared.append(run(batch, folder / f"shared{i}", args.workers, True))
            alone.append(run(batch, folder / f"alone{i}", args.workers, False))
        a = pd.read_parquet(folder / "shared0" / "runs").sort_values(["run_id", "day", "indicator"]).reset_index(drop=True)
        b = pd.read_parquet(folder / "alone0" / "runs").sort_values(["run_id", "day", "indicator"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
        warmups = len(list((folder / "shared0" / "checkpoints").glob("*.npz")))
    ratios = [b / a for a, b in zip(shared, alone)]
    print(f"== 8 packages x 4 seeds = 32 runs, {args.residents:,} residents, {WARMUP_YEARS:g}-year warm-up + {args.years:g} "
          f"measured year(s), {args.workers} workers, {args.repeats} repeats (fresh processes and folders)")
    print(f"with checkpoints   : {warmups} warm-ups; wall {', '.join(f'{s:.1f}' for s in shared)} s "
          f"(median {statistics.median(shared):.1f} s)")
    print(f"every run warms up : 32 warm-ups; wall {', '.join(f'{s:.1f}' for s in alone)} s "
          f"(median {statistics.median(alone):.1f} s)")
    print(f"speed-up           : {', '.join(f'{r:.2f}x' for r in ratios)} (median {statistics.median(ratios):.2f}x); "
          "run files identical")


if __name__ == "__main__":
    main()
