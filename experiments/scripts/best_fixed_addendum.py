"""Append a later ``best_fixed`` run to a shipped result's report.md (issue 28 §3).

The shipped hh_rlhf evaluations ran before the ``best_fixed`` condition existed (and the GSM8K
chooser's ran without it, to end within a session). It was run alone into
``RESULTS/best-fixed`` (same config, items, student and judge) and joined to the shipped records by ``paired_records.py`` (``RESULTS/best-fixed/comparisons.md``). This adds
to ``RESULTS/report.md`` what the report of a run with every condition would show: the
search (candidates, validation scores, pick), the pick's held-out score, and the paired
comparisons with it, with the command that made them. Refuses to append twice.

    .venv/bin/python experiments/scripts/best_fixed_addendum.py results/hh-rlhf-choice configs/hh_rlhf_choice_05b.toml
    .venv/bin/python experiments/scripts/best_fixed_addendum.py results/hh-rlhf-choice/carry-over-0.5b \
        configs/hh_rlhf_choice_05b.toml --student embedded:qwen2.5-coder-0.5b --test-size 64

Arguments after the config are the other flags of the ``wst eval`` that made RESULTS/eval,
shown in the command. A set with no validation split (results/safe-lookalikes) has no search
of its own: ``--carried-from OTHER`` says that the pick of OTHER/best-fixed's search was run on
it as the ``fixed`` condition and joined with ``paired_records.py --as fixed=best_fixed``:

    .venv/bin/python experiments/scripts/best_fixed_addendum.py results/safe-lookalikes \
        configs/hh_rlhf_choice_05b.toml --task results/safe-lookalikes/task.toml \
        --carried-from results/hh-rlhf-choice
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wst.report import best_fixed_section, results_table

HEADING = "## Against the best single instruction (`best_fixed`, evaluated later)"


def addendum(results: Path, config: str, flags: list[str], carried_from: Path | None) -> str:
    later = results / "best-fixed"
    summary = json.loads((later / "eval" / "eval.json").read_text())
    wst_eval = f"    .venv/bin/wst eval -c {' '.join([config, *flags])} --output {later} \\"
    rename = "" if carried_from is None else " --as fixed=best_fixed"
    join = (f"    .venv/bin/python experiments/scripts/paired_records.py{rename} "
            f"{results}/eval/records.jsonl \\")
    if carried_from is None:
        search = best_fixed_section(summary)
        how = ["The evaluation above did not include `best_fixed`. It was run alone on the same "
               "held-out items with the same student (and judge), and joined to this report's "
               "records by item id:", "", wst_eval,
               "        --set 'eval.conditions=[\"best_fixed\"]' --set eval.judge_check_items=0",
               join]
    else:
        source = json.loads((carried_from / "best-fixed" / "eval" / "eval.json").read_text())
        search = best_fixed_section(source)
        pick = next(c["instruction"] for c in source["best_fixed"]["candidates"]
                    if c["name"] == source["best_fixed"]["pick"])
        how = [f"This set has no validation split to search on, so the pick of the search of "
               f"{carried_from} (below) was run on the same items as the `fixed` condition, with "
               f"the same student (and judge), and joined to this report's records by item id, "
               f"read as `best_fixed`:", "", wst_eval,
               "        --set 'eval.conditions=[\"fixed\"]' --set eval.judge_check_items=0 \\",
               f"        --set \"eval.fixed_instruction={pick}\"",
               join]
    return "\n".join([
        HEADING, "", *how,
        f"        {later}/eval/records.jsonl > {later}/comparisons.md", "",
        str(results_table(summary)), "",
        (later / "comparisons.md").read_text().split("\n", 2)[2].strip(), "",
        *["#" + line if line.startswith("## ") else line for line in search],
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("config")
    parser.add_argument("--carried-from", type=Path, help="the result whose search's pick "
                        "ran here as the fixed condition")
    args, flags = parser.parse_known_args()  # the rest: the evaluation's other flags
    report = args.results / "report.md"
    text = report.read_text()
    if HEADING in text:
        raise SystemExit(f"{report} already has the best_fixed addendum")
    report.write_text(text.rstrip("\n") + "\n\n"
                      + addendum(args.results, args.config, flags, args.carried_from) + "\n")


if __name__ == "__main__":
    main()
