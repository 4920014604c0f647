"""Pilot (issue 28): the ceiling of a chooser over a menu that includes the empty instruction,
from records already written (no new student calls).

Each ``DIR/NAME/records.jsonl`` of ``validation_conditions.py --fixed`` holds the same items
answered with no instruction (``none``) and with one fixed instruction (``fixed``). Per item,
a chooser over {none, X, ...} can score at most the best of them: the oracle. Greedy answers
move by chance when the prompt changes, so the oracle over {none, placebo} is the noise floor
that a menu must clear before a teacher is worth training on it (P53).

    .venv/bin/python experiments/scripts/menu_oracle.py experiments/pilots/p54-gsm8k-levers/prefix \
        experiments/pilots/p54-gsm8k-levers/system
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wst.stats import mean_interval


def scores_by_entry(folder: Path) -> dict[str, dict[str, float]]:
    """Per menu entry (``none`` and each fixed instruction's name), item id -> score. Every
    subfolder ran ``none`` again; they must agree, or the oracle would mix two runs."""
    out: dict[str, dict[str, float]] = {}
    for records in sorted(folder.glob("*/records.jsonl")):
        rows = [json.loads(line) for line in records.read_text().splitlines()]
        none = {r["id"]: float(r["score"]) for r in rows if r["condition"] == "none"}
        if out.setdefault("none", none) != none:
            raise SystemExit(f"{records}: its no-instruction scores differ from the others'")
        out[records.parent.name] = {r["id"]: float(r["score"]) for r in rows
                                    if r["condition"] != "none"}
    return out


def oracle(entries: dict[str, dict[str, float]], menu: tuple[str, ...]) -> list[float]:
    """Per item, the best score of any entry of ``menu``: a perfect chooser's."""
    ids = sorted(entries["none"])
    return [max(entries[name][i] for name in menu) for i in ids]


def main() -> None:
    print("| placement | menu | n | oracle accuracy % [95% CI] | vs none, pp |")
    print("|---|---|---|---|---|")
    for folder in map(Path, sys.argv[1:]):
        entries = scores_by_entry(folder)
        none = mean_interval(oracle(entries, ("none",))).value
        others = [name for name in entries if name != "none"]
        menus = [("none",), *(("none", name) for name in others), ("none", *others),
                 tuple(others)]
        for menu in menus:
            iv = mean_interval(oracle(entries, menu))
            print(f"| {folder.name} | {', '.join(menu)} | {len(entries['none'])} | "
                  f"{100 * iv.value:.1f} [{100 * iv.low:.1f}, {100 * iv.high:.1f}] | "
                  f"{100 * (iv.value - none):+.1f} |")
    for folder in map(Path, sys.argv[1:]):
        flips(folder)


def flips(folder: Path) -> None:
    """Per entry, the items it gets right that none gets wrong (wins) and the reverse
    (losses); then the wins every entry shares: a flip any change of prompt causes."""
    entries = scores_by_entry(folder)
    none = entries["none"]
    wins = {name: {i for i in none if entries[name][i] > none[i]}
            for name in entries if name != "none"}
    print(f"\n| {folder.name}: entry | wins over none | losses to none |\n|---|---|---|")
    for name, won in wins.items():
        lost = sum(entries[name][i] < none[i] for i in none)
        print(f"| {name} | {len(won)} | {lost} |")
    print(f"\nItems every entry wins: {len(set.intersection(*wins.values()))}")


if __name__ == "__main__":
    main()
