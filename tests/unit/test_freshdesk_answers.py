import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from consumer.config import RetrySettings
from consumer.delivery.answers import Answer, classify, halt_reason
from consumer.delivery.attempt import backoff
from consumer.delivery.freshdesk import failure_reply

H = {"X-RateLimit-Total": "700", "X-RateLimit-Remaining": "12"}


@pytest.mark.parametrize(("status", "answer"), [
    (200, Answer.DELIVERED), (400, Answer.REJECTED), (415, Answer.REJECTED),
    (401, Answer.HALT), (403, Answer.HALT), (404, Answer.HALT),
    (429, Answer.THROTTLED), (408, Answer.TRANSIENT), (500, Answer.TRANSIENT),
    (502, Answer.UNAVAILABLE), (503, Answer.UNAVAILABLE), (504, Answer.UNAVAILABLE),
    (301, Answer.HALT), (302, Answer.HALT), (307, Answer.HALT), (308, Answer.HALT),
])
def test_each_status_maps_to_what_the_contract_says(status, answer):
    reply = classify(status, H, "{}")
    assert reply.answer is answer
    assert (reply.budget_total, reply.budget_remaining) == (700, 12)


@pytest.mark.parametrize("headers", [
    {"x-ratelimit-total": "700", "X-RATELIMIT-REMAINING": "12", "retry-after": "7"},  # a dict
    CIMultiDictProxy(CIMultiDict({"x-ratelimit-total": "700", "X-RATELIMIT-REMAINING": "12",
                                  "retry-after": "7"})),  # what aiohttp hands over
])
def test_headers_are_read_whatever_their_case(headers):
    reply = classify(429, headers, "")
    assert (reply.budget_total, reply.budget_remaining, reply.retry_after) == (700, 12, 7)


def test_429_carries_retry_after_and_defaults_to_a_minute_without_it():
    assert classify(429, {"Retry-After": "7"}, "").retry_after == 7
    assert classify(429, {}, "").retry_after == 60
    assert classify(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, "").retry_after == 60


def test_error_bodies_are_trimmed_for_dead_letters():
    assert len(classify(400, H, "x" * 100_000).detail) == 2048


def test_backoff_grows_to_its_cap_and_jitter_only_shortens_it():
    retry = RetrySettings(initial_backoff_s=0.5, max_backoff_s=4, jitter=1.0)
    assert [backoff(n, retry, rand=lambda: 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]
    assert backoff(3, retry, rand=lambda: 0.75) == pytest.approx(0.5)
    no_jitter = RetrySettings(jitter=0)
    assert backoff(1, no_jitter, rand=lambda: 0.9) == no_jitter.initial_backoff_s


class _Key:  # what aiohttp's ClientConnectorError reads from its connection key
    host, port, ssl, is_ssl = "acme.freshdesk.com", 443, True, True


def test_a_redirect_halts_and_says_where_it_points_and_what_to_change():
    reply = classify(301, {"Location": "https://acme-new.freshdesk.com/api/v2/contact-activities"}, "")
    assert (reply.answer, reply.cause) == (Answer.HALT, "redirect")
    reason = halt_reason(reply)
    assert "https://acme-new.freshdesk.com/api/v2/contact-activities" in reason
    assert "freshdesk.domain or freshdesk.base_url" in reason


def test_a_connection_never_made_is_the_accounts_state_and_everything_else_may_have_been_sent():
    never = {aiohttp.ClientConnectorError(_Key(), ConnectionRefusedError(111, "refused")): "connection",
             aiohttp.ClientConnectorDNSError(_Key(), OSError(-2, "Name or service not known")): "dns",
             aiohttp.ClientConnectorCertificateError(_Key(), ValueError("bad cert")): "tls",
             aiohttp.ConnectionTimeoutError("connect"): "timeout"}
    maybe = [aiohttp.ServerDisconnectedError(), aiohttp.ClientOSError(104, "reset by peer"),
             aiohttp.ClientPayloadError("truncated"), aiohttp.SocketTimeoutError("read"),
             TimeoutError(), ConnectionResetError(104, "reset")]
    for e, cause in never.items():
        reply = failure_reply(e)
        assert (reply.answer, reply.sent, reply.cause) == (Answer.UNAVAILABLE, False, cause), e
    for e in maybe:
        reply = failure_reply(e)
        assert (reply.answer, reply.sent) == (Answer.TRANSIENT, True), e


def test_a_proxy_refusing_our_credentials_halts():
    url = URL("http://proxy.test:3128")
    info = aiohttp.RequestInfo(url, "CONNECT", CIMultiDictProxy(CIMultiDict()), url)
    e = aiohttp.ClientHttpProxyError(info, (), status=407, message="Proxy Authentication Required")
    reply = failure_reply(e)
    assert (reply.answer, reply.cause) == (Answer.HALT, "proxy_auth")
    assert "freshdesk.proxy" in halt_reason(reply)


def test_timeouts_are_timeouts_and_the_rest_connection_failures():
    assert failure_reply(aiohttp.ServerDisconnectedError()).detail.startswith(
        "connection failed: ServerDisconnectedError")
    assert failure_reply(aiohttp.SocketTimeoutError("Timeout on reading data")).detail.startswith(
        "timed out: SocketTimeoutError: Timeout on reading data")
    assert failure_reply(ConnectionResetError("reset")).detail.startswith("connection failed")
    # aiohttp's total timeout raises a bare TimeoutError without text: say what it means
    assert failure_reply(TimeoutError(), 10).detail == (
        "timed out: TimeoutError: no complete answer within 10s")
    assert len(failure_reply(aiohttp.ClientOSError(1, "x" * 10_000)).detail) == 2048
