"""`make bench`: run every benchmarks/bench_*.py (or those named) and print JSON figures.

Each benchmark module has `run() -> dict` and reports its figures as ratios against a
baseline measured in the same process, never as bare times to compare across machines.
    python benchmarks/run.py                 # all
    python benchmarks/run.py transitions     # bench_transitions.py only
"""

import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.harness import Skip, django_setup  # noqa: E402


def main(names: list[str]) -> int:
    django_setup()
    available = sorted(path.stem.removeprefix("bench_") for path in HERE.glob("bench_*.py"))
    chosen = names or available
    unknown = set(chosen) - set(available)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: {', '.join(available)}")
        return 2
    results = {}
    for name in chosen:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        try:
            results[name] = module.run()
        except Skip as skipped:
            results[name] = {"skipped": str(skipped)}
        print(json.dumps({name: results[name]}, indent=2), flush=True)
    failed = [name for name, figures in results.items() if figures.get("meets_target") is False]
    if failed:
        print(f"below target: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
