from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from conduit.webhooks import signing
from conduit.webhooks.signing import InvalidSecret, VerificationError

BODY = b'{"type":"issue.created","data":{"issue":{"id":"SXNzdWU6MQ"}}}'
NOW = 1_767_225_600


def test_generated_secrets_parse_and_differ() -> None:
    a, b = signing.generate_secret(), signing.generate_secret()
    assert a != b
    assert a.startswith("whsec_")
    assert len(signing.parse_secret(a)) == signing.DEFAULT_SECRET_BYTES
    assert len(signing.parse_secret(signing.generate_secret(64))) == 64


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("abc", "starts with 'whsec_'"),
        ("whsec_not base64!", "not valid base64"),
        ("whsec_" + base64.b64encode(b"x" * 23).decode(), "this one holds 23"),
        ("whsec_" + base64.b64encode(b"x" * 65).decode(), "this one holds 65"),
        ("whsec_", "this one holds 0"),
    ],
)
def test_bad_secrets_say_what_is_wrong(secret: str, message: str) -> None:
    with pytest.raises(InvalidSecret, match=message):
        signing.parse_secret(secret)


def test_generate_refuses_sizes_outside_the_spec() -> None:
    with pytest.raises(InvalidSecret):
        signing.generate_secret(16)


def test_signature_matches_the_reference_package() -> None:
    secret = signing.generate_secret()
    sent = signing.headers("msg_1", BODY, [secret])
    # The reference implementation, as receivers use it: raises on any mismatch.
    assert Webhook(secret).verify(BODY, sent) == {
        "type": "issue.created",
        "data": {"issue": {"id": "SXNzdWU6MQ"}},
    }


def test_reference_package_refuses_a_tampered_body() -> None:
    secret = signing.generate_secret()
    sent = signing.headers("msg_1", BODY, [secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"created", b"deleted"), sent)


def test_rotation_signs_with_every_secret_and_either_verifies() -> None:
    old, new = signing.generate_secret(), signing.generate_secret()
    sent = signing.headers("msg_2", BODY, [new, old])
    assert len(sent["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, sent)
        signing.verify(sent, BODY, secret)
    with pytest.raises(VerificationError, match="no v1 signature"):
        signing.verify(sent, BODY, signing.generate_secret())


def test_known_vector() -> None:
    # The reference package's own signer, for a fixed key, id and timestamp.
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    expected = Webhook(secret).sign("msg_fixed", datetime.fromtimestamp(NOW, tz=UTC), BODY.decode())
    assert signing.sign("msg_fixed", NOW, BODY, [secret]) == expected
    assert signing.sign("msg_fixed", NOW, BODY, [key]) == expected


def test_verify_checks_time_and_headers() -> None:
    secret = signing.generate_secret()
    sent = signing.headers("msg_3", BODY, [secret], timestamp=NOW)
    signing.verify(sent, BODY, secret, now=NOW + 299)
    with pytest.raises(VerificationError, match="too old"):
        signing.verify(sent, BODY, secret, now=NOW + 301)
    with pytest.raises(VerificationError, match="future"):
        signing.verify(sent, BODY, secret, now=NOW - 301)
    with pytest.raises(VerificationError, match="webhook-signature"):
        signing.verify({k: v for k, v in sent.items() if k != "webhook-signature"}, BODY, secret, now=NOW)
    with pytest.raises(VerificationError, match="unix seconds"):
        signing.verify({**sent, "webhook-timestamp": "soon"}, BODY, secret, now=NOW)
    # Header names are case-insensitive, as HTTP's are.
    signing.verify({k.upper(): v for k, v in sent.items()}, BODY, secret, now=NOW)


def test_verify_skips_other_schemes_and_junk() -> None:
    secret = signing.generate_secret()
    sent = signing.headers("msg_4", BODY, [secret], timestamp=NOW)
    sent["webhook-signature"] = "v1a,abc v1,@@@ " + sent["webhook-signature"]
    signing.verify(sent, BODY, secret, now=NOW)


def test_id_and_body_are_checked() -> None:
    secret = signing.generate_secret()
    with pytest.raises(ValueError, match="webhook id"):
        signing.sign("msg 1\n", NOW, BODY, [secret])
    with pytest.raises(TypeError, match="exact bytes"):
        signing.sign("msg_1", NOW, BODY.decode(), [secret])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty list"):
        signing.sign("msg_1", NOW, BODY, [])
    with pytest.raises(ValueError, match="non-empty list"):
        signing.sign("msg_1", NOW, BODY, secret)
