"""Pilot P51 (hh_rlhf, issue 11): blind annotation of an evaluation's replies, against the judge.

``prepare`` shuffles every condition's replies of ``eval/records.jsonl`` together (seeded),
hides the condition behind a key (``key.json``) and writes them in parts of 120 for
annotators, who see the request, its kind and the reply (cut at 1500 characters, as the judge
saw it) and follow ``instructions.md``. ``analyse`` joins their labels back and reports, next
to the judge: each condition's mean annotator score (1-9 scaled to [0, 1]) and share of right
decisions (declines exactly the harmful requests), the paired differences between conditions,
the Pearson r of judge and annotator scores, and how often the phrase match
(``wst.judges.declines``) and the judge read a decline as the annotators did.

    .venv/bin/python experiments/scripts/blind_labels.py prepare \
        results/hh-rlhf-choice/eval/records.jsonl --out experiments/pilots/p51-blind-annotation
    .venv/bin/python experiments/scripts/blind_labels.py analyse \
        results/hh-rlhf-choice/eval/records.jsonl --out experiments/pilots/p51-blind-annotation \
        --others experiments/pilots/p50-second-scorers/scores.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from scipy.stats import pearsonr

from wst.judges import clip, decides_right, declines
from wst.stats import Z95, mcnemar_exact, observed_mdd, paired_difference

PART_SIZE = 120
BONFERRONI_Z = 2.2414
"""z of a two-sided 97.5% interval: 95% shared by two looks at the held-out items."""


def prepare(records: list[dict], out: Path, seed: int = 50) -> None:
    """Shuffled, condition-blind parts ``partN.jsonl`` and the key that undoes the shuffle."""
    records = records[:]
    random.Random(seed).shuffle(records)
    key, rows = {}, []
    for n, r in enumerate(records):
        key[f"r{n:03d}"] = {"condition": r["condition"], "id": r["id"]}
        rows.append({"key": f"r{n:03d}", "kind": r["reference"], "request": r["question"],
                     "reply": clip(r["answer"] or "", 1500)})
    out.mkdir(parents=True, exist_ok=True)
    (out / "key.json").write_text(json.dumps(key))
    for start in range(0, len(rows), PART_SIZE):
        part = out / f"part{start // PART_SIZE + 1}.jsonl"
        part.write_text("".join(json.dumps(row) + "\n" for row in rows[start:start + PART_SIZE]))


def read_labels(folder: Path, key: dict) -> dict[tuple[str, str], dict]:
    """One round's labels, by (condition, item id)."""
    labels = {}
    for path in sorted(folder.glob("part*.labels.jsonl")):
        for label in map(json.loads, path.read_text().splitlines()):
            hidden = key[label["key"]]
            labels[hidden["condition"], hidden["id"]] = label
    return labels


def analyse(records: list[dict], out: Path, others: Path | None = None) -> str:
    """Markdown: each round of labels (``out``, and ``out/second`` when there) next to the
    judge and the phrase match, the rounds' agreement with each other, and (``others``, P50's
    ``scores.jsonl``) more scorers against the annotators."""
    key = json.loads((out / "key.json").read_text())
    rounds = {"first round": read_labels(out, key)}
    if (out / "second").is_dir():
        rounds["second round"] = read_labels(out / "second", key)
    conditions = list(dict.fromkeys(r["condition"] for r in records))
    rows = {c: [r for r in records if r["condition"] == c] for c in conditions}
    scores = {"judge": {c: [r["score"] for r in rows[c]] for c in conditions}}
    for name, labels in rounds.items():
        scores[f"annotators, {name}"] = {c: [(labels[c, r["id"]]["score"] - 1) / 8
                                             for r in rows[c]] for c in conditions}
    if len(rounds) > 1:
        scores["annotators, mean of rounds"] = {
            c: [sum(scores[f"annotators, {n}"][c][i] for n in rounds) / len(rounds)
                for i in range(len(rows[c]))] for c in conditions}
    pairs = [(a, b) for a, b in (("teacher_trained", "none"), ("teacher_trained", "teacher_base"),
                                 ("teacher_base", "none")) if a in rows and b in rows]
    judge_flat = _flat(scores["judge"])
    lines = [f"{len(records)} replies ({len(rows[conditions[0]])} per condition), labelled blind "
             f"to condition in {len(rounds)} round(s) by different annotators.", "",
             "| scorer | r with judge | " + " | ".join(f"{c} %" for c in conditions) + " | "
             + " | ".join(f"{a} − {b}, pp [95% CI] (MDD)" for a, b in pairs) + " |",
             "|---" * (2 + len(conditions) + len(pairs)) + "|"]
    for name, values in scores.items():
        lines.append(f"| {name} | {pearsonr(_flat(values), judge_flat).statistic:.2f} | "
                     + " | ".join(_mean(values[c]) for c in conditions) + " | "
                     + " | ".join(_diff(values[a], values[b]) for a, b in pairs) + " |")
    lines += ["", judge_detail(rows, rounds["first round"], scores, pairs)]
    for name, labels in rounds.items():
        lines += ["", decisions_table(name, labels, rows, pairs)]
    lines += ["", reliability(records, rounds, scores)]
    if others:
        lines += ["", agreement_table(records, scores, others)]
    return "\n".join(lines) + "\n"


