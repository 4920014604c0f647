"""Pilot (issue 28): the ceiling of an instruction that states the facts a question needs.

P55 found the 0.5B student copying each animal's count as its legs on reasoning-gym's
leg_counting ("11 crabs" became "Crabs: 11 legs"). A method instruction did not fix that; a
per-query instruction can state each animal's legs outright.
Conditions on training-seed items (no test item exists for this pilot):

- ``none``: the question alone;
- ``placebo``: "Here is the question.", the noise floor of any change to the prompt;
- ``facts``: the legs of each animal the question names ("A crab has 10 legs. ..."), the most
  a teacher that knows animals could write, with no arithmetic;
- ``facts+method``: the same facts, then "Multiply each number of animals by its legs, then
  add the products.".

    .venv/bin/python experiments/scripts/leg_facts.py -c configs/reasoning_mix.toml --n 16 \
        --out experiments/pilots/p56-leg-facts-05b

Writes OUT/records.jsonl and OUT/summary.md (accuracy with Wilson intervals, paired difference
to ``none`` with McNemar p and MDD, cut %, minutes).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from wst.evaluate import compare
from wst.stats import mean_interval
from wst.students import cut_share, make_student
from wst.tasks import get_task, load_run_config
from wst.tasks.reasoning_mix import SEEDS, family_examples

PLACEBO = "Here is the question."
METHOD = "Multiply each number of animals by its legs, then add the products."


def leg_facts(n: int, seed: int) -> list[str]:
    """For each of the ``n`` questions of ``family_examples('leg_counting', n, seed)``, the legs
    of every animal it names, from reasoning-gym's own table."""
    import reasoning_gym
    from reasoning_gym.arithmetic.leg_counting import ANIMALS

    dataset = reasoning_gym.create_dataset("leg_counting", size=n, seed=seed)
    return [" ".join(f"{'An' if animal[0] in 'aeiou' else 'A'} {animal} has {ANIMALS[animal]} "
                     f"legs." for animal in entry["metadata"]["animals"]) for entry in dataset]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], help="config override")
    args = parser.parse_args()
    config = load_run_config(args.config, args.set)
    task = get_task(config.task.name, config.task)
    seed = SEEDS["train"] + config.task.split_seed
    examples = family_examples("leg_counting", args.n, seed)
    facts = leg_facts(args.n, seed)
    instructions = {"none": [None] * args.n, "placebo": [PLACEBO] * args.n, "facts": facts,
                    "facts+method": [f"{f} {METHOD}" for f in facts]}
    student = make_student(config.student)
    args.out.mkdir(parents=True, exist_ok=True)
    scores, cuts, started = {}, {}, time.perf_counter()
    with (args.out / "records.jsonl").open("w") as records:
        for name, given in instructions.items():
            answers = student.answer([task.student_messages(e, i) for e, i in
                                      zip(examples, given)])
            scores[name] = task.score_answers(answers, examples)
            cuts[name] = cut_share(answers, config.student.max_tokens)
            for e, i, a, s in zip(examples, given, answers, scores[name]):
                records.write(json.dumps({"condition": name, "id": e.id, "reference": e.answer,
                                          "instruction": i, "answer": a.text, "score": s}) + "\n")
            print(name, mean_interval(scores[name]), flush=True)
    student.close()
    minutes = (time.perf_counter() - started) / 60
    lines = [f"leg_counting, {args.n} training-seed items (seed {seed}); student "
             f"{student.identity}, greedy, at most {config.student.max_tokens} answer tokens; "
             f"{minutes:.1f} min\n",
             "| condition | n | accuracy % [95% CI] | Δ vs none, pp [95% CI] | McNemar p | MDD, pp "
             "| cut % |", "|---|---|---|---|---|---|---|"]
    for name, values in scores.items():
        iv = mean_interval(values)
        delta = p = mdd = "–"
        if name != "none":
            c = asdict(compare(name, "none", scores))
            delta = (f"{100 * c['diff']:+.1f} [{100 * c['diff_low']:+.1f}, "
                     f"{100 * c['diff_high']:+.1f}]")
            p = "–" if c["mcnemar_p"] is None else f"{c['mcnemar_p']:.3f}"
            mdd = f"{100 * c['mdd']:.1f}"
        lines.append(f"| {name} | {len(values)} | {100 * iv.value:.1f} [{100 * iv.low:.1f}, "
                     f"{100 * iv.high:.1f}] | {delta} | {p} | {mdd} | {100 * cuts[name]:.0f} |")
    text = "\n".join(lines) + "\n"
    (args.out / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
