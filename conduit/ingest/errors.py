"""Why an ingest request was refused.

IngestError            any refusal; carries an HTTP status and a detail for the SDK's logs
├── BadRequest         400: malformed path, header, body, envelope, JSON or field
│   └── ClientGone     the client hung up mid-body: answered for form's sake, nobody reads it
├── Unauthorized       401: no key, or a key that is unknown or disabled
├── Forbidden          403: a valid key used for a project it does not belong to
├── RequestTimeout     408: the body did not arrive within the server's deadline
├── PayloadTooLarge    413: a size limit was crossed, compressed or decompressed
└── UnsupportedEncoding 415: a Content-Encoding this server cannot decode
"""

from __future__ import annotations


class IngestError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(IngestError):
    status_code = 400


class Unauthorized(IngestError):
    status_code = 401


class Forbidden(IngestError):
    status_code = 403


class ClientGone(BadRequest):
    pass


class RequestTimeout(IngestError):
    status_code = 408


class PayloadTooLarge(IngestError):
    status_code = 413


class UnsupportedEncoding(IngestError):
    status_code = 415
