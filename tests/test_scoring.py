"""Answer extraction and comparison (wst.scoring), checked on hand-made cases."""

from __future__ import annotations

import pytest

from wst.scoring import extract_final, last_boxed, leaks_answer, math_equal, score_math


# (student output, reference answer, expected score)
SCORE_CASES = [
    # \boxed{}
    pytest.param(r"so she has \boxed{18} eggs", "18", 1.0, id="boxed-plain"),
    pytest.param(r"\boxed{17}", "18", 0.0, id="boxed-wrong"),
    pytest.param(r"half: \boxed{\frac{1}{2}}", "0.5", 1.0, id="boxed-frac-vs-decimal"),
    pytest.param(r"\boxed{\frac12}", "0.5", 1.0, id="boxed-short-frac"),
    pytest.param(r"\boxed{\dfrac{3}{4}}", "0.75", 1.0, id="boxed-dfrac"),
    pytest.param(r"\boxed{\frac{3}{2}}", "1.5", 1.0, id="boxed-improper-frac"),
    pytest.param(r"\boxed{\sqrt{16}}", "4", 1.0, id="boxed-sqrt"),
    pytest.param(r"\boxed{2\sqrt{2}}", r"\sqrt{8}", 1.0, id="boxed-sqrt-symbolic"),
    pytest.param(r"\boxed{\frac{\sqrt{2}}{2}}", r"\frac{1}{\sqrt{2}}", 1.0,
                 id="boxed-nested-braces"),
    pytest.param(r"\boxed{{18}}", "18", 1.0, id="boxed-double-braces"),
    pytest.param(r"first \boxed{3}, then \boxed{5}", "5", 1.0, id="last-box-wins"),
    pytest.param(r"first \boxed{3}, then \boxed{5}", "3", 0.0, id="earlier-box-ignored"),
    pytest.param(r"\boxed{18}. I had 20 at first and 3 friends.", "18", 1.0, id="text-after-box"),
    pytest.param(r"\boxed{18}" + "\n#### 20", "18", 1.0, id="box-beats-hashes"),
    pytest.param(r"$\boxed{18}$", "18", 1.0, id="boxed-in-math-mode"),
    pytest.param(r"\fbox{18}", "18", 1.0, id="fbox"),
    pytest.param(r"\boxed{1,250}", "1250", 1.0, id="boxed-thousands"),
    pytest.param(r"\boxed{\$18}", "18", 1.0, id="boxed-escaped-dollar"),
    pytest.param(r"\boxed{\$1,250.00}", "1250", 1.0, id="boxed-dollar-thousands-cents"),
    pytest.param(r"\boxed{18 \text{ dollars}}", "18", 1.0, id="boxed-text-unit"),
    pytest.param(r"\boxed{5\%}", "5", 1.0, id="boxed-percent"),
    pytest.param(r"\boxed{-3}", "-3", 1.0, id="boxed-negative"),
    pytest.param(r"\boxed{0.5}", r"\frac12", 1.0, id="decimal-vs-latex-frac-reference"),
    # GSM8K's #### N
    pytest.param("3 + 4 = 7\n#### 7", "7", 1.0, id="hashes"),
    pytest.param("#### 1,250", "1250", 1.0, id="hashes-thousands"),
    pytest.param("#### $1,250", "1250", 1.0, id="hashes-dollar"),
    pytest.param("#### 18 eggs", "18", 1.0, id="hashes-unit"),
    pytest.param("#### 18.00", "18", 1.0, id="hashes-trailing-zeros"),
    pytest.param("#### -5", "-5", 1.0, id="hashes-negative"),
    pytest.param("#### 20\nThe answer is 18", "20", 1.0, id="hashes-beat-answer-is"),
    # "The answer is N"
    pytest.param("The answer is 42. Check: 40 + 2 = 42 and 100 - 58 = 42.", "42", 1.0,
                 id="answer-is"),
    pytest.param("The answer is 18. Earlier she had 20 eggs.", "18", 1.0,
                 id="answer-is-beats-last-number"),
    pytest.param("Final Answer: The final answer is $18$. I hope it is correct.", "18", 1.0,
                 id="final-answer-dollar-math"),
    pytest.param("Answer: 42", "42", 1.0, id="answer-colon"),
    pytest.param("The answer is 0.50", "0.5", 1.0, id="answer-is-decimal"),
    pytest.param("The answer is -3", "-3", 1.0, id="answer-is-negative"),
    pytest.param("The answer is 3", "-3", 0.0, id="sign-matters"),
    pytest.param("The answer is 17", "18", 0.0, id="answer-is-wrong"),
    # dollars, units, commas, last number
    pytest.param("$18", "18", 1.0, id="dollar-sign"),
    pytest.param("She earns 18 dollars", "18", 1.0, id="dollars-word"),
    pytest.param("18 eggs", "18", 1.0, id="unit-word"),
    pytest.param("The total is $1,250.", "1250", 1.0, id="dollar-thousands-period"),
    pytest.param("It costs 1,250 dollars", "1250", 1.0, id="thousands-unit"),
    pytest.param("The answer is 18, since 20 - 2 = 18.", "18", 1.0, id="trailing-comma"),
    pytest.param("He has 5 apples and 3 pears, so 8 fruits.", "8", 1.0, id="last-number"),
    pytest.param("The temperature dropped to -3 degrees", "-3", 1.0, id="last-number-negative"),
    pytest.param("18.0", "18", 1.0, id="decimal-point-zero"),
    pytest.param("0.5", "1/2", 1.0, id="decimal-vs-slash-fraction-reference"),
    pytest.param("3.14159", "3.14", 0.0, id="close-is-not-equal"),
    # no answer at all
    pytest.param("", "18", 0.0, id="empty"),
    pytest.param("   ", "18", 0.0, id="whitespace"),
    pytest.param("I cannot tell.", "18", 0.0, id="words-only"),
    pytest.param("The answer is eighteen.", "18", 0.0, id="number-in-words"),
    pytest.param(r"\boxed{}", "18", 0.0, id="empty-box"),
    pytest.param("####", "18", 0.0, id="empty-hashes"),
    # fractions, LaTeX without a box, units inside \text, working after 'Answer:', '-$'
    pytest.param("The answer is 1/2", "0.5", 1.0, id="answer-is-slash-fraction"),
    pytest.param("Each friend gets 3/4 of a pizza.", "0.75", 1.0, id="last-number-fraction"),
    pytest.param(r"So the answer is $\frac{1}{2}$.", "0.5", 1.0, id="answer-is-inline-latex"),
    pytest.param(r"\boxed{\text{18 eggs}}", "18", 1.0, id="boxed-number-inside-text"),
    pytest.param("Answer: 12 * 3 = 36", "36", 1.0, id="answer-colon-then-working"),
    pytest.param("The change is -$5", "-5", 1.0, id="minus-before-dollar"),
    # working after a stated answer: in parentheses, or after a comma or semicolon
    pytest.param("The answer is 18 (she had 20 eggs)", "18", 1.0, id="answer-is-parenthesis"),
    pytest.param("The answer is 18, since she had 20 eggs and ate 2.", "18", 1.0,
                 id="answer-is-then-clause"),
    pytest.param("The answer is 18; 20 - 2 = 18", "18", 1.0, id="answer-is-then-semicolon"),
    pytest.param("The answer is (3/4)", "0.75", 1.0, id="answer-is-in-parentheses"),
    pytest.param(r"So the answer is $\frac12$.", "0.5", 1.0, id="answer-is-short-frac"),
]


