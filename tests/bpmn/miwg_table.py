"""What the 42 OMG MIWG files (/work/shared/bpmn-miwg) do on deploy: the table, and how to
measure it again.

``TABLE`` is the expected outcome of each file: ``DEPLOYS`` (it deploys into a real store and,
when a start needs nothing, an instance starts), or the element that stops it (the first
problem of the refusal: its id and BPMN kind). ``tests/bpmn/test_miwg_deploy.py`` fails when
reality differs. After a change, print the table as it now is and paste it here and into
docs/bpmn.md ("The OMG MIWG suite"):

    .venv/bin/python -m tests.bpmn.miwg_table           # the TABLE literal
    .venv/bin/python -m tests.bpmn.miwg_table --markdown   # the docs table
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from lxml import etree

from procflow.model.bpmn.namespaces import split_tag
from procflow.model.definition import ProcessDefinition
from procflow.model.errors import DefinitionInvalid
from procflow.model.formats import parse_definition_file
from procflow.model.states import InstanceState
from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM
from procflow.runtime.context import RuntimeContext
from procflow.runtime.starting import StartRequest, StartTarget, start_process
from procflow.store.sqlite import SqliteStore

MIWG = Path("/work/shared/bpmn-miwg")
DEPLOYS = "DEPLOYS"


@dataclass(frozen=True)
class Refused:
    element_id: str | None
    kind: str
    # Why, for the docs; not compared, so that rewording a message keeps the table true.
    message: str = field(default="", compare=False)


Outcome = str | Refused

TABLE: dict[str, Outcome] = {
    "bpmn.io-18.6.1/A.1.0-export.bpmn": DEPLOYS,
    "bpmn.io-18.6.1/A.2.0-export.bpmn": DEPLOYS,
    "bpmn.io-18.6.1/A.2.1-export.bpmn": DEPLOYS,
    "bpmn.io-18.6.1/A.3.0-export.bpmn": Refused("Event_1uez1gc", "boundaryEvent"),
    "bpmn.io-18.6.1/A.4.0-export.bpmn": DEPLOYS,
    "bpmn.io-18.6.1/A.4.1-export.bpmn": DEPLOYS,
    "bpmn.io-18.6.1/B.1.0-export.bpmn": Refused("StartEvent_1", "startEvent"),
    "bpmn.io-18.6.1/B.2.0-export.bpmn": Refused("Activity_1n1hhyt", "userTask"),
    "bpmn.io-18.6.1/C.1.0-export.bpmn": Refused("StartEvent_1", "startEvent"),
    "bpmn.io-18.6.1/C.1.1-export.bpmn": DEPLOYS,
    "bpmn.io-18.6.1/C.2.0-export.bpmn": Refused("Event_1k8uukf", "endEvent"),
    "bpmn.io-18.6.1/C.3.0-export.bpmn": Refused("Event_1p3ah5d", "boundaryEvent"),
    "bpmn.io-18.6.1/C.4.0-export.bpmn": Refused("Event_1uj58zc", "intermediateThrowEvent"),
    "bpmn.io-18.6.1/C.5.0-export.bpmn": Refused("Event_150agrk", "endEvent"),
    "bpmn.io-18.6.1/C.6.0-export.bpmn": Refused("StartEvent_1", "startEvent"),
    "bpmn.io-18.6.1/C.7.0-export.bpmn": Refused("Activity_05ada8y", "serviceTask"),
    "bpmn.io-18.6.1/C.8.0-export.bpmn": Refused("Activity_0kxqh4y", "sendTask"),
    "bpmn.io-18.6.1/C.8.1-export.bpmn": Refused("Activity_0kxqh4y", "sendTask"),
    "bpmn.io-18.6.1/C.9.0-export.bpmn": Refused("Activity_0zdpcxw", "callActivity"),
    "bpmn.io-18.6.1/C.9.1-export.bpmn": Refused("Activity_01qizhy", "sendTask"),
    "bpmn.io-18.6.1/C.9.2-export.bpmn": Refused("Event_0s3q36a", "boundaryEvent"),
    "reference/A.1.0.bpmn": DEPLOYS,
    "reference/A.2.0.bpmn": DEPLOYS,
    "reference/A.2.1.bpmn": Refused("_To9Z7TOCEeSknpIVFCxNIQ", "sequenceFlow"),
    "reference/A.3.0.bpmn": Refused("_428dcbf5-8e5e-48e0-9c0c-d93003fa8c82", "boundaryEvent"),
    "reference/A.4.0.bpmn": DEPLOYS,
    "reference/A.4.1.bpmn": DEPLOYS,
    "reference/B.1.0.bpmn": Refused("_e314751e-5c3a-41f2-a1ae-4cb99efa0916", "startEvent"),
    "reference/B.2.0.bpmn": Refused("_cba8fbed-2bb6-40a9-8ac5-83e827ce9d9f", "startEvent"),
    "reference/C.1.0.bpmn": DEPLOYS,
    "reference/C.1.1.bpmn": Refused("invoiceApproved", "sequenceFlow"),
    "reference/C.2.0.bpmn": Refused("__0ef615c7-5456-45c8-9cfb-f1fe30c44436", "startEvent"),
    "reference/C.3.0.bpmn": Refused("_be893987-caec-4605-b078-bd96b7cd6c12", "sequenceFlow"),
    "reference/C.4.0.bpmn": Refused(
        "_855451b0-5298-48b2-a81d-84ecbcca0a85", "intermediateThrowEvent"
    ),
    "reference/C.5.0.bpmn": Refused("_8055ae64-cafd-4fd0-be36-2216e3b02e37", "endEvent"),
    "reference/C.6.0.bpmn": Refused(
        "_15fef309-6718-4352-9b71-f757bcd8c023", "intermediateCatchEvent"
    ),
    "reference/C.7.0.bpmn": Refused("_a36ddf2f-23c1-46c5-86d4-bd2a0eb42535", "serviceTask"),
    "reference/C.8.0.bpmn": Refused("_f2b0da63-d841-4457-ad85-7d86c8b5c1d2", "sequenceFlow"),
    "reference/C.8.1.bpmn": Refused("_0a1c4f20-509f-4aeb-baf9-acc762f4fdf9", "sequenceFlow"),
    "reference/C.9.0.bpmn": Refused("SequenceFlow_Red", "sequenceFlow"),
    "reference/C.9.1.bpmn": Refused("SendTask_RequestDocument", "sendTask"),
    "reference/C.9.2.bpmn": Refused("Activity_0uvp3cb", "subProcess"),
}


def files() -> list[Path]:
    return sorted(MIWG.glob("*/*.bpmn")) if MIWG.exists() else []


def key(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def outcome(path: Path) -> Outcome:
    """Deploy the file into a fresh SQLite store and start each of its processes that a
    plain start can start; the refusal's first problem when it does not deploy."""
    data = path.read_bytes()
    try:
        definitions = parse_definition_file(data, path.name)
    except DefinitionInvalid as error:
        first = error.problems[0]
        return Refused(first.element_id, _kind(data, first.element_id), first.message)
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(Path(directory) / "miwg.db")
        try:
            store.migrate()
            _deploy_and_start(store, {path.name: data}, definitions)
        finally:
            store.close()
    return DEPLOYS


