"""Bounce webhooks: each provider's signed post ends in the reader's row, and nothing else does.

Keys and certificates are made here with `cryptography`, as the providers make theirs: an RSA
key and a self-signed certificate for SNS (placed in the certificate cache under the instance
folder, for a URL on the real SNS host pattern, so nothing is fetched), an EC P-256 key for
SendGrid, a shared key for Mailgun and Basic credentials for Postmark.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from flask import current_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from engage.sending import verp
from engage.sending.models import BounceEvent, Delivery
from engage.sending.webhooks import ses
from engage.subscriptions.models import Subscriber
from engage.subscriptions.service import is_suppressed
from engage.types import utcnow
from tests.newsletters.conftest import add_newsletter, add_readers, add_topic

TOPIC = "arn:aws:sns:eu-west-1:123456789012:engage-bounces"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
POSTMARK_AUTH = "postmark-hook:a-long-random-password-for-tests"
MAILGUN_KEY = "key-mailgun-signing-key-for-tests"
BOUNCE_ADDRESS = "bounces@engage.test"


# --- keys and certificates, made once per module -------------------------------------------


@pytest.fixture(scope="module")
def sns_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def sns_certificate(sns_key) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(sns_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(sns_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def sendgrid_key():
    return ec.generate_private_key(ec.SECP256R1())


def sendgrid_public(key) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.fixture
def hooks(make_app, sendgrid_key, sns_certificate):
    """An app with all four providers configured, and the SNS certificate in its cache."""
    app = make_app(
        SES_SNS_TOPIC_ARNS=f"arn:aws:sns:us-east-1:123456789012:other,{TOPIC}",
        POSTMARK_WEBHOOK_AUTH=POSTMARK_AUTH,
        SENDGRID_WEBHOOK_PUBLIC_KEY=sendgrid_public(sendgrid_key),
        MAILGUN_WEBHOOK_SIGNING_KEY=MAILGUN_KEY,
        BOUNCE_ADDRESS=BOUNCE_ADDRESS,
    )
    path = ses.certificate_path(app.instance_path, CERT_URL)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sns_certificate)
    return app


@pytest.fixture
def client(hooks, db):
    with hooks.test_client() as client, hooks.app_context():
        yield client


@pytest.fixture
def delivery(client, db) -> Delivery:
    """A newsletter's delivery row, sent to one confirmed reader."""
    topic = add_topic(db.session)
    [address] = add_readers(db.session, 1, [topic])
    newsletter = add_newsletter(db.session, [topic])
    reader = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
    row = Delivery(
        newsletter_id=newsletter.id, subscriber_id=reader.id, status="sent", sent_at=utcnow()
    )
    db.session.add(row)
    db.session.commit()
    return row


def reader_of(db, row: Delivery) -> Subscriber:
    reader = db.session.get(Subscriber, row.subscriber_id)
    db.session.refresh(reader)
    return reader


def verp_address(row: Delivery) -> str:
    key = current_app.config["ENGAGE"].hash_key
    return verp.address(BOUNCE_ADDRESS, key, verp.DELIVERY, row.id)


def bounce_events(db) -> list[BounceEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(BounceEvent).order_by(BounceEvent.id)))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def assert_untouched(db, row: Delivery) -> None:
    reader = reader_of(db, row)
    assert reader.status == "confirmed"
    assert not is_suppressed(db.session, reader.email)
    assert db.session.scalar(select(func.count()).select_from(BounceEvent)) == 0


