"""Results that rest on data the scan could not read are "not evaluated", never a finding or a pass.

Applied to every rule's results after evaluation (``auditor/analyse/gaps.py`` says which rule rests on
which resources), so a 403 on restores is not "no restore in 30 days" and a 403 on storage locations is
not "no default location".
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from auditor.analyse.coverage import ClusterAnalysis
from auditor.analyse.gaps import describe, rule_blind
from auditor.model.rules import Finding


def unevaluated_where_blind(analysis: ClusterAnalysis, results: Iterable[Finding]) -> list[Finding]:
    inv = analysis.inventory
    volumes = list(analysis.blind)
    cache: dict[str, str] = {}
    out = []
    for result in results:
        if result.status in ("open", "pass"):
            if result.rule_id not in cache:
                cache[result.rule_id] = describe(rule_blind(inv, result.rule_id, volumes))
            why = cache[result.rule_id]
            if why:
                result = msgspec.structs.replace(result, status="not-evaluated", message=f"not evaluated: {why}")
        out.append(result)
    return out
