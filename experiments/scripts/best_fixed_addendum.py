"""Append a later ``best_fixed`` run to a shipped result's report.md (issue 28 §3).

The shipped hh_rlhf evaluations ran before the ``best_fixed`` condition existed (and the GSM8K
chooser's ran without it, to end within a session). It was run alone into ``RESULTS/best-fixed`` (same config, items, student and judge) and joined to the
shipped records by ``paired_records.py`` (``RESULTS/best-fixed/comparisons.md``). This adds
to ``RESULTS/report.md`` what the report of a run with every condition would show: the
search (candidates, validation scores, pick), the pick's held-out score, and the paired
comparisons with it, with the command that made them. Refuses to append twice.

    .venv/bin/python experiments/scripts/best_fixed_addendum.py results/hh-rlhf-choice configs/hh_rlhf_choice_05b.toml
    .venv/bin/python experiments/scripts/best_fixed_addendum.py results/hh-rlhf-choice/carry-over-0.5b \
        configs/hh_rlhf_choice_05b.toml --student embedded:qwen2.5-coder-0.5b --test-size 64

Arguments after the config are the other flags of the ``wst eval`` that made RESULTS/eval,
shown in the command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wst.report import best_fixed_section, results_table

HEADING = "## Against the best single instruction (`best_fixed`, evaluated later)"


def addendum(results: Path, config: str, flags: list[str]) -> str:
    later = results / "best-fixed"
    summary = json.loads((later / "eval" / "eval.json").read_text())
    search = best_fixed_section(summary)
    return "\n".join([
        HEADING, "",
        "The evaluation above did not include `best_fixed`. It was run alone on the same "
        "held-out items with the same student (and judge), and joined to this report's "
        "records by item id:", "",
        f"    .venv/bin/wst eval -c {' '.join([config, *flags])} --output {later} \\",
        "        --set 'eval.conditions=[\"best_fixed\"]' --set eval.judge_check_items=0",
        f"    .venv/bin/python experiments/scripts/paired_records.py {results}/eval/records.jsonl \\",
        f"        {later}/eval/records.jsonl > {later}/comparisons.md", "",
        str(results_table(summary)), "",
        (later / "comparisons.md").read_text().split("\n", 2)[2].strip(), "",
        *["#" + line if line.startswith("## ") else line for line in search],
    ])


def main() -> None:
    results, config, flags = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    report = results / "report.md"
    text = report.read_text()
    if HEADING in text:
        raise SystemExit(f"{report} already has the best_fixed addendum")
    report.write_text(text.rstrip("\n") + "\n\n" + addendum(results, config, flags) + "\n")


if __name__ == "__main__":
    main()
