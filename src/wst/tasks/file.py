"""Your own data, no code: questions and reference answers from one file (split by a seeded
shuffle) or a folder with your own split, any scorer.

A TOML task file (``wst train --task my.toml``) is enough::

    [task]
    name = "file"
    source = "capitals.csv"       # .jsonl, .json (a list), .parquet or .csv; or a folder
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

A folder holds a ``test`` file (``test.jsonl``, ``test.csv``, ...), all of it held out, and a
``train`` file, which training needs and evaluation does not; ``task.test_fraction`` is then
not used.
"""

from __future__ import annotations

from pathlib import Path

from wst.config import TaskConfig
from wst.tasks.base import DatasetError, Example, Split, Task
from wst.tasks.files import DATA_SUFFIXES, read_records, seeded_split, split_files


class FileTask(Task):
    name = "file"
    description = ("your own question/answer records: a .jsonl/.json/.parquet/.csv file, or a "
                   "folder of train and test files")
    default_scorer = "math"

    def _load(self, config: TaskConfig, with_train: bool) -> Split:
        source = Path(config.source)
        if source.is_dir():
            test, train, info = self._folder_split(source, config, with_train)
        elif source.suffix in DATA_SUFFIXES:
            examples = self._read(source, config)
            test, train = seeded_split(examples, config.test_fraction, config.split_seed)
            info = {"split_by": "seeded item shuffle", "split_seed": config.split_seed,
                    "test_fraction": config.test_fraction, "n_items": len(examples)}
        else:
            raise DatasetError(f"the file task reads task.source as a data file "
                               f"({', '.join(DATA_SUFFIXES)}) or a folder of train and test "
                               f"files, not {config.source!r}")
        info = {"source": str(source), **info, "scorer": self.scorer}
        return Split(train=train[: config.train_size] if with_train else [],
                     test=test[: config.test_size] if config.test_size else test, info=info)

    def _folder_split(self, folder: Path, config: TaskConfig,
                      with_train: bool) -> tuple[list[Example], list[Example], dict]:
        """(test, train, info) of a folder holding its own split: every item of its test file
        is held out; training needs its train file too."""
        test_file, train_file = split_files(folder)
        if with_train and train_file is None:
            raise DatasetError(f"{folder}: no train file ({'/'.join(DATA_SUFFIXES)}) found; "
                               f"training needs one (evaluation needs only the test file)")
        train = self._read(train_file, config) if with_train and train_file else []
        info = {"split_by": "the folder's train and test files", "test_file": str(test_file),
                "train_file": str(train_file) if train_file else None}
        return self._read(test_file, config), train, info

    def _read(self, path: Path, config: TaskConfig) -> list[Example]:
        """The examples of one data file (the answer field is optional when a judge scores)."""
        question, answer = config.question_field, config.answer_field
        required = (question,) if self.judged else (question, answer)
        return [Example(row["id"], row[question].strip(), str(row.get(answer) or "").strip())
                for row in read_records(path, required)]
