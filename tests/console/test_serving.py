"""``procflow serve`` serves the built console: ``/`` redirects to it, every page path is the
single-page app (deep links work), assets come with their media type and a long cache, no
token is needed for any of it, and the committed build is the one the sources make."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from procflow.api import console
from tests.api.conftest import Api
from tests.api.test_errors import assert_problem
from tests.console.tools import CONSOLE_SRC, npm_ci

DIST = Path(str(console.DIST))


def _asset_paths(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/console/assets/[^"]+)"', html)


def test_the_root_and_the_bare_prefix_redirect_to_the_console(api: Api) -> None:
    for path in ("/", "/console"):
        answer = api.client.get(path, follow_redirects=False)
        assert answer.status_code == 307
        assert answer.headers["location"] == "/console/"


@pytest.mark.parametrize(
    "page",
    ["/console/", "/console/instances", "/console/instances/2f1c6a9e-8d7b-4c55-9b51-0a3c2e6f7d10",
     "/console/instances/2f1c6a9e-8d7b-4c55-9b51-0a3c2e6f7d10/rerun", "/console/batches/new",
     "/console/definitions", "/console/sign-in"],
)  # fmt: skip
def test_every_page_path_is_the_app_without_a_token(api: Api, page: str) -> None:
    answer = api.client.get(page)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.text == (DIST / "index.html").read_text()
    assert answer.headers["cache-control"] == "no-cache"
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy


def test_assets_have_their_media_type_and_are_cached_for_good(api: Api) -> None:
    html = api.client.get("/console/").text
    paths = _asset_paths(html)
    assert {Path(p).suffix for p in paths} == {".js", ".css"}
    types = {".js": "text/javascript", ".css": "text/css"}
    for path in paths:
        answer = api.client.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(types[Path(path).suffix])
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.content == (DIST / path.removeprefix("/console/")).read_bytes()
        assert api.client.head(path).status_code == 200


def test_no_asset_from_elsewhere(api: Api) -> None:
    html = api.client.get("/console/").text
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    for path in _asset_paths(html):
        assert "//cdn" not in api.client.get(path).text


@pytest.mark.parametrize(
    "path",
    ["/console/assets/nothing.js", "/console/assets/..%2F..%2Fapp.py", "/console/assets/index.html",
     "/console/assets/%2e%2e"],
)  # fmt: skip
def test_unknown_assets_are_404_problems(api: Api, path: str) -> None:
    assert_problem(api.client.get(path), 404)


def test_the_committed_build_is_what_the_sources_build(tmp_path: Path) -> None:
    """The same check as .ci/run's ``git diff --exit-code``: rebuild and compare every byte
    (the build is reproducible: content-hashed names, no timestamps)."""
    npm_ci(CONSOLE_SRC)
    out = tmp_path / "dist"
    npx = shutil.which("npx")
    assert npx is not None
    subprocess.run([npx, "tsc", "--noEmit"], cwd=CONSOLE_SRC, check=True, timeout=300)
    subprocess.run(
        [npx, "vite", "build", "--outDir", str(out), "--emptyOutDir", "--logLevel", "warn"],
        cwd=CONSOLE_SRC, check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    built = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    shipped = {p.relative_to(DIST): p.read_bytes() for p in DIST.rglob("*") if p.is_file()}
    assert sorted(built) == sorted(shipped), "run `make console` and commit the build"
    assert built == shipped, "run `make console` and commit the build"
