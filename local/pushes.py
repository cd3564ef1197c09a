"""What the app published to the stand-in's SNS (moto keeps the bodies but neither their
attributes nor when): the local stack records every successful ``Publish`` of the app's
own SNS client and its control endpoint answers ``GET /pushes?tenant_id=&user_id=`` ->
``{items: [{installation_id, platform, payload, sent_at, message_attributes}]}`` (oldest
first; the user's devices as registered now)."""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any

from chalicelib import aws
from chalicelib.models.devices import Device
from chalicelib.services.push.platforms import PLATFORMS
from chalicelib.timeutil import iso, utcnow

MAX_KEPT = 10_000
_PARAMS = "fieldsales_publish"


class PushLog:
    def __init__(self) -> None:
        self.sent: deque[dict[str, Any]] = deque(maxlen=MAX_KEPT)
        self.lock = threading.Lock()

    def attach(self, client: Any = None) -> PushLog:
        """Watch the app's SNS client (``chalicelib.aws.client("sns")``, one per process)."""
        events = (client or aws.client("sns")).meta.events
        events.register("provide-client-params.sns.Publish", self._before)
        events.register("after-call.sns.Publish", self._after)
        return self

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS] = dict(params)

    def _after(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        params = context.get(_PARAMS)
        if params is None or not parsed.get("MessageId") or http_response.status_code != 200:
            return
        with self.lock:
            self.sent.append({**params, "sent_at": iso(utcnow())})

    def for_user(self, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
        devices: dict[str, Device] = {}
        after = None
        while True:
            page, after = Device.page(tenant_id, user_id, 100, after)
            devices |= {d.endpoint_arn: d for d in page if d.endpoint_arn}
            if after is None:
                break
        with self.lock:
            sent = [p for p in self.sent if p.get("TargetArn") in devices]
        return [_item(devices[p["TargetArn"]], p) for p in sent]


def _item(device: Device, params: dict[str, Any]) -> dict[str, Any]:
    message = json.loads(params["Message"])
    key = PLATFORMS[device.platform].message_key
    return {
        "installation_id": device.installation_id,
        "platform": device.platform,
        "payload": json.loads(message[key]) if key in message else message,
        "sent_at": params["sent_at"],
        "message_attributes": {k: v.get("StringValue") for k, v in (params.get("MessageAttributes") or {}).items()},
    }
