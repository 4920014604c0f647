"""`wst train --from-traffic`: logged instructions labelled by feedback (else the judge), KTO on
them, and the whole loop on loopback: served traffic, a scripted user's ratings, training, the
new teacher served."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.test_serve import no_proxy_no_token
from tests.test_traffic import logging_server
from wst.config import ConfigError, TeacherConfig
from wst.from_traffic import held_back, label_traffic, rating, written_text
from wst.serve.traffic import read_traffic, teacher_version
from wst.tasks import GSM8K, Example, Task
from wst.teacher import TeacherInstructor, save_teacher_card

assert no_proxy_no_token  # an autouse fixture: importing it applies it here too

BRIEF, LONG = "Answer briefly.", "Answer at length."
MENU = dict(meta_prompt="Help with: {question}", instruction_start="Length:",
            choices=[" terse", " ample"], choice_instructions=[BRIEF, LONG])


def exchange(i: int, instruction: str | None, feedback: dict | None = None,
             status: str = "ok") -> dict:
    return {"kind": "exchange", "id": f"c{i}", "question": f"q{i}", "instruction": instruction,
            "instruction_status": status, "reply": f"reply {i}", "feedback": feedback}


class FakeJudgedTask(GSM8K):
    """A judged task whose judge likes replies that mention an even number."""

    name = "fake-judged"

    @property
    def judged(self) -> bool:
        return True

    def score_many(self, outputs: list[str], examples: list[Example]) -> list[float]:
        assert all(e.answer == "" for e in examples)  # traffic has no reference answer
        return [float(int(o.split()[-1]) % 2 == 0) for o in outputs]


def test_ratings_label_what_they_rate_and_the_judge_the_rest():
    records = [exchange(0, BRIEF, {"thumbs": "up", "score": None}),
               exchange(1, LONG, {"thumbs": "down", "score": None}),
               exchange(2, BRIEF, {"thumbs": None, "score": 0.7}),
               exchange(3, LONG),                       # unrated: judged, reply 3 is odd
               exchange(4, BRIEF),                      # unrated: judged, reply 4 is even
               exchange(5, None, status="timeout"),     # the teacher wrote nothing
               exchange(6, "Something else.")]          # not on this menu
    teacher = TeacherConfig(**MENU)

    items, counts = label_traffic(records, FakeJudgedTask(), teacher, good_at=0.5)

    assert [(i.question, i.completion, i.good, i.source) for i in items] == [
        ("q0", " terse", True, "feedback"), ("q1", " ample", False, "feedback"),
        ("q2", " terse", True, "feedback"), ("q3", " ample", False, "judge"),
        ("q4", " terse", True, "judge")]
    assert counts == {"exchanges": 7, "feedback": 3, "judge": 2, "no_instruction": 1,
                      "not_on_menu": 1, "unrated": 0}
    rated_only, no_judge = label_traffic(records, FakeJudgedTask(), teacher, 0.5, judge=False)
    assert [i.source for i in rated_only] == ["feedback"] * 3 and no_judge["unrated"] == 2
    _, strict = label_traffic(records, FakeJudgedTask(), teacher, good_at=0.8)
    assert [i.good for i in _] == [True, False, False, False, True]  # 0.7 < 0.8
    assert strict["feedback"] == 3


def test_a_task_with_reference_answers_cannot_label_unrated_traffic():
    items, counts = label_traffic([exchange(0, BRIEF), exchange(1, LONG, {"thumbs": "up"})],
                                  GSM8K(), TeacherConfig(**MENU), good_at=0.5)
    assert [i.question for i in items] == ["q1"]
    assert counts["unrated"] == 1


def test_rating_and_the_text_the_teacher_wrote():
    assert rating({"thumbs": "up"}) == 1.0 and rating({"thumbs": "down"}) == 0.0
    assert rating({"thumbs": None, "score": 0.25}) == 0.25
    assert written_text(LONG, TeacherConfig(**MENU)) == " ample"
    plain_menu = TeacherConfig(meta_prompt="{question}", instruction_start="Length:",
                               choices=[" terse", " ample"])
    assert written_text("Length: terse", plain_menu) == " terse"
    free = TeacherConfig(meta_prompt="{question}", instruction_start="Instruction:")
    assert written_text("Add the amounts.", free) == " Add the amounts."
    assert written_text("Add.", TeacherConfig(meta_prompt="{question}")) == "Add."
    with pytest.raises(ValueError, match="none of the menu"):
        written_text("Be kind.", TeacherConfig(**MENU))


def test_validation_is_held_back_by_question():
    questions = [f"question {i}" for i in range(400)]
    share = sum(held_back(q, 0.25) for q in questions) / len(questions)
    assert 0.18 < share < 0.32
    assert all(held_back(q, 0.25) == held_back(q, 0.25) for q in questions)
    assert not any(held_back(q, 0.0) for q in questions)


def config_file(tmp_path: Path, teacher: Path, traffic: Path, menu: bool = True,
                **train: object) -> Path:
    """A run config training ``teacher`` from ``traffic``; without ``menu`` the teacher's card
    must give the prompt and the menu."""
    fields = {"from_traffic": str(traffic), "max_steps": 12, "questions_per_step": 4,
              "learning_rate": 0.02, "traffic_validation": 0.25, **train}
    teacher = [f'model = "{teacher}"', "max_instruction_tokens = 8"]
    if menu:
        teacher += [f"{k} = {json.dumps(v)}" for k, v in MENU.items()]
    path = tmp_path / "run.toml"
    path.write_text("\n".join([f'output_dir = "{tmp_path / "run"}"', "[teacher]", *teacher,
                               "[train]", *(f"{k} = {json.dumps(v)}" for k, v in fields.items())]))
    return path


def test_too_little_feedback_is_a_clear_error(tmp_path, tiny_teacher):
    traffic = tmp_path / "traffic"
    traffic.mkdir()
    from wst.cli import app

    result = CliRunner().invoke(app, ["train", "-c",
                                      str(config_file(tmp_path, tiny_teacher, traffic))])
    assert result.exit_code == 1
    assert "0 labelled instructions" in result.output


def test_a_missing_traffic_folder_is_a_clear_error(tmp_path, tiny_teacher):
    from wst.cli import app

    result = CliRunner().invoke(app, ["train", "-c", str(config_file(
        tmp_path, tiny_teacher, tmp_path / "nowhere"))])
    assert result.exit_code == 1
    assert "nowhere" in result.output and "traffic" in result.output


def served_picks(url: str, questions: list[str], rate: bool) -> list[str]:
    """Ask each question through the proxy; with ``rate``, a scripted user who likes brief
    answers rates each one: thumbs up for the brief instruction, down otherwise."""
    picks = []
    for question in questions:
        response = httpx.post(f"{url}/v1/chat/completions", timeout=60,
                              headers={"X-WST-Return-Instruction": "1"},
                              json={"model": "wst", "messages": [
                                  {"role": "user", "content": question}]}).json()
        picks.append(response["wst_instruction"])
        if rate:
            thumbs = "up" if response["wst_instruction"] == BRIEF else "down"
            httpx.post(f"{url}/v1/feedback", json={"id": response["id"], "thumbs": thumbs},
                       timeout=30).raise_for_status()
    return picks


def deployed_chooser(tiny_teacher: Path, folder: Path) -> Path:
    """The tiny teacher as a whole-model export whose card makes it the brief/long chooser."""
    shutil.copytree(tiny_teacher, folder)
    save_teacher_card(folder, MENU["meta_prompt"], str(tiny_teacher), extra={
        "max_instruction_tokens": 8, **{k: v for k, v in MENU.items() if k != "meta_prompt"}})
    return folder


def point(link: Path, target: Path) -> None:
    """Make ``link`` name ``target`` in one step (a new link renamed over the old one), as
    ``ln -sfn`` does in the README's loop."""
    new = link.with_name(link.name + ".new")
    new.symlink_to(target, target_is_directory=True)
    new.replace(link)


