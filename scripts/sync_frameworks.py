"""Regenerate the ``rules:`` list of every control in rules/frameworks/*.yaml from the rules' own
``frameworks`` mappings. Control titles and descriptions stay as written; a rule mapping a control that
the framework does not declare is an error. Run after adding or re-mapping a rule."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    rules = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "rules").glob("*.yaml"))]
    status = 0
    for path in sorted((ROOT / "rules" / "frameworks").glob("*.yaml")):
        fw = yaml.safe_load(path.read_text())
        declared = {c["id"] for c in fw["controls"]}
        for control in fw["controls"]:
            control["rules"] = [r["id"] for r in rules if control["id"] in r.get("frameworks", {}).get(fw["id"], [])]
        for r in rules:
            for cid in r.get("frameworks", {}).get(fw["id"], []):
                if cid not in declared:
                    print(f"{r['id']}: {fw['id']} has no control {cid}", file=sys.stderr)
                    status = 1
        path.write_text(yaml.safe_dump(fw, sort_keys=False, width=110, allow_unicode=True))
    return status


if __name__ == "__main__":
    sys.exit(main())
