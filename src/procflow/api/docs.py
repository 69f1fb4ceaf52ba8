"""``/docs`` (Swagger UI) and ``/redoc`` from assets shipped inside the package.

FastAPI's defaults load both from a CDN, so without internet the pages were blank. The
assets are the pinned npm releases of tests/api/node/package.json, copied byte for byte
(tests/api/test_docs_offline.py checks that they still match).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import HTMLResponse, Response

from procflow.api.render import JsonResponse

ASSETS = files("procflow.api") / "docs_assets"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-init.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
    "redoc.standalone.js": "text/javascript",
}
ASSETS_PATH = "/docs/assets"

SWAGGER_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Procflow runtime API</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{ASSETS_PATH}/swagger-init.js"></script>
</body></html>
"""

REDOC_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Procflow runtime API</title>
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-32x32.png"></head>
<body><redoc spec-url="/openapi.json"></redoc>
<script src="{ASSETS_PATH}/redoc.standalone.js"></script>
</body></html>
"""

# Everything from this server: no inline script, no CDN. ReDoc's footer links an image on a
# CDN; img-src keeps the browser from even trying to fetch it offline. Both UIs style
# elements inline and ReDoc runs its search in a blob: worker.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "font-src 'self' data:; frame-ancestors 'none'"
)
DOCS_HEADERS = {"Content-Security-Policy": DOCS_POLICY}

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
async def openapi_document(request: Request) -> Response:
    # Served here rather than by FastAPI so that it is a route like the others (a template
    # for the latency histogram, the access log's route field).
    return JsonResponse(request.app.openapi())


@router.get("/docs")
async def swagger_ui() -> Response:
    return HTMLResponse(SWAGGER_PAGE, headers=DOCS_HEADERS)


@router.get("/redoc")
async def redoc() -> Response:
    return HTMLResponse(REDOC_PAGE, headers=DOCS_HEADERS)


@router.get(ASSETS_PATH + "/{name}")
async def docs_asset(name: str) -> Response:
    # Only the listed names: the path never reaches the file system as given.
    media_type = ASSET_TYPES.get(name)
    if media_type is None:
        raise HTTPException(404, "No such documentation asset.")
    return Response(
        (ASSETS / name).read_bytes(),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )
