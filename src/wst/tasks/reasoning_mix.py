r"""A mix of reasoning-gym task families: procedurally generated questions of several kinds
(counting letters, reversing words, counting legs, binary digits, ...), offline.

Why a mix: a single instruction can only suit every kind of question at once, while a
teacher that reads the question can give each kind the method it needs. The families are
named by ``task.source`` (``embedded`` = ``DEFAULT_FAMILIES``, or a comma-separated list of
reasoning-gym dataset names); each question gets one format line asking for the final answer
in ``\boxed{}``, and is scored by the ``mixed`` scorer (numbers as numbers, text exactly).

Split: training, validation and test items come from different generator seeds, so no item
repeats (questions equal to a test question are also dropped from the other two). The
families are shared by design, as hh_rlhf's harmful and benign kinds are: what is learned is
which method fits which kind of question, not any item's answer. Each item's family is its
``subset``, so evaluation reports every family apart. A question that repeats within a part
is kept (the generators rarely repeat one); one equal to a test question is dropped from the
training and validation parts, which may then hold a few items fewer than asked.
"""

from __future__ import annotations

import itertools

from wst.config import TaskConfig
from wst.tasks.base import DatasetError, Example, Split, Task

DEFAULT_FAMILIES = ("letter_counting", "spell_backward", "leg_counting", "count_bits",
                    "family_relationships", "time_intervals", "gcd")
"""Families with short answers that the ``mixed`` scorer reads exactly. Left out:
``fraction_simplification``, whose references come in several notations ("26/131",
"$\\dfrac{202}{761}$") and whose check needs reasoning-gym's own scorer."""
FORMAT_LINE = "Give the final answer in \\boxed{}."
DEFAULT_TEST_PER_FAMILY = 40
"""Held-out items per family when ``task.test_size`` is 0: a generator has no "all"."""
SEEDS = {"train": 1000, "validation": 2000, "test": 3000}
"""Generator seed of each part (plus ``task.split_seed``): the parts never share an item."""


def family_examples(family: str, n: int, seed: int) -> list[Example]:
    """``n`` questions of one reasoning-gym family, generated with ``seed``."""
    try:
        import reasoning_gym
    except ImportError as exc:
        raise DatasetError("the reasoning_mix task needs reasoning-gym==0.1.25 "
                           "(scripts/install.sh installs it)") from exc
    if n == 0:  # some generators refuse size 0
        return []
    try:
        dataset = reasoning_gym.create_dataset(family, size=n, seed=seed)
    except (ValueError, KeyError, AssertionError) as exc:
        raise DatasetError(f"task.source names {family!r}, not a reasoning-gym dataset "
                           f"({exc})") from exc
    return [Example(id=f"{family}-{seed}-{i}",
                    question=f"{entry['question'].strip()}\n\n{FORMAT_LINE}",
                    answer=str(entry["answer"]).strip(), subset=family)
            for i, entry in enumerate(dataset)]


def families(source: str) -> tuple[str, ...]:
    """The families a ``task.source`` names."""
    if source == "embedded":
        return DEFAULT_FAMILIES
    names = tuple(name.strip() for name in source.split(",") if name.strip())
    if not names:
        raise DatasetError("task.source: name reasoning-gym families, comma-separated, or "
                           "'embedded' for the default mix")
    return names


def interleaved(names: tuple[str, ...], total: int, seed: int) -> list[Example]:
    """``total`` items, the families taking turns (so any first k items cover all of them)."""
    per_family = -(-total // len(names))
    columns = [family_examples(name, per_family, seed) for name in names]
    rows = itertools.chain.from_iterable(itertools.zip_longest(*columns))
    return [example for example in rows if example is not None][:total]


class ReasoningMix(Task):
    name = "reasoning_mix"
    description = ("a mix of reasoning-gym families (letter counting, word reversal, leg "
                   "counting, ...), generated offline; reported per family")
    default_scorer = "mixed"
    fixed_instruction = "Solve it step by step, then give the final answer in \\boxed{}."
    fixed_variants = (
        "Give only the final answer in \\boxed{}, with no explanation.",
        "Solve it step by step in plain sentences, checking each step, then give the final "
        "answer in \\boxed{}.",
        "First write the letters or digits involved one at a time, separated by spaces, then "
        "work from that list and give the final answer in \\boxed{}.",
    )

    def _load(self, config: TaskConfig, with_train: bool) -> Split:
        names = families(config.source)
        seed = config.split_seed
        test = interleaved(names, config.test_size or DEFAULT_TEST_PER_FAMILY * len(names),
                           SEEDS["test"] + seed)
        seen = {e.question for e in test}
        validation = [e for e in interleaved(names, config.validation_items,
                                             SEEDS["validation"] + seed) if e.question not in seen]
        seen |= {e.question for e in validation}
        train = [e for e in interleaved(names, config.train_size if with_train else 0,
                                        SEEDS["train"] + seed) if e.question not in seen]
        info = {"source": "reasoning-gym==0.1.25", "families": list(names),
                "split_by": "generator seed per part (train, validation, test)",
                "seeds": {part: s + seed for part, s in SEEDS.items()}}
        return Split(train=train, test=test, info=info, validation=validation)
