"""Token verification: every forgery is refused with 401, in local and Cognito modes."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.auth import LOCAL_AUDIENCE, LOCAL_ISSUER, authenticate
from chalicelib.config import ConfigError, load_settings
from chalicelib.errors import Unauthorized

SECRET = "unit-test-secret-with-enough-length-000"
POOL = "us-east-1_TestPool"
CLIENT = "client-123"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"


@pytest.fixture
def local_cfg(monkeypatch):
    monkeypatch.setenv("LOCAL_JWT_SECRET", SECRET)
    return load_settings()


def local_claims(**over):
    now = int(time.time())
    claims = {
        "sub": "rep_a",
        "tenant_id": "acme",
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_authenticate_valid_local_token_returns_principal(local_cfg):
    token = jwt.encode(local_claims(groups=["admin"]), SECRET, algorithm="HS256")
    principal = authenticate(bearer(token), local_cfg)
    assert (principal.user_id, principal.tenant_id, principal.is_admin) == ("rep_a", "acme", True)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


LOCAL_FORGERIES = {
    "alg_none": lambda: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(local_claims())}.",
    "wrong_secret": lambda: jwt.encode(local_claims(), "another-secret-of-enough-length-xx", algorithm="HS256"),
    "expired": lambda: jwt.encode(local_claims(exp=int(time.time()) - 120), SECRET, algorithm="HS256"),
    "future_nbf": lambda: jwt.encode(local_claims(nbf=int(time.time()) + 600), SECRET, algorithm="HS256"),
    "wrong_aud": lambda: jwt.encode(local_claims(aud="someone-else"), SECRET, algorithm="HS256"),
    "wrong_iss": lambda: jwt.encode(local_claims(iss="evil"), SECRET, algorithm="HS256"),
    "no_exp": lambda: jwt.encode(local_claims(exp=None), SECRET, algorithm="HS256"),
    "no_tenant": lambda: jwt.encode(local_claims(tenant_id=None), SECRET, algorithm="HS256"),
    "bad_tenant": lambda: jwt.encode(local_claims(tenant_id="a#b"), SECRET, algorithm="HS256"),
    "hs512": lambda: jwt.encode(local_claims(), SECRET, algorithm="HS512"),
    "garbage": lambda: "not.a.token",
}


# What a client is told: a fixed sentence per kind of failure, never the exception's name.
FIXED_MESSAGES = {
    "expired": "the token has expired",
    "future_nbf": "the token is not valid yet",
    "wrong_aud": "the token is not meant for this API",
    "wrong_iss": "the token was not issued for this API",
    "no_exp": "the token lacks a required claim",
}
OTHER_MESSAGES = {"the token is not valid", "token has no valid tenant", "token has no valid subject"}


def assert_fixed_message(err: Unauthorized, case: str) -> None:
    assert err.message == FIXED_MESSAGES.get(case, err.message)
    assert err.message in {*FIXED_MESSAGES.values(), *OTHER_MESSAGES}, err.message
    assert "Error" not in err.message and "jwt" not in err.message.lower()


@pytest.mark.parametrize("case", sorted(LOCAL_FORGERIES))
def test_authenticate_forged_local_token_is_401(local_cfg, case):
    with pytest.raises(Unauthorized) as caught:
        authenticate(bearer(LOCAL_FORGERIES[case]()), local_cfg)
    assert_fixed_message(caught.value, case)


def test_authenticate_tampered_payload_is_401(local_cfg):
    header, _, signature = jwt.encode(local_claims(), SECRET, algorithm="HS256").split(".")
    forged = f"{header}.{_b64(local_claims(tenant_id='globex'))}.{signature}"
    with pytest.raises(Unauthorized):
        authenticate(bearer(forged), local_cfg)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic abc", "Bearer  "])
def test_authenticate_missing_or_malformed_header_is_401(local_cfg, header):
    with pytest.raises(Unauthorized):
        authenticate(header, local_cfg)


def test_local_auth_mode_is_refused_outside_local_stages(monkeypatch):
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("AUTH_MODE", "local")
    with pytest.raises(ConfigError):
        load_settings()


def test_local_auth_mode_is_refused_inside_a_lambda(monkeypatch):
    monkeypatch.setenv("STAGE", "local")
    monkeypatch.setenv("AUTH_MODE", "local")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fieldsales-prod-api")
    with pytest.raises(ConfigError):
        load_settings()


# ------------------------------------------------------------------ Cognito (RS256 + JWKS)
@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(rsa_key):
    """The pool's JWKS served over loopback HTTP, as Cognito serves it."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwk.update({"kid": "kid-1", "alg": "RS256", "use": "sig"})
    body = json.dumps({"keys": [jwk]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{POOL}/.well-known/jwks.json"
    server.shutdown()


@pytest.fixture
def cognito_cfg(jwks_url, local_cfg):
    return replace(
        local_cfg,
        auth_mode="cognito",
        cognito_user_pool_id=POOL,
        cognito_client_ids=(CLIENT,),
        cognito_jwks_url=jwks_url,
        region="us-east-1",
    )


def cognito_token(key, kid="kid-1", **over):
    now = int(time.time())
    claims = {
        "sub": "rep_a",
        "custom:tenant_id": "acme",
        "cognito:groups": ["finance"],
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(over)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_authenticate_valid_cognito_id_token_returns_principal(cognito_cfg, rsa_key):
    principal = authenticate(bearer(cognito_token(rsa_key)), cognito_cfg)
    assert (principal.tenant_id, principal.is_finance) == ("acme", True)


def test_authenticate_valid_cognito_access_token_checks_client_id(cognito_cfg, rsa_key):
    token = cognito_token(rsa_key, aud=None, token_use="access", client_id=CLIENT)
    assert authenticate(bearer(token), cognito_cfg).user_id == "rep_a"


COGNITO_FORGERIES = {
    "unknown_kid": lambda key: cognito_token(key, kid="kid-unknown"),
    "other_key": lambda key: cognito_token(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    "expired": lambda key: cognito_token(key, exp=int(time.time()) - 120),
    "future_nbf": lambda key: cognito_token(key, nbf=int(time.time()) + 600),
    "wrong_aud": lambda key: cognito_token(key, aud="other-client"),
    "wrong_iss": lambda key: cognito_token(key, iss="https://evil.example"),
    "wrong_token_use": lambda key: cognito_token(key, token_use="refresh"),
    "access_wrong_client": lambda key: cognito_token(key, aud=None, token_use="access", client_id="other"),
    "local_hs256_token": lambda key: jwt.encode(local_claims(), SECRET, algorithm="HS256"),
    "alg_none": lambda key: f"{_b64({'alg': 'none', 'kid': 'kid-1'})}.{_b64(local_claims())}.",
}


@pytest.mark.parametrize("case", sorted(COGNITO_FORGERIES))
def test_authenticate_forged_cognito_token_is_401(cognito_cfg, rsa_key, case):
    with pytest.raises(Unauthorized) as caught:
        authenticate(bearer(COGNITO_FORGERIES[case](rsa_key)), cognito_cfg)
    assert_fixed_message(caught.value, case)


def test_authenticate_hs256_signed_with_the_public_key_is_401(cognito_cfg, rsa_key):
    """The classic confusion attack: HS256 keyed with the RSA public key's PEM."""
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": "kid-1"})
    payload = _b64({**local_claims(), "iss": ISSUER, "aud": CLIENT, "token_use": "id", "custom:tenant_id": "acme"})
    import hashlib
    import hmac

    sig = base64.urlsafe_b64encode(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()).rstrip(b"=")
    with pytest.raises(Unauthorized):
        authenticate(bearer(f"{header}.{payload}.{sig.decode()}"), cognito_cfg)
