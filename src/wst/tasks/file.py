"""Your own data, no code: questions and reference answers from one file, any scorer.

A TOML task file (``wst train --task my.toml``) is enough::

    [task]
    name = "file"
    source = "capitals.csv"       # .jsonl, .json (a list), .parquet or .csv
    question_field = "prompt"     # default "question"
    answer_field = "label"        # default "answer"
    scorer = "exact"              # math (default), numeric, exact or regex (+ answer_pattern)

With ``scorer = "judge"`` the answer field is optional (the judge, ``[judge]``, scores the
reply to the question alone; an answer such as ``harmful``/``benign`` is passed as a hint)::

    [task]
    name = "file"
    source = "prompts.jsonl"
    question_field = "prompt"
    scorer = "judge"
"""

from __future__ import annotations

from pathlib import Path

from wst.config import TaskConfig
from wst.tasks.base import DatasetError, Example, Split, Task
from wst.tasks.files import DATA_SUFFIXES, read_records, seeded_split


class FileTask(Task):
    name = "file"
    description = "your own question/answer records: a .jsonl/.json/.parquet/.csv file"
    default_scorer = "math"

    def load(self, config: TaskConfig, with_train: bool = True) -> Split:
        source = Path(config.source)
        if source.suffix not in DATA_SUFFIXES:
            raise DatasetError(f"the file task reads task.source as a data file "
                               f"({', '.join(DATA_SUFFIXES)}), not {config.source!r}")
        question, answer = config.question_field, config.answer_field
        required = (question,) if self.judged else (question, answer)
        rows = read_records(source, required)
        examples = [
            Example(str(row.get("id", f"{source.stem}-{i}")), row[question].strip(),
                    str(row.get(answer) or "").strip())
            for i, row in enumerate(rows, start=1)
        ]
        test, train = seeded_split(examples, config.test_fraction, config.split_seed)
        info = {"source": str(source), "split_by": "seeded item shuffle",
                "split_seed": config.split_seed, "test_fraction": config.test_fraction,
                "scorer": self.scorer, "n_items": len(examples)}
        return Split(train=train[: config.train_size] if with_train else [],
                     test=test[: config.test_size] if config.test_size else test, info=info)