@pytest.mark.parametrize("output, reference, expected", SCORE_CASES)
def test_score_math(output: str, reference: str, expected: float) -> None:
    assert score_math(output, reference) == expected


@pytest.mark.parametrize(
    "output, final",
    [
        (r"so \boxed{\frac{1}{2}} and then \boxed{3}", "3"),
        (r"\boxed{\frac{\sqrt{2}}{2}} units", r"\frac{\sqrt{2}}{2}"),
        ("3 + 4 = 7. #### 7", "7"),
        ("It costs $1,250 in total.", "1,250"),
        ("The answer is 42. Then 7.", "42"),
        ("The answer is 18 (she had 20 eggs)", "18"),
        (r"It is $\frac12$ of the cake", r"\frac12"),
        ("I cannot tell.", None),
        ("", None),
    ],
)
def test_extract_final(output: str, final: str | None) -> None:
    assert extract_final(output) == final


def test_last_boxed_unbalanced_is_none() -> None:
    assert last_boxed(r"\boxed{18") is None
    assert last_boxed("no box") is None


@pytest.mark.parametrize(
    "prediction, reference, equal",
    [
        ("1,000", "1000", True),
        (r"\frac12", "0.5", True),
        ("18 dollars", "18", True),
        ("$18.00", "18", True),
        ("17", "18", False),
        ("-18", "18", False),
        (r"\frac{1}{3}", "0.3333333", True),  # within 1e-6 relative tolerance
        ("0.3333", r"\frac13", False),  # rounding is not equality
        (r"\invalid{{", "18", False),  # unparsable LaTeX is "not equal", not an exception
    ],
)
def test_math_equal(prediction: str, reference: str, equal: bool) -> None:
    assert math_equal(prediction, reference) is equal


