"""Health and the OpenAPI document (no auth)."""

from functools import lru_cache
from typing import Any

from chalice import Blueprint

from chalicelib.openapi import document
from chalicelib.schemas import Response
from chalicelib.web import Req, route

bp = Blueprint(__name__)


class Health(Response):
    status: str


@route(bp, "/v1/health", summary="Liveness", tag="system", auth=False, response=Health)
def health(req: Req) -> dict[str, str]:
    return {"status": "ok"}


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    return document()


@route(bp, "/v1/openapi.json", summary="This API as OpenAPI 3.1", tag="system", auth=False)
def openapi(req: Req) -> dict[str, Any]:
    return _document()
