"""GET /v1/docs: Swagger UI served by the API itself (no CDN, no auth)."""

from __future__ import annotations

import re

from chalicelib.handlers.system import DOCS_DIR


def test_docs_page_loads_its_script_and_styles_from_the_api_only(chalice_client):
    page = chalice_client.http.get("/v1/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.body.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("docs/") for s in sources), sources  # relative: no CDN, any stage prefix
    for source in sources:
        asset = chalice_client.http.get("/v1/" + source)
        assert asset.status_code == 200, source
        assert asset.headers["Content-Type"].split(";")[0] in {"text/css", "text/javascript"}
    bundle = chalice_client.http.get("/v1/docs/swagger-ui-bundle.js").body
    assert bundle == (DOCS_DIR / "swagger-ui-bundle.js").read_bytes() and b"SwaggerUIBundle" in bundle
    assert b'url: "openapi.json"' in chalice_client.http.get("/v1/docs/init.js").body


def test_only_the_docs_files_are_served(chalice_client):
    for name in ("..%2F..%2Fapp.py", "index.html", "swagger-ui.js.map", "LICENSE"):
        response = chalice_client.http.get(f"/v1/docs/{name}")
        assert response.status_code == 400, name
