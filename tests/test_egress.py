from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest

from conduit import egress
from conduit.egress import GuardedTransport, UnresolvableHost, WebhookURLError
from conduit.settings import Settings
from tests.webhooks import conftest as webhook_fixtures
from tests.webhooks.conftest import Receiver

# The loopback receiver the webhook tests use, to show what the guard keeps a request from reaching.
receiver = webhook_fixtures.receiver
fresh_receiver = webhook_fixtures.fresh_receiver

REFUSED = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.255.0.9:8080/hook", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.20/", "private"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://192.0.2.10/", "private"),  # documentation range, never routable
    ("http://[::1]/", "loopback"),
    ("http://[::]/", "unspecified"),
    ("http://[fc00::1]/", "private"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 wrapping 127.0.0.1
    ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 wrapping 10.0.0.1
    # Legacy IPv4 spellings that resolvers and browsers read as 127.0.0.1.
    ("http://2130706433/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://localhost/", "loopback"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_private_destinations_are_refused(url: str, reason: str) -> None:
    with pytest.raises(WebhookURLError, match=reason) as info:
        await egress.check_url(url)
    assert "CONDUIT_ALLOW_PRIVATE_WEBHOOK_URLS" in str(info.value)


@pytest.mark.parametrize("url", [u for u, _ in REFUSED])
async def test_the_allow_flag_lets_private_destinations_through(url: str) -> None:
    checked = await egress.check_url(url, allow_private=True)
    assert checked.addresses
    assert all(egress.refusal(ipaddress.ip_address(a)) is not None for a in checked.addresses)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",  # 169.254.169.254 as one number
        "http://169.254.170.2/v2/credentials",  # ECS task credentials
        "http://169.254.170.23/v1/credentials",  # EKS Pod Identity
        "http://[fd00:ec2::23]/",  # EKS Pod Identity over IPv6
        "http://[fe80::a9fe:a9fe]/",  # IPv6 link-local
        "http://[64:ff9b:1::a9fe:a9fe]/",  # local-use NAT64 wrapping 169.254.169.254
        "http://169.254.10.1/",  # any link-local address
        "http://[fe80::1]/",
    ],
)
async def test_metadata_services_are_refused_even_when_private_is_allowed(url: str) -> None:
    for allow in (False, True):
        with pytest.raises(WebhookURLError, match="metadata"):
            await egress.check_url(url, allow_private=allow)


@pytest.mark.parametrize("url", ["http://xn--a/", "http://xn--localhost:9911/", "http://xn--/x"])
async def test_malformed_hosts_are_a_clear_error(url: str) -> None:
    with pytest.raises(WebhookURLError, match=r"not a valid URL|has no host"):
        await egress.check_url(url, allow_private=True)


async def test_public_addresses_pass() -> None:
    checked = await egress.check_url("https://93.184.215.14:8443/hooks?x=1")
    assert checked.addresses == ("93.184.215.14",)
    assert (checked.host, checked.port) == ("93.184.215.14", 8443)
    checked = await egress.check_url("https://[2606:4700:4700::1111]/", require_https=True)
    assert checked.addresses == ("2606:4700:4700::1111",)
    assert checked.port == 443


async def test_localhost_resolves_and_is_reported_with_its_address() -> None:
    with pytest.raises(WebhookURLError, match=r"localhost \(127\.0\.0\.1\) is a loopback address"):
        await egress.check_url("http://localhost:8000/")
    checked = await egress.check_url("http://localhost:8000/", allow_private=True)
    assert "127.0.0.1" in checked.addresses or "::1" in checked.addresses


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "required"),
        ("ftp://example.com/", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("example.com/hook", "http or https"),
        ("http://user:pass@example.com/", "credentials"),
        ("http://token@example.com/", "credentials"),
        ("http:///nohost", "no host"),
        ("http://0177.0.0.1/", "not a valid URL"),  # httpx refuses octal with a leading zero outright
    ],
)
async def test_malformed_urls_are_refused_before_resolving(url: str, message: str) -> None:
    with pytest.raises(WebhookURLError, match=message):
        await egress.check_url(url, allow_private=True)


