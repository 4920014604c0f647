"""Answer extraction and checking for math tasks, and the answer-leak check.

math-verify does the mathematical comparison (fractions, roots, LaTeX). What it does not do
is pick *which* part of a free-form answer is final: GSM8K's ``#### N``, "the answer is N",
or simply the last number. That choice is written here by hand, in ``extract_final``.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Callable

from math_verify import parse, verify

_NUMBER = r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+"
_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(r"(?:final answer|the answer|answer)\s*(?:is|:|=)([^\n]*)", re.IGNORECASE)
_FRAC = re.compile(r"(-?)\\[dt]?frac\s*(?:\{([^{}]*)\}|(\d))\s*(?:\{([^{}]*)\}|(\d))")
"""A LaTeX fraction, ``\\frac{a}{b}`` or the short ``\\frac12``: (sign, a or a digit, b or a
digit)."""
_LAST_NUMBER = re.compile(_NUMBER)
_ASIDE = re.compile(r"\s*\([^()]*\)|[,;]\s+(?=[A-Za-z]).*")
"""A parenthesis, or a clause after a comma or semicolon: working that follows a stated
answer ("18 (she had 20 eggs)", "18, since 20 - 2 = 18")."""


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` (or ``\fbox{...}``), braces balanced.

    >>> last_boxed(r"so \boxed{\frac{1}{2}} and then \boxed{3}")
    '3'
    >>> last_boxed("no box") is None
    True
    """
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i:j].strip()
    return None


def extract_final(text: str) -> str | None:
    r"""The final answer of a free-form solution, or None when it gives none.

    Order: last ``\boxed{}``; GSM8K's ``#### N``; "the answer is N" (its last value, working
    in parentheses or after a comma left out); the last number.

    >>> extract_final("3 + 4 = 7. #### 7")
    '7'
    >>> extract_final("It costs $1,250 in total.")
    '1,250'
    >>> extract_final("The answer is 18 (she had 20 eggs).")
    '18'
    >>> extract_final("I cannot tell.") is None
    True
    """
    boxed = last_boxed(text)
    if boxed:
        return boxed
    hashes = _HASHES.findall(text)
    if hashes:
        return hashes[-1].strip()
    for segment in reversed(_ANSWER_IS.findall(text)):
        sentence = re.split(r"\.\s", segment)[0]  # that sentence only
        final = _last_value(_ASIDE.sub("", sentence)) or _last_value(sentence)
        if final:
            return final
    return _last_value(text)


def _last_value(text: str) -> str | None:
    """The last LaTeX fraction or number of a text ("-$5" reads as -5)."""
    text = re.sub(r"-\s*\\?\$", "-", text)
    candidates = [(m.start(), m.group()) for m in _FRAC.finditer(text)]
    without_fracs = _FRAC.sub(lambda m: " " * len(m.group()), text)  # keeps positions
    candidates += [(m.start(), m.group()) for m in _LAST_NUMBER.finditer(without_fracs)]
    return max(candidates)[1] if candidates else None


def _plain_number(text: str) -> float | None:
    """A plain number (``1,250``, ``$18``, ``18 eggs``, ``3/4``, ``\\text{18 eggs}``) or None.

    >>> _plain_number("$1,250.50"), _plain_number(r"\\text{18 eggs}"), _plain_number("3/4")
    (1250.5, 18.0, 0.75)
    """
    text = re.sub(r"\\(?:text|mathrm|mbox)\{([^}]*)\}", r"\1", text)
    text = re.sub(r"[,$\s]|\\[!,;:]|\\%|%", "", text).rstrip(".")
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?|-?\.\d+)(?:/(\d+))?[A-Za-z]*", text)
    if not match:
        return None
    value = float(match.group(1))
    if match.group(2):
        denominator = float(match.group(2))
        return value / denominator if denominator else None
    return value


