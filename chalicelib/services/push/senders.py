"""Providers behind one small interface. A ``Sender`` keeps one endpoint per installation
and publishes a ``Push`` to it; the fan-out and the registry never see which provider it is.

``SnsSender`` is Amazon SNS mobile push (APNs, APNs sandbox, FCM HTTP v1, Baidu): one
platform application per platform, one platform endpoint per device, kept as Amazon's
token management guidance says:

- no endpoint stored: ``CreatePlatformEndpoint`` (idempotent for the same token and
  ``CustomUserData``). Another owner's endpoint with the same token answers
  ``InvalidParameter`` "Endpoint <arn> already exists with the same Token, but different
  attributes": that endpoint is taken over (its ARN parsed from the message; its previous
  owner read from ``CustomUserData``; its attributes set to ours);
- then ``GetEndpointAttributes``: ``NotFound`` recreates it; a changed token or
  ``Enabled=false`` is repaired with ``SetEndpointAttributes``.

At most 3 SNS calls per registration, but one double fault (the stored endpoint was
deleted and its token is held by another endpoint: Get, Create, Get, Set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Protocol

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.errors import Unprocessable
from chalicelib.services.push.payloads import Push, sns_request
from chalicelib.services.push.platforms import PLATFORMS

TAKEN_OVER = re.compile(r"Endpoint (arn:[^ ]+) already exists with the same [Tt]oken, but different attributes")
GONE_CODES = frozenset({"EndpointDisabled", "NotFound"})  # the device is disabled
RETRY_CODES = frozenset({"Throttled", "Throttling", "ThrottlingException", "InternalError", "InternalFailure"})
SENT, GONE, REFUSED = "sent", "gone", "refused"


@dataclass(frozen=True)
class Endpoint:
    arn: str
    taken_over: bool = False  # it held the token for another owner
    previous_owner: Optional[str] = None  # that owner (its CustomUserData), when SNS said


class Sender(Protocol):
    """One push channel: where a device is reached, and sending to it."""

    def ensure_endpoint(self, token: str, endpoint_arn: Optional[str], owner: str, new_owner: bool = False) -> Endpoint:
        """The endpoint of ``token`` for ``owner``, made or repaired (``endpoint_arn``: the stored
        one; ``new_owner``: it was someone else's, so its owner data is rewritten too)."""
        ...

    def publish(self, endpoint_arn: str, push: Push) -> str:
        """``SENT``; ``GONE`` when the endpoint is disabled or deleted (the device is then
        disabled); ``REFUSED`` when the provider refused this push for good. Raises what a
        retry may cure (throttling)."""
        ...

    def remove(self, endpoint_arn: str) -> None:
        """Deletes the endpoint (idempotent)."""
        ...


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class SnsSender:
    def __init__(self, application_arn: str, message_key: str) -> None:
        self.application_arn = application_arn
        self.message_key = message_key

    @property
    def sns(self) -> Any:
        return aws.client("sns")

    def ensure_endpoint(self, token: str, endpoint_arn: Optional[str], owner: str, new_owner: bool = False) -> Endpoint:
        if endpoint_arn is None:
            created = self._create(token, owner)
            if created.taken_over:
                return created
            endpoint_arn = created.arn
        try:
            attributes = self.sns.get_endpoint_attributes(EndpointArn=endpoint_arn)["Attributes"]
        except ClientError as exc:
            if _code(exc) != "NotFound":
                raise
            return self._create(token, owner)
        if new_owner or attributes.get("Token") != token or attributes.get("Enabled") != "true":
            self._set(endpoint_arn, token, owner)
        return Endpoint(endpoint_arn)

    def _create(self, token: str, owner: str) -> Endpoint:
        try:
            arn = self.sns.create_platform_endpoint(
                PlatformApplicationArn=self.application_arn, Token=token, CustomUserData=owner
            )["EndpointArn"]
            return Endpoint(arn)
        except ClientError as exc:
            found = TAKEN_OVER.search(str(exc.response.get("Error", {}).get("Message", "")))
            if _code(exc) != "InvalidParameter":
                raise
            if found is None:
                raise Unprocessable("the push token is not valid for this platform", code="invalid_token") from None
        arn = found.group(1)
        previous = self.sns.get_endpoint_attributes(EndpointArn=arn)["Attributes"].get("CustomUserData")
        self._set(arn, token, owner)
        return Endpoint(arn, taken_over=True, previous_owner=previous)

    def _set(self, endpoint_arn: str, token: str, owner: str) -> None:
        self.sns.set_endpoint_attributes(
            EndpointArn=endpoint_arn, Attributes={"Token": token, "Enabled": "true", "CustomUserData": owner}
        )

    def publish(self, endpoint_arn: str, push: Push) -> str:
        message, attributes = sns_request(self.message_key, push)
        try:
            self.sns.publish(
                TargetArn=endpoint_arn, Message=message, MessageStructure="json", MessageAttributes=attributes
            )
        except ClientError as exc:
            code = _code(exc)
            if code in GONE_CODES:
                return GONE
            if code in RETRY_CODES or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) >= 500:
                raise
            return REFUSED
        return SENT

    def remove(self, endpoint_arn: str) -> None:
        self.sns.delete_endpoint(EndpointArn=endpoint_arn)  # idempotent on SNS


def sender_for(platform: str) -> Optional[Sender]:
    """The sender of a platform; None when the deployer configured no channel for it."""
    application_arn = settings().push_application(platform)
    spec = PLATFORMS.get(platform)
    if not application_arn or spec is None:
        return None
    return SnsSender(application_arn, spec.message_key)
