#!/usr/bin/env bash
# Mutation check of tests/test_learning.py (issue 9, part 1): break the training path in one
# place at a time, in a copy of the tree, and confirm the learning test fails each time.
#   experiments/scripts/mutation_check.sh [NAME ...]   (all, or the named mutations; ~30 s each)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
python=$repo/.venv/bin/python
only=("$@")
mutate() {  # name file old new: copy the tree, replace old by new once, run the test
  local name=$1 file=$2 old=$3 new=$4
  if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $name "* ]]; then return; fi
  rm -rf "$work/tree" && mkdir "$work/tree" && cp -r "$repo/src" "$repo/tests" "$repo/pyproject.toml" "$work/tree/"
  "$python" - "$work/tree/$file" "$old" "$new" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
assert old in text, f"mutation target not found in {path}: {old!r}"
open(path, "w").write(text.replace(old, new, 1))
PY
  (cd "$work/tree" && PYTHONPATH=src "$python" -m pytest -q -x tests/test_learning.py \
      -p no:cacheprovider --override-ini=addopts= >"$work/$name.log" 2>&1)
  if [ $? -eq 0 ]; then echo "$name: test PASSED (mutation not caught)"; else echo "$name: test failed (caught)"; fi
}
mutate unchanged src/wst/train.py 'learning_rate=t.learning_rate,' 'learning_rate=t.learning_rate,'
mutate sign_flipped src/wst/train.py 'return [s - leak_penalty * float(k)' 'return [-(s - leak_penalty * float(k))'
mutate rewards_to_wrong_instructions src/wst/train.py $'        return rewards\n' $'        return rewards[1:] + rewards[:1]\n'
mutate update_skipped src/wst/train.py 'learning_rate=t.learning_rate,' 'learning_rate=0.0,'
mutate eval_loads_base_weights src/wst/evaluate.py '_teacher_instructions(teacher.model, adapter if' '_teacher_instructions(teacher.model, None if'
rm -rf "$work"
