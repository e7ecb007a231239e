"""Run every benchmark figure and print one table of ratios against baselines timed in
the same run:  python bench/run.py [--quick]

Each figure is a module in FIGURES with `rows(**QUICK.get(name, {}))` (quick sizes with
--quick) returning bench.table.Row objects."""
import argparse
import importlib
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.table import render  # noqa: E402

FIGURES = ["bench.fd_scalar", "bench.fd_accuracy", "bench.batch_throughput", "bench.batch_scaling",
           "bench.diagnosis_cost",
           "bench.sandbox_overhead", "bench.quick_grade", "bench.memory", "bench.fd_vector", "bench.grade_vector",
           "bench.largest_problem"]
QUICK = {"bench.fd_scalar": {"sizes": (10, 100)}, "bench.batch_throughput": {"n": 4},
         "bench.batch_scaling": {"small": 3, "large": 6},
         "bench.diagnosis_cost": {"sizes": (10, 100), "repeat": 1},
         "bench.sandbox_overhead": {"problems": 2, "repeat": 1, "timeout": 0.2},
         "bench.quick_grade": {"repeat": 1}, "bench.memory": {"sizes": (50,)},
         "bench.fd_vector": {"N": 4, "T": 20, "D": 8, "H": 8}, "bench.grade_vector": {"repeat": 1},
         "bench.largest_problem": {"sizes": {"N": 2, "T": 60, "D": 100, "H": 100}, "repeat": 1}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    args = parser.parse_args()
    rows = []
    for name in FIGURES:
        rows += importlib.import_module(name).rows(**(QUICK.get(name, {}) if args.quick else {}))
    print(f"bptt-grade benchmarks on {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(render(rows))


if __name__ == "__main__":
    main()