@pytest.mark.parametrize(
    "instruction, reference, question, leaks",
    [
        ("The answer is 42.", "42", "Tom has 40 apples and gets 2.", True),
        ("Add the 40 and the 2.", "42", "Tom has 40 apples and gets 2.", False),
        ("Think about the 12 items.", "12", "He has 12 items and sells 3.", False),  # in question
        ("Step 2: add.", "2", "Add 2 and 0.", False),
        ("Multiply by 125.", "12", "He buys 5 boxes.", False),  # whole numbers only
        ("Use 112 apples.", "12", "He buys 5 boxes.", False),
        ("About 12.5 per box.", "12", "He buys 5 boxes.", False),
        ("The total is 1,250 dollars.", "1250", "5 boxes of 250.", True),  # commas ignored
        ("It comes to 42.0.", "42", "Tom has 40 apples.", True),  # same value
        ("That is $42 in total.", "42", "Tom has 40 apples.", True),
        ("The answer is 42.", "42", "Find the 42nd term.", False),
        ("", "42", "Tom has 40 apples.", False),
        (r"It is \frac{1}{2}.", r"\frac{1}{2}", "Halve 8.", True),  # a LaTeX fraction: its value
        ("Halve it.", r"\frac{1}{2}", "Halve 8.", False),
        ("Now check each step.", "No", "Is 7 even?", False),  # whole words only
        ("Say no if it is odd.", "No", "Is 7 even?", True),
        ("Paris is the capital.", "paris", "Capital of France?", True),  # case ignored
        ("Think of new york.", "New  York", "Which city?", True),  # runs of spaces
        ("It is 1/2 of the cake.", r"\frac12", "Halve 8.", True),  # same value
        ("It is 0.5 of the cake.", r"$\frac{1}{2}$", "Halve 8.", True),
        (r"Take \frac{1}{2} of it.", "0.5", "Halve 8.", True),
        (r"Take \frac{1}{2} of it.", "0.5", "Take 1/2 of 8.", False),  # in the question
        (r"Use \frac{1}{2}.", "2", "Halve 8.", False),  # a fraction's parts are not numbers
    ],
)
def test_leaks_answer(instruction: str, reference: str, question: str, leaks: bool) -> None:
    assert leaks_answer(instruction, reference, question) is leaks