def assert_error(response, status: int, words: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    error = response.get_json()["error"]
    assert words.lower() in error["message"].lower()
    assert set(error) == {"code", "message", "fields"}


# --- Amazon SES via SNS ----------------------------------------------------------------------


def sns_message(sns_key, kind: str = "Notification", *, version: str = "2", **fields) -> dict:
    message = {
        "Type": kind,
        "MessageId": fields.pop("MessageId", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"),
        "TopicArn": TOPIC,
        "Message": "",
        "Timestamp": iso(utcnow()),
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
        **fields,
    }
    signed = dict(message)
    text = ses.canonical(signed, kind)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 (SNS v1 is SHA1)
    message["Signature"] = base64.b64encode(sns_key.sign(text, padding.PKCS1v15(), digest)).decode()
    return message


def ses_bounce(row: Delivery, reader: Subscriber, bounce_type: str = "Permanent") -> str:
    return json.dumps(
        {
            "notificationType": "Bounce",
            "bounce": {
                "bounceType": bounce_type,
                "bounceSubType": "General",
                "feedbackId": "0100018c-bounce-feedback-1",
                "timestamp": iso(utcnow()),
                "bouncedRecipients": [
                    {
                        "emailAddress": reader.email,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": f"smtp; 550 5.1.1 <{reader.email}>: user unknown",
                    }
                ],
            },
            "mail": {
                "timestamp": iso(utcnow()),
                "source": verp_address(row),
                "messageId": "0100018c-mail-1",
                "destination": [reader.email],
            },
        }
    )


def ses_complaint(reader: Subscriber, *, token_header: str | None = None) -> str:
    headers = [{"name": "From", "value": "Engage <news@engage.test>"}]
    if token_header:
        headers.append({"name": "Return-Path", "value": f"<{token_header}>"})
    return json.dumps(
        {
            "notificationType": "Complaint",
            "complaint": {
                "feedbackId": "0100018c-complaint-feedback-1",
                "timestamp": iso(utcnow()),
                "complaintFeedbackType": "abuse",
                "complainedRecipients": [{"emailAddress": reader.email}],
            },
            "mail": {"source": "news@engage.test", "headers": headers},
        }
    )


def post_sns(client, message):
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    # SNS posts JSON as text/plain.
    return client.post(
        "/webhooks/bounces/ses",
        data=body,
        headers={"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "x"},
    )


def test_ses_hard_bounce_suppresses_the_reader_of_the_verp_row(client, db, delivery, sns_key):
    reader = reader_of(db, delivery)
    response = post_sns(client, sns_message(sns_key, Message=ses_bounce(delivery, reader)))

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"received": 1}
    [event] = bounce_events(db)
    assert (event.kind, event.source, event.status) == ("hard", "ses", "5.1.1")
    assert event.delivery_id == delivery.id
    assert reader.email not in event.diagnostic  # stored redacted
    assert is_suppressed(db.session, reader.email)


def test_ses_complaint_with_signature_version_1_unsubscribes(client, db, delivery, sns_key):
    reader = reader_of(db, delivery)
    message = sns_message(
        sns_key,
        version="1",
        Subject="Amazon SES Email Event Notification",
        Message=ses_complaint(reader, token_header=verp_address(delivery)),
    )
    response = post_sns(client, message)

    assert response.status_code == 200, response.get_data(as_text=True)
    [event] = bounce_events(db)
    assert (event.kind, event.delivery_id) == ("complaint", delivery.id)
    assert reader_of(db, delivery).status == "unsubscribed"
    assert is_suppressed(db.session, reader.email)


def test_ses_bad_signature_is_refused(client, db, delivery, sns_key):
    reader = reader_of(db, delivery)
    message = sns_message(sns_key, Message=ses_bounce(delivery, reader))
    message["Message"] = message["Message"].replace("Permanent", "Transient")

    assert_error(post_sns(client, message), 403, "signature does not match")
    unsigned = {k: v for k, v in message.items() if k != "Signature"}
    assert_error(post_sns(client, unsigned), 401, "not signed")
    assert_untouched(db, delivery)


def test_ses_foreign_certificate_url_or_topic_is_refused(client, db, delivery, sns_key, hooks):
    reader = reader_of(db, delivery)
    for url in (
        "http://sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.test/cert.pem",
        "https://sns.eu-west-1.amazonaws.com@evil.test/cert.pem",
        "https://evil.test/sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
    ):
        message = sns_message(sns_key, Message=ses_bounce(delivery, reader), SigningCertURL=url)
        assert_error(post_sns(client, message), 403, "SigningCertURL")
    other = sns_message(
        sns_key, Message=ses_bounce(delivery, reader), TopicArn=TOPIC.replace("engage", "x")
    )
    assert_error(post_sns(client, other), 403, "SES_SNS_TOPIC_ARNS")
    cached = list((ses.certificate_path(hooks.instance_path, CERT_URL).parent).iterdir())
    assert len(cached) == 1  # only the one the test placed: nothing was fetched
    assert_untouched(db, delivery)


def test_ses_stale_message_is_refused(client, db, delivery, sns_key):
    reader = reader_of(db, delivery)
    old = iso(utcnow() - timedelta(seconds=301))
    message = sns_message(sns_key, Message=ses_bounce(delivery, reader), Timestamp=old)

    assert_error(post_sns(client, message), 403, "stale")
    ahead = iso(utcnow() + timedelta(minutes=10))
    future = sns_message(sns_key, Message=ses_bounce(delivery, reader), Timestamp=ahead)
    assert_error(post_sns(client, future), 403, "future")
    assert_untouched(db, delivery)


def test_ses_replay_counts_once(client, db, delivery, sns_key):
    reader = reader_of(db, delivery)
    message = sns_message(sns_key, Message=ses_bounce(delivery, reader, "Transient"))

    assert post_sns(client, message).status_code == 200
    assert post_sns(client, message).status_code == 200
    [event] = bounce_events(db)
    assert event.kind == "soft"
    assert reader_of(db, delivery).status == "confirmed"  # one soft bounce suppresses nobody


def test_ses_malformed_json_is_a_clear_400(client, db, delivery):
    assert_error(post_sns(client, b'{"Type": "Notification",'), 400, "not valid JSON")
    assert_error(post_sns(client, b"[1, 2]"), 400, "JSON object")
    assert_untouched(db, delivery)


class Recorder(BaseHTTPRequestHandler):
    """Counts the requests a local HTTP server gets (none, if the webhook refuses to visit)."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        self.seen.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def foreign_server():
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_sns_subscription_on_a_foreign_host_is_not_visited(client, db, sns_key, foreign_server):
    for url in (
        f"{foreign_server}/?Action=ConfirmSubscription&Token=abc",
        f"{foreign_server.replace('http:', 'https:')}/?Action=ConfirmSubscription",
    ):
        message = sns_message(
            sns_key,
            "SubscriptionConfirmation",
            Message="You have chosen to subscribe to the topic.",
            SubscribeURL=url,
            Token="2336412f37fb687f5d51e6e2425c464de",
        )
        assert_error(post_sns(client, message), 400, "SubscribeURL")
    assert Recorder.seen == []


def test_sns_url_check_is_strict():
    good = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x"
    assert ses.is_sns_url(good)
    assert ses.is_sns_url("https://sns.cn-north-1.amazonaws.com.cn/x.pem", suffix=".pem")
    for bad in (
        "https://sns.us-east-1.amazonaws.com.evil.test/",
        "https://SNS.us-east-1.amazonaws.com/",
        "https://xsns.us-east-1.amazonaws.com/",
        "https://sns.amazonaws.com/",
        "https://user@sns.us-east-1.amazonaws.com/",
        "ftp://sns.us-east-1.amazonaws.com/",
        None,
        "https://[::1/",
    ):
        assert not ses.is_sns_url(bad), bad


# --- Postmark --------------------------------------------------------------------------------


def postmark_event(reader: Subscriber, record: str = "Bounce", **fields) -> dict:
    event = {
        "RecordType": record,
        "ID": 4323372036854775807,
        "Type": "HardBounce" if record == "Bounce" else "SpamComplaint",
        "TypeCode": 1 if record == "Bounce" else 512,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Description": "The server was unable to deliver your message.",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": reader.email,
        "From": "news@engage.test",
        "BouncedAt": utcnow().isoformat(),
        "MessageStream": "broadcast",
    }
    return {**event, **fields}


def post_postmark(client, body, auth: str | None = POSTMARK_AUTH):
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/webhooks/bounces/postmark", data=data, headers=headers)


def test_postmark_hard_bounce_suppresses_the_reader(client, db, delivery):
    reader = reader_of(db, delivery)
    response = post_postmark(client, postmark_event(reader))

    assert response.status_code == 200, response.get_data(as_text=True)
    [event] = bounce_events(db)
    assert (event.kind, event.source, event.status) == ("hard", "postmark", "5.1.1")
    assert event.subscriber_id == reader.id  # found by the recipient: Postmark has no VERP
    assert is_suppressed(db.session, reader.email)


def test_postmark_spam_complaint_unsubscribes(client, db, delivery):
    reader = reader_of(db, delivery)
    response = post_postmark(client, postmark_event(reader, "SpamComplaint", ID=77))

    assert response.status_code == 200
    [event] = bounce_events(db)
    assert (event.kind, event.subscriber_id, event.event_id) == ("complaint", reader.id, "77")
    assert reader_of(db, delivery).status == "unsubscribed"


def test_postmark_types_we_do_not_act_on_change_nothing(client, db, delivery):
    reader = reader_of(db, delivery)
    response = post_postmark(client, postmark_event(reader, Type="AutoResponder", TypeCode=64))

    assert response.status_code == 200
    assert response.get_json() == {"received": 0}
    assert_untouched(db, delivery)


def test_postmark_without_or_with_wrong_credentials_is_refused(client, db, delivery):
    reader = reader_of(db, delivery)
    missing = post_postmark(client, postmark_event(reader), auth=None)
    assert_error(missing, 401, "POSTMARK_WEBHOOK_AUTH")
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    wrong = post_postmark(client, postmark_event(reader), auth="postmark-hook:guess")
    assert_error(wrong, 403, "do not match")
    assert_untouched(db, delivery)


def test_postmark_stale_event_is_refused(client, db, delivery):
    reader = reader_of(db, delivery)
    old = (utcnow() - timedelta(hours=1)).isoformat()
    assert_error(post_postmark(client, postmark_event(reader, BouncedAt=old)), 403, "stale")
    assert_untouched(db, delivery)


def test_postmark_replay_counts_once(client, db, delivery):
    reader = reader_of(db, delivery)
    event = postmark_event(reader, Type="Transient", TypeCode=2)
    assert post_postmark(client, event).status_code == 200
    assert post_postmark(client, event).status_code == 200
    assert len(bounce_events(db)) == 1


def test_postmark_malformed_json_is_a_clear_400(client, db, delivery):
    assert_error(post_postmark(client, b"{not json"), 400, "not valid JSON")
    reader = reader_of(db, delivery)
    no_email = postmark_event(reader)
    del no_email["Email"]
    assert_error(post_postmark(client, no_email), 400, "body.Email")
    assert_untouched(db, delivery)


# --- SendGrid --------------------------------------------------------------------------------


def post_sendgrid(client, key, body, *, stamp: int | None = None, sign=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = int(utcnow().timestamp()) if stamp is None else stamp
    signed = str(stamp).encode() + (data if sign is None else sign)
    signature = key.sign(signed, ec.ECDSA(hashes.SHA256()))
    return client.post(
        "/webhooks/bounces/sendgrid",
        data=data,
        headers={
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": str(stamp),
        },
    )


def sendgrid_event(reader: Subscriber, event: str = "bounce", **fields) -> dict:
    return {
        "email": reader.email,
        "timestamp": int(utcnow().timestamp()),
        "event": event,
        "sg_event_id": f"sg-{event}-ZGVsaXZlcmVkLTAtMjQ5",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **fields,
    }


def test_sendgrid_bounce_and_spamreport(client, db, delivery, sendgrid_key):
    reader = reader_of(db, delivery)
    batch = [
        sendgrid_event(reader, "delivered"),
        sendgrid_event(
            reader, type="bounce", status="5.1.1", reason="550 5.1.1 mailbox does not exist"
        ),
        sendgrid_event(reader, "spamreport"),
    ]
    response = post_sendgrid(client, sendgrid_key, batch)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"received": 2}
    kinds = [(e.kind, e.source, e.subscriber_id) for e in bounce_events(db)]
    assert kinds == [("hard", "sendgrid", reader.id), ("complaint", "sendgrid", reader.id)]
    assert reader_of(db, delivery).status == "unsubscribed"
    assert is_suppressed(db.session, reader.email)


def test_sendgrid_blocked_is_soft_and_a_replay_counts_once(client, db, delivery, sendgrid_key):
    reader = reader_of(db, delivery)
    batch = [sendgrid_event(reader, type="blocked", reason="421 try again later")]
    assert post_sendgrid(client, sendgrid_key, batch).status_code == 200
    assert post_sendgrid(client, sendgrid_key, batch).status_code == 200
    [event] = bounce_events(db)
    assert event.kind == "soft"


def test_sendgrid_bad_or_missing_signature_is_refused(client, db, delivery, sendgrid_key):
    reader = reader_of(db, delivery)
    batch = [sendgrid_event(reader, type="bounce")]
    forged = post_sendgrid(client, sendgrid_key, batch, sign=b"[]")
    assert_error(forged, 403, "signature does not match")
    other_key = ec.generate_private_key(ec.SECP256R1())
    assert_error(post_sendgrid(client, other_key, batch), 403, "signature does not match")
    unsigned = client.post("/webhooks/bounces/sendgrid", json=batch)
    assert_error(unsigned, 401, "not signed")
    assert_untouched(db, delivery)


def test_sendgrid_stale_post_is_refused(client, db, delivery, sendgrid_key):
    reader = reader_of(db, delivery)
    old = int(utcnow().timestamp()) - 600
    response = post_sendgrid(client, sendgrid_key, [sendgrid_event(reader)], stamp=old)
    assert_error(response, 403, "stale")
    assert_untouched(db, delivery)


def test_sendgrid_malformed_json_is_a_clear_400(client, db, delivery, sendgrid_key):
    assert_error(post_sendgrid(client, sendgrid_key, b"[{"), 400, "not valid JSON")
    assert_error(post_sendgrid(client, sendgrid_key, {"event": "bounce"}), 400, "JSON array")
    assert_untouched(db, delivery)


# --- Mailgun ---------------------------------------------------------------------------------


def mailgun_post(event_data: dict, *, stamp: int | None = None, key: str = MAILGUN_KEY) -> dict:
    stamp_text = str(int(utcnow().timestamp()) if stamp is None else stamp)
    token = "f3b1ae7bc6a3c1d1f3b6d1a0b7c2e9d8a4c5b6e7f8a9b0c1d2"
    signature = hmac.new(key.encode(), (stamp_text + token).encode(), hashlib.sha256)
    return {
        "signature": {"timestamp": stamp_text, "token": token, "signature": signature.hexdigest()},
        "event-data": event_data,
    }


def mailgun_event(row: Delivery, reader: Subscriber, event: str = "failed", **fields) -> dict:
    return {
        "id": f"mg-{event}-G9Bn5sl1TC6o8uDg8qJ6xQ",
        "timestamp": utcnow().timestamp(),
        "event": event,
        "severity": "permanent",
        "recipient": reader.email,
        "envelope": {"sender": verp_address(row), "transport": "smtp"},
        "delivery-status": {
            "code": 550,
            "message": "5.1.1 The email account that you tried to reach does not exist",
        },
        **fields,
    }


def post_mailgun(client, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/webhooks/bounces/mailgun", data=data, headers={"Content-Type": "application/json"}
    )


def test_mailgun_permanent_failure_suppresses_the_reader_of_the_verp_row(client, db, delivery):
    reader = reader_of(db, delivery)
    response = post_mailgun(client, mailgun_post(mailgun_event(delivery, reader)))

    assert response.status_code == 200, response.get_data(as_text=True)
    [event] = bounce_events(db)
    assert (event.kind, event.source, event.status) == ("hard", "mailgun", "5.1.1")
    assert event.delivery_id == delivery.id
    assert is_suppressed(db.session, reader.email)


def test_mailgun_complaint_unsubscribes(client, db, delivery):
    reader = reader_of(db, delivery)
    event = mailgun_event(delivery, reader, "complained")
    del event["severity"], event["delivery-status"]
    assert post_mailgun(client, mailgun_post(event)).status_code == 200
    [recorded] = bounce_events(db)
    assert (recorded.kind, recorded.delivery_id) == ("complaint", delivery.id)
    assert reader_of(db, delivery).status == "unsubscribed"


def test_mailgun_bad_signature_is_refused(client, db, delivery):
    reader = reader_of(db, delivery)
    forged = mailgun_post(mailgun_event(delivery, reader), key="key-a-guess")
    assert_error(post_mailgun(client, forged), 403, "signature does not match")
    unsigned = mailgun_post(mailgun_event(delivery, reader))
    del unsigned["signature"]
    assert_error(post_mailgun(client, unsigned), 401, "not signed")
    assert_untouched(db, delivery)


def test_mailgun_stale_post_is_refused(client, db, delivery):
    reader = reader_of(db, delivery)
    old = int(utcnow().timestamp()) - 301
    body = mailgun_post(mailgun_event(delivery, reader), stamp=old)
    assert_error(post_mailgun(client, body), 403, "stale")
    assert_untouched(db, delivery)


def test_mailgun_replay_counts_once(client, db, delivery):
    reader = reader_of(db, delivery)
    body = mailgun_post(mailgun_event(delivery, reader, severity="temporary"))
    assert post_mailgun(client, body).status_code == 200
    assert post_mailgun(client, body).status_code == 200
    [event] = bounce_events(db)
    assert event.kind == "soft"


def test_mailgun_malformed_json_is_a_clear_400(client, db, delivery):
    assert_error(post_mailgun(client, b'{"signature": '), 400, "not valid JSON")
    body = mailgun_post("not an object")  # type: ignore[arg-type]
    assert_error(post_mailgun(client, body), 400, "event-data")
    assert_untouched(db, delivery)


# --- all providers ---------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["ses", "postmark", "sendgrid", "mailgun", "sparkpost"])
def test_an_unconfigured_provider_is_404(app, db, provider):
    with app.test_client() as plain:
        response = plain.post(f"/webhooks/bounces/{provider}", json={})
    assert_error(response, 404, "No bounce webhook is configured")


def test_a_body_over_the_cap_is_413_in_json(make_app, db):
    small = make_app(MAILGUN_WEBHOOK_SIGNING_KEY=MAILGUN_KEY, BOUNCE_WEBHOOK_MAX_BYTES="1024")
    with small.test_client() as client:
        response = client.post("/webhooks/bounces/mailgun", data=b"x" * 2048)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_posts_are_rate_limited(make_app, db):
    limited = make_app(MAILGUN_WEBHOOK_SIGNING_KEY=MAILGUN_KEY, BOUNCE_WEBHOOK_RATE_LIMIT="2/hour")
    with limited.test_client() as client:
        answers = [client.post("/webhooks/bounces/mailgun", data=b"{}").status_code for _ in "abc"]
    assert answers == [401, 401, 429]


def test_a_get_is_405_in_json(client):
    response = client.get("/webhooks/bounces/ses")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


# --- whatever a signed post holds, the answer is never a 500 ---------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["failed", "complained", "permanent", "Bounce", "hard", "5.1.1", "a@b.c"])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "event", "severity", "recipient", "id", "timestamp", "envelope", "delivery-status",
        "notificationType", "bounce", "complaint", "bounceType", "bouncedRecipients",
        "complainedRecipients", "emailAddress", "mail", "source", "headers", "feedbackId",
        "RecordType", "Type", "ID", "Email", "BouncedAt", "Details", "email", "sg_event_id",
        "type", "reason", "status",
    ]
)  # fmt: skip
# Objects built from the field names providers use, so the fuzzing gets past the first check.
EVENTS = st.recursive(
    st.dictionaries(KEYS, JSON_SCALARS, max_size=8),
    lambda inner: st.dictionaries(KEYS, inner | st.lists(inner, max_size=3), max_size=6),
    max_leaves=20,
)
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def no_error(response) -> None:
    assert response.status_code in (200, 400, 403), response.get_data(as_text=True)
    assert response.is_json


@FUZZ
@given(event=EVENTS | JSON_VALUES)
def test_any_signed_mailgun_post_is_answered(client, db, event):
    no_error(post_mailgun(client, mailgun_post(event)))


@FUZZ
@given(events=st.lists(EVENTS, max_size=3) | JSON_VALUES)
def test_any_signed_sendgrid_post_is_answered(client, db, sendgrid_key, events):
    no_error(post_sendgrid(client, sendgrid_key, events))


@FUZZ
@given(event=EVENTS)
def test_any_postmark_post_is_answered(client, db, event):
    event.setdefault("BouncedAt", utcnow().isoformat())
    no_error(post_postmark(client, event))


@FUZZ
@given(event=EVENTS | JSON_VALUES)
def test_any_signed_sns_notification_is_answered(client, db, sns_key, event):
    no_error(post_sns(client, sns_message(sns_key, Message=json.dumps(event))))


def test_nul_and_lone_surrogates_are_stored_as_clean_text(client, db, delivery):
    reader = reader_of(db, delivery)
    event = mailgun_event(delivery, reader, id="mg-\x00-\ud800")
    event["delivery-status"]["message"] = "550 5.1.1 gone\x00 \ud83d"
    body = json.dumps(mailgun_post(event)).encode()  # JSON escapes both as \\u0000, \\ud83d
    assert post_mailgun(client, body).status_code == 200
    [recorded] = bounce_events(db)
    assert recorded.diagnostic == "550 5.1.1 gone \ufffd"
    assert recorded.event_id == "mg- -\ufffd"


# --- settings --------------------------------------------------------------------------------


def test_webhook_settings_are_checked_at_start(sendgrid_key, sns_key):
    from engage.config import ConfigError, Settings

    good = Settings.from_env(
        {
            "SES_SNS_TOPIC_ARNS": f" {TOPIC} , ",
            "POSTMARK_WEBHOOK_AUTH": POSTMARK_AUTH,
            "SENDGRID_WEBHOOK_PUBLIC_KEY": sendgrid_public(sendgrid_key),
        }
    )
    assert good.ses_sns_topic_arns == (TOPIC,)
    assert good.bounce_webhook_max_age_seconds == 300
    rsa_der = sns_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for env, words in (
        ({"SES_SNS_TOPIC_ARNS": "engage-bounces"}, "not an SNS topic ARN"),
        ({"POSTMARK_WEBHOOK_AUTH": "just-a-password"}, "user:password"),
        ({"SENDGRID_WEBHOOK_PUBLIC_KEY": "not base64!"}, "not a base64 DER public key"),
        ({"SENDGRID_WEBHOOK_PUBLIC_KEY": base64.b64encode(rsa_der).decode()}, "P-256"),
        ({"BOUNCE_WEBHOOK_MAX_AGE_SECONDS": "0"}, "at least 1"),
    ):
        with pytest.raises(ConfigError, match=words):
            Settings.from_env(env)


def test_sns_other_messages_are_answered_and_change_nothing(client, db, delivery, sns_key):
    delivered = json.dumps({"notificationType": "Delivery", "mail": {}, "delivery": {}})
    for message in (
        sns_message(sns_key, Message=delivered),
        sns_message(sns_key, Message="Successfully validated SNS topic for Amazon SES."),
        sns_message(
            sns_key,
            "UnsubscribeConfirmation",
            Message="You have unsubscribed.",
            SubscribeURL="https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
            Token="2336412f37fb687f5d51e6e2425c464de",
        ),
    ):
        response = post_sns(client, message)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json() == {"received": 0}
    assert_untouched(db, delivery)


def test_ses_bounce_without_recipients_names_the_missing_field(client, db, delivery, sns_key):
    broken = json.dumps({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent"}})
    response = post_sns(client, sns_message(sns_key, Message=broken))
    assert_error(response, 400, "Message.bounce.bouncedRecipients")
    assert_untouched(db, delivery)


def test_a_verp_address_on_another_domain_names_no_row(client, db, delivery):
    reader = reader_of(db, delivery)
    event = mailgun_event(delivery, reader)
    event["envelope"]["sender"] = verp_address(delivery).replace("engage.test", "elsewhere.test")
    assert post_mailgun(client, mailgun_post(event)).status_code == 200
    [recorded] = bounce_events(db)
    assert recorded.delivery_id is None  # not our bounce address: only the recipient counts
    assert recorded.subscriber_id == reader.id
