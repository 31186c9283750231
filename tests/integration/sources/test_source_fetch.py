"""The fetcher against a real HTTP server on 127.0.0.1: formats, limits, hostile answers.

The server is on loopback, so its feeds are fetched with ``allow_private=True`` - except
where the point is the refusal. The private-address redirect tests trust exactly
127.0.0.1/32 (``allowed_networks``) and let the feed itself NOT allow private
networks: the first hop is allowed, the redirect target is not.
"""

from __future__ import annotations

import gzip
import ipaddress
import itertools
import time

import pytest

from sources.addresses import system_resolver
from sources.errors import FetchError
from sources.http import Fetcher, FetchLimits
from tests.integration.sources.feedserver import FEEDS, FeedServer, Reply, Seen, gzip_bomb

UA = "finsent-test/1.0 (+tests)"


def fetcher(**kw: object) -> Fetcher:
    limits = {"user_agent": UA, "host_delay": 0.0, "connect_timeout": 2.0, "read_timeout": 2.0} | kw
    return Fetcher(FetchLimits(**limits))  # type: ignore[arg-type]


def test_the_three_formats_and_a_descriptive_user_agent(feed_server: FeedServer) -> None:
    feed_server.serve_file("/rss2", "rss2.xml")
    feed_server.serve_file("/atom", "atom.xml", "application/atom+xml")
    feed_server.serve_file("/rss1", "rss1.xml", "application/rdf+xml")
    f = fetcher()
    for path, name in (("/rss2", "rss2.xml"), ("/atom", "atom.xml"), ("/rss1", "rss1.xml")):
        got = f.fetch(feed_server.url(path), allow_private=True)
        assert got.status == 200 and got.body == (FEEDS / name).read_bytes()
    (request,) = feed_server.hits("/rss2")
    assert request.headers["user-agent"] == UA
    assert "gzip" in request.headers["accept-encoding"]
    assert "application/rss+xml" in request.headers["accept"]


def test_gzip_is_decoded(feed_server: FeedServer) -> None:
    body = (FEEDS / "rss2.xml").read_bytes()
    feed_server.routes["/gz"] = Reply(200, gzip.compress(body), {"Content-Encoding": "gzip"})
    assert fetcher().fetch(feed_server.url("/gz"), allow_private=True).body == body


