"""Phones: the caller's devices (push registration, logout) and push preferences."""

from typing import Annotated, Any, Optional

from chalice import Blueprint
from chalice import Response as ChaliceResponse
from pydantic import Field, StringConstraints

from chalicelib.schemas import Page, PageQuery, Request, Response, example
from chalicelib.services.push import devices
from chalicelib.vocabulary import UNKNOWN_VALUES_NOTE, MessageKind, PushPlatform
from chalicelib.web import Req, route

bp = Blueprint(__name__)

DEVICE_PATH = "/v1/me/devices/{installation_id}"
INSTALLATION_PATTERNS = {"installation_id": r"^[A-Za-z0-9_-]{8,64}$"}
# APNs tokens are 64+ hex digits, FCM registration tokens ~160 URL-safe characters, Baidu
# channel ids digits: printable ASCII without spaces covers them all.
PushTokenText = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=r"^[\x21-\x7e]+$")]
HourMinute = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class DeviceIn(Request):
    platform: PushPlatform
    token: PushTokenText
    app_version: Optional[Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[!-~]+$")]] = None
    locale: Optional[Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,8}([_-][A-Za-z0-9]{1,8}){0,3}$")]] = None

    model_config = example({"platform": "apns", "token": "a1b2c3" * 11, "app_version": "3.2.0", "locale": "zh-CN"})


class DeviceOut(Response):
    installation_id: str
    platform: PushPlatform = Field(description=UNKNOWN_VALUES_NOTE)
    enabled: bool
    registered_at: str


class DevicePage(Page):
    items: list[DeviceOut]


class QuietHours(Request):
    from_: HourMinute = Field(alias="from")
    to: HourMinute


class QuietHoursOut(Response):
    from_: str = Field(alias="from", serialization_alias="from")
    to: str


class NotificationSettingsIn(Request):
    muted_kinds: list[MessageKind] = Field(max_length=50)
    quiet_hours: Optional[QuietHours] = None

    model_config = example({"muted_kinds": ["team_digest"], "quiet_hours": {"from": "22:00", "to": "07:30"}})


class NotificationSettingsOut(Response):
    muted_kinds: list[MessageKind] = Field(description=UNKNOWN_VALUES_NOTE)
    quiet_hours: Optional[QuietHoursOut] = None


@route(
    bp,
    DEVICE_PATH,
    method="PUT",
    summary="Register (or refresh) this app installation's push token; a token another user held moves here",
    tag="phones",
    body=DeviceIn,
    response=DeviceOut,
    path_patterns=INSTALLATION_PATTERNS,
    name="set_device",
)
def put_device(req: Req) -> DeviceOut:
    body: DeviceIn = req.body
    registration = devices.Registration(
        req.tenant_id,
        req.user_id,
        req.path["installation_id"],
        body.platform,
        body.token,
        body.app_version,
        body.locale,
    )
    return DeviceOut(**devices.device_to_dict(devices.register(registration)))


@route(bp, "/v1/me/devices", summary="The caller's devices", tag="phones", query=PageQuery, response=DevicePage)
def list_devices(req: Req) -> DevicePage:
    q: PageQuery = req.query
    items, next_cursor = devices.list_devices(req.tenant_id, req.user_id, q.limit, q.cursor)
    return DevicePage(items=[DeviceOut(**devices.device_to_dict(d)) for d in items], next_cursor=next_cursor)


@route(
    bp,
    DEVICE_PATH,
    method="DELETE",
    summary="Forget this installation (on logout): its endpoint is deleted; repeating it changes nothing",
    tag="phones",
    status=204,
    path_patterns=INSTALLATION_PATTERNS,
    name="remove_device",
    media_types=(),
)
def delete_device(req: Req) -> ChaliceResponse:
    devices.remove(req.tenant_id, req.user_id, req.path["installation_id"])
    return ChaliceResponse(body="", status_code=204, headers={})


@route(
    bp,
    "/v1/me/notification-settings",
    method="PUT",
    summary="Muted kinds and quiet hours (tenant time); reminders are pushed regardless",
    tag="phones",
    body=NotificationSettingsIn,
    response=NotificationSettingsOut,
    name="set_notification_settings",
)
def put_settings(req: Req) -> dict[str, Any]:
    body: NotificationSettingsIn = req.body
    quiet = (body.quiet_hours.from_, body.quiet_hours.to) if body.quiet_hours else None
    return devices.put_settings(req.tenant_id, req.user_id, list(body.muted_kinds), quiet)


@route(
    bp,
    "/v1/me/notification-settings",
    summary="The caller's push preferences",
    tag="phones",
    response=NotificationSettingsOut,
    name="get_notification_settings",
)
def get_settings(req: Req) -> dict[str, Any]:
    return devices.get_settings(req.tenant_id, req.user_id)
