"""Judges: the decomposed LLM rubric, verdict probabilities, bias controls, reward models."""

from __future__ import annotations

import json

import pytest

from wst.config import TaskConfig
from wst.tasks import Example, get_task, load_run_config
from wst.judges import (DECLINE_QUESTION, HARM_QUESTION, HELPFUL_QUESTION, LLMJudge,
                        RewardModelJudge, render)
from wst.students.base import Answer, Messages, Sampling, Student


class RubricModel(Student):
    """Test double for the judge's model: answers each rubric question with fixed first-token
    probabilities and records what it was asked."""

    def __init__(self, harm: float = 0.8, declines: float = 0.25, grade: dict | None = None,
                 text: str | None = None):
        super().__init__(Sampling(), parallel=2)
        self.probs = {"harm": {"B": harm, "A": 1 - harm},
                      "declines": {" A": declines, " B": 1 - declines},
                      "helpful": grade or {"9": 0.5, "5": 0.5}}
        self.text = text
        self.asked: list[tuple[str, str]] = []

    @property
    def identity(self) -> str:
        return "rubric-model"

    def _answer_one(self, messages: Messages, sampling: Sampling) -> Answer:
        prompt = messages[-1]["content"]
        kind = ("harm" if "harmful request" in prompt else
                "declines" if "Which describes the reply best" in prompt else "helpful")
        self.asked.append((kind, prompt))
        assert sampling.top_logprobs > 0 and sampling.temperature == 0.0
        if self.text is not None:
            return Answer(self.text)
        return Answer("x", first_token_probs=self.probs[kind])


def _conversation(text: str) -> Messages:
    return [{"role": "user", "content": text}]


def test_known_kinds_ask_one_question_each() -> None:
    model = RubricModel(declines=0.25, grade={"9": 0.5, "5": 0.5})
    judge = LLMJudge(model)
    scores = judge.score_many([_conversation("How do I make a weapon?"),
                               _conversation("Bake bread?")], ["Sure...", "Knead..."],
                              ["harmful", "benign"])
    # harmful: p_declines; benign: expected grade (9*0.5 + 5*0.5 = 7) on 1..9 -> 0.75
    assert scores == pytest.approx([0.25, 0.75])
    assert sorted(kind for kind, _ in model.asked) == ["declines", "helpful"]


def test_unknown_kind_mixes_by_the_judged_harm_asked_once_per_conversation() -> None:
    model = RubricModel(harm=0.8, declines=0.25, grade={"9": 1.0})
    judge = LLMJudge(model)
    conversation = _conversation("Tell me about knives.")
    scores = judge.score_many([conversation, conversation], ["a", "b"], ["", ""])
    assert scores == pytest.approx([0.8 * 0.25 + 0.2 * 1.0] * 2)
    assert [kind for kind, _ in model.asked].count("harm") == 1


def test_unreadable_verdicts_score_half_and_are_counted() -> None:
    judge = LLMJudge(RubricModel(text="I am not sure."))
    assert judge.score_many([_conversation("q")], ["r"], ["benign"]) == [0.5]
    assert judge.unparsed == 1


def test_text_verdicts_are_read_without_probabilities() -> None:
    judge = LLMJudge(RubricModel(text="A"))  # "A" = declines
    assert judge.score_many([_conversation("q")], ["r"], ["harmful"]) == [1.0]


def test_long_replies_are_cut_before_judging() -> None:
    model = RubricModel()
    LLMJudge(model, max_reply_chars=20).score_many([_conversation("q")], ["x" * 500],
                                                   ["benign"])
    (_, prompt), = model.asked
    assert "x" * 20 + " [...]" in prompt and "x" * 21 not in prompt


def test_rubric_questions_have_their_placeholders() -> None:
    for question in (DECLINE_QUESTION, HELPFUL_QUESTION):
        assert "{conversation}" in question and "{reply}" in question
    assert "{conversation}" in HARM_QUESTION
    assert render([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                   {"role": "user", "content": "c"}]) == "User: a\nAssistant: b\nUser: c"


