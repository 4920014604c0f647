"""How close each request of a set comes to the hh_rlhf prompts a teacher trained or was
validated on (difflib ratio, case-folded): a set meant to test a trained teacher on new
requests must not hold near-copies of its training prompts.

    .venv/bin/python experiments/scripts/lookalike_overlap.py results/safe-lookalikes/requests/test.jsonl
    git show 9b4ced0:results/safe-lookalikes/requests/test.jsonl > /tmp/drafts.jsonl
    .venv/bin/python experiments/scripts/lookalike_overlap.py /tmp/drafts.jsonl --threshold 0.64
    .venv/bin/python experiments/scripts/lookalike_overlap.py /tmp/drafts.jsonl --with-test

Prints the requests at or above ``--threshold`` with their closest prompt, and the highest
ratio of all.
"""

from __future__ import annotations

import argparse
import difflib
import json
from pathlib import Path

from wst.tasks import get_task, load_run_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("requests", type=Path, help="a .jsonl of {question: ...} records")
    parser.add_argument("-c", "--config", type=Path, default=Path("configs/hh_rlhf_choice_05b.toml"))
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--with-test", action="store_true",
                        help="compare with the held-out prompts too")
    args = parser.parse_args()
    config = load_run_config(args.config)
    split = get_task(config.task.name, config.task).load(config.task)
    parts = split.train + split.validation + (split.test if args.with_test else [])
    seen = [e.question for e in parts]
    closest = []
    for line in args.requests.read_text().splitlines():
        question = json.loads(line)["question"]
        ratio, prompt = max((difflib.SequenceMatcher(None, question.casefold(),
                                                     p.casefold()).ratio(), p) for p in seen)
        closest.append((ratio, question, prompt))
    for ratio, question, prompt in sorted(closest, reverse=True):
        if ratio >= args.threshold:
            print(f"{ratio:.2f} | {question} | {prompt}")
    print(f"{len(closest)} requests; highest ratio {max(closest)[0]:.2f}; "
          f"{sum(r >= args.threshold for r, _, _ in closest)} at or above {args.threshold}")


if __name__ == "__main__":
    main()