def _deploy_and_start(
    store: SqliteStore, files: dict[str, bytes], definitions: list[ProcessDefinition]
) -> None:
    workspace, app = uuid4(), uuid4()
    deploy.create_workspace(store, SYSTEM, "miwg", workspace)
    deploy.create_app(store, SYSTEM, workspace, "miwg", app)
    build = deploy.deploy_build(
        store, SYSTEM, workspace, app, files, activate=True, now=datetime.now(UTC)
    )
    assert {d.name for d in build.definitions} == {d.name for d in definitions}
    ctx = RuntimeContext(store)
    for definition in definitions:
        # Timer and message starts are started by the worker and by messages, not by a call.
        if not any(s.timer is None and s.message is None for s in definition.start_nodes):
            continue
        request = StartRequest(StartTarget(app, workspace_id=workspace), definition.name, {})
        started = start_process(ctx, SYSTEM, request).instance
        assert started.state is not InstanceState.FAILED, (definition.name, started.incidents)


def _kind(data: bytes, element_id: str | None) -> str:
    """The BPMN tag of the element with that id (the process, when the problem is on it)."""
    if element_id is None:
        return "(file)"
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("id") == element_id:
            return split_tag(element.tag)[1]
    return "(process)"


def current() -> dict[str, Outcome]:
    return {key(path): outcome(path) for path in files()}


def as_literal(table: dict[str, Outcome]) -> str:
    lines = ["TABLE: dict[str, Outcome] = {"]
    for name, found in table.items():
        value = "DEPLOYS"
        if isinstance(found, Refused):
            value = f"Refused({found.element_id!r}, {found.kind!r})"
        lines.append(f'    "{name}": {value},')
    return "\n".join([*lines, "}"])


def as_markdown(table: dict[str, Outcome]) -> str:
    lines = ["| File | Deploys? | Stopped by (first problem) |", "|---|---|---|"]
    for name, found in table.items():
        if isinstance(found, Refused):
            why = found.message.split(";")[0].replace("|", "/")
            lines.append(f"| `{name}` | no | `{found.kind}` `{found.element_id}`: {why} |")
        else:
            lines.append(f"| `{name}` | yes | |")
    return "\n".join(lines)


if __name__ == "__main__":
    measured = current()
    print(as_markdown(measured) if "--markdown" in sys.argv else as_literal(measured))
    deploying = sum(1 for found in measured.values() if found == DEPLOYS)
    print(f"\n{deploying} of {len(measured)} deploy", file=sys.stderr)
