"""The notifications a Security Lake subscriber receives, parsed by typed models.

Accepted: EventBridge "Object Created" (Security Lake's documented shape, which omits some
fields powertools' strict EventBridge model requires), classic S3 ``Records`` notifications
(keys URL-encoded), and either wrapped in an SNS notification. ``s3:TestEvent`` and events for
other object operations are ignored, not errors. Anything else is a poison message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from lakewatch.scoring.errors import PoisonMessage


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Bucket(_Lenient):
    name: str


class _Object(_Lenient):
    key: str
    size: int | None = None


class _Detail(_Lenient):
    bucket: _Bucket
    object: _Object


class EventBridgeObjectEvent(_Lenient):
    source: Literal["aws.s3"]
    detail_type: str = Field("Object Created", alias="detail-type")
    detail: _Detail


class _S3Entity(_Lenient):
    bucket: _Bucket
    object: _Object


class _S3Record(_Lenient):
    eventName: str = "ObjectCreated:Put"
    s3: _S3Entity


class S3Notification(_Lenient):
    Records: list[_S3Record]


class SnsEnvelope(_Lenient):
    Type: Literal["Notification"]
    Message: str


class S3TestEvent(_Lenient):
    Event: Literal["s3:TestEvent"]


_MESSAGE = TypeAdapter(SnsEnvelope | S3TestEvent | EventBridgeObjectEvent | S3Notification)


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    size: int | None
    shape: str  # eventbridge | s3 | sns+eventbridge | sns+s3


@dataclass
class Notification:
    objects: list[ObjectRef]
    ignored: str = ""  # why nothing is to be done (a test event, another operation)


def _json(body: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(body, dict):  # hand-written test events sometimes carry an object
        return body
    try:
        doc = json.loads(body)
    except (TypeError, ValueError) as err:
        raise PoisonMessage(f"message body is not JSON: {err}: {str(body)[:120]!r}") from None
    if not isinstance(doc, dict):
        raise PoisonMessage(f"message body is JSON but not an object: {str(body)[:120]!r}")
    return doc


def parse(body: str | dict[str, Any], wrapped: str = "") -> Notification:
    doc = _json(body)
    try:
        message = _MESSAGE.validate_python(doc)
    except ValidationError:
        raise PoisonMessage(
            "not a Security Lake notification (EventBridge Object Created, S3 "
            f"Records or SNS): top-level keys {sorted(doc)[:8]}"
        ) from None
    if isinstance(message, SnsEnvelope):
        if wrapped:
            raise PoisonMessage("an SNS notification inside an SNS notification")
        return parse(message.Message, "sns+")
    if isinstance(message, S3TestEvent):
        return Notification([], "s3:TestEvent")
    if isinstance(message, EventBridgeObjectEvent):
        if message.detail_type != "Object Created":
            return Notification([], f"EventBridge {message.detail_type!r} event")
        d = message.detail
        return Notification(
            [ObjectRef(d.bucket.name, d.object.key, d.object.size, f"{wrapped}eventbridge")]
        )
    refs = [
        ObjectRef(r.s3.bucket.name, unquote_plus(r.s3.object.key), r.s3.object.size, f"{wrapped}s3")
        for r in message.Records
        if r.eventName.startswith("ObjectCreated:")
    ]
    return Notification(refs, "" if refs else "no ObjectCreated records")
