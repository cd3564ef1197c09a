"""Shared pydantic shapes: request bases (unknown fields refused), money, paging, errors.

Modules that define shapes (this one, the handlers) do without ``from __future__ import
annotations``: with it, pydantic compiles every annotation string back into a type when the
class is built, about 400 compiles per cold start.
"""

from contextvars import ContextVar
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from chalicelib.vocabulary import RelatedType, UploadStatus

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
# A name is a label others see: no control characters (NUL included), no bidirectional
# overrides (spoofing "\u202egnp.exe"), and at least one visible character (not only
# spaces or zero-width ones). Expressed as a pattern so the OpenAPI document says it too.
_NAME_BAN = "\\x00-\\x1f\\x7f\u202a-\u202e\u2066-\u2069"
_INVISIBLE = "\\s\u200b-\u200f\u2060-\u2064\ufeff"
NAME_PATTERN = f"^[^{_NAME_BAN}]*[^{_NAME_BAN}{_INVISIBLE}][^{_NAME_BAN}]*$"
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NAME_PATTERN)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
Money = Annotated[str, StringConstraints(pattern=r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Date = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
Month = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
Timestamp = Annotated[
    str,
    StringConstraints(
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
        r"(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
    ),
]
Limit = Annotated[int, Field(ge=1, le=100)]


def example(value: dict[str, Any], **schema: Any) -> ConfigDict:
    """A request shape's example (published on its request body; the tests check the API
    accepts it), and any rule across fields the schema can state (``anyOf=[...]``).
    Merged with the base class's config."""
    return ConfigDict(json_schema_extra={"examples": [value], **schema})


class Request(BaseModel):
    """Base of every request body: unknown fields are refused (no mass assignment), and
    JSON types are taken as sent (strict: ``false`` is no number, ``"3"`` no integer).

    Every shape defers building its validator to first use (``defer_build``): a cold start
    pays only for the routes it serves, not for every model in the API.
    """

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class Query(BaseModel):
    """Base of query-string models. Values arrive as strings; pydantic coerces."""

    model_config = ConfigDict(extra="ignore", defer_build=True)


class PageQuery(Query):
    limit: Limit = 20
    cursor: Optional[Annotated[str, StringConstraints(min_length=1, max_length=2048)]] = None


_shape_problems: ContextVar[tuple[str, ...]] = ContextVar("response_shape_problems", default=())


def take_shape_problems() -> tuple[str, ...]:
    """The response models that refused their own data since the last call (and forget them)."""
    problems = _shape_problems.get()
    _shape_problems.set(())
    return problems


def _refused(model: type[BaseModel], err: ValidationError) -> None:
    summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in err.errors()[:5])
    _shape_problems.set(_shape_problems.get() + (f"{model.__name__}: {summary}",))


class Response(BaseModel):
    """Base of every response shape. It declares all that its route returns: the tests
    validate every response body against a copy of it that forbids any other field.

    Data its own model refuses (a stored value the model does not list, e.g. a new message
    kind) never makes the answer a 500: the object keeps the data as given (unvalidated;
    clients ignore values they do not know) and the refusal is recorded for the HTTP edge,
    which counts it (``ResponseShapeInvalid``, alarmed in infra/) and logs it with the
    route (chalicelib/web.py), so the first such request is seen."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            _refused(type(self), err)
            kept = type(self).model_construct(**data)
            for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
                object.__setattr__(self, name, getattr(kept, name))

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Any:
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as err:
            if not isinstance(obj, dict):
                raise
            _refused(cls, err)
            return cls.model_construct(**obj)


class Page(Response):
    """Every paged result: a page of ``items`` and the cursor of the next (null at the end).
    Each route names its own, with its item type (``class SignInPage(Page)`` with
    ``items: list[SignInOut]``): clean component names, and no generic model for pydantic
    to build at import time (``Page[X]`` would, at every cold start)."""

    items: list[Any]
    next_cursor: Optional[str] = Field(default=None, description="pass as `cursor` for the next page")


class LocationOut(Response):
    lat: float
    lng: float


class PhotoOut(Response):
    """An upload's verification status; its URLs once it is ready."""

    upload_id: str
    status: UploadStatus
    reason: Optional[str] = None
    thumbnail_url: Optional[str] = None
    url: Optional[str] = None


class ErrorBody(BaseModel):
    model_config = ConfigDict(defer_build=True)

    code: str
    message: str
    request_id: str
    details: Any = None  # field-level problems of a 400, when there are any


class Error(BaseModel):
    model_config = ConfigDict(defer_build=True)

    error: ErrorBody


def _storable(value: float) -> float:
    """Rounded to 1e-7 (about a centimetre on the ground): DynamoDB numbers cannot hold
    magnitudes below 1e-130, and no GPS is more precise than that."""
    return round(value, 7) + 0.0


def Coordinate(low: float, high: float) -> Any:  # noqa: N802 - a type factory
    return Annotated[float, Field(ge=low, le=high), AfterValidator(_storable)]


class Location(Request):
    lat: Coordinate(-90, 90)
    lng: Coordinate(-180, 180)


class RelatedIn(Request):
    """A CRM object a feed activity, task, instruction or approval request relates to."""

    type: RelatedType
    id: Id