def math_equal(prediction: str, reference: str) -> bool:
    r"""Whether two final answers are mathematically equal.

    Plain numbers (commas, ``$``, trailing units) compare as numbers; anything else goes to
    math-verify.

    >>> math_equal("1,000", "1000"), math_equal(r"\frac12", "0.5"), math_equal("18 dollars", "18")
    (True, True, True)
    >>> math_equal("17", "18")
    False
    """
    left, right = _plain_number(prediction), _plain_number(reference)
    if left is not None and right is not None:
        return _close(left, right)
    try:
        return bool(verify(parse(f"${reference}$"), parse(f"${prediction}$")))
    except Exception:  # math-verify raises on some unparsable LaTeX: that is "not equal"
        return False


def _close(left: float, right: float) -> bool:
    return abs(left - right) <= 1e-6 * max(1.0, abs(right))


def score_math(output: str, reference: str) -> float:
    """1.0 when the output's final answer equals the reference answer, else 0.0.

    >>> score_math(r"... so she has \\boxed{18} eggs", "18")
    1.0
    >>> score_math("", "18")
    0.0
    """
    final = extract_final(output)
    return float(final is not None and math_equal(final, reference))


def score_numeric(output: str, reference: str) -> float:
    r"""1.0 when the output's final answer (as ``extract_final`` picks it) and the reference
    are the same plain number (commas, ``$``, ``%`` and trailing units ignored), else 0.0.

    >>> score_numeric("so the total is $1,250.", "1250"), score_numeric(r"\boxed{\frac12}", "0.5")
    (1.0, 0.0)
    """
    final = extract_final(output)
    left = _plain_number(final) if final is not None else None
    right = _plain_number(reference)
    return float(left is not None and right is not None and _close(left, right))


def _normalise(text: str) -> str:
    """Lower case, runs of whitespace as one space, no final period."""
    return " ".join(text.split()).casefold().rstrip(".").rstrip()


def score_exact(output: str, reference: str) -> float:
    r"""1.0 when the final answer (the last ``\boxed{}``'s content, else the whole output)
    equals the reference, ignoring case, runs of whitespace and a final period; else 0.0.

    >>> score_exact("  Paris.\n", "paris"), score_exact(r"It is \boxed{Lyon}", "Paris")
    (1.0, 0.0)
    """
    return float(_normalise(last_boxed(output) or output) == _normalise(reference))


_BARE_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def score_mixed(output: str, reference: str) -> float:
    r"""``score_math`` where the reference is a bare number ("18", "-3", "1,250.5"), else
    ``score_exact``: for tasks whose answers are numbers for some questions and words or
    formatted values for others. Only a bare number is compared by value, so "12 days" must
    be written as such and "26/131" is not matched by an unsimplified "52/262".

    >>> score_mixed(r"so \boxed{1,000}", "1000"), score_mixed(r"\boxed{Nus}", "nus")
    (1.0, 1.0)
    >>> score_mixed(r"\boxed{12 hours}", "12 days"), score_mixed(r"\boxed{52/262}", "26/131")
    (0.0, 0.0)
    """
    if _BARE_NUMBER.fullmatch(reference.strip()):
        return score_math(output, reference)
    return score_exact(output, reference)


def score_regex(output: str, reference: str, pattern: str) -> float:
    r"""1.0 when the last match of ``pattern`` (a regex with one group) captures the reference
    (compared as ``score_exact`` compares); 0.0 when it differs or nothing matches.

    >>> score_regex("Label: POSITIVE", "positive", r"Label:\s*(\w+)")
    1.0
    >>> score_regex("no label here", "positive", r"Label:\s*(\w+)")
    0.0
    """
    matches = list(re.finditer(pattern, output))
    captured = matches[-1].group(1) if matches else None
    return float(captured is not None and _normalise(captured) == _normalise(reference))


SCORERS: dict[str, tuple[Callable[..., float], str]] = {
    "math": (score_math, "final answer (\\boxed{}, ####, 'the answer is', last number) "
                         "equal to the reference by math-verify"),
    "numeric": (score_numeric, "final answer and reference are the same plain number"),
    "exact": (score_exact, "last \\boxed{} (else the whole output) equals the reference, "
                           "ignoring case and whitespace"),
    "mixed": (score_mixed, "bare-number references as 'math' scores them, others as 'exact'"),
    "regex": (score_regex, "task.answer_pattern's one group, last match, equals the reference"),
}
"""Scorer name (``task.scorer``) -> (``f(output, reference) -> float``, description)."""

