"""The Twilio connector in the running hub: signed webhooks in, the real SDK out.

Every webhook is signed with the real algorithm over the public URL and
delivered to the hub's loopback address (as a TLS proxy would); every REST
call goes through the ``twilio`` SDK to a local double that checks auth and
fields. Status callbacks then drive the events' delivery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hub.app import Hub, build_app
from hub.connectors.twilio import CallerInfo, TwilioConnector
from hub.connectors.twilio.client import Rest
from hub.errors import PermanentError
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import DeliveryStatus, Direction, Event, EventKind, Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.buswatch import BusWatch
from tests.connectors.twilio_kit import (
    ACCOUNT_SID,
    AGENT,
    AUTH_TOKEN,
    CUSTOMER,
    OUR_NUMBER,
    PUBLIC,
    RestDouble,
    TwilioSide,
    parse_twiml,
    sign,
    verbs,
)
from tests.servers import serve
from tests.waiting import until

LIMIT = 64 * 1024
PHONE = Identity("phone", CUSTOMER)


@dataclass
class Rig(BusWatch):
    api: httpx.AsyncClient
    twilio: TwilioSide
    rest: RestDouble
    rest_url: str

    @property
    def connector(self) -> TwilioConnector:
        connector = self.hub.connectors["twilio"]
        assert isinstance(connector, TwilioConnector)
        return connector

    async def events(self, identity: Identity = PHONE) -> list[Event]:
        customer = await self.hub.store.find_customer(identity)
        assert customer is not None
        return (await self.hub.store.events(customer_id=customer.id, limit=200)).items

    async def reply(self, conversation_id: str, text: str, channel: str = "sms") -> dict[str, Any]:
        r = await self.api.post(
            f"/api/v1/conversations/{conversation_id}/reply",
            json={"text": text, "channel": channel},
        )
        assert r.status_code == 202, r.text
        body: dict[str, Any] = r.json()
        return body


def twilio_settings(rest_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "numbers": [{"number": OUR_NUMBER, "agents": [AGENT], "business_name": "Acme"}],
        "api_base_url": rest_url,
        "retry_delays": [0.05, 0.05, 0.05],
        "fetch_timeout": 3,
        "help_reply": "Acme support: reply STOP to opt out.",
        **overrides,
    }


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Rig]:
    rest = RestDouble()
    async with serve(rest.app()) as rest_url:
        settings = Settings(
            store=str(tmp_path / "unused.db"),
            blobs=str(tmp_path / "blobs"),
            public_url=PUBLIC,
            max_body_bytes=LIMIT,
            outbox=OutboxSettings(
                poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05, max_attempts=3
            ),
            connectors={"twilio": twilio_settings(rest_url)},
        )
        app = build_app(settings, store=store)
        hub: Hub = app.state.hub
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            _, token = await issue_token(store, "tests")
            api = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"})
            rig = Rig(hub, api, TwilioSide(url, client), rest, rest_url)
            async with api, rig.watching():
                yield rig


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# -- webhook security and bad input ----------------------------------------------------
async def test_signed_sms_lands_on_the_timeline_with_its_segment_count(rig: Rig) -> None:
    r = await rig.twilio.sms("SM1", "Where is my order?", NumSegments="1")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xml")
    assert verbs(parse_twiml(r.text)) == []
    [event] = await rig.events()
    assert (event.channel, event.kind, event.text) == (
        "sms",
        EventKind.MESSAGE,
        "Where is my order?",
    )
    assert event.identity == PHONE and event.external_id == "SM1"
    assert event.meta["to"] == OUR_NUMBER
    assert event.meta["segments"] == 1 and event.meta["encoding"] == "GSM-7"


async def test_tampered_body_is_403_and_stores_nothing(rig: Rig) -> None:
    params = {"MessageSid": "SM1", "From": CUSTOMER, "To": OUR_NUMBER, "Body": "hello"}
    r = await rig.twilio.post("/sms", params, sent={**params, "Body": "send me the refund"})
    assert r.status_code == 403
    assert await rig.hub.store.find_customer(PHONE) is None


@pytest.mark.parametrize("how", ["missing", "wrong-token", "garbage"])
async def test_missing_or_forged_signature_is_403(rig: Rig, how: str) -> None:
    params = {"MessageSid": "SM1", "From": CUSTOMER, "To": OUR_NUMBER, "Body": "hello"}
    kwargs: dict[str, Any] = {
        "missing": {"signature": ""},
        "wrong-token": {"token": "not-the-account-token-123"},
        "garbage": {"signature": "bm90IGEgc2lnbmF0dXJl"},
    }[how]
    r = await rig.twilio.post("/sms", params, **kwargs)
    assert r.status_code == 403
    assert await rig.hub.store.find_customer(PHONE) is None


async def test_signature_is_checked_against_the_public_url_not_the_proxied_one(rig: Rig) -> None:
    params = {"MessageSid": "SM1", "From": CUSTOMER, "To": OUR_NUMBER, "Body": "hello"}
    internal = f"{rig.twilio.local}/connectors/twilio/sms"  # what request.url says
    r = await rig.twilio.post("/sms", params, signed_url=internal)
    assert r.status_code == 403
    r = await rig.twilio.post("/sms", params)  # signed over https://hub.example.com/…
    assert r.status_code == 200


async def test_query_string_is_part_of_the_signed_url(rig: Rig) -> None:
    params = {"MessageSid": "SM1", "From": CUSTOMER, "To": OUR_NUMBER, "Body": "hello"}
    r = await rig.twilio.post(
        "/sms?inbox=a", params, signed_url=f"{PUBLIC}/connectors/twilio/sms?inbox=b"
    )
    assert r.status_code == 403
    assert (await rig.twilio.post("/sms?inbox=a", params)).status_code == 200


@pytest.mark.parametrize("missing", ["MessageSid", "From", "To"])
async def test_form_missing_a_required_field_is_400_naming_it(rig: Rig, missing: str) -> None:
    params = {"MessageSid": "SM1", "From": CUSTOMER, "To": OUR_NUMBER, "Body": "hello"}
    del params[missing]
    r = await rig.twilio.post("/sms", params)
    assert r.status_code == 400
    assert r.json()["field"] == missing


async def test_sender_that_is_not_a_phone_number_is_422(rig: Rig) -> None:
    r = await rig.twilio.sms("SM1", "hi", sender="not-a-number")
    assert r.status_code == 422 and r.json()["field"] == "From"


async def test_unknown_to_number_is_404_and_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    params = {"MessageSid": "SM1", "From": CUSTOMER, "To": "+15005559999", "Body": "hi"}
    with caplog.at_level(logging.WARNING, logger="hub.connectors.twilio"):
        r = await rig.twilio.post("/sms", params)
    assert r.status_code == 404 and r.json()["field"] == "To"
    assert "+15005559999" in caplog.text
    assert await rig.hub.store.find_customer(PHONE) is None


async def test_huge_body_is_413(rig: Rig) -> None:
    r = await rig.twilio.sms("SM1", "x" * (LIMIT + 1))
    assert r.status_code == 413


async def test_replayed_webhook_is_one_event(rig: Rig) -> None:
    responses = await asyncio.gather(*(rig.twilio.sms("SM1", "hello") for _ in range(3)))
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert len(await rig.events()) == 1


async def test_secrets_never_reach_logs_or_repr(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        await rig.twilio.post("/sms", {"MessageSid": "SM1"}, signature="")
        await rig.twilio.sms("SM2", "hi")
    assert AUTH_TOKEN not in caplog.text
    assert AUTH_TOKEN not in repr(rig.connector)


# -- MMS media --------------------------------------------------------------------------
async def test_mms_media_is_fetched_with_account_auth_into_the_blob_store(rig: Rig) -> None:
    rig.rest.media["ME1"] = (b"\x89PNG fake image", "image/png")
    r = await rig.twilio.sms(
        "MM1",
        "photo of the damage",
        NumMedia="1",
        MediaUrl0=f"{rig.rest_url}/media/ME1",
        MediaContentType0="image/png",
    )
    assert r.status_code == 200
    [event] = await rig.events()
    [attachment] = event.attachments
    assert attachment.content_type == "image/png" and attachment.filename.endswith(".png")
    assert await rig.hub.blobs.get(attachment.blob_id) == b"\x89PNG fake image"
    assert rig.rest.downloads == ["ME1"]


async def test_failed_media_fetch_keeps_the_message_and_retries(rig: Rig) -> None:
    rig.rest.media["ME1"] = (b"GIF89a", "image/gif")
    rig.rest.media_errors = 2  # the first fetch and the first retry fail
    r = await rig.twilio.sms(
        "MM1",
        "see attached",
        NumMedia="1",
        MediaUrl0=f"{rig.rest_url}/media/ME1",
        MediaContentType0="image/gif",
    )
    assert r.status_code == 200
    message = await rig.hub.store.find_event("sms", "MM1")  # the retry may already be in
    assert message is not None
    assert message.text == "see attached" and message.attachments == []
    assert "503" in message.meta["media_errors"][0]["error"]

    await rig.until(lambda: any(e.external_id == "MM1:media" for e in rig.latest.values()))
    recovered = await rig.hub.store.find_event("sms", "MM1:media")
    assert recovered is not None and recovered.conversation_id == message.conversation_id
    assert recovered.meta["recovered_for"] == "MM1"
    assert await rig.hub.blobs.get(recovered.attachments[0].blob_id) == b"GIF89a"

    async def settled() -> bool:  # the pending entry goes after the follow-up is stored
        return await rig.connector.memory.pending() == {}

    await until(settled)


async def test_a_replayed_mms_queues_the_retry_its_first_delivery_never_recorded(
    rig: Rig,
) -> None:
    rig.rest.media["ME1"] = (b"GIF89a", "image/gif")
    rig.rest.media_errors = 2
    mms = {"NumMedia": "1", "MediaUrl0": f"{rig.rest_url}/media/ME1"}
    connector = rig.connector
    real_retry = connector.retry_later

    async def died(*_: Any) -> None:  # e.g. the store went away between the two writes
        raise ConnectionResetError("store connection lost")

    connector.retry_later = died  # type: ignore[method-assign]
    failed = await rig.twilio.sms("MM1", "see attached", **mms)
    assert failed.status_code >= 500  # stored, but the retry was never queued
    assert await rig.hub.store.find_event("sms", "MM1") is not None
    connector.retry_later = real_retry  # type: ignore[method-assign]
    assert await connector.memory.pending() == {}
    r = await rig.twilio.sms("MM1", "see attached", **mms)  # Twilio got no answer: it retries
    assert r.status_code == 200
    await rig.until(lambda: any(e.external_id == "MM1:media" for e in rig.latest.values()))
    recovered = await rig.hub.store.find_event("sms", "MM1:media")
    assert recovered is not None and len(recovered.attachments) == 1


async def test_pending_media_retries_survive_a_restart(
    store: TimelineStore, tmp_path: Path
) -> None:
    rest = RestDouble()
    rest.media["ME1"] = (b"GIF89a", "image/gif")
    rest.media_errors = 1_000
    async with serve(rest.app()) as rest_url:

        def settings(delays: list[float]) -> Settings:
            return Settings(
                store=str(tmp_path / "unused.db"),
                blobs=str(tmp_path / "blobs"),
                public_url=PUBLIC,
                connectors={"twilio": twilio_settings(rest_url, retry_delays=delays)},
            )

        first = build_app(settings([3600.0]), store=store)
        async with serve(first) as url, httpx.AsyncClient(base_url=url) as client:
            r = await TwilioSide(url, client).sms(
                "MM1", "see attached", NumMedia="1", MediaUrl0=f"{rest_url}/media/ME1"
            )
            assert r.status_code == 200
        rest.media_errors = 0  # the provider is back; the first hub is gone
        second = build_app(settings([0.05]), store=store)
        async with serve(second) as url, httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).status_code == 200  # started: store open

            async def recovered() -> bool:
                return await store.find_event("sms", "MM1:media") is not None

            await until(recovered)
            follow_up = await store.find_event("sms", "MM1:media")
            assert follow_up is not None and len(follow_up.attachments) == 1
    await store.open()  # each hub's lifespan closed it; the fixture cleans up an open store


# -- SMS out ------------------------------------------------------------------------------
async def test_reply_goes_out_through_the_sdk_then_status_callbacks_mark_it_delivered(
    rig: Rig,
) -> None:
    await rig.twilio.sms("SM1", "Where is my order?")
    [inbound] = await rig.events()
    assert inbound.conversation_id is not None
    queued = await rig.reply(inbound.conversation_id, "It ships today " + "x" * 200)
    sent = await rig.settled(queued["id"])
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    [request] = rig.rest.messages
    assert request["To"] == CUSTOMER and request["From"] == OUR_NUMBER
    assert request["Body"].startswith("It ships today")  # long bodies go whole
    assert request["StatusCallback"] == f"{PUBLIC}/connectors/twilio/sms/status"
    sid = sent.delivery.provider_id
    assert sid is not None and sid.startswith("SM")

    for status in ("delivered", "sent", "queued"):  # out of order: never backwards
        r = await rig.twilio.post(
            "/sms/status", {"MessageSid": sid, "MessageStatus": status, "To": CUSTOMER}
        )
        assert r.status_code == 204
    stored = await rig.hub.store.get_event(queued["id"])
    assert stored.delivery is not None and stored.delivery.status is DeliveryStatus.DELIVERED


async def test_status_callback_that_beats_the_outbox_is_still_applied(rig: Rig) -> None:
    await rig.twilio.sms("SM1", "hi")
    [inbound] = await rig.events()
    assert inbound.conversation_id is not None
    rig.rest.gate = asyncio.Event()
    queued = await rig.reply(inbound.conversation_id, "Hello!")
    await rig.rest.wait(lambda: len(rig.rest.messages) == 1)
    sid = f"SM{1:032x}"  # the double's next SID; Twilio reports before we recorded it
    r = await rig.twilio.post("/sms/status", {"MessageSid": sid, "MessageStatus": "delivered"})
    assert r.status_code == 204
    rig.rest.gate.set()
    await rig.until(lambda: rig.delivery(queued["id"]) is DeliveryStatus.DELIVERED)
    stored = await rig.hub.store.get_event(queued["id"])
    assert stored.delivery is not None and stored.delivery.provider_id == sid


async def test_undelivered_callback_fails_the_message_with_a_readable_reason(rig: Rig) -> None:
    await rig.twilio.sms("SM1", "hi")
    [inbound] = await rig.events()
    assert inbound.conversation_id is not None
    queued = await rig.reply(inbound.conversation_id, "Hello!")
    sent = await rig.settled(queued["id"])
    assert sent.delivery is not None and sent.delivery.provider_id
    r = await rig.twilio.post(
        "/sms/status",
        {
            "MessageSid": sent.delivery.provider_id,
            "MessageStatus": "undelivered",
            "ErrorCode": "30006",
        },
    )
    assert r.status_code == 204
    stored = await rig.hub.store.get_event(queued["id"])
    assert stored.delivery is not None and stored.delivery.status is DeliveryStatus.FAILED
    assert (
        stored.delivery.error
        == "Twilio error 30006: the number is a landline or unreachable carrier"
    )


async def test_twilio_refusal_fails_permanently_and_outage_is_retried(rig: Rig) -> None:
    await rig.twilio.sms("SM1", "hi")
    [inbound] = await rig.events()
    assert inbound.conversation_id is not None
    rig.rest.failures = [(400, 21211)]
    refused = await rig.settled((await rig.reply(inbound.conversation_id, "one"))["id"])
    assert refused.delivery is not None and refused.delivery.status is DeliveryStatus.FAILED
    assert refused.delivery.error == "Twilio error 21211: the number is not a valid phone number"
    assert refused.delivery.attempts == 1

    rig.rest.failures = [(503, 20500)]
    retried = await rig.settled((await rig.reply(inbound.conversation_id, "two"))["id"])
    assert retried.delivery is not None and retried.delivery.status is DeliveryStatus.SENT
    assert retried.delivery.attempts == 2
    assert [m["Body"] for m in rig.rest.messages] == ["two"]


async def test_stop_blocks_sends_until_start(rig: Rig) -> None:
    await rig.twilio.sms("SM1", "STOP")
    message, opt_out = await rig.events()
    assert message.meta["keyword"] == "stop"
    assert opt_out.kind is EventKind.STATUS and opt_out.meta["sms_opt_out"] is True
    assert opt_out.conversation_id == message.conversation_id
    assert "opted out" in (opt_out.text or "")
    assert message.conversation_id is not None

    blocked = await rig.settled((await rig.reply(message.conversation_id, "Are you there?"))["id"])
    assert blocked.delivery is not None and blocked.delivery.status is DeliveryStatus.FAILED
    assert "opted out of SMS" in (blocked.delivery.error or "")
    assert "START" in (blocked.delivery.error or "")
    assert rig.rest.messages == []

    await rig.twilio.sms("SM1", "STOP")  # a replay changes nothing
    await rig.twilio.sms("SM2", "Start")
    opted_in = (await rig.events())[-1]
    assert opted_in.kind is EventKind.STATUS and opted_in.meta["sms_opt_out"] is False
    await rig.twilio.sms("SM1", "STOP")  # an old STOP replayed after START stays old
    sent = await rig.settled((await rig.reply(message.conversation_id, "Welcome back"))["id"])
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    assert [m["Body"] for m in rig.rest.messages] == ["Welcome back"]


async def test_help_is_answered_with_the_configured_text(rig: Rig) -> None:
    r = await rig.twilio.sms("SM1", "help")
    [message] = parse_twiml(r.text)
    assert message.tag == "Message" and message.text == "Acme support: reply STOP to opt out."


# -- voice -------------------------------------------------------------------------------------
async def test_unknown_caller_is_welcomed_and_agents_are_rung(rig: Rig) -> None:
    r = await rig.twilio.post("/voice", rig.twilio.call_params("CA1", "ringing"))
    assert r.status_code == 200
    root = parse_twiml(r.text)
    assert verbs(root) == ["Say", "Dial"]
    assert root[0].text == "Thanks for calling Acme. Connecting you now."
    [number] = root[1]
    assert (number.tag, number.text) == ("Number", AGENT)
    [ringing] = await rig.events()
    assert (ringing.kind, ringing.meta["status"], ringing.external_id) == (
        EventKind.CALL,
        "ringing",
        "CA1:ringing",
    )
    assert query(root[1].get("action") or "")["conversation"] == ringing.conversation_id


async def test_known_caller_is_greeted_by_the_directory(rig: Rig) -> None:
    class Directory:
        async def lookup(self, caller: Identity) -> CallerInfo:
            return CallerInfo(known=True, name="Ana" if caller == PHONE else None)

    rig.connector.directory = Directory()
    r = await rig.twilio.post("/voice", rig.twilio.call_params("CA1", "ringing"))
    assert parse_twiml(r.text)[0].text == "Hi Ana, thanks for calling Acme. Connecting you now."


async def test_a_failing_directory_never_costs_the_caller_their_call(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        async def lookup(self, caller: Identity) -> CallerInfo:
            raise RuntimeError("directory down")

    rig.connector.directory = Broken()
    with caplog.at_level(logging.ERROR, logger="hub.connectors.twilio"):
        r = await rig.twilio.post("/voice", rig.twilio.call_params("CA1", "ringing"))
    root = parse_twiml(r.text)
    assert verbs(root) == ["Say", "Dial"]
    assert root[0].text == "Thanks for calling Acme. Connecting you now."
    assert "caller lookup failed" in caplog.text


async def test_unexpected_call_state_still_gets_valid_twiml(rig: Rig) -> None:
    r = await rig.twilio.post("/voice", rig.twilio.call_params("CA1", "completed"))
    assert r.status_code == 200 and verbs(parse_twiml(r.text)) == ["Hangup"]
    r = await rig.twilio.post("/voice", {"CallSid": "CA1", "From": CUSTOMER, "To": OUR_NUMBER})
    assert r.status_code == 400 and r.json()["field"] == "CallStatus"


async def test_anonymous_caller_still_reaches_voicemail_on_the_timeline(rig: Rig) -> None:
    params = rig.twilio.call_params("CA9", "ringing", caller="anonymous")
    r = await rig.twilio.post("/voice", params)
    assert verbs(parse_twiml(r.text)) == ["Say", "Dial"]
    events = await rig.events(Identity("anonymous", "call-CA9"))
    assert [e.meta["status"] for e in events] == ["ringing"]


async def test_text_then_call_is_one_customer_one_conversation_with_the_voicemail_transcript(
    rig: Rig,
) -> None:
    rig.rest.media["recordings/RE1.mp3"] = (b"ID3 fake mp3 audio", "audio/mpeg")
    assert (await rig.twilio.sms("SM1", "My parcel never arrived")).status_code == 200

    # The customer calls the same number: greeted with the context, the agent is rung.
    answer = parse_twiml(
        (await rig.twilio.post("/voice", rig.twilio.call_params("CA1", "ringing"))).text
    )
    assert answer[0].text == (
        "Hi — I see you were texting us about “My parcel never arrived”. Connecting you now."
    )
    dial = answer[1]
    # The agent leg rings out; Twilio reports it and calls the Dial action.
    agent_status = dial[0].get("statusCallback") or ""
    r = await rig.twilio.post(
        agent_status,
        {"CallSid": "CA2", "ParentCallSid": "CA1", "CallStatus": "no-answer", "From": CUSTOMER,
         "To": AGENT, "Direction": "outbound-dial"},
    )  # fmt: skip
    assert r.status_code == 200
    missed = parse_twiml(
        (
            await rig.twilio.post(
                dial.get("action") or "",
                rig.twilio.call_params("CA1", "in-progress", DialCallStatus="no-answer"),
            )
        ).text
    )
    assert verbs(missed) == ["Say", "Record", "Say", "Hangup"]
    record = missed[1]
    assert record.get("transcribe") == "true"

    # The caller leaves a message; the recording is fetched, then transcribed.
    done = parse_twiml(
        (
            await rig.twilio.post(
                record.get("action") or "",
                rig.twilio.call_params(
                    "CA1",
                    "in-progress",
                    RecordingUrl=f"{rig.rest_url}/media/recordings/RE1",
                    RecordingSid="RE1",
                    RecordingDuration="14",
                ),
            )
        ).text
    )
    assert verbs(done) == ["Say", "Hangup"]
    transcript = {
        "TranscriptionSid": "TR1",
        "TranscriptionText": "Hi, it's Ana, my parcel never arrived, please call me back.",
        "TranscriptionStatus": "completed",
        "RecordingSid": "RE1",
    }
    r = await rig.twilio.post(
        record.get("transcribeCallback") or "",
        rig.twilio.call_params("CA1", "completed", **transcript),
    )
    assert r.status_code == 200 and verbs(parse_twiml(r.text)) == []
    r = await rig.twilio.post(
        "/voice/status", rig.twilio.call_params("CA1", "completed", CallDuration="48")
    )
    assert r.status_code == 200
    # Replays of every step change nothing.
    await rig.twilio.post("/voice", rig.twilio.call_params("CA1", "ringing"))
    await rig.twilio.post(
        record.get("transcribeCallback") or "",
        rig.twilio.call_params("CA1", "completed", **transcript),
    )

    customers = await rig.api.get("/api/v1/customers", params={"identity": f"phone:{CUSTOMER}"})
    [customer] = customers.json()["items"]
    timeline = (await rig.api.get(f"/api/v1/customers/{customer['id']}/timeline")).json()["items"]
    assert [(e["channel"], e["kind"], e["meta"].get("status")) for e in timeline] == [
        ("sms", "message", None),
        ("hub", "handoff", None),
        ("voice", "call", "ringing"),
        ("voice", "call", "no-answer"),
        ("voice", "voicemail", None),
        ("voice", "voicemail", "transcript"),
        ("voice", "call", "completed"),
    ]
    assert len({e["conversation_id"] for e in timeline}) == 1
    assert timeline[1]["meta"]["from"] == "sms" and timeline[1]["meta"]["to"] == "voice"
    voicemail, text = timeline[4], timeline[5]
    assert voicemail["meta"]["recording_sid"] == "RE1"
    blob = voicemail["attachments"][0]
    assert blob["content_type"] == "audio/mpeg"
    assert await rig.hub.blobs.get(blob["blob_id"]) == b"ID3 fake mp3 audio"
    assert text["text"] == transcript["TranscriptionText"]
    assert text["meta"]["transcript_of"] == "RE1"
    assert timeline[6]["meta"]["duration"] == 48
    conversations = await rig.api.get(
        "/api/v1/conversations", params={"customer_id": customer["id"], "status": "any"}
    )
    assert len(conversations.json()["items"]) == 1


async def test_call_answered_by_an_agent_records_who_and_how_long(rig: Rig) -> None:
    answer = parse_twiml(
        (await rig.twilio.post("/voice", rig.twilio.call_params("CA1", "ringing"))).text
    )
    dial = answer[1]
    leg = {"CallSid": "CA2", "ParentCallSid": "CA1", "From": CUSTOMER, "To": AGENT,
           "Direction": "outbound-dial"}  # fmt: skip
    status_url = dial[0].get("statusCallback") or ""
    await rig.twilio.post(status_url, {**leg, "CallStatus": "in-progress"})
    r = await rig.twilio.post(
        dial.get("action") or "",
        rig.twilio.call_params(
            "CA1", "completed", DialCallStatus="completed", DialCallDuration="125"
        ),
    )
    assert verbs(parse_twiml(r.text)) == ["Hangup"]
    await rig.twilio.post(status_url, {**leg, "CallStatus": "completed", "CallDuration": "125"})
    events = await rig.events()
    assert [e.meta["status"] for e in events] == ["ringing", "answered", "completed"]
    assert events[1].meta["agent"] == AGENT
    assert events[2].text == "Call ended after 2 min 5 s"


@pytest.mark.parametrize(
    ("outcome", "step", "twiml"),
    [
        ({"DialCallStatus": "busy"}, "busy", ["Say", "Record", "Say", "Hangup"]),
        ({"QueueResult": "queue-full"}, "no-answer", ["Say", "Record", "Say", "Hangup"]),
        ({"QueueResult": "hangup"}, "canceled", ["Hangup"]),
        ({"DialCallStatus": "no-answer", "CallStatus": "completed"}, "canceled", ["Hangup"]),
    ],
)
async def test_missed_call_outcomes(
    rig: Rig, outcome: dict[str, str], step: str, twiml: list[str]
) -> None:
    params = {**rig.twilio.call_params("CA1", "in-progress"), **outcome}
    r = await rig.twilio.post("/voice/dial", params)
    assert r.status_code == 200 and verbs(parse_twiml(r.text)) == twiml
    [missed] = await rig.events()
    assert (missed.kind, missed.meta["status"]) == (EventKind.CALL, step)


async def test_voicemail_whose_recording_cannot_be_fetched_is_kept_with_the_error(
    rig: Rig,
) -> None:
    r = await rig.twilio.post(
        "/voice/recording",
        rig.twilio.call_params(
            "CA1",
            "in-progress",
            RecordingUrl=f"{rig.rest_url}/media/recordings/GONE",
            RecordingSid="REGONE",
            RecordingDuration="9",
        ),
    )
    assert verbs(parse_twiml(r.text)) == ["Say", "Hangup"]
    [voicemail] = await rig.events()
    assert voicemail.kind is EventKind.VOICEMAIL and voicemail.attachments == []
    assert "media gone (404)" in voicemail.meta["media_errors"][0]["error"]


# -- call me back -----------------------------------------------------------------------------
async def test_callback_rings_the_agent_with_a_whisper_then_the_customer(rig: Rig) -> None:
    await rig.twilio.sms("SM1", "Can someone call me about my refund?")
    [inbound] = await rig.events()
    assert inbound.conversation_id is not None
    queued = await rig.reply(inbound.conversation_id, "Ana asked about her refund", "voice")
    sent = await rig.settled(queued["id"])
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    [call] = rig.rest.calls
    assert (call["To"], call["From"]) == (AGENT, OUR_NUMBER)
    assert query(call["StatusCallback"])["leg"] == "callback"
    twiml = parse_twiml(call["Twiml"])
    assert verbs(twiml) == ["Say", "Dial"]
    assert "Ana asked about her refund" in (twiml[0].text or "")
    dial = twiml[1]
    assert dial.get("callerId") == OUR_NUMBER and [n.text for n in dial] == [CUSTOMER]

    sid = sent.delivery.provider_id
    assert sid is not None
    r = await rig.twilio.post(
        dial.get("action") or "",
        {"CallSid": sid, "From": OUR_NUMBER, "To": AGENT, "Direction": "outbound-api",
         "CallStatus": "in-progress", "DialCallStatus": "completed", "DialCallDuration": "61"},
    )  # fmt: skip
    assert verbs(parse_twiml(r.text)) == ["Hangup"]
    delivered = await rig.hub.store.get_event(queued["id"])
    assert delivered.delivery is not None and delivered.delivery.status is DeliveryStatus.DELIVERED
    completed = (await rig.events())[-1]
    assert completed.direction is Direction.OUT and completed.meta["duration"] == 61
    assert completed.conversation_id == inbound.conversation_id


async def test_callback_the_customer_misses_fails_with_the_reason(rig: Rig) -> None:
    await rig.twilio.sms("SM1", "call me")
    [inbound] = await rig.events()
    assert inbound.conversation_id is not None
    queued = await rig.reply(inbound.conversation_id, "Returning your call", "voice")
    sent = await rig.settled(queued["id"])
    assert sent.delivery is not None and sent.delivery.provider_id
    dial = parse_twiml(rig.rest.calls[0]["Twiml"])[1]
    r = await rig.twilio.post(
        dial.get("action") or "",
        {"CallSid": sent.delivery.provider_id, "From": OUR_NUMBER, "To": AGENT,
         "Direction": "outbound-api", "CallStatus": "in-progress", "DialCallStatus": "busy"},
    )  # fmt: skip
    assert verbs(parse_twiml(r.text)) == ["Say", "Hangup"]
    failed = await rig.hub.store.get_event(queued["id"])
    assert failed.delivery is not None and failed.delivery.status is DeliveryStatus.FAILED
    assert failed.delivery.error == "the customer did not answer (busy)"


async def test_wrong_credentials_fail_permanently_and_the_double_saw_no_valid_auth() -> None:
    rest = RestDouble()
    async with serve(rest.app()) as rest_url:
        client = Rest(ACCOUNT_SID, "not-the-token-0123", base_url=rest_url, timeout=5)
        await client.open()
        try:
            with pytest.raises(PermanentError, match="rejected the account credentials"):
                await client.send_message(
                    to=CUSTOMER, from_=OUR_NUMBER, body="hi", status_callback=f"{PUBLIC}/s"
                )
        finally:
            await client.close()
    assert rest.unauthorised == 1 and rest.messages == []


def test_signing_helper_matches_the_validator() -> None:
    url = f"{PUBLIC}/connectors/twilio/sms"
    params = {"b": "2", "a": "1"}
    from twilio.request_validator import RequestValidator

    assert RequestValidator(AUTH_TOKEN).validate(url, params, sign(url, params))


async def test_a_busy_outbound_call_is_recorded_as_outbound_not_a_missed_inbound_call(
    rig: Rig,
) -> None:
    params = {
        **rig.twilio.call_params("CA77", "busy"),
        "From": OUR_NUMBER,
        "To": CUSTOMER,
        "Direction": "outbound-api",
    }
    for _ in range(2):
        r = await rig.twilio.post("/voice/status", params)
        assert r.status_code == 200
    [event] = await rig.events()
    assert event.direction is Direction.OUT
    assert event.text == "Outbound call not answered (busy)"
