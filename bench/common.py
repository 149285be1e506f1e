"""Shared by the benchmarks: the machine they ran on, repeated runs, median and spread."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any


def machine() -> dict[str, Any]:
    try:
        server = subprocess.run(["psql", "--version"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        server = "unknown"
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(memory, 1), "python": platform.python_version(),
            "postgresql_client": server, "platform": platform.platform()}


def summarise(samples: list[float]) -> dict[str, float]:
    """Median and spread (min, max) of per-run rates."""
    return {"median": round(statistics.median(samples), 1), "min": round(min(samples), 1),
            "max": round(max(samples), 1), "runs": len(samples)}


def rate(count: int, run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2))