JUDGE = "judge"
"""The scorer that needs no reference: ``Task.score_many`` hands replies to ``wst.judges``."""
JUDGE_DESCRIPTION = ("a judge model scores the reply to the prompt (see [judge]); the answer "
                     "field, if any, is a hint such as harmful/benign")


def scorer_problem(name: str, answer_pattern: str = "") -> str | None:
    """What is wrong with a scorer setting, or None when it is usable.

    >>> scorer_problem("regex", "(a)(b)")
    'task.answer_pattern must have exactly one group (...), not 2'
    """
    if name not in SCORERS and name != JUDGE:
        known = ", ".join([*SCORERS, JUDGE])
        return f"task.scorer: unknown scorer {name!r}; known scorers: {known}"
    if name != "regex":
        return "task.answer_pattern is used by the regex scorer only" if answer_pattern else None
    if not answer_pattern:
        return "the regex scorer needs task.answer_pattern, a regex with one group (...)"
    try:
        groups = re.compile(answer_pattern).groups
    except re.error as exc:
        return f"task.answer_pattern {answer_pattern!r} is not a valid regex: {exc}"
    if groups != 1:
        return f"task.answer_pattern must have exactly one group (...), not {groups}"
    return None


def get_scorer(name: str, answer_pattern: str = "") -> Callable[[str, str], float]:
    """The scorer ``f(output, reference)`` a name (and, for ``regex``, a pattern) stands for."""
    problem = scorer_problem(name, answer_pattern)
    if problem or name == JUDGE:
        raise ValueError(problem or "the judge scorer is a model: see wst.judges.make_judge")
    function = SCORERS[name][0]
    return partial(function, pattern=answer_pattern) if name == "regex" else function


def leaks_answer(instruction: str, reference: str, question: str) -> bool:
    r"""Whether an instruction states the reference answer that the question does not contain.

    A numeric reference leaks as any number of the same value (``1/2`` for ``\frac12``); one
    from the question itself is not a leak; the check is on whole numbers, so "125" does not
    leak "12". Any other reference leaks as the same whole words, ignoring case ("Paris" leaks
    "paris", "Now" does not leak "No").

    >>> leaks_answer("The answer is 42.", "42", "Tom has 40 apples and gets 2.")
    True
    >>> leaks_answer("Add the 40 and the 2.", "42", "Tom has 40 apples and gets 2.")
    False
    >>> leaks_answer("Step 2: add.", "2", "Add 2 and 0.")
    False
    >>> leaks_answer("Now check the units.", "No", "Is 7 even?")
    False
    """
    value = _value(reference)
    if value is None:
        return _mentions(instruction, reference)
    return _holds(instruction, value) and not _holds(question, value)


def _value(text: str) -> float | None:
    r"""The value of a plain number or of one LaTeX fraction (``$\frac12$``), else None."""
    value = _plain_number(text)
    fraction = _FRAC.fullmatch(text.strip().strip("$").strip())
    return value if value is not None or fraction is None else _fraction_value(fraction)


def _fraction_value(match: re.Match) -> float | None:
    """The value of a ``_FRAC`` match whose parts are plain numbers, else None."""
    sign, numerator, denominator = match[1], match[2] or match[3], match[4] or match[5]
    top, bottom = _plain_number(numerator), _plain_number(denominator)
    if top is None or not bottom:
        return None
    return -top / bottom if sign else top / bottom


def _holds(text: str, value: float) -> bool:
    """Whether a number or LaTeX fraction of ``text`` has ``value``."""
    values = [_fraction_value(m) for m in _FRAC.finditer(text)]
    without_fracs = _FRAC.sub(" ", text)
    values += [_plain_number(token) for token in _LAST_NUMBER.findall(without_fracs)]
    return any(v is not None and _close(v, value) for v in values)


def _mentions(text: str, phrase: str) -> bool:
    """Whether ``text`` holds ``phrase`` as whole words, ignoring case and runs of spaces."""
    words = r"\s+".join(map(re.escape, phrase.split()))
    return bool(words) and re.search(rf"(?<!\w){words}(?!\w)", text, re.IGNORECASE) is not None
