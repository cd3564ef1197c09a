"""Push fan-out and device registration: DynamoDB requests, items read and SNS calls, by
tenant size.

Target (issue 25): a message's fan-out costs 1 Query + 1 Publish per device of its
recipient, whatever the tenant's size (users, devices, the recipient's own inbox);
registration at most 1 read + 3 SNS calls + 1 write. moto in-process: the counts are what
carry over to AWS (latency does not).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.common import count_dynamodb, moto_stack, straight_into_moto, table, verdict

SCALES = [10, 2_000]  # users in the tenant, each with 2 phones and 10 messages
RECIPIENT_PHONES = 3


def _fill(users: int) -> None:
    from chalicelib.models.devices import Device
    from chalicelib.models.messages import Message

    with straight_into_moto() as put:
        for n in range(users):
            user = f"filler{n}"
            for phone in range(2):
                device = Device(
                    tenant_id="acme", user_id=user, installation_id=f"phone-{n}-{phone}", platform="fcm",
                    token=f"t{n}-{phone}", endpoint_arn=f"arn:aws:sns:us-east-1:1:endpoint/GCM/x/{n}-{phone}",
                    enabled=True, registered_at="2026-12-01T00:00:00Z",
                )  # fmt: skip
                device.set_keys()
                put(device)
            for m in range(10):
                message = Message(
                    tenant_id="acme", user_id=user, message_id=f"msg_{n:06d}{m:02d}", kind="comment", title="t",
                    created_at="2026-12-01T00:00:00Z", read=False,
                )  # fmt: skip
                message.set_keys()
                put(message)


def _measure(users: int) -> list[Any]:
    from chalicelib import aws
    from chalicelib.services.inbox import messages
    from chalicelib.services.platform.projections import Change
    from chalicelib.services.push import devices, fanout
    from local.seed import seed_org

    with moto_stack():
        seed_org()
        _fill(users)
        sns: Counter[str] = Counter()
        aws.client("sns").meta.events.register(
            "provide-client-params.sns.*", lambda model, **_: sns.update([model.name])
        )
        with count_dynamodb() as ddb:
            paths = []  # (DynamoDB requests, SNS calls) of each registration path
            for phone, platform, token in (
                *((n, p, f"{n}" * 64) for n, p in enumerate(("apns", "fcm", "apns_sandbox")[:RECIPIENT_PHONES])),
                (0, "apns", "0" * 64),  # the app's next start: the same again
                (1, "baidu", "vendor-channel-1"),  # an Android phone moving to a vendor channel
                (1, "fcm", "1" * 64),  # and back (its old endpoint deleted each time)
            ):
                ddb.reset()
                sns.clear()
                devices.register(devices.Registration("acme", "rep_a", f"rep-a-phone-{phone}", platform, token))
                paths.append((ddb.total, sum(sns.values())))
            register = (max(d for d, _ in paths), max(n for _, n in paths))
            for n in range(50):  # the recipient's inbox holds plenty too
                messages.send(messages.NewMessage("acme", "rep_a", "comment", f"old {n}"))
            message = messages.send(messages.NewMessage("acme", "rep_a", "mention", "You were mentioned"))
            ddb.reset()
            sns.clear()
            fanout.handle_change(Change("INSERT", None, message.serialize()))
            return [users, 2 * users + RECIPIENT_PHONES, ddb.total, ddb.items_read, sns["Publish"], *register]


def run() -> str:
    rows = [_measure(users) for users in SCALES]
    constant = len({(r[2], r[3], r[4]) for r in rows}) == 1
    ok = constant and all(r[2] == 1 and r[4] == RECIPIENT_PHONES and r[5] <= 2 and r[6] <= 3 for r in rows)
    return "\n".join(
        [
            "## Push fan-out and registration",
            "",
            f"One message to a recipient with {RECIPIENT_PHONES} phones (and 50 older messages), in tenants of "
            "growing size; then the cost of registering a phone: the most any of these paths took (first "
            "registration, the same again, a switch of platform that deletes the old endpoint: Create + Get + "
            "Delete).",
            "",
            table(
                [
                    "users",
                    "devices in tenant",
                    "fan-out DynamoDB requests",
                    "items read",
                    "SNS Publish",
                    "registration DynamoDB requests (max)",
                    "registration SNS calls (max)",
                ],
                rows,
            ),  # fmt: skip
            "",
            verdict(
                ok,
                "fan-out = 1 Query + 1 Publish per device, the same at every size; registration <= 1 read "
                "+ 1 write (the caller check aside) and <= 3 SNS calls",
            ),  # fmt: skip
        ]
    )
