"""Health, the OpenAPI document and its interactive docs page (no auth)."""

from functools import lru_cache
from pathlib import Path
from typing import Any

from chalice import Blueprint
from chalice import Response as HttpResponse

from chalicelib.errors import NotFound
from chalicelib.openapi import document
from chalicelib.schemas import Response
from chalicelib.web import Req, route

bp = Blueprint(__name__)

# Swagger UI (npm swagger-ui-dist, pinned in tools/contract/package.json) is copied here by
# `make docs-assets`, and so ships inside chalicelib/ in the Lambda package. Read on first
# request only: nothing of it costs a cold start.
DOCS_DIR = Path(__file__).resolve().parent.parent / "static" / "swagger-ui"
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "init.js": "text/javascript; charset=utf-8",
}
DOCS_ASSET_PATTERN = "^(" + "|".join(name.replace(".", r"\.") for name in DOCS_ASSETS) + ")$"
# Relative URLs: /v1/docs/... and /v1/openapi.json, under whatever stage prefix serves the API.
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fieldsales API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
"""
DOCS_INIT = """window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  displayOperationId: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""


class Health(Response):
    status: str


@route(bp, "/v1/health", summary="Liveness", tag="system", auth=False, response=Health, name="get_health")
def health(req: Req) -> dict[str, str]:
    return {"status": "ok"}


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    return document()


@route(bp, "/v1/openapi.json", summary="This API as OpenAPI 3.1", tag="system", auth=False, name="get_openapi_document")
def openapi(req: Req) -> dict[str, Any]:
    return _document()


@route(
    bp,
    "/v1/docs",
    summary="Interactive docs of this API (Swagger UI), served by the API itself",
    tag="system",
    auth=False,
    name="get_docs_page",
    media_types=("text/html",),
)
def docs_page(req: Req) -> HttpResponse:
    return HttpResponse(body=DOCS_PAGE, status_code=200, headers={"Content-Type": "text/html; charset=utf-8"})


@lru_cache(maxsize=len(DOCS_ASSETS))
def _asset(name: str) -> str:
    if name == "init.js":
        return DOCS_INIT
    path = DOCS_DIR / name
    if not path.is_file():
        raise NotFound("the docs assets are not installed (make docs-assets)", code="docs_not_built")
    return path.read_text(encoding="utf-8")


@route(
    bp,
    "/v1/docs/{asset}",
    summary="A script or style sheet of the docs page",
    tag="system",
    auth=False,
    name="get_docs_asset",
    media_types=("text/javascript", "text/css"),
    path_patterns={"asset": DOCS_ASSET_PATTERN},
    errors=(404,),
)
def docs_asset(req: Req) -> HttpResponse:
    name = req.path["asset"]
    headers = {"Content-Type": DOCS_ASSETS[name], "Cache-Control": "public, max-age=86400"}
    return HttpResponse(body=_asset(name), status_code=200, headers=headers)
