# The two commands of the README: `make demo` and `make test`. Each sets itself up first.
.PHONY: demo test lint bench setup

setup:
	scripts/bootstrap

demo: setup
	.venv/bin/auditor demo

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports

test:
	scripts/bootstrap --test
	$(MAKE) lint
	.venv/bin/python -m pytest -n auto -p no:cacheprovider

bench:
	scripts/bootstrap --test
	.venv/bin/python bench/scan.py --generate-size large --scale 2 --repeat 2
	.venv/bin/python bench/metrics.py
	.venv/bin/python bench/custom_rules.py
	.venv/bin/python bench/fleet.py
