"""Bearer-token authentication.

Deployed: Cognito user-pool tokens (RS256) checked against the pool's JWKS by ``kid``,
with ``exp``, ``iss``, ``aud``/``client_id`` and ``token_use``. Local stages only: HS256
tokens signed with ``LOCAL_JWT_SECRET``. Anything else, ``alg: none`` included, is 401.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jwt

from chalicelib.config import Settings, settings
from chalicelib.errors import Unauthorized

LOCAL_ISSUER = "fieldsales-local"
LOCAL_AUDIENCE = "fieldsales"
LEEWAY_S = 30
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Principal:
    user_id: str
    tenant_id: str
    groups: frozenset[str]
    # the caller's org record once the edge has read it (chalicelib/web.py): services reuse
    # it instead of reading it again; never compared, never part of the identity
    user: Any = field(default=None, compare=False, hash=False, repr=False)
    # the tenant's settings, read by the edge in the same request as ``user``
    tenant_settings: Any = field(default=None, compare=False, hash=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.groups

    @property
    def is_finance(self) -> bool:
        return "finance" in self.groups


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> Any:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5)


def _decode_local(token: str, cfg: Settings) -> dict[str, Any]:
    return jwt.decode(
        token,
        cfg.local_jwt_secret,
        algorithms=["HS256"],
        audience=LOCAL_AUDIENCE,
        issuer=LOCAL_ISSUER,
        leeway=LEEWAY_S,
        options={"require": ["exp", "iss", "aud", "sub"]},
    )


def _decode_cognito(token: str, cfg: Settings) -> dict[str, Any]:
    key = _jwks_client(cfg.cognito_jwks_url).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        issuer=cfg.cognito_issuer,
        leeway=LEEWAY_S,
        options={"require": ["exp", "iss", "sub", "token_use"], "verify_aud": False},
    )
    use = claims.get("token_use")
    if use == "id":
        audience = claims.get("aud")
    elif use == "access":
        audience = claims.get("client_id")
    else:
        raise jwt.InvalidTokenError("token_use must be id or access")
    if audience not in cfg.cognito_client_ids:
        raise jwt.InvalidAudienceError("unknown client")
    return claims


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    tenant = claims.get("custom:tenant_id") or claims.get("tenant_id")
    sub = claims.get("sub")
    if not isinstance(tenant, str) or not ID_RE.match(tenant):
        raise Unauthorized("token has no valid tenant", code="invalid_token")
    if not isinstance(sub, str) or not ID_RE.match(sub):
        raise Unauthorized("token has no valid subject", code="invalid_token")
    groups = claims.get("cognito:groups", claims.get("groups", []))
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        groups = []
    return Principal(sub, tenant, frozenset(g for g in groups if isinstance(g, str)))


def authenticate(authorization: str | None, cfg: Settings | None = None) -> Principal:
    cfg = cfg or settings()
    if not authorization:
        raise Unauthorized("missing bearer token", code="missing_token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("authorization must be 'Bearer <token>'", code="invalid_token")
    try:
        decode = _decode_local if cfg.auth_mode == "local" else _decode_cognito
        claims = decode(token.strip(), cfg)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise Unauthorized(failure_message(exc), code="invalid_token") from None
    return principal_from_claims(claims)


# A fixed human message per kind of failure: never an exception's name or text, which
# would tell a forger which check stopped them and name the library behind it.
FAILURE_MESSAGES: tuple[tuple[type[BaseException], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is not meant for this API"),
    (jwt.InvalidIssuerError, "the token was not issued for this API"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
)
INVALID_TOKEN_MESSAGE = "the token is not valid"


def failure_message(exc: BaseException) -> str:
    return next((message for kind, message in FAILURE_MESSAGES if isinstance(exc, kind)), INVALID_TOKEN_MESSAGE)


def issue_local_token(
    user_id: str, tenant_id: str, groups: list[str] | None = None, ttl_s: int = 12 * 3600, secret: str | None = None
) -> str:
    """A local-mode token, for `make run`, tests and benchmarks."""
    now = int(time.time())
    claims = {
        "sub": user_id,
        "tenant_id": tenant_id,
        "groups": groups or [],
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, secret or settings().local_jwt_secret, algorithm="HS256")
