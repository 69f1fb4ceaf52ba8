"""Loading untrusted XML: size-limited, no DTDs, no entities, no network.

Definition files come from users, so the parser must never expand entities (billion laughs),
read files or URLs (XXE), or build huge trees. A DOCTYPE has no use in BPMN, so any document
that declares one is refused outright rather than parsed with the declaration ignored.
"""

from __future__ import annotations

import re

from lxml import etree

from procflow.model.errors import ProblemCollector

MAX_BPMN_BYTES = 10 * 1024 * 1024

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def load_xml(data: bytes, problems: ProblemCollector) -> etree._Element | None:
    """The document's root element, or ``None`` after adding a problem that explains why not."""
    if len(data) > MAX_BPMN_BYTES:
        problems.add(
            f"file is {len(data)} bytes; BPMN files are limited to {MAX_BPMN_BYTES} bytes (10 MB)"
        )
        return None
    if _DOCTYPE.search(_prolog(data)):
        problems.add("DOCTYPE and ENTITY declarations are not allowed in BPMN files")
        return None
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        problems.add(f"not well-formed XML: {error.msg}", line=error.lineno or None)
        return None
    # Documents in encodings the byte scan cannot read (UTF-16, ...) are checked again here.
    # lxml-stubs lack DocInfo.doctype, hence getattr.
    if getattr(root.getroottree().docinfo, "doctype", ""):
        problems.add("DOCTYPE and ENTITY declarations are not allowed in BPMN files")
        return None
    return root


def _prolog(data: bytes) -> bytes:
    """Everything before the root element: the only place a DOCTYPE can be."""
    first = _FIRST_ELEMENT.search(data)
    return data[: first.start()] if first else data
