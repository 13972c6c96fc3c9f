"""``make bench``: measure, print a table, write perf/results/latest.json.

Each figure is ``{name, value, unit, goal, better}``. Timings are taken after a warm-up
(Numba compile excluded) on seeded workloads, so runs are comparable. Benchmarks of
later issues add their figures to the same list.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from perf import book, core, gateways, replication, trading, venues

RESULTS = Path(__file__).parent / "results" / "latest.json"


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m perf", description=__doc__)
    p.add_argument("--commands", type=int, default=1_000_000, help="size of the seeded workload")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)

    figures = []
    benches = (core.BENCHMARKS + book.BENCHMARKS + trading.BENCHMARKS + venues.BENCHMARKS
               + replication.BENCHMARKS + gateways.BENCHMARKS)
    for bench in benches:
        print(f"running {bench.__name__} ...", file=sys.stderr, flush=True)
        figures.extend(bench(args.commands))

    width = max(len(f["name"]) for f in figures)
    print(f"\n{'benchmark':<{width}}  {'value':>14}  {'unit':<10} {'goal':>12}  met")
    for f in figures:
        if f["goal"] is None:  # a baseline or a context figure: nothing to meet
            print(f"{f['name']:<{width}}  {f['value']:>14,.1f}  {f['unit']:<10} {'—':>12}")
            continue
        met = f["value"] >= f["goal"] if f["better"] == "higher" else f["value"] <= f["goal"]
        print(f"{f['name']:<{width}}  {f['value']:>14,.1f}  {f['unit']:<10} "
              f"{'≥' if f['better'] == 'higher' else '≤'}{f['goal']:>11,}  {'yes' if met else 'NO'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