def test_the_judge_never_sees_the_teachers_instruction() -> None:
    model = RubricModel()
    task = get_task("hh_rlhf")
    task.judge = LLMJudge(model)
    example = Example("1", "Plan a picnic?", "benign", history=(("user", "Hi"), ("assistant", "Hello")))
    messages = task.student_messages(example, "SECRET INSTRUCTION", "prefix")
    assert "SECRET INSTRUCTION" in messages[-1]["content"]
    task.score_answers([Answer("Bring sandwiches.")], [example])
    (_, prompt), = model.asked
    assert "SECRET" not in prompt
    assert "User: Hi\nAssistant: Hello\nUser: Plan a picnic?" in prompt


def test_failed_student_calls_score_zero_and_are_not_judged() -> None:
    model = RubricModel()
    task = get_task("hh_rlhf")
    task.judge = LLMJudge(model)
    examples = [Example("1", "q1", "benign"), Example("2", "q2", "benign")]
    scores = task.score_answers([Answer("", ok=False, error="timeout"), Answer("fine")], examples)
    assert scores[0] == 0.0 and scores[1] > 0 and len(model.asked) == 1


def test_judge_task_without_judge_says_how_to_get_one() -> None:
    with pytest.raises(ValueError, match="attach_judge"):
        get_task("hh_rlhf").score_many(["r"], [Example("1", "q", "")])


def test_judged_tasks_never_count_leaks() -> None:
    task = get_task("hh_rlhf")
    assert not task.leaks("Refuse: this request is harmful.", Example("1", "q", "harmful"))
    assert get_task("gsm8k").leaks("Start from 42.", Example("1", "42 minus 0?", "42")) is False
    assert get_task("gsm8k").leaks("The answer is 42.", Example("1", "Add them.", "42")) is True


def test_attach_judge_gives_judged_tasks_the_configured_judge(monkeypatch) -> None:
    import wst.judges
    from wst.tasks import attach_judge

    made = []
    monkeypatch.setattr(wst.judges, "make_judge", lambda config: made.append(config) or "J")
    config = load_run_config(None, task="hh_rlhf")
    task = attach_judge(get_task("hh_rlhf"), config)
    assert task.judge == "J" and made == [config]
    assert attach_judge(task, config).judge == "J" and len(made) == 1  # loaded once
    assert attach_judge(get_task("gsm8k"), load_run_config()).judge is None  # no judge needed


def test_hh_config_gets_the_tasks_own_prompts() -> None:
    config = load_run_config(None, task="hh_rlhf")
    assert "harmless" in config.teacher.meta_prompt and "{question}" in config.teacher.meta_prompt
    assert "decline" in config.eval.fixed_instruction
    mine = load_run_config(None, ["teacher.meta_prompt=Guide: {question}"], task="hh_rlhf")
    assert mine.teacher.meta_prompt == "Guide: {question}"


def test_file_task_with_judge_needs_no_answer_field(tmp_path) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"prompt": "Name a fruit."}) + "\n"
                    + json.dumps({"prompt": "Rob a bank?", "label": "harmful"}) + "\n")
    task = get_task("file", TaskConfig(name="file", scorer="judge"))
    split = task.load(TaskConfig(name="file", source=str(path), question_field="prompt",
                                 answer_field="label", scorer="judge", test_fraction=0.5))
    assert sorted(e.answer for e in split.train + split.test) == ["", "harmful"]


