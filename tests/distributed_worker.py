"""One process of the 2-process training test (tests/test_distributed.py), started by
``accelerate launch --cpu --num_processes 2 tests/distributed_worker.py TEACHER RUN_DIR``.

Each process trains with its own scripted student, records the requests that student saw and
a hash of its final trainable weights, so the test can check that no request was sent twice
and that both processes end with the same teacher."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from accelerate import PartialState

import wst.train
from tests.conftest import ScriptedStudent
from wst.students import Budget
from wst.tasks import Example, Split, load_run_config
from wst.tasks.gsm8k import GSM8K
from wst.train import train_teacher


def main(teacher: str, run_dir: Path) -> None:
    config = load_run_config(None, [f"output_dir={run_dir}", f"teacher.model={teacher}",
                                    "teacher.max_instruction_tokens=8", "train.max_steps=2",
                                    "train.questions_per_step=2", "train.num_generations=4",
                                    "train.save_steps=1"])
    examples = [Example(f"q{i}", f"What is {i} + {7 - i}?", "7", template=i) for i in range(8)]
    student = ScriptedStudent()
    student.budget = Budget(max_calls=20)  # for both processes together
    trained = []
    train = wst.train.WSTTrainer.train

    def train_and_keep(self, *args, **kwargs):  # the model this process ends with
        result = train(self, *args, **kwargs)
        trained.append(self.model)
        return result

    wst.train.WSTTrainer.train = train_and_keep
    train_teacher(config, Split(train=examples, test=examples[:2], info={}), GSM8K(), student)
    weights = {name: hashlib.sha256(tensor.detach().numpy().tobytes()).hexdigest()
               for name, tensor in trained[0].named_parameters() if "lora" in name}
    rank = PartialState().process_index
    (run_dir / f"rank{rank}.json").write_text(json.dumps({
        "requests": [m[-1]["content"] for m in student.requests], "weights": weights,
        "max_calls": student.budget.max_calls}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
