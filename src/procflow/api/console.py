"""The operator console (console/, built into ``console_dist``) served at ``/console/``.

The built files ship inside the package, so ``procflow serve`` needs no Node.js. Static
files need no token: the console's API calls carry it. Any other path under ``/console/``
is a page of the single-page app, so a deep link (``/console/instances/{uuid}``) answers
with ``index.html`` and the app's router takes it from there.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from fastapi import APIRouter, HTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

DIST = files("procflow.api") / "console_dist"
PREFIX = "/console"
MEDIA_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".eot": "application/vnd.ms-fontobject",
}
# Asset names carry a content hash (console/vite.config.ts): a name never changes meaning.
IMMUTABLE = "public, max-age=31536000, immutable"
# The page itself names the current assets: always revalidated.
PAGE_CACHE = "no-cache"
# Everything from this server. bpmn-js and the JSON tree style elements inline.
CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _assets(folder: Traversable) -> dict[str, Traversable]:
    """The built assets by name, read once: a request path never reaches the file system."""
    if not folder.is_dir():
        return {}
    return {entry.name: entry for entry in folder.iterdir() if entry.is_file()}


ASSETS = _assets(DIST / "assets")

router = APIRouter(include_in_schema=False)


@router.get("/")
async def root() -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=307)


@router.get(PREFIX)
async def console_bare() -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=307)


@router.api_route(PREFIX + "/assets/{name}", methods=["GET", "HEAD"])
async def console_asset(name: str) -> Response:
    entry = ASSETS.get(name)
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if entry is None or suffix not in MEDIA_TYPES:
        raise HTTPException(404, "No such console asset.")
    return Response(
        entry.read_bytes(),
        media_type=MEDIA_TYPES[suffix],
        headers={"Cache-Control": IMMUTABLE},
    )


@router.api_route(PREFIX + "/{page:path}", methods=["GET", "HEAD"])
async def console_page(page: str) -> Response:
    if page.startswith("assets/"):
        # A missing asset is a 404, not the app (a stale page must not get HTML as script).
        raise HTTPException(404, "No such console asset.")
    index = DIST / "index.html"
    if not index.is_file():
        raise HTTPException(404, "The console is not built (make console).")
    headers = {"Cache-Control": PAGE_CACHE, "Content-Security-Policy": CONSOLE_POLICY}
    return HTMLResponse(index.read_text(encoding="utf-8"), headers=headers)