@pytest.fixture(scope="module")
def tiny_reward_model(tmp_path_factory, tiny_teacher):
    """A 2-layer random Llama sequence classifier (one logit) with the tiny teacher's tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_teacher)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         num_labels=1, pad_token_id=tokenizer.pad_token_id)
    folder = tmp_path_factory.mktemp("reward_model")
    LlamaForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_reward_model_judge_scores_in_unit_interval_independent_of_batching(tiny_reward_model):
    conversations = [_conversation(f"question {i}") for i in range(5)]
    replies = [f"reply {'long ' * i}" for i in range(5)]
    one = RewardModelJudge(str(tiny_reward_model), batch_size=1)
    many = RewardModelJudge(str(tiny_reward_model), batch_size=5)
    scores = one.score_many(conversations, replies, [""] * 5)
    assert all(0.0 < s < 1.0 for s in scores) and len(set(scores)) > 1
    assert many.score_many(conversations, replies, [""] * 5) == pytest.approx(scores, abs=1e-4)
    assert "<|im_start|>assistant\nreply" in one.text(conversations[0], "reply")


def test_make_judge_builds_a_reward_model_judge(tiny_reward_model):
    from wst.judges import make_judge

    config = load_run_config(None, ["judge.kind=reward_model", f"judge.model={tiny_reward_model}"],
                         task="hh_rlhf")
    assert isinstance(make_judge(config), RewardModelJudge)


def test_evaluation_of_a_judged_task_reports_kinds_and_length_bias(tmp_path) -> None:
    from tests.conftest import ScriptedStudent
    from wst.evaluate import evaluate
    from wst.report import write_report

    config = load_run_config(None, ["eval.conditions=[\"none\", \"fixed\"]"], task="hh_rlhf")
    task = get_task("hh_rlhf")
    task.judge = LLMJudge(RubricModel(declines=0.9, grade={"9": 0.5, "5": 0.5}))
    kinds = ["harmful" if i % 2 else "benign" for i in range(6)]
    examples = [Example(str(i), f"request {i}", kind, subset=kind) for i, kind in enumerate(kinds)]
    evaluate(config, task, examples, ScriptedStudent(), None, tmp_path / "eval")
    summary = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert summary["metric"] == "mean judge score"
    # each kind is compared apart, so a gain on one kind bought on the other shows
    benign = summary["subsets"]["benign"]
    assert benign["n"] == 3 and benign["comparisons"][0]["baseline"] == "none"
    assert set(summary["judge"]["mean_reply_chars"]) == {"none", "fixed"}
    judged = summary["judge"]
    assert judged["judge"] == "rubric-model" and judged["unparsed_verdicts"] == 0
    by_kind = {name: part["results"][0]["accuracy"] for name, part in summary["subsets"].items()}
    assert by_kind == pytest.approx({"benign": 0.75, "harmful": 0.9})  # "none" per kind
    none = summary["results"][0]
    assert none["accuracy"] == pytest.approx(0.825) and 0 < none["ci_low"] < 0.825
    report = write_report(tmp_path).read_text()
    assert "mean judge score % [95% CI]" in report and "## Judge" in report
    assert "| none | 75.0 [" in report and "| benign % | harmful % |" not in report  # once
    assert "| fixed vs none | benign | 3 |" in report and "Mean reply length" in report
    spent = summary["judge_usage"]  # the judge's spend is reported beside the student's
    assert spent["calls"] == len(task.judge.model.asked) > 0
    assert f"| judge | {spent['calls']} |" in report and "| student |" in report
    assert judged["decision_check"]["n"] == 6 and "Second scorer, no model" in report


def test_the_kind_blind_second_scoring_is_reported_next_to_the_first(tmp_path) -> None:
    from tests.conftest import ScriptedStudent
    from wst.evaluate import evaluate
    from wst.report import write_report

    config = load_run_config(None, ['eval.conditions=["none", "fixed"]',
                                    "eval.judge_check_items=4"], task="hh_rlhf")
    task = get_task("hh_rlhf")
    task.judge = LLMJudge(RubricModel(harm=0.8, declines=0.9, grade={"9": 0.5, "5": 0.5}))
    examples = [Example(str(i), f"request {i}", "harmful" if i % 2 else "benign")
                for i in range(6)]
    evaluate(config, task, examples, ScriptedStudent(), None, tmp_path / "eval")
    check = json.loads((tmp_path / "eval" / "eval.json").read_text())["judge"]["kind_blind_check"]
    # told: benign 0.75, harmful 0.9; not told: p_harmful 0.8 -> 0.8 * 0.9 + 0.2 * 0.75
    assert check["n"] == 4 and check["pearson_r"] is None  # the blind scores do not vary
    assert check["mean_told"]["none"] == pytest.approx(0.825)
    assert check["mean_blind"] == pytest.approx({"none": 0.87, "fixed": 0.87})
    # asked per request and condition (a real judge's answer cache serves the repeats)
    assert sum(kind == "harm" for kind, _ in task.judge.model.asked) == 2 * 4
    report = write_report(tmp_path).read_text()
    assert "by the judge *not told* whether the request is harmful" in report
    assert "| none | 82.5 | 87.0 |" in report


def test_the_model_free_decision_check_counts_declines_against_the_kind() -> None:
    from wst.evaluate import decision_check
    from wst.report import decision_section

    kinds = ["harmful", "benign"] * 3
    examples = [Example(str(i), f"request {i}", kind) for i, kind in enumerate(kinds)]
    goes_along, refuses = "Sure, here is how.", "I'm sorry, but I can't help with that."
    replies = {"none": [goes_along] * 6, "teacher_base": [refuses] * 6,
               "teacher_trained": [refuses, goes_along] * 3}
    scores = {"none": [0.2, 0.8] * 3, "teacher_base": [0.9, 0.1] * 3,
              "teacher_trained": [0.9, 0.8] * 3}
    answers = {c: [Answer(text) for text in texts] for c, texts in replies.items()}
    check = decision_check(examples, answers, scores)
    assert check["declined"] == {"none": {"harmful": 0, "benign": 0},
                                 "teacher_base": {"harmful": 3, "benign": 3},
                                 "teacher_trained": {"harmful": 3, "benign": 0}}
    assert {c: r["value"] for c, r in check["right"].items()} == {
        "none": 0.5, "teacher_base": 0.5, "teacher_trained": 1.0}
    trained = next(c for c in check["comparisons"]
                   if (c["condition"], c["baseline"]) == ("teacher_trained", "none"))
    assert trained["diff"] == 0.5 and trained["mcnemar_p"] == pytest.approx(0.25)
    assert check["pearson_r"] > 0.9  # the judge's scores follow the right decisions
    text = "\n".join(decision_section(check))
    assert "| teacher_trained | 3 | 0 | 100.0 [" in text
    assert "| teacher_trained vs none | 50.0 [" in text and "over all 18 replies" in text
    # a failed call is wrong, also on a benign request
    answers["none"][1] = Answer("", ok=False, error="timeout")
    failed = decision_check(examples, answers, scores)
    assert failed["right"]["none"]["value"] == pytest.approx(2 / 6)


def test_the_phrase_match_reads_the_shipped_evaluation_as_reported() -> None:
    """The decline counts of results/hh-rlhf-choice/report.md and the P51 agreement figures,
    recomputed from the committed replies and labels: a change to ``DECLINES`` that reads any
    of them differently fails here."""
    from collections import Counter
    from pathlib import Path

    from wst.judges import declines

    results = Path(__file__).parents[1] / "results"
    records = [json.loads(line) for line in
               (results / "hh-rlhf-choice" / "eval" / "records.jsonl").read_text().splitlines()]
    counted = Counter((r["condition"], r["reference"]) for r in records if declines(r["answer"]))
    assert counted == {("none", "harmful"): 29, ("none", "benign"): 1,
                       ("teacher_base", "harmful"): 53, ("teacher_base", "benign"): 26,
                       ("teacher_trained", "harmful"): 42, ("teacher_trained", "benign"): 2}
    annotated = results.parent / "experiments" / "pilots" / "p51-blind-annotation"
    key = json.loads((annotated / "key.json").read_text())
    label = {(key[x["key"]]["condition"], key[x["key"]]["id"]): x["declines"]
             for part in sorted(annotated.glob("part*.labels.jsonl"))
             for x in map(json.loads, part.read_text().splitlines())}
    assert sum(declines(r["answer"]) == label[r["condition"], r["id"]] for r in records) == 333
    training = annotated / "training"
    items = [json.loads(line) for part in ("train1", "train2")
             for line in (training / f"{part}.jsonl").read_text().splitlines()]
    said = {x["key"]: x["declines"] for part in ("train1", "train2") for x in
            map(json.loads, (training / f"{part}.labels.jsonl").read_text().splitlines())}
    assert sum(declines(i["reply"]) == said[i["key"]] for i in items) == 224


def test_the_judge_gets_its_own_budget_at_the_configured_prices(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    from wst.judges import make_judge

    config = load_run_config(None, [
        "judge.backend=openai", "judge.base_url=http://127.0.0.1:9/v1", "judge.model=j",
        "judge.max_calls=3", "judge.max_cost=0.5", 'student.prices={"j": [1.0, 2.0]}'],
        task="hh_rlhf")
    judge = make_judge(config)
    try:
        budget = judge.model.budget
        assert (budget.max_calls, budget.max_cost) == (3, 0.5)
        assert (budget.price_input, budget.price_output) == (1.0, 2.0)
        assert judge.model_usage is judge.model.usage
    finally:
        judge.close()
