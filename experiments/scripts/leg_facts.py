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
  add the products.";
- ``teacher-facts``: the facts as the untrained teacher (``teacher.model``, greedy) states
  them when asked for each animal's legs: what a teacher trained to write facts starts from.
  The summary counts the animals, and the questions, whose legs it states right.

    .venv/bin/python experiments/scripts/leg_facts.py -c configs/reasoning_mix.toml --n 16 \
        --set student.max_tokens=512 --out experiments/pilots/p56-leg-facts-05b
    .venv/bin/python experiments/scripts/leg_facts.py -c configs/reasoning_mix.toml --n 64 \
        --set student.max_tokens=512 --set teacher.model=embedded:qwen2.5-coder-0.5b \
        --conditions none placebo facts teacher-facts --out experiments/pilots/p60-leg-facts-64

Writes OUT/records.jsonl and OUT/summary.md (accuracy with Wilson intervals, paired difference
to ``none`` with McNemar p and MDD, cut %, minutes).
"""

from __future__ import annotations

import argparse
import json
import re
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
FACTS_PROMPT = (
    "Here is a question about animals:\n\n{question}\n\nList every kind of animal the "
    "question names, one per line, each as \"A <animal> has <number> legs.\" with the legs of "
    "one such animal. Do not count or add anything.")
"""What the untrained teacher is asked for ``teacher-facts``."""
CONDITIONS = ("none", "placebo", "facts", "facts+method", "teacher-facts")


def leg_table(n: int, seed: int) -> list[dict[str, int]]:
    """For each of the ``n`` questions of ``family_examples('leg_counting', n, seed)``, the legs
    of every animal it names, from reasoning-gym's own table."""
    import reasoning_gym
    from reasoning_gym.arithmetic.leg_counting import ANIMALS

    dataset = reasoning_gym.create_dataset("leg_counting", size=n, seed=seed)
    return [{animal: ANIMALS[animal] for animal in entry["metadata"]["animals"]}
            for entry in dataset]


def facts_text(legs: dict[str, int]) -> str:
    """The facts as sentences: "A crab has 10 legs. An ant has 6 legs."."""
    return " ".join(f"{'An' if animal[0] in 'aeiou' else 'A'} {animal} has {count} legs."
                    for animal, count in legs.items())


def stated_right(text: str, legs: dict[str, int]) -> int:
    """How many animals ``text`` gives their right legs: a sentence that names the animal (or
    its plural) and the right number ("no" for 0)."""
    sentences = re.split(r"(?<=[.!\n])\s*", text.lower())
    return sum(any(animal in s and re.search(rf"\b{'(0|no)' if count == 0 else count}\b", s)
                   for s in sentences) for animal, count in legs.items())


def teacher_facts(config, questions: list[str]) -> list[str]:
    """The untrained teacher's facts for each question (greedy, up to 160 tokens)."""
    from wst.teacher import load_teacher, write_instructions

    model, tokenizer = load_teacher(config.teacher.model)
    return write_instructions(model, tokenizer, questions, FACTS_PROMPT, 160)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], help="config override")
    parser.add_argument("--conditions", nargs="+", choices=CONDITIONS,
                        default=list(CONDITIONS[:4]))
    args = parser.parse_args()
    config = load_run_config(args.config, args.set)
    task = get_task(config.task.name, config.task)
    seed = SEEDS["train"] + config.task.split_seed
    examples = family_examples("leg_counting", args.n, seed)
    table = leg_table(args.n, seed)
    facts = [facts_text(legs) for legs in table]
    started = time.perf_counter()
    known = {"none": lambda: [None] * args.n, "placebo": lambda: [PLACEBO] * args.n,
             "facts": lambda: facts, "facts+method": lambda: [f"{f} {METHOD}" for f in facts],
             "teacher-facts": lambda: teacher_facts(config, [e.question for e in examples])}
    instructions = {name: known[name]() for name in args.conditions}
    student = make_student(config.student)
    args.out.mkdir(parents=True, exist_ok=True)
    scores, cuts = {}, {}
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
    if "teacher-facts" in instructions:
        right = [stated_right(t, legs) for t, legs in zip(instructions["teacher-facts"], table)]
        animals = sum(len(legs) for legs in table)
        every = sum(r == len(legs) for r, legs in zip(right, table))
        lines.append(f"\nThe untrained teacher ({config.teacher.model}) states the right legs "
                     f"for {sum(right)} of the {animals} animals named, and for every animal of "
                     f"the question in {every} of {args.n} questions.")
    text = "\n".join(lines) + "\n"
    (args.out / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
