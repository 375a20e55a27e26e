"""`conduit tracker-check`: the reference service passes; each defect of a broken copy is one clear line."""

from __future__ import annotations

import pytest

from conduit.cli import main
from conduit.connectors.inhouse.check import run_checks
from tests.inhouse.conftest import (
    accepts_unsigned,
    created_says_200,
    rewrites,
    serve_reference,
    tickets_without_done,
)


def failures(url: str, secret: str) -> list[str]:
    return [r.line() for r in run_checks(url, secret) if not r.passed]


def test_the_reference_service_passes(reference: str, secret: str) -> None:
    results = run_checks(reference, secret)
    assert [r.line() for r in results if not r.passed] == []
    names = {r.name for r in results}
    assert {
        "describe",
        "unsigned request",
        "wrong secret",
        "stale timestamp",
        "replayed request",
        "altered body",
        "create ticket",
        "idempotency",
        "read batch",
        "resolve",
        "reopen",
        "assign",
        "comment",
        "search finds",
        "changes list",
        "speed",
    } <= names


def test_the_cli_prints_a_line_per_check_and_exits_zero(
    reference: str, secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tracker-check", reference, "--secret", secret]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("PASS ") for line in lines[:-1]), lines
    assert lines[-1].endswith(" passed, 0 failed")


def test_a_service_accepting_unsigned_requests_fails_that_check(secret: str) -> None:
    with serve_reference(secret, accepts_unsigned(secret)) as server:
        failed = failures(server.url, secret)
    assert failed == [
        "FAIL unsigned request: GET /describe without a signature answered 200; it must be refused with 401"
    ]


def test_a_wrong_status_code_fails_with_what_was_expected(secret: str) -> None:
    with serve_reference(secret, rewrites(created_says_200)) as server:
        failed = failures(server.url, secret)
    assert failed == ["FAIL create ticket: POST /tickets answered 200, expected 201"]


def test_a_missing_field_fails_naming_it(secret: str) -> None:
    with serve_reference(secret, rewrites(tickets_without_done)) as server:
        failed = failures(server.url, secret)
    expected = "POST /tickets/{key}/status {status!r}: the answer is not a Ticket: done is missing"
    assert failed == [
        "FAIL resolve: " + expected.format(key="OPS-1", status="Done"),
        "FAIL reopen: " + expected.format(key="OPS-1", status="Open"),
    ]


def test_a_wrong_or_malformed_secret_fails_and_exits_non_zero(
    reference: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tracker-check", reference, "--secret", "not-a-secret"]) == 1
    assert "FAIL secret: the secret is not a Standard Webhooks secret" in capsys.readouterr().out
    from conduit.webhooks.signing import generate_secret

    assert main(["tracker-check", reference, "--secret", generate_secret()]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        "FAIL describe: GET /describe answered 401, expected 200 (the signature does not match"
    )


def test_an_unreachable_service_is_one_line(capsys: pytest.CaptureFixture[str], secret: str) -> None:
    results = run_checks("http://127.0.0.1:9", secret)
    assert [r.name for r in results] == ["connection"] and not results[0].passed
    assert main(["tracker-check", "http://127.0.0.1:9"]) == 2  # no secret given
