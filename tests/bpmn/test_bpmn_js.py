"""The files Procflow ships and exports open in bpmn-js (the renderer of bpmn.io), in a real
headless Chromium, with no import warnings.

Needs Chromium and npm; CI installs both and sets PROCFLOW_REQUIRE_BROWSER=1, so there a
missing browser fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from procflow.model.export import export_file

ROOT = Path(__file__).resolve().parents[2]
BROWSER_DIR = Path(__file__).parent / "browser"
VIEWER = BROWSER_DIR / "node_modules" / "bpmn-js" / "dist" / "bpmn-viewer.production.min.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("PROCFLOW_REQUIRE_BROWSER") == "1"

# Every file is imported in one page of one browser (starting Chromium costs seconds), each
# into a viewer of its own, one after the other; the page then shows every outcome by label.
PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="{viewer}"></script>
</head><body><pre id="out">pending</pre>
<script>
var files = {files};
var outcomes = {{}};
function importOne(label) {{
  var canvas = document.createElement('div');
  canvas.style.cssText = 'width:1200px;height:600px';
  document.body.appendChild(canvas);
  return new BpmnJS({{container: canvas}}).importXML(files[label]).then(function (result) {{
    var names = result.warnings.map(function (w) {{ return w.message; }});
    outcomes[label] = {{ok: true, warnings: names}};
  }}).catch(function (error) {{
    outcomes[label] = {{ok: false, error: error.message}};
  }});
}}
Object.keys(files).reduce(function (done, label) {{
  return done.then(function () {{ return importOne(label); }});
}}, Promise.resolve()).then(function () {{
  document.getElementById('out').textContent = JSON.stringify(outcomes);
}});
</script></body></html>"""
CASES = [
    ("examples/loans/loan_application.bpmn", "demo as drawn"),
    ("examples/loans/loan_application.yaml", "YAML exported with automatic layout"),
    ("examples/loans/loan_application.bpmn", "BPMN re-exported keeping its drawing"),
    ("tests/bpmn/files/waits.yaml", "YAML with every timer form, automatic layout"),
    ("tests/bpmn/files/scopes.yaml", "YAML with nested subprocesses and multi-instance"),
    ("tests/bpmn/files/splits.yaml", "YAML with activities that split implicitly"),
]


def _viewer() -> Path:
    if not VIEWER.exists() and shutil.which("npm"):
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(BROWSER_DIR)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    if CHROMIUM is None or not VIEWER.exists():
        if REQUIRED:
            pytest.fail("Chromium and bpmn-js are required (PROCFLOW_REQUIRE_BROWSER=1)")
        pytest.skip("needs chromium and npm (CI installs them)")
    return VIEWER


def _import_in_browser(files: dict[str, bytes], tmp_path: Path) -> dict[str, object]:
    page = tmp_path / "page.html"
    texts = {label: xml.decode() for label, xml in files.items()}
    page.write_text(PAGE.format(viewer=_viewer().as_uri(), files=json.dumps(texts)))
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    text = dom.split('<pre id="out">', 1)[1].split("</pre>", 1)[0]
    result: dict[str, object] = json.loads(text.replace("&quot;", '"').replace("&amp;", "&"))
    return result


def _xml(source: str, label: str) -> bytes:
    path = ROOT / source
    if label == "demo as drawn":
        return path.read_bytes()
    return export_file(path.read_bytes(), path.name)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    files = {label: _xml(source, label) for source, label in CASES}
    return _import_in_browser(files, tmp_path_factory.mktemp("bpmn_js"))


@pytest.mark.parametrize(("source", "label"), CASES)
def test_file_opens_in_bpmn_js_without_warnings(
    source: str, label: str, outcomes: dict[str, object]
) -> None:
    assert outcomes[label] == {"ok": True, "warnings": []}, source