async def test_https_can_be_required() -> None:
    with pytest.raises(WebhookURLError, match="must use https"):
        await egress.check_url("http://93.184.215.14/", require_https=True)


async def test_a_name_that_does_not_resolve_is_its_own_error() -> None:
    with pytest.raises(UnresolvableHost, match="does not resolve"):
        await egress.check_url("https://no-such-host.invalid/")


def test_the_setting_defaults_to_refusing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(env="test").allow_private_webhook_urls is False
    monkeypatch.setenv("CONDUIT_ALLOW_PRIVATE_WEBHOOK_URLS", "true")
    assert Settings(env="test").allow_private_webhook_urls is True


class Rebinding:
    """A resolver that answers a public address first and loopback afterwards, as a rebinding attacker's
    DNS server does."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, host: str, port: int) -> tuple[egress.IPAddress, ...]:
        self.calls += 1
        first = self.calls == 1
        return (ipaddress.ip_address("93.184.215.14" if first else "127.0.0.1"),)


async def test_delivery_refuses_a_name_rebound_to_loopback_after_registration(
    fresh_receiver: Receiver,
) -> None:
    resolver = Rebinding()
    port = httpx.URL(fresh_receiver.url).port
    url = f"http://hooks.rebind.test:{port}/ok"
    checked = await egress.check_url(url, resolver=resolver)
    assert checked.addresses == ("93.184.215.14",)
    async with httpx.AsyncClient(transport=GuardedTransport(allow_private=False, resolver=resolver)) as c:
        with pytest.raises(WebhookURLError, match="loopback"):
            await c.post(url, content=b"{}")
    assert resolver.calls == 2
    assert fresh_receiver.received == []


async def test_the_transport_connects_to_the_checked_address_and_keeps_the_host(
    fresh_receiver: Receiver,
) -> None:
    async def resolver(host: str, port: int) -> tuple[egress.IPAddress, ...]:
        assert host == "receiver.conduit.test"
        return (ipaddress.ip_address("127.0.0.1"),)

    port = httpx.URL(fresh_receiver.url).port
    async with httpx.AsyncClient(transport=GuardedTransport(allow_private=True, resolver=resolver)) as c:
        response = await c.post(f"http://receiver.conduit.test:{port}/gone", content=b"{}")
    assert response.status_code == 410
    assert [r.headers["host"] for r in fresh_receiver.received] == [f"receiver.conduit.test:{port}"]


async def test_the_transport_refuses_loopback_literals_and_ignores_proxies(
    fresh_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy from the environment would open the connection on our behalf and skip the check.
    monkeypatch.setenv("HTTP_PROXY", fresh_receiver.url)
    async with httpx.AsyncClient(transport=GuardedTransport(allow_private=False)) as c:
        for url in (f"{fresh_receiver.url}/ok", "http://2130706433:1/ok"):
            with pytest.raises(WebhookURLError, match="loopback"):
                await c.post(url, content=b"{}")
    assert fresh_receiver.received == []


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("[::1]", "::1"),
        ("example.com", None),
        ("0xdead.example", None),
    ],
)
def test_legacy_ipv4_spellings_are_read_as_addresses(host: str, address: str | None) -> None:
    found = egress.literal_address(host)
    assert (None if found is None else str(found)) == address


async def test_a_resolver_that_hangs_is_a_connect_timeout() -> None:
    async def hanging(host: str, port: int) -> tuple[egress.IPAddress, ...]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    transport = GuardedTransport(allow_private=True, resolver=hanging)
    async with httpx.AsyncClient(transport=transport, timeout=0.2) as c:
        with pytest.raises(httpx.ConnectTimeout, match=r"resolving slow\.test"):
            await c.post("http://slow.test/", content=b"{}")
