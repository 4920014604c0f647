"""P12's mechanism: per source in an ``instruction_sources.py`` rows file, how many answers
were written as a Python block, and how many of those and of the prose answers were right.

    .venv/bin/python experiments/scripts/code_answers.py experiments/pilots/p12-instruction-sources-1.5b/rows.jsonl
"""

from __future__ import annotations

import json
import sys


def main(path: str) -> None:
    rows = [json.loads(line) for line in open(path)]
    sources = [key[: -len("_score")] for key in rows[0] if key.endswith("_score")]
    for source in sources:
        code = [("```python" in r[f"{source}_answer"], r[f"{source}_score"]) for r in rows]
        in_code = [score for is_code, score in code if is_code]
        in_prose = [score for is_code, score in code if not is_code]
        print(f"{source}: {len(in_code)}/{len(rows)} code answers, {sum(in_code):.0f} right; "
              f"{sum(in_prose):.0f} of {len(in_prose)} prose answers right")


if __name__ == "__main__":
    main(sys.argv[1])
