"""Shared by the benchmark scripts: best-of-n timing, and printing or saving timings against a baseline."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from pathlib import Path


def best_of(step: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs: the least noisy summary on a shared machine."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def report(timings: dict[str, float], baseline_file: Path, *, save: bool = False,
           compare_with: Callable[[str], str] | None = None) -> None:
    """Print each step's seconds, the baseline's and their ratio; with ``save`` store a new baseline.

    ``compare_with`` names the baseline step a step without its own baseline is compared with.
    """
    baseline = json.loads(baseline_file.read_text())["timings"] if baseline_file.exists() else {}
    width = max(len(name) for name in timings) + 2
    print(f"{'step':{width}s} {'seconds':>9s} {'baseline':>9s} {'ratio':>7s}")
    for name, seconds in timings.items():
        base = baseline.get(name) or (baseline.get(compare_with(name)) if compare_with else None)
        base_text = f"{base:9.4f}" if base else f"{'–':>9s}"
        ratio = f"{seconds / base:7.2f}" if base else f"{'–':>7s}"
        print(f"{name:{width}s} {seconds:9.4f} {base_text} {ratio}")
    if save:
        record = {"machine": f"{platform.machine()} {platform.python_version()}", "timings": timings}
        baseline_file.write_text(json.dumps(record, indent=2) + "\n")
        print(f"baseline saved to {baseline_file}")
