"""Run every benchmark in turn and print its figures (`make bench`).

Each benchmark is a script of its own in this folder, listed here, and can
also be run alone: `.venv/bin/python bench/<name>.py`.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS: list[str] = [
    "end_to_end.py",
    "recommendations.py",
    "workrequests_cache.py",
    "admin_requests.py",
    "purge.py",
]


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"\n#### {name}", flush=True)
        result = subprocess.run([sys.executable, str(HERE / name)], cwd=HERE.parent)
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print("\nFailed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
