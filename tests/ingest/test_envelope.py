import orjson
import pytest

from conduit.ingest.envelope import MAX_HEADER_LINE, parse
from conduit.ingest.errors import BadRequest


def test_items_with_and_without_length() -> None:
    body = (
        b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://k@h/1"}\n'
        b'{"type":"attachment","length":10}\n'
        b"\xef\xbb\xbfHello\r\n\n"
        b'{"type":"event","filename":"x"}\n'
        b'{"message":"hello"}\n'
    )
    env = parse(body)
    assert env.headers["event_id"] == "9ec79c33ec9942ab8353589fcb2e04dc"
    assert [i.type for i in env.items] == ["attachment", "event"]
    assert env.items[0].payload == b"\xef\xbb\xbfHello\r\n"
    assert orjson.loads(env.items[1].payload) == {"message": "hello"}


def test_no_trailing_newline_and_empty_payloads() -> None:
    env = parse(b'{}\n{"type":"session","length":0}\n\n{"type":"client_report"}\n')
    assert [(i.type, i.payload) for i in env.items] == [("session", b""), ("client_report", b"")]
    env = parse(b'{}\n{"type":"event"}\n{"message":"m"}')
    assert env.items[0].payload == b'{"message":"m"}'


def test_header_only_envelope() -> None:
    assert parse(b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}').items == []
    assert parse(b"{}\n").items == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "envelope header line is empty"),
        (b"not json\n", "envelope header is not valid JSON"),
        (b"[1,2]\n", "envelope header must be a JSON object, not an array"),
        (b'{}\n{"length":3}\nabc', "item 0 header has no type"),
        (b'{}\n{"type":7}\nabc', "item 0 header has no type"),
        (b'{}\n{"type":"event","length":100}\n{}', "item 0 \\(event\\): length 100 exceeds the 2 bytes left"),
        (b'{}\n{"type":"event","length":2}\n{}xx', "expected a newline after its 2-byte payload"),
        (b'{}\n{"type":"event","length":-1}\n{}', "length must be a non-negative integer"),
        (b'{}\n{"type":"event","length":"2"}\n{}', "length must be a non-negative integer"),
        (b'{}\n{"type":"event","length":true}\n{}', "length must be a non-negative integer"),
        (b"{}\n\xff\xfe\n", "item 0 header is not valid JSON"),
        (b'{}\n{"type":"session"}\n{}\nnope\n', "item 1 header is not valid JSON"),
    ],
)
def test_malformed_envelopes_say_what_was_wrong(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse(body)


def test_huge_header_line_is_refused() -> None:
    with pytest.raises(BadRequest, match=f"envelope header line is longer than {MAX_HEADER_LINE} bytes"):
        parse(b'{"x":"' + b"a" * (MAX_HEADER_LINE + 10) + b'"}\n')
    with pytest.raises(BadRequest, match="item 0 header line is longer"):
        parse(b"{}\n" + b" " * (MAX_HEADER_LINE + 1) + b'{"type":"event"}\n{}')


def test_deeply_nested_header_is_refused() -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse(b"[" * 5000 + b"]" * 5000 + b"\n")
