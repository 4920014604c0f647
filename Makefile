# The two commands of the README: `make demo` and `make test` (each installs first).
.PHONY: install install-strong demo test lint

install:
	scripts/install.sh

install-strong:
	scripts/install.sh --strong

demo: install
	.venv/bin/wst demo

test: install
	.venv/bin/python -m pytest -q
