"""The validation checks of a run, per step: mean score, per kind (hh_rlhf's harmful / benign;
no kind columns for other tasks), and the paired difference from step 0 and, given the ``none``
records of the same items, from no instruction.

    .venv/bin/python experiments/scripts/validation_curve.py runs/hh_rlhf_1.5b \
        --none experiments/pilots/p15-hh-validation-none/default/records.jsonl
    .venv/bin/python experiments/scripts/validation_curve.py runs/hh_rlhf_coder_teacher \
        --none experiments/pilots/p18-instruction-starts/rows.jsonl
    .venv/bin/python experiments/scripts/validation_curve.py results/gsm8k-menu --ending number
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wst.stats import paired_difference


def none_scores(path: Path) -> dict[str, float]:
    """Score per id with no instruction: from evaluation records (``condition`` none) or from
    ``instruction_sources.py``'s rows (``none_score``)."""
    rows = [json.loads(line) for line in path.open()]
    return {r["id"]: r["none_score"] if "none_score" in r else r["score"]
            for r in rows if r.get("condition", "none") == "none"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--none", type=Path, help="records.jsonl with a none condition")
    parser.add_argument("--ending", help="also count, per kind, the instructions ending in "
                                         "this word (a chooser's picks; checks that record "
                                         "their instructions)")
    args = parser.parse_args()
    checks = [json.loads(line) for line in (args.run / "validation" / "scores.jsonl").open()]
    none = none_scores(args.none) if args.none else None
    kinds = item_kinds(checks[0]["ids"])
    heads = ["step", "mean %", *(f"{k} %" for k in kinds), "vs step 0, pp [95% CI]",
             "vs none, pp [95% CI]"]
    if args.ending:
        heads.append(f"ending in {args.ending!r}" + (f": {' / '.join(kinds)}" if kinds else ""))
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    for check in checks:
        scores, ids = check["scores"], check["ids"]
        columns = [f"{check['step']}", f"{_mean(scores):.1f}"]
        columns += [f"{_mean([s for i, s in zip(ids, scores) if kind_of(i) == k]):.1f}"
                    for k in kinds]
        columns.append(_diff(scores, checks[0]["scores"]))
        columns.append(_diff(scores, [none[i] for i in ids]) if none else "")
        if args.ending:
            columns.append(" / ".join(_endings(check, args.ending, k) for k in kinds or [None]))
        print("| " + " | ".join(columns) + " |")


def kind_of(item_id: str) -> str:
    """An hh_rlhf item's kind: ``benign`` for the benign pool's ids, else ``harmful``."""
    return "benign" if item_id.startswith("benign") else "harmful"


def item_kinds(ids: list[str]) -> list[str]:
    """hh_rlhf's two kinds where ``ids`` hold benign items; none for other tasks."""
    return ["harmful", "benign"] if any(i.startswith("benign") for i in ids) else []


def _endings(check: dict, word: str, kind: str | None) -> str:
    """How many of one kind's instructions (all, for ``None``) end in ``word``, of its items."""
    mine = [w for i, w in zip(check["ids"], check["instructions"])
            if kind is None or kind_of(i) == kind]
    return f"{sum(ends_in(w, word) for w in mine)}/{len(mine)}"


def ends_in(instruction: str, word: str) -> bool:
    """Whether an instruction ends in ``word`` (a chooser's pick), final stop ignored."""
    return instruction.rstrip(" .").endswith(word)


def _mean(values: list[float]) -> float:
    return 100 * sum(values) / len(values) if values else float("nan")


def _diff(a: list[float], b: list[float]) -> str:
    d = paired_difference(a, b)
    return f"{100 * d.value:+.1f} [{100 * d.low:+.1f}, {100 * d.high:+.1f}]"


if __name__ == "__main__":
    main()
