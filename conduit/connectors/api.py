"""A tracker's REST API as one installation reaches it: base URL, credentials, standard headers.

Calls go to the installation's own API (or, on the cloud, its resources endpoint) and nowhere else: a
URL taken from a reply (a pagination link) must be on the same origin, so a server cannot send the
installation's token on to another host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from conduit.connectors.catalog import Endpoints, Provider
from conduit.connectors.errors import InvalidRequest
from conduit.connectors.http import Auth, Reply, RequestSigner, Target, TrackerHttp
from conduit.settings import url_origin


@dataclass(frozen=True, slots=True)
class Api:
    http: TrackerHttp
    provider: Provider
    target: Target
    endpoints: Endpoints
    auth: Auth | None
    # Where people open tickets, when it differs from the API's host (Jira Cloud sites).
    site_url: str | None = None
    # Signs each request with the credential instead of sending it in `token_header` (a tracker
    # whose calls are authenticated by a signature; see `http.RequestSigner`).
    signer: RequestSigner | None = None

    async def call(
        self,
        operation: str,
        method: str,
        template: str,
        *,
        path: Mapping[str, str | int] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        etag: str | None = None,
        url: str | None = None,
    ) -> Reply:
        """Call `template` (e.g. "/repos/{owner}/{repo}") under the API root, or `url` when given.

        Path values are escaped one by one, so a key can never reach another endpoint.
        """
        if url is None:
            values = {k: quote(str(v), safe="") for k, v in (path or {}).items()}
            url = self.endpoints.api + template.format(**values)
        elif not self.reaches(url):
            raise InvalidRequest(f"{self.provider.name} pointed {operation} at another server; not followed")
        return await self.http.request(
            self.target,
            operation,
            method,
            url,
            template=template,
            limits=self.provider.rate_limit,
            auth=self.auth,
            headers=self.provider.api_headers,
            params=params,
            json=json,
            etag=etag,
            token_header=(self.provider.token_header, self.provider.token_prefix),
            signer=self.signer,
        )

    def reaches(self, url: str) -> bool:
        """Whether `url` is on the origin of this installation's API (or its resources endpoint)."""
        try:
            origin = url_origin(url)
        except ValueError:
            return False
        own = [self.endpoints.api, *([self.endpoints.resources] if self.endpoints.resources else [])]
        return origin in {url_origin(u) for u in own}
