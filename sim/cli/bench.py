"""``python -m sim bench``: the benchmarks of ``sim.bench`` (scale, crash search, live workers,
throughput), each imported only when asked for."""

from __future__ import annotations

import argparse


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark ``args.what`` names (``scale`` by default); its exit status."""
    if args.what == "search":
        from ..bench.crash_search import main as search_main

        return search_main(runs=args.runs, faults=args.faults, limit=args.limit, held_out=args.held_out)
    if args.what == "throughput":
        from ..bench.throughput import main as throughput_main

        return throughput_main(seeds=args.seeds, repeat=args.repeat, examples=args.examples,
                               shape_seeds=args.shape_seeds)
    if args.what == "live":
        from ..bench.live_workers import main as live_main

        return live_main(runs=args.runs)
    from ..bench.scale import main as bench_main

    return bench_main([int(s) for s in args.sizes.split(",")], repeat=args.repeat)
