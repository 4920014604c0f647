"""Mean seconds per phase of a run's generation steps (teacher generation, student, scoring
by the judge, update), from ``metrics.jsonl``: the judge's cost next to the student's.

Steps before ``--first`` are left out, e.g. those logged before wst split the judge's time
from the student's, or a resumed step served from the answer cache.

    .venv/bin/python experiments/scripts/step_times.py results/hh-rlhf-1.5b --first 43
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PHASES = ("teacher_generation", "student", "scoring", "update")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--first", type=int, default=1, help="first step counted")
    args = parser.parse_args()
    rows = [m for m in map(json.loads, (args.run / "metrics.jsonl").open())
            if "reward" in m and m["step"] >= args.first]  # steps with fresh generations
    if not rows:
        raise SystemExit(f"no generation steps from step {args.first} in {args.run}")
    means = [sum(m.get(f"time/{p}_s", 0.0) for m in rows) / len(rows) for p in PHASES]
    print(f"steps {rows[0]['step']}-{rows[-1]['step']} ({len(rows)} generation steps), "
          "mean seconds:\n")
    print("| " + " | ".join(PHASES) + " |\n|" + "---|" * len(PHASES))
    print("| " + " | ".join(f"{m:.1f}" for m in means) + " |")


if __name__ == "__main__":
    main()
