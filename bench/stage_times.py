"""Print wall time and peak memory per workflow stage from the rules' benchmark files.

Usage: python bench/stage_times.py results/<cohort>
Each rule writes benchmarks/<rule>.tsv or benchmarks/<rule>/<job>.tsv (Snakemake `benchmark:`);
this sums the seconds (wall, and CPU: ``cpu_time``) over a rule's jobs and takes the largest
max_rss (MB).
"""

import sys
from pathlib import Path

import pandas as pd


def stage_table(results: Path) -> pd.DataFrame:
    """One row per rule: jobs, total seconds, slowest job seconds, total CPU seconds, peak RSS
    in MB."""
    rows = []
    for path in sorted((results / "benchmarks").rglob("*.tsv")):
        rule = path.parent.name if path.parent.name != "benchmarks" else path.stem
        bench = pd.read_csv(path, sep="\t")
        rows.append({"rule": rule, "s": float(bench["s"].iloc[0]),
                     "cpu_s": pd.to_numeric(bench["cpu_time"], errors="coerce").iloc[0],
                     "max_rss_mb": pd.to_numeric(bench["max_rss"], errors="coerce").iloc[0]})
    table = pd.DataFrame(rows)
    return (table.groupby("rule", sort=False)
            .agg(jobs=("s", "size"), total_s=("s", "sum"), slowest_s=("s", "max"),
                 cpu_s=("cpu_s", "sum"),
                 peak_rss_mb=("max_rss_mb", "max"))
            .reset_index())


def main() -> None:
    results = Path(sys.argv[1] if len(sys.argv) > 1 else "results/demo")
    table = stage_table(results)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    print(f"\nsum of job wall times: {table['total_s'].sum():.1f} s")


if __name__ == "__main__":
    main()
