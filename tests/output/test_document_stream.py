"""The streamed scan document is byte for byte what serialising the whole document gives."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import orjson

from auditor.analyse.scan import ScanResult
from auditor.output.document import build_document, write_document


def streamed(result: ScanResult) -> bytes:
    out = io.BytesIO()
    write_document(result, out)
    return out.getvalue()


def test_streamed_equals_whole(demo_result: ScanResult) -> None:
    whole = orjson.dumps(build_document(demo_result), option=orjson.OPT_INDENT_2)
    assert streamed(demo_result) == whole
    assert len(build_document(demo_result)["volumes"]) > 10 and len(build_document(demo_result)["findings"]) > 10


def test_empty_lists_and_an_empty_scan() -> None:
    empty = ScanResult(datetime(2026, 11, 26, tzinfo=UTC), (), ())
    assert streamed(empty) == orjson.dumps(build_document(empty), option=orjson.OPT_INDENT_2)
    assert b'"volumes": [],' in streamed(empty)