# MATH-style answers: intervals, equivalent roots, text after the box, units. (math-verify
# does not equate "1 \le x < 3" with "[1, 3)", nor convert units: those are left out.)
MATH_CASES = [
    pytest.param(r"\boxed{[1, 3)}", "[1, 3)", 1.0, id="interval-half-open"),
    pytest.param(r"\boxed{[1,3)}", "[1, 3)", 1.0, id="interval-spacing"),
    pytest.param(r"\boxed{(1, 3]}", "[1, 3)", 0.0, id="interval-other-ends"),
    pytest.param(r"\boxed{[1, 3]}", "[1, 3)", 0.0, id="interval-closed-vs-half-open"),
    pytest.param(r"\boxed{(-\infty, 2) \cup (3, \infty)}", r"(-\infty,2)\cup(3,\infty)", 1.0,
                 id="interval-union"),
    pytest.param(r"$x \in \boxed{[1, 3)}$ so it is closed at 1", "[1, 3)", 1.0,
                 id="interval-text-after-box"),
    pytest.param(r"\boxed{2\sqrt{3}}", r"\sqrt{12}", 1.0, id="sqrt-simplified-vs-not"),
    pytest.param(r"\boxed{\sqrt{12}}", r"2\sqrt{3}", 1.0, id="sqrt-not-simplified"),
    pytest.param(r"\boxed{2\sqrt3}", r"\sqrt{12}", 1.0, id="sqrt-no-braces"),
    pytest.param(r"\boxed{3\sqrt{2}}", r"2\sqrt{3}", 0.0, id="sqrt-different"),
    pytest.param(r"\boxed{\sqrt{12}}", r"4\sqrt{3}", 0.0, id="sqrt-wrong-factor"),
    pytest.param(r"\boxed{2\sqrt{3}} \approx 3.46", r"\sqrt{12}", 1.0, id="sqrt-approx-after"),
    pytest.param(r"So \boxed{\frac{14}{3}}. Note 14/3 is about 4.67.", r"\frac{14}{3}", 1.0,
                 id="numbers-after-box"),
    pytest.param(r"\boxed{5} ways, since 2 + 3 = 5 and 10 is too many.", "5", 1.0,
                 id="working-after-box"),
    pytest.param(r"\boxed{12\text{ cm}}", "12", 1.0, id="unit-text"),
    pytest.param(r"\boxed{12\,\text{cm}^2}", "12", 1.0, id="unit-squared"),
    pytest.param(r"\boxed{12 \mbox{ cm}^2}", "12", 1.0, id="unit-mbox"),
    pytest.param(r"\boxed{12}", r"12\text{ cm}", 1.0, id="unit-in-reference"),
    pytest.param(r"\boxed{90^\circ}", "90", 1.0, id="degrees"),
    pytest.param(r"\boxed{90}", r"90^\circ", 1.0, id="degrees-in-reference"),
    pytest.param(r"\boxed{x=2}", "2", 1.0, id="equation-vs-value"),
    pytest.param(r"\boxed{C}", r"\text{(C)}", 1.0, id="choice-letter"),
    pytest.param(r"\boxed{(3, \frac{\pi}{2})}", r"\left( 3, \frac{\pi}{2} \right)", 1.0,
                 id="tuple-left-right"),
    pytest.param(r"\boxed{\frac{n(n+1)}{2}}", "n(n+1)/2", 1.0, id="symbolic-plain-reference"),
    pytest.param(r"\boxed{\binom{10}{5}}", "252", 1.0, id="binomial"),
    pytest.param(r"\boxed{\text{No}}", "No", 1.0, id="yes-no"),
    pytest.param(r"\boxed{Yes}", "No", 0.0, id="yes-no-wrong"),
]


@pytest.mark.parametrize("output, reference, expected", MATH_CASES)
def test_score_math_competition_answers(output: str, reference: str, expected: float) -> None:
    assert score_math(output, reference) == expected
