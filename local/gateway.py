"""API Gateway's own answers, locally: what the deployed API's Gateway Responses say
(infra/fieldsales_infra/gateway.py), for the requests that never reach the app.

Chalice's local gateway answers an unknown path as API Gateway does by default: a raw 403
whose message echoes the Authorization header, token and all. Here an unknown path is
404 ``not_found`` in the contract's error shape, as deployed (``MISSING_AUTHENTICATION_TOKEN``
is re-mapped there); a known path with another method reaches the app, which answers 405.
Both the local server (local/stack.py) and the tests' ``chalice.test`` client use this.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from chalice import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalGateway, LocalGatewayException, RouteMatcher
from chalice.test import Client, TestHTTPClient

from chalicelib.ids import new_id
from chalicelib.web import SECURITY_HEADERS

# API Gateway's payload limit for a REST API; the app itself refuses more than 256 KiB.
MAX_GATEWAY_BODY_BYTES = 10 * 1024 * 1024
# type -> (status, code, message); the same rows as the deployed Gateway Responses
GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found", "no such route"),
    "REQUEST_TOO_LARGE": (413, "payload_too_large", "request body too large"),
    "BAD_REQUEST_BODY": (400, "bad_request", "the request is malformed"),
}


class GatewayResponse(LocalGatewayException):
    """An answer of the gateway itself, in the contract's error shape."""

    def __init__(self, response_type: str) -> None:
        status, code, message = GATEWAY_RESPONSES[response_type]
        request_id = new_id("req")
        body = {"error": {"code": code, "message": message, "request_id": request_id}}
        headers = {"Content-Type": "application/json", "X-Request-Id": request_id, **SECURITY_HEADERS}
        super().__init__(headers, json.dumps(body).encode())
        self.CODE = status


class ContractGateway(LocalGateway):
    def __init__(self, app_object: Chalice, config: Config) -> None:
        super().__init__(app_object, config)
        self._routes = RouteMatcher(list(app_object.routes))

    def handle_request(self, method: str, path: str, headers: dict[str, Any], body: Optional[bytes]) -> Any:
        try:
            self._routes.match_route(path)
        except ValueError:
            raise GatewayResponse("MISSING_AUTHENTICATION_TOKEN") from None
        return super().handle_request(method, path, headers, body)

    def _has_user_defined_options_method(self, lambda_event: Any) -> bool:
        # Chalice local answers OPTIONS itself (200, CORS headers) on every path; the
        # deployed API declares no OPTIONS, so it is a method like any other: the app's 405.
        return True


class ContractRequestHandler(ChaliceRequestHandler):
    """Chalice's local request handler over :class:`ContractGateway`, which also refuses
    a body larger than API Gateway accepts (or a malformed Content-Length) before reading it."""

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config) -> None:
        self.local_gateway = ContractGateway(app_object, config)
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def _generic_handle(self) -> None:
        declared = self.headers.get("content-length", "0")
        if not declared.isdigit():
            self.close_connection = True
            self._send_error_response(GatewayResponse("BAD_REQUEST_BODY"))
        elif int(declared) > MAX_GATEWAY_BODY_BYTES:
            self.close_connection = True  # the body is never read
            self._send_error_response(GatewayResponse("REQUEST_TOO_LARGE"))
        else:
            super()._generic_handle()

    def _send_http_response_with_body(self, code: int, headers: dict[str, Any], body: Any) -> None:
        if self.command != "HEAD":
            super()._send_http_response_with_body(code, headers, body)
            return
        # A HEAD answer is headers only: Chalice writes the body too, which the client then
        # reads as the start of the next response on the same connection.
        raw = body if isinstance(body, bytes) else str(body).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        """http.server's own refusals (malformed request line, headers too large...) in the
        contract's shape, never its HTML page nor a bare HTTP/0.9 answer."""
        request_id = new_id("req")
        status = code if 400 <= code < 500 else 400
        error = {"code": "bad_request", "message": "the request is malformed", "request_id": request_id}
        raw = json.dumps({"error": error}).encode()
        self.request_version = "HTTP/1.1"
        self.close_connection = True
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "X-Request-Id": request_id, **SECURITY_HEADERS}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)


class ContractClient(Client):
    """``chalice.test.Client`` whose HTTP side answers unknown routes as deployed."""

    @property
    def http(self) -> TestHTTPClient:
        if self._http_client is None:
            http = TestHTTPClient(self._app, self._chalice_config)
            http._local_gateway = ContractGateway(self._app, self._chalice_config)
            self._http_client = http
        return self._http_client
