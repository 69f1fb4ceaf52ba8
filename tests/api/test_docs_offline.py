"""/docs and /redoc work without internet: the assets ship inside the package (the pinned npm
releases, byte for byte), and a headless Chromium with every request outside 127.0.0.1
refused renders every operation, authorizes with a bearer token and runs one.

Chromium: CI installs it and sets PROCFLOW_REQUIRE_BROWSER=1 (missing: fail, not skip);
Node tools: PROCFLOW_REQUIRE_CLIENTS=1 likewise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from procflow.api.docs import ASSETS
from tests.api.conftest import Api
from tests.api.node_tools import NODE_DIR, node_modules
from tests.api.openapi_document import operations
from tests.api.served import Served, serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_REQUIRED = os.environ.get("PROCFLOW_REQUIRE_BROWSER") == "1"
# Shipped file -> where the pinned npm package has it.
UPSTREAM = {
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
    "favicon-32x32.png": "swagger-ui-dist/favicon-32x32.png",
    "swagger-ui.LICENSE": "swagger-ui-dist/LICENSE",
    "redoc.standalone.js": "redoc/bundles/redoc.standalone.js",
    "redoc.LICENSE": "redoc/LICENSE",
}


def test_shipped_assets_are_the_pinned_npm_releases() -> None:
    modules = node_modules()
    for shipped, upstream in UPSTREAM.items():
        assert (ASSETS / shipped).read_bytes() == (modules / upstream).read_bytes(), shipped


def test_docs_pages_load_only_from_this_server(api: Api) -> None:
    for page in ("/docs", "/redoc"):
        response = api.client.get(page)
        assert response.status_code == 200
        assert "http" not in response.text  # no CDN, no absolute URL at all
        assert "script-src 'self'" in response.headers["content-security-policy"]
    script = api.client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.content == (ASSETS / "swagger-ui-bundle.js").read_bytes()
    missing = api.client.get("/docs/assets/..%2Fdocs.py")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("docs")) as served:
        yield served


def _chromium() -> str:
    if CHROMIUM is None:
        if BROWSER_REQUIRED:
            pytest.fail("Chromium is required (PROCFLOW_REQUIRE_BROWSER=1)")
        pytest.skip("needs chromium (CI installs it)")
    return CHROMIUM


def test_docs_render_offline_and_authorize_works(server: Served, tmp_path: Path) -> None:
    chromium, token = _chromium(), server.token()
    node_modules()
    run = subprocess.run(
        ["node", str(NODE_DIR / "docs_check.mjs"), server.base, token, chromium],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["outside"] == []
    assert seen["failed"] == []
    document = httpx.get(f"{server.base}/openapi.json").json()
    published = set(operations(document))
    assert set(seen["operations"]) == published
    assert seen["tags"] == ["start", "instances", "admin", "batches", "operations",
                            "external tasks", "camunda 7", "messages"]  # fmt: skip
    assert seen["tryItOut"]["status"] == 200
    assert seen["tryItOut"]["authorization"] == f"Bearer {token}"
    assert seen["bodyEditable"] is True
    assert json.loads(seen["bodyExample"])["applicant"]["name"] == "Ada"
    assert {s.removeprefix("operation/") for s in seen["redocSections"]} == published
