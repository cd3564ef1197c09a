"""The device registry and the push preferences of the caller.

Registering (``PUT /v1/me/devices/{installation_id}``) costs 1 read (one BatchGet: the
caller's device of this installation and who holds the token), at most 3 SNS calls
(``senders.SnsSender.ensure_endpoint``; an installation that switched platform: Create,
Get and the old endpoint's Delete) and 1 write (one transaction: the device, the
token's holder, and the removal of whatever the token or the installation leaves behind).
A phone belongs to one user at a time: a token registered by another user (or another
installation) moves to the caller and the previous holder's device is deleted with it, in
this tenant or, when SNS names the endpoint's previous owner, in another one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from chalicelib import cursor
from chalicelib.models.base import Cancelled, Tx
from chalicelib.models.devices import Device, PushSettings, PushToken, registration_state
from chalicelib.observability import count, logger
from chalicelib.services.org import org
from chalicelib.services.push.senders import sender_for
from chalicelib.timeutil import iso, utcnow

OWNER_SEPARATOR = "/"  # ids never contain it (path parameters are [A-Za-z0-9_-])


@dataclass(frozen=True)
class Registration:
    tenant_id: str
    user_id: str
    installation_id: str
    platform: str
    token: str
    app_version: Optional[str] = None
    locale: Optional[str] = None

    @property
    def owner(self) -> str:
        """The endpoint's ``CustomUserData``: who holds it, readable from SNS itself."""
        return OWNER_SEPARATOR.join((self.tenant_id, self.user_id, self.installation_id))


def parse_owner(value: Optional[str]) -> Optional[tuple[str, str, str]]:
    parts = (value or "").split(OWNER_SEPARATOR)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


def register(reg: Registration) -> Device:
    device, holder = registration_state(reg.tenant_id, reg.user_id, reg.installation_id, reg.platform, reg.token)
    endpoint_arn, previous = None, None
    sender = sender_for(reg.platform)
    if sender is not None:
        stored = device.endpoint_arn if device is not None and device.platform == reg.platform else None
        moved = holder is not None and (holder.user_id, holder.installation_id) != (reg.user_id, reg.installation_id)
        if stored is None and holder is not None:
            stored = holder.endpoint_arn
        endpoint = sender.ensure_endpoint(reg.token, stored, reg.owner, new_owner=moved)
        endpoint_arn, previous = endpoint.arn, parse_owner(endpoint.previous_owner)
    new = Device(
        tenant_id=reg.tenant_id,
        user_id=reg.user_id,
        installation_id=reg.installation_id,
        platform=reg.platform,
        token=reg.token,
        endpoint_arn=endpoint_arn,
        enabled=True,
        app_version=reg.app_version,
        locale=reg.locale,
        registered_at=device.registered_at if device is not None else iso(utcnow()),
    )
    tx = Tx("device_register").put("device", new)
    holding = PushToken.for_token(
        reg.tenant_id, reg.platform, reg.token, user_id=reg.user_id, installation_id=reg.installation_id
    )
    holding.endpoint_arn = endpoint_arn
    tx.put("token", holding)
    if device is not None and (device.token, device.platform) != (reg.token, reg.platform):
        tx.delete("old_token", _token_item(reg.tenant_id, device.platform, device.token))
    _leave_previous_holders(tx, reg, holder, previous)
    tx.commit()
    if device is not None and device.platform != reg.platform and device.endpoint_arn:
        _delete_old_endpoint(device)
    return new


def _delete_old_endpoint(device: Device) -> None:
    """An installation that switched platform (an Android phone moving from FCM to a vendor
    channel) leaves its endpoint in the old platform's application: deleted after the
    commit (the device no longer points at it), 1 SNS call. A failure leaves an endpoint
    nothing publishes to: logged and counted, the registration stands."""
    sender = sender_for(device.platform)
    if sender is None or not device.endpoint_arn:
        return
    try:
        sender.remove(device.endpoint_arn)
    except Exception:  # noqa: BLE001 - the registration committed; the orphan is only reported
        count("PushOrphanEndpoint")
        logger.exception("old platform endpoint not deleted", extra={"platform": device.platform})