def test_conditional_get_costs_a_304(feed_server: FeedServer) -> None:
    body = (FEEDS / "rss2.xml").read_bytes()

    def answer(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"'})
        return Reply(200, body, {"ETag": '"v1"', "Last-Modified": "Mon, 02 Mar 2026 10:00:00 GMT"})

    feed_server.routes["/feed"] = answer
    f = fetcher()
    first = f.fetch(feed_server.url("/feed"), allow_private=True)
    assert (first.status, first.etag, first.last_modified) == (
        200,
        '"v1"',
        "Mon, 02 Mar 2026 10:00:00 GMT",
    )
    second = f.fetch(
        feed_server.url("/feed"),
        allow_private=True,
        etag=first.etag,
        last_modified=first.last_modified,
    )
    assert second.not_modified and second.body == b""
    sent = feed_server.hits("/feed")[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Mon, 02 Mar 2026 10:00:00 GMT"


def test_http_errors_carry_their_status(feed_server: FeedServer) -> None:
    feed_server.routes["/broken"] = Reply(500, b"oops")
    with pytest.raises(FetchError, match="HTTP 500") as info:
        fetcher().fetch(feed_server.url("/broken"), allow_private=True)
    assert info.value.status == 500
    with pytest.raises(FetchError, match="HTTP 404"):
        fetcher().fetch(feed_server.url("/missing"), allow_private=True)


def test_a_slow_server_times_out(feed_server: FeedServer) -> None:
    feed_server.routes["/slow"] = Reply(200, b"<rss/>", delay=5.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetcher(read_timeout=0.5).fetch(feed_server.url("/slow"), allow_private=True)
    assert time.monotonic() - started < 3


def test_a_dripping_body_hits_the_deadline(feed_server: FeedServer) -> None:
    body = (FEEDS / "rss2.xml").read_bytes()
    feed_server.routes["/drip"] = Reply(200, body, drip=0.3, chunk=16)
    started = time.monotonic()
    with pytest.raises(FetchError, match="gave up after 1s"):
        fetcher(read_timeout=1.0, deadline=1.0).fetch(feed_server.url("/drip"), allow_private=True)
    assert time.monotonic() - started < 3


def test_redirects_are_followed(feed_server: FeedServer) -> None:
    feed_server.serve_file("/new", "rss2.xml")
    feed_server.routes["/old"] = Reply(301, b"", {"Location": "/new"})
    got = fetcher().fetch(feed_server.url("/old"), allow_private=True)
    assert got.status == 200 and got.url == feed_server.url("/new")


def test_a_redirect_loop_is_refused(feed_server: FeedServer) -> None:
    feed_server.routes["/a"] = Reply(302, b"", {"Location": "/b"})
    feed_server.routes["/b"] = Reply(302, b"", {"Location": "/a"})
    with pytest.raises(FetchError, match="redirect loop"):
        fetcher().fetch(feed_server.url("/a"), allow_private=True)
    assert len(feed_server.hits("/a")) == 1 and len(feed_server.hits("/b")) == 1


def test_too_many_redirects(feed_server: FeedServer) -> None:
    for n in range(10):
        feed_server.routes[f"/r{n}"] = Reply(307, b"", {"Location": f"/r{n + 1}"})
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetcher(max_redirects=3).fetch(feed_server.url("/r0"), allow_private=True)
    assert not feed_server.hits("/r4")


def test_a_redirect_to_another_scheme_is_refused(feed_server: FeedServer) -> None:
    feed_server.routes["/evil"] = Reply(302, b"", {"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError, match="only http and https"):
        fetcher().fetch(feed_server.url("/evil"), allow_private=True)


def test_a_body_over_the_cap(feed_server: FeedServer) -> None:
    big = b"<rss>" + b" " * 200_000 + b"</rss>"
    feed_server.routes["/declared"] = Reply(200, big)  # with Content-Length
    feed_server.routes["/chunked"] = Reply(200, big, drip=0.001, chunk=65536)  # without
    for path in ("/declared", "/chunked"):
        with pytest.raises(FetchError, match="100,000"):
            fetcher(max_bytes=100_000).fetch(feed_server.url(path), allow_private=True)


def test_a_gzip_bomb_stops_at_the_cap(feed_server: FeedServer) -> None:
    bomb = gzip_bomb(300_000_000)
    feed_server.routes["/bomb"] = Reply(200, bomb, {"Content-Encoding": "gzip"})
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"over 1,000,000 bytes \(decoded\)"):
        fetcher(max_bytes=1_000_000).fetch(feed_server.url("/bomb"), allow_private=True)
    assert time.monotonic() - started < 5


def test_an_encoding_we_did_not_ask_for(feed_server: FeedServer) -> None:
    feed_server.routes["/br"] = Reply(200, b"\x00\x01", {"Content-Encoding": "br"})
    with pytest.raises(FetchError, match="was not asked for"):
        fetcher().fetch(feed_server.url("/br"), allow_private=True)


def test_a_loopback_feed_is_refused_unless_allowed(feed_server: FeedServer) -> None:
    feed_server.serve_file("/feed", "rss2.xml")
    with pytest.raises(FetchError, match=r"127\.0\.0\.1 is a loopback address"):
        fetcher().fetch(feed_server.url("/feed"), allow_private=False)
    assert feed_server.requests == []  # not even robots.txt was asked for


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("http://127.0.0.2:{port}/feed", "127.0.0.2 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        (
            "http://intranet.test:{port}/feed",
            "intranet.test resolves to 10.20.30.40 is a private address",
        ),
        ("http://[::ffff:10.0.0.1]/", "private address"),
        ("http://0.0.0.0:{port}/feed", "unspecified address"),
    ],
)
def test_a_redirect_to_a_private_address_is_refused(
    feed_server: FeedServer, target: str, why: str
) -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["10.20.30.40"] if host == "intranet.test" else system_resolver(host, port)

    location = target.format(port=feed_server.port)
    feed_server.routes["/start"] = Reply(302, b"", {"Location": location})
    trusted = (ipaddress.ip_network("127.0.0.1/32"),)
    f = Fetcher(
        FetchLimits(user_agent=UA, host_delay=0, allowed_networks=trusted), resolver=resolver
    )
    with pytest.raises(FetchError, match=f"refused \\(redirect hop 1\\): .*{why}"):
        f.fetch(feed_server.url("/start"), allow_private=False)
    assert [r.path for r in feed_server.requests] == ["/robots.txt", "/start"]


def test_robots_txt_is_obeyed_and_cached(feed_server: FeedServer) -> None:
    feed_server.routes["/robots.txt"] = Reply(
        200, b"User-agent: finsent-test\nDisallow: /members/\n", {"Content-Type": "text/plain"}
    )
    feed_server.serve_file("/public.rss", "rss2.xml")
    feed_server.serve_file("/members/feed.rss", "rss2.xml")
    f = fetcher()
    f.fetch(feed_server.url("/public.rss"), allow_private=True)
    f.fetch(feed_server.url("/public.rss"), allow_private=True)
    with pytest.raises(FetchError, match=r"disallowed by robots\.txt"):
        f.fetch(feed_server.url("/members/feed.rss"), allow_private=True)
    assert len(feed_server.hits("/robots.txt")) == 1
    assert not feed_server.hits("/members/feed.rss")


def test_a_failing_robots_txt_disallows(feed_server: FeedServer) -> None:
    feed_server.routes["/robots.txt"] = Reply(503, b"busy")
    feed_server.serve_file("/feed", "rss2.xml")
    with pytest.raises(FetchError, match=r"disallowed by robots.txt: HTTP 503"):
        fetcher().fetch(feed_server.url("/feed"), allow_private=True)
    assert not feed_server.hits("/feed")


def test_one_request_at_a_time_per_host_with_a_delay(feed_server: FeedServer) -> None:
    import threading

    feed_server.routes["/a"] = Reply(200, (FEEDS / "rss2.xml").read_bytes(), delay=0.3)
    f = fetcher(host_delay=0.5)
    threads = [
        threading.Thread(
            target=f.fetch, args=(feed_server.url("/a"),), kwargs={"allow_private": True}
        )
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts = sorted(r.at for r in feed_server.hits("/a"))
    assert len(starts) == 3
    # each request waits for the previous to end (0.3 s) plus the delay (0.5 s)
    assert all(b - a >= 0.75 for a, b in itertools.pairwise(starts))


# --- one deadline over every wait of a fetch ------------------------------------------

DRIBBLE = Reply(200, b"<rss/>", {"Content-Type": "application/rss+xml"}, header_drip=0.05)


def test_headers_dribbled_a_byte_at_a_time_hit_the_deadline(feed_server: FeedServer) -> None:
    # ~140 header bytes at 0.05 s each: no single read waits 1 s, the whole takes 7 s
    feed_server.routes["/dribble"] = DRIBBLE
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"gave up after 1\.5s"):
        fetcher(read_timeout=1.0, deadline=1.5).fetch(
            feed_server.url("/dribble"), allow_private=True
        )
    assert time.monotonic() - started < 2.5


def test_a_dribbling_robots_txt_is_under_the_same_deadline(feed_server: FeedServer) -> None:
    feed_server.routes["/robots.txt"] = DRIBBLE
    feed_server.serve_file("/feed", "rss2.xml")
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"robots\.txt unreachable: gave up after 1\.5s"):
        fetcher(read_timeout=1.0, deadline=1.5).fetch(feed_server.url("/feed"), allow_private=True)
    assert time.monotonic() - started < 2.5
    assert not feed_server.hits("/feed")


def test_a_slow_feed_holds_its_host_only_until_the_others_deadline(
    feed_server: FeedServer,
) -> None:
    import threading

    feed_server.routes["/dribble"] = DRIBBLE
    feed_server.serve_file("/fast", "rss2.xml")
    f = fetcher(read_timeout=1.0, deadline=1.5)
    f.fetch(feed_server.url("/fast"), allow_private=True)  # robots.txt is cached

    def slow_fetch() -> None:
        with pytest.raises(FetchError, match="gave up after"):
            f.fetch(feed_server.url("/dribble"), allow_private=True)

    slow = threading.Thread(target=slow_fetch)
    slow.start()
    time.sleep(0.3)  # the slow one holds the host's turn
    started = time.monotonic()
    got = f.fetch(feed_server.url("/fast"), allow_private=True)  # after the slow one's end
    assert got.status == 200 and time.monotonic() - started < 1.5
    slow.join(timeout=5)
    assert not slow.is_alive()


def test_a_stop_ends_a_fetch_in_flight_at_once(feed_server: FeedServer) -> None:
    import threading

    feed_server.routes["/dribble"] = DRIBBLE
    feed_server.routes["/robots.txt"] = Reply(404)
    stop = threading.Event()
    f = Fetcher(
        FetchLimits(user_agent=UA, host_delay=0.0, read_timeout=60.0, deadline=60.0), stop=stop
    )
    errors: list[Exception] = []

    def run() -> None:
        try:
            f.fetch(feed_server.url("/dribble"), allow_private=True)
        except FetchError as e:
            errors.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    wait_for = time.monotonic() + 5
    while not feed_server.hits("/dribble") and time.monotonic() < wait_for:
        time.sleep(0.05)
    time.sleep(0.3)  # inside the headers
    stopped_at = time.monotonic()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive() and time.monotonic() - stopped_at < 1.0
    assert [str(e) for e in errors] == ["stopping"]


# --- a feed's grant holds for its own requests and redirects, on its own ports ----------


def test_an_allowed_network_is_granted_only_to_the_feeds_in_it(
    feed_server: FeedServer, second_loopback: FeedServer
) -> None:
    # both networks are allowed, the feed's URL is in the first: the second is not its
    second_loopback.serve_file("/feed", "rss2.xml")
    feed_server.routes["/start"] = Reply(302, b"", {"Location": second_loopback.url("/feed")})
    trusted = tuple(ipaddress.ip_network(n) for n in ("127.0.0.1/32", "127.0.0.2/32"))
    f = fetcher(allowed_networks=trusted)
    with pytest.raises(
        FetchError, match=r"refused \(redirect hop 1\): 127\.0\.0\.2 is a loopback address"
    ):
        f.fetch(feed_server.url("/start"), allow_private=False)
    assert second_loopback.requests == []
    # the feed whose URL is in the second network is granted that one
    got = f.fetch(second_loopback.url("/feed"), allow_private=False)
    assert got.status == 200


@pytest.mark.parametrize("private", [True, False], ids=["allow_private", "allowed-network"])
def test_a_redirect_to_another_port_of_a_granted_host_is_refused(
    feed_server: FeedServer, other_server: FeedServer, private: bool
) -> None:
    other_server.serve_file("/db", "rss2.xml")  # a database listening next to the feeds
    feed_server.routes["/start"] = Reply(302, b"", {"Location": other_server.url("/db")})
    f = fetcher(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    with pytest.raises(
        FetchError,
        match=rf"refused \(redirect hop 1\): .*port {other_server.port} is not one of the "
        rf"feed's ports \({feed_server.port}\); list it in allow_ports",
    ):
        f.fetch(feed_server.url("/start"), allow_private=private)
    assert other_server.requests == []  # not even its robots.txt
    # the feed lists the port: its redirects may go there
    got = f.fetch(
        feed_server.url("/start"), allow_private=private, allow_ports=(other_server.port,)
    )
    assert got.status == 200 and got.url == other_server.url("/db")


def test_a_feed_outside_the_allowed_networks_is_granted_nothing(feed_server: FeedServer) -> None:
    # 127.0.0.1 is not in the allowed network, so the feed is granted nothing: its
    # allow_ports opens no port of a private address, its redirect into loopback is refused
    feed_server.routes["/start"] = Reply(302, b"", {"Location": feed_server.url("/feed")})
    f = fetcher(allowed_networks=(ipaddress.ip_network("10.0.0.0/8"),))
    with pytest.raises(FetchError, match=r"127\.0\.0\.1 is a loopback address \(set allow_priv"):
        f.fetch(feed_server.url("/start"), allow_private=False, allow_ports=(feed_server.port,))