def test_the_loop_teaches_the_served_teacher_what_its_users_rate_up(tmp_path, tiny_teacher):
    """Traffic through a served chooser, a user who rates brief instructions up, training from
    that log, the new teacher exported and the served link pointed at it, then reloaded by the
    running server: it picks the brief instruction far more often, on questions it was not
    trained on. The adapter names the export it was trained on, not the link."""
    from wst.cli import app

    traffic, deployed = tmp_path / "traffic", tmp_path / "deployed"
    first = deployed_chooser(tiny_teacher, tmp_path / "exports" / "v0")
    point(deployed, first)
    asked = [f"Question {i}: what is {i} plus {3 * i % 7}?" for i in range(32)]
    fresh = [f"New question {i}: how many legs have {i} cats?" for i in range(16)]

    def load() -> tuple[TeacherInstructor, str]:
        return TeacherInstructor(str(deployed)), teacher_version(str(deployed), None)

    with logging_server(traffic, teacher=load()[0], reload_teacher=load,
                        return_instruction=True, teacher_timeout_s=600) as url:  # busy CPUs
        before = served_picks(url, asked, rate=True)
        before_fresh = served_picks(url, fresh, rate=False)
        assert len(read_traffic(traffic)) == len(asked) + len(fresh)

        train = CliRunner().invoke(app, ["train", "-c", str(config_file(
            tmp_path, deployed, traffic, menu=False))])
        assert train.exit_code == 0, train.output
        export = CliRunner().invoke(app, ["export", "--output", str(tmp_path / "run"),
                                          "--to", str(tmp_path / "exports" / "v1")])
        assert export.exit_code == 0, export.output
        point(deployed, tmp_path / "exports" / "v1")
        swapped = httpx.post(f"{url}/v1/teacher/reload", timeout=60)
        assert swapped.status_code == 200, swapped.text
        after_fresh = served_picks(url, fresh, rate=False)

    card = json.loads((tmp_path / "run" / "teacher" / "wst_teacher.json").read_text())
    assert card["base_model"] == str(first.resolve())
    report = json.loads((tmp_path / "run" / "traffic.json").read_text())
    assert report["counts"]["feedback"] == len(asked)
    assert report["counts"]["unrated"] == len(fresh)  # GSM8K cannot judge unrated replies
    assert report["train"] + report["validation"] == len(asked)
    assert report["validation_after"] > report["validation_before"]
    assert swapped.json()["teacher"] != swapped.json()["previous"]
    assert TeacherInstructor(str(deployed)).choices == tuple(MENU["choices"])  # still a chooser
    share_before = before_fresh.count(BRIEF) / len(fresh)
    share_after = after_fresh.count(BRIEF) / len(fresh)
    assert share_before <= 0.7 and share_after >= 0.9, (before, before_fresh, after_fresh)
    versions = {r["teacher"] for r in read_traffic(traffic)}
    assert versions == {swapped.json()["previous"], swapped.json()["teacher"]}
