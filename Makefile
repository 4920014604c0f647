# The two commands of the README: `make demo` and `make test` (each installs first).
.PHONY: install demo test lint

install:
	scripts/install.sh

demo: install
	.venv/bin/wst demo

test: install
	.venv/bin/python -m pytest -q
