"""Answer extraction and checking for math tasks, and the answer-leak check.

math-verify does the mathematical comparison (fractions, roots, LaTeX). What it does not do
is pick *which* part of a free-form answer is final: GSM8K's ``#### N``, "the answer is N",
or simply the last number. That choice is written here by hand, in ``extract_final``.
"""

from __future__ import annotations

import re

from math_verify import parse, verify

_NUMBER = r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+"
_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*\$?\s*(" + _NUMBER + ")", re.IGNORECASE
)
_LAST_NUMBER = re.compile(_NUMBER)


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

    Order: last ``\boxed{}``; GSM8K's ``#### N``; "the answer is N"; the last number.

    >>> extract_final("3 + 4 = 7. #### 7")
    '7'
    >>> extract_final("It costs $1,250 in total.")
    '1,250'
    >>> extract_final("I cannot tell.") is None
    True
    """
    boxed = last_boxed(text)
    if boxed:
        return boxed
    for pattern in (_HASHES, _ANSWER_IS):
        matches = pattern.findall(text)
        if matches:
            return matches[-1].strip()
    numbers = _LAST_NUMBER.findall(text)
    return numbers[-1] if numbers else None


def _plain_number(text: str) -> float | None:
    cleaned = re.sub(r"[,$\s]|\\[!,;:]|\\text\{[^}]*\}|\\%|%", "", text).rstrip(".")
    try:
        return float(cleaned)
    except ValueError:
        match = re.fullmatch(r"(" + _NUMBER + r")[A-Za-z ]*", text.replace(",", "").strip(" $."))
        return float(match.group(1)) if match else None


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
        return abs(left - right) <= 1e-6 * max(1.0, abs(right))
    try:
        return bool(verify(parse(f"${reference}$"), parse(f"${prediction}$")))
    except Exception:  # math-verify raises on some unparsable LaTeX: that is "not equal"
        return False


def score_math(output: str, reference: str) -> float:
    """1.0 when the output's final answer equals the reference answer, else 0.0.

    >>> score_math(r"... so she has \\boxed{18} eggs", "18")
    1.0
    >>> score_math("", "18")
    0.0
    """
    final = extract_final(output)
    return float(final is not None and math_equal(final, reference))


def leaks_answer(instruction: str, reference: str, question: str) -> bool:
    """Whether an instruction states the reference answer that the question does not contain.

    A number from the question itself is not a leak; the check is on whole numbers, so "125"
    does not leak "12".

    >>> leaks_answer("The answer is 42.", "42", "Tom has 40 apples and gets 2.")
    True
    >>> leaks_answer("Add the 40 and the 2.", "42", "Tom has 40 apples and gets 2.")
    False
    >>> leaks_answer("Step 2: add.", "2", "Add 2 and 0.")
    False
    """
    value = _plain_number(reference)
    if value is None:
        return reference.strip() != "" and reference.strip() in instruction
    pattern = re.compile(_NUMBER)

    def numbers(text: str) -> set[float]:
        found = set()
        for token in pattern.findall(text):
            number = _plain_number(token)
            if number is not None:
                found.add(number)
        return found

    return value in numbers(instruction) and value not in numbers(question)
