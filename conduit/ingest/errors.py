"""Why an ingest request was refused: each refusal is also the `conduit.errors` base it is a case of.

IngestError            any refusal; carries an HTTP status and a detail for the SDK's logs
├── BadRequest         400: malformed path, header, body, envelope, JSON or field       (Invalid)
│   └── ClientGone     the client hung up mid-body: answered for form's sake, nobody reads it
├── Unauthorized       401: no key, or a key that is unknown or disabled                 (Forbidden)
├── WrongProject       403: a valid key used for a project it does not belong to          (Forbidden)
├── RequestTimeout     408: the body did not arrive within the server's deadline          (Invalid)
├── PayloadTooLarge    413: a size limit was crossed, compressed or decompressed          (Invalid)
├── UnsupportedEncoding 415: a Content-Encoding this server cannot decode                (Invalid)
└── RateLimited        429: the DSN key is over its quota; its headers say how long to back off
"""

from __future__ import annotations

from collections.abc import Mapping

from conduit.errors import ConduitError, Forbidden, Invalid


class IngestError(ConduitError):
    status_code = 400
    # The `reason` label of conduit_ingest_events_dropped_total.
    reason = "bad_request"

    def __init__(self, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        # Sent with the refusal, beside the detail.
        self.headers: Mapping[str, str] = headers or {}


class BadRequest(IngestError, Invalid):
    status_code = 400


class Unauthorized(IngestError, Forbidden):
    status_code = 401
    reason = "unauthorized"


class WrongProject(IngestError, Forbidden):
    status_code = 403
    reason = "wrong_project"


class ClientGone(BadRequest):
    reason = "client_gone"


class RequestTimeout(IngestError, Invalid):
    status_code = 408
    reason = "timeout"


class PayloadTooLarge(IngestError, Invalid):
    status_code = 413
    reason = "too_large"


class RateLimited(IngestError):
    status_code = 429
    reason = "rate_limited"


class UnsupportedEncoding(IngestError, Invalid):
    status_code = 415
    reason = "unsupported_encoding"
