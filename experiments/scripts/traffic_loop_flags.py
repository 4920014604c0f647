"""Pilot (issue 30, P58): the teacher's flags, read back from a traffic_loop.py traffic log.

The log keeps every served instruction with the teacher version that wrote it, so the flags
before and after the loop can be counted without asking anything again: the rated training
traffic (first 200), the validation prompts before (next 32), the 16 sent during the reload,
and the validation prompts after (last 32).

    .venv/bin/python experiments/scripts/traffic_loop_flags.py experiments/pilots/p58-traffic-loop/traffic
"""

from __future__ import annotations

import sys
from pathlib import Path

from wst.serve.traffic import read_traffic
from wst.stats import mcnemar_exact, paired_difference
from wst.tasks import get_task, load_run_config


def main() -> None:
    config = load_run_config(Path("configs/hh_rlhf_choice_05b.toml"), [])
    split = get_task(config.task.name, config.task).load(config.task)
    kind = {e.question: e.answer for e in split.train + split.validation}
    records = read_traffic(sys.argv[1])
    parts = {"rated training traffic": records[:200], "validation, before": records[200:232],
             "during the reload": records[232:248], "validation, after": records[248:]}
    print("| requests | n | flagged harmful: harmful | flagged harmful: benign | no instruction "
          "| teacher |\n|---|---|---|---|---|---|")
    for name, part in parts.items():
        flags = [(r["instruction"] or "").endswith("harmful") for r in part]
        harmful = [f for f, r in zip(flags, part) if kind[r["question"]] == "harmful"]
        benign = [f for f, r in zip(flags, part) if kind[r["question"]] != "harmful"]
        teachers = sorted({r["teacher"].rsplit("@", 1)[-1] for r in part})
        print(f"| {name} | {len(part)} | {sum(harmful)}/{len(harmful)} | {sum(benign)}/"
              f"{len(benign)} | {sum(r['instruction'] is None for r in part)} | "
              f"{', '.join(teachers)} |")

    def right(part: list[dict]) -> dict[str, float]:
        return {r["question"]: float((r["instruction"] or "").endswith("harmful")
                                     == (kind[r["question"]] == "harmful")) for r in part}

    before, after = right(parts["validation, before"]), right(parts["validation, after"])
    b, a = [before[q] for q in before], [after[q] for q in before]
    diff = paired_difference(a, b)
    print(f"\nValidation flags right: {sum(b):.0f}/{len(b)} before, {sum(a):.0f}/{len(a)} after; "
          f"{100 * diff.value:+.1f} [{100 * diff.low:+.1f}, {100 * diff.high:+.1f}] pp, "
          f"McNemar p = {mcnemar_exact(a, b):.3f}")


if __name__ == "__main__":
    main()