def judge_detail(rows: dict[str, list[dict]], labels: dict,
                 scores: dict[str, dict[str, list[float]]], pairs: list[tuple[str, str]]) -> str:
    """The judge against the first round, by kind of request; its mean score on harmful
    requests' replies the annotators call declines and going along; and its paired
    differences with 97.5% intervals (Bonferroni for P47's and P49b's two held-out looks)."""
    judge, human = scores["judge"], scores["annotators, first round"]
    by_kind = {kind: pearsonr(*zip(*[(j, h) for c in rows for j, h, r in
                                     zip(judge[c], human[c], rows[c]) if r["reference"] == kind]
                                   )).statistic for kind in ("harmful", "benign")}
    harmful = [(j, labels[c, r["id"]]["declines"]) for c in rows
               for j, r in zip(judge[c], rows[c]) if r["reference"] == "harmful"]
    reading = {said: [j for j, d in harmful if d == said] for said in (True, False)}
    lines = ["Judge against the first round: r " + ", ".join(
                 f"{kind} only {r:.2f}" for kind, r in by_kind.items())
             + f"; on harmful requests the judge gives {_mean(reading[True])}% to the "
               f"{len(reading[True])} replies the annotators call declines and "
               f"{_mean(reading[False])}% to the {len(reading[False])} they call going along.",
             ""]
    lines += [f"Judge, {a} − {b}, 97.5% interval (two held-out looks): "
              f"{_diff(judge[a], judge[b], z=BONFERRONI_Z)}." for a, b in pairs]
    return "\n".join(lines)


def decisions_table(name: str, labels: dict, rows: dict[str, list[dict]],
                    pairs: list[tuple[str, str]]) -> str:
    """Markdown: declines per kind (annotators / phrase match) and right decisions."""
    lines = [f"Declines by the {name}'s labels (phrase match in brackets) and right decisions "
             "(declines exactly the harmful requests):", "",
             "| condition | harmful declined | benign declined | right % |", "|---|---|---|---|"]
    right = {}
    for c, items in rows.items():
        said = [labels[c, r["id"]]["declines"] for r in items]
        right[c] = [float(decides_right(d, r["reference"])) for d, r in zip(said, items)]
        count = {kind: (sum(d for d, r in zip(said, items) if r["reference"] == kind),
                        sum(declines(r["answer"] or "") for r in items if r["reference"] == kind))
                 for kind in ("harmful", "benign")}
        lines.append(f"| {c} | {count['harmful'][0]} ({count['harmful'][1]}) | "
                     f"{count['benign'][0]} ({count['benign'][1]}) | {_mean(right[c])} |")
    lines += [""] + [f"Right decisions, {a} − {b}: {_diff(right[a], right[b])}, McNemar p = "
                     f"{mcnemar_exact(right[a], right[b]):.3f}." for a, b in pairs]
    return "\n".join(lines)


def reliability(records: list[dict], rounds: dict[str, dict],
                scores: dict[str, dict[str, list[float]]]) -> str:
    """How far the readings agree: the phrase match with each round's declines and, with two
    rounds, the rounds with each other (declines, and Pearson r of their scores)."""
    lines = []
    for name, labels in rounds.items():
        same = sum(declines(r["answer"] or "") == labels[r["condition"], r["id"]]["declines"]
                   for r in records)
        lines.append(f"The phrase match reads a decline as the {name} does for {same} of "
                     f"{len(records)} replies.")
    if len(rounds) == 2:
        first, second = rounds.values()
        same = sum(first[k]["declines"] == second[k]["declines"] for k in first)
        r = pearsonr(_flat(scores["annotators, first round"]),
                     _flat(scores["annotators, second round"])).statistic
        lines.append(f"The two rounds read a decline alike for {same} of {len(first)} replies; "
                     f"their scores correlate at r = {r:.2f}.")
    return " ".join(lines)


def agreement_table(records: list[dict], scores: dict[str, dict[str, list[float]]],
                    others: Path) -> str:
    """Markdown: Pearson r of each scorer of ``others`` with each reading of the annotators
    (each round, and their mean) and with reply length, over all replies."""
    conditions = list(scores["judge"])
    order = [(r["condition"], r["id"]) for c in conditions for r in records
             if r["condition"] == c]
    readings = {name: dict(zip(order, _flat(values))) for name, values in scores.items()
                if name.startswith("annotators")}
    length = dict(zip(order, (len(r["answer"] or "") for c in conditions for r in records
                              if r["condition"] == c)))
    rows = [json.loads(line) for line in others.read_text().splitlines()]
    keys = [(row["condition"], row["id"]) for row in rows]
    columns = {**{f"r with the {name}": [reading[k] for k in keys]
                  for name, reading in readings.items()},
               "r with reply length": [length[k] for k in keys]}
    lines = ["| scorer | " + " | ".join(columns) + " |", "|---" * (1 + len(columns)) + "|"]
    scorers = {**{name: columns[f"r with the {name}"] for name in readings},
               **{s: [row[s] for row in rows] for s in rows[0]
                  if s not in ("condition", "id", "kind")}}
    for name, values in scorers.items():
        lines.append(f"| {name} | " + " | ".join(f"{pearsonr(values, other).statistic:.2f}"
                                                  for other in columns.values()) + " |")
    return "\n".join(lines)


def _flat(values: dict[str, list[float]]) -> list[float]:
    return [x for v in values.values() for x in v]


def _mean(values: list[float]) -> str:
    return f"{100 * sum(values) / len(values):.1f}"


def _diff(a: list[float], b: list[float], z: float = Z95) -> str:
    d = paired_difference(a, b, z)
    return (f"{100 * d.value:+.1f} [{100 * d.low:+.1f}, {100 * d.high:+.1f}] "
            f"({100 * observed_mdd(a, b):.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["prepare", "analyse"])
    parser.add_argument("records", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--others", type=Path, help="P50's scores.jsonl: more scorers to compare")
    args = parser.parse_args()
    records = [json.loads(line) for line in args.records.read_text().splitlines() if line]
    if args.step == "prepare":
        prepare(records, args.out)
        return
    text = analyse(records, args.out, args.others)
    (args.out / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
