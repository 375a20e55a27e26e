"""Keeping outbound requests to URLs a tenant names (webhook endpoints, self-hosted trackers) away from
private networks, at registration and again at connection time.

`check_url` validates a URL and resolves its host when an endpoint is registered. At delivery time the
`guarded_transport` resolves again inside the connection itself and connects to exactly the address it
checked, so a name that resolves to a public address at registration and to 127.0.0.1 a second later
(DNS rebinding) still cannot reach the private network. The URL, the Host header and TLS SNI keep the
name, so certificates are verified against it as usual.

Tracker calls (self-hosted base URLs a tenant names) go through the same guard; `setting` names the
operator switch a refusal points at, so each caller's message says which one opens it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpcore
import httpx

from conduit.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata services: refused even when private addresses are allowed, since no webhook
# receiver lives there and reaching one hands out the host's credentials.
# Refused even where private addresses are allowed: clouds serve instance metadata and credentials on
# link-local addresses (169.254.169.254; ECS task credentials at 169.254.170.2; EKS Pod Identity at
# 169.254.170.23 and fd00:ec2::23), and nothing a tenant may legitimately name lives there.
METADATA_NETWORKS = (
    ipaddress.ip_network("169.254.0.0/16"),  # IPv4 link-local: AWS, GCP, Azure, OpenStack, DigitalOcean
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::/32"),  # AWS over IPv6 (IMDS, EKS Pod Identity)
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
WEBHOOK_SETTING = "CONDUIT_ALLOW_PRIVATE_WEBHOOK_URLS"
# NAT64 prefixes carry an IPv4 address in their last 32 bits: the well-known one and the local-use one.
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


Resolver = Callable[[str, int], Awaitable[tuple[IPAddress, ...]]]


class WebhookURLError(Invalid, ValueError):
    """A URL that may not be used; the message says why in terms a person can act on.

    Still a ValueError, as it was before the error root, for callers that catch that.
    """


class UnresolvableHost(WebhookURLError):
    """The host did not resolve; unlike a refusal this may pass on a later try."""


@dataclass(frozen=True, slots=True)
class CheckedURL:
    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), which decides its fate."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
    if inner is None and any(ip in network for network in NAT64):
        inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return inner


def is_metadata(ip: IPAddress) -> bool:
    inner = embedded_ipv4(ip)
    return any(
        address in network for address in (ip, inner) if address is not None for network in METADATA_NETWORKS
    )


def refusal(ip: IPAddress) -> str | None:
    """Why an address may not receive webhooks, or None if it is a public unicast address."""
    if is_metadata(ip):
        return "a cloud metadata or link-local address"
    inner = embedded_ipv4(ip)
    if inner is not None:
        reason = refusal(inner)
        return f"{reason} ({inner} inside {ip})" if reason else None
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT, "a carrier-grade NAT address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    )
    return next((reason for hit, reason in checks if hit), None)


def literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself, including the legacy IPv4 spellings resolvers accept.

    `2130706433`, `0x7f.1` and `0177.0.0.1` all mean 127.0.0.1 to getaddrinfo and to browsers, so they
    are read the same way here rather than slipping past as "names".
    """
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


async def resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    literal = literal_address(host)
    if literal is not None:
        return (literal,)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"host {host!r} does not resolve: {exc}") from None
    found: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        # Scoped IPv6 results carry "%iface"; the address itself is what gets judged.
        found[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    if not found:
        raise UnresolvableHost(f"host {host!r} has no addresses")
    return tuple(found)


async def check_host(
    host: str,
    port: int,
    *,
    allow_private: bool,
    resolver: Resolver | None = None,
    setting: str = WEBHOOK_SETTING,
) -> tuple[IPAddress, ...]:
    """Resolve a host and refuse it if any of its addresses may not be called."""
    addresses = await (resolver or resolve)(host, port)
    for ip in addresses:
        reason = refusal(ip)
        if reason is None or (allow_private and not is_metadata(ip)):
            continue
        shown = host if str(ip) == host.strip("[]") else f"{host} ({ip})"
        hint = "" if is_metadata(ip) else f"; set {setting}=true to allow it"
        raise WebhookURLError(f"{shown} is {reason}{hint}")
    return addresses


def parse_url(url: str, *, require_https: bool = False) -> httpx.URL:
    """Validate the shape of a webhook URL without resolving it."""
    if not isinstance(url, str) or not url.strip():
        raise WebhookURLError("a webhook URL is required")
    try:
        parsed = httpx.URL(url.strip())
        # Reading the host decodes IDNA labels, which fails for a malformed punycode label (`xn--a`).
        host = parsed.host
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise WebhookURLError(f"{url[:200]!r} is not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise WebhookURLError(f"webhook URLs use http or https, not {parsed.scheme or 'no scheme'!r}")
    if require_https and parsed.scheme != "https":
        raise WebhookURLError("webhook URLs must use https")
    if parsed.userinfo:
        raise WebhookURLError("webhook URLs may not carry credentials; sign with the webhook secret instead")
    if not host:
        raise WebhookURLError(f"{url[:200]!r} has no host")
    if parsed.port == 0:
        raise WebhookURLError("port 0 is not a valid port")
    return parsed


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


async def check_url(
    url: str,
    allow_private: bool = False,
    *,
    require_https: bool = False,
    resolver: Resolver | None = None,
    setting: str = WEBHOOK_SETTING,
) -> CheckedURL:
    """Validate and resolve a webhook URL at registration time."""
    parsed = parse_url(url, require_https=require_https)
    addresses = await check_host(
        parsed.host, _port(parsed), allow_private=allow_private, resolver=resolver, setting=setting
    )
    return CheckedURL(str(parsed), parsed.host, _port(parsed), tuple(str(a) for a in addresses))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses it has just resolved and checked itself."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
        setting: str = WEBHOOK_SETTING,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()
        self.setting = setting

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await check_host(
                    host, port, allow_private=self.allow_private, resolver=self.resolver, setting=self.setting
                )
        except TimeoutError:
            # Surfaces as httpx.ConnectTimeout, like a slow connect would.
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout} s") from None
        last: Exception | None = None
        for ip in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None  # resolve() never returns an empty tuple
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise WebhookURLError("webhooks are never sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every connection goes through GuardedBackend.

    Environment proxies are ignored on purpose: a proxy would make the connection for us and defeat
    the address check.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        limits: httpx.Limits = httpx.Limits(max_connections=200, max_keepalive_connections=50),
        verify: ssl.SSLContext | bool = True,
        resolver: Resolver | None = None,
        setting: str = WEBHOOK_SETTING,
    ) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        # httpx builds its pool without a way to pass a network backend, so the pool is rebuilt here
        # with the same settings and the guarded backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_private=allow_private, resolver=resolver, setting=setting),
        )