def _leave_previous_holders(
    tx: Tx, reg: Registration, holder: Optional[PushToken], previous: Optional[tuple[str, str, str]]
) -> None:
    """The token moved: the devices that held it before (this tenant's holder, and the
    endpoint's previous owner named by SNS) are deleted in the registration's transaction."""
    me = (reg.tenant_id, reg.user_id, reg.installation_id)
    others: list[tuple[str, str, str]] = []
    if holder is not None:
        others.append((reg.tenant_id, holder.user_id, holder.installation_id))
    if previous is not None:
        others.append(previous)
    for n, (tenant_id, user_id, installation_id) in enumerate(dict.fromkeys(o for o in others if o != me)):
        gone = Device(tenant_id=tenant_id, user_id=user_id, installation_id=installation_id)
        gone.set_keys()
        tx.delete(f"moved_device{n}", gone)
        if tenant_id != reg.tenant_id:
            tx.delete(f"moved_token{n}", _token_item(tenant_id, reg.platform, reg.token))


def _token_item(tenant_id: str, platform: str, token: str) -> PushToken:
    item = PushToken.for_token(tenant_id, platform, token, user_id="", installation_id="")
    item.set_keys()
    return item


def remove(tenant_id: str, user_id: str, installation_id: str) -> None:
    """Logout: the endpoint is deleted, then the device and its token's holder. 1 read,
    1 SNS call, 1 write; a device already gone changes nothing."""
    device = Device.fetch(tenant_id, user_id, installation_id)
    if device is None:
        return
    sender = sender_for(device.platform)
    if sender is not None and device.endpoint_arn:
        sender.remove(device.endpoint_arn)
    held = (PushToken.user_id == user_id) & (PushToken.installation_id == installation_id)
    try:
        Tx("device_remove").delete("device", device).delete(
            "token", _token_item(tenant_id, device.platform, device.token), held
        ).commit()
    except Cancelled as exc:
        if "token" not in exc.failed:
            raise
        Tx("device_remove").delete("device", device).commit()  # the token has moved on: leave it


def list_devices(
    tenant_id: str, user_id: str, limit: int, cursor_token: Optional[str]
) -> tuple[list[Device], Optional[str]]:
    scope = f"devices:{tenant_id}:{user_id}"
    position = cursor.decode(cursor_token, scope)
    items, last = Device.page(tenant_id, user_id, limit, (position or {}).get("after"))
    return items, cursor.encode({"after": last}, scope) if last else None


def device_to_dict(device: Device) -> dict[str, Any]:
    return {
        "installation_id": device.installation_id,
        "platform": device.platform,
        "enabled": bool(device.enabled),
        "registered_at": device.registered_at,
    }


# ---------------------------------------------------------------- preferences
def settings_to_dict(prefs: Optional[PushSettings]) -> dict[str, Any]:
    quiet = None
    if prefs is not None and prefs.quiet_from and prefs.quiet_to:
        quiet = {"from": prefs.quiet_from, "to": prefs.quiet_to}
    return {"muted_kinds": list(prefs.muted_kinds or []) if prefs else [], "quiet_hours": quiet}


def get_settings(tenant_id: str, user_id: str) -> dict[str, Any]:
    return settings_to_dict(PushSettings.fetch(tenant_id, user_id))


def put_settings(
    tenant_id: str, user_id: str, muted_kinds: list[str], quiet_hours: Optional[tuple[str, str]]
) -> dict[str, Any]:
    """Replaces the preferences; quiet hours are kept with the tenant's zone of now. 1 read
    (the tenant's settings) + 1 write."""
    zone = org.tenant_zone(tenant_id).key
    prefs = PushSettings.save_preferences(
        tenant_id, user_id, sorted(set(muted_kinds)), quiet_hours, zone, iso(utcnow())
    )
    return settings_to_dict(prefs)
