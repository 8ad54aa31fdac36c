import aiohttp
import httpx
import pytest

from consumer.config import RetrySettings
from consumer.delivery import backoff
from consumer.freshdesk import Answer, _transport_failure, classify

H = httpx.Headers({"X-RateLimit-Total": "700", "X-RateLimit-Remaining": "12"})


@pytest.mark.parametrize(("status", "answer"), [
    (200, Answer.DELIVERED), (400, Answer.REJECTED), (415, Answer.REJECTED),
    (401, Answer.HALT), (403, Answer.HALT), (404, Answer.HALT),
    (429, Answer.THROTTLED), (408, Answer.TRANSIENT), (500, Answer.TRANSIENT),
    (502, Answer.TRANSIENT), (503, Answer.TRANSIENT),
])
def test_each_status_maps_to_what_the_contract_says(status, answer):
    reply = classify(status, H, "{}")
    assert reply.answer is answer
    assert (reply.budget_total, reply.budget_remaining) == (700, 12)


def test_429_carries_retry_after_and_defaults_to_a_minute_without_it():
    assert classify(429, httpx.Headers({"Retry-After": "7"}), "").retry_after == 7
    assert classify(429, httpx.Headers({}), "").retry_after == 60


def test_error_bodies_are_trimmed_for_dead_letters():
    assert len(classify(400, H, "x" * 100_000).detail) == 2048


def test_backoff_grows_to_its_cap_and_jitter_only_shortens_it():
    retry = RetrySettings(initial_backoff_s=0.5, max_backoff_s=4, jitter=1.0)
    assert [backoff(n, retry, rand=lambda: 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]
    assert backoff(3, retry, rand=lambda: 0.75) == pytest.approx(0.5)
    no_jitter = RetrySettings(jitter=0)
    assert backoff(1, no_jitter, rand=lambda: 0.9) == no_jitter.initial_backoff_s


def _mapped(original: BaseException, as_: type[httpx.HTTPError]) -> httpx.HTTPError:
    """What the aiohttp transport raises: an httpx error caused by aiohttp's."""
    try:
        raise as_(str(original)) from original
    except httpx.HTTPError as e:
        return e


def test_a_dropped_connection_is_a_connection_failure_even_when_reported_as_a_timeout():
    # httpx-aiohttp maps every aiohttp.ClientConnectionError to httpx.ConnectTimeout.
    dropped = _mapped(aiohttp.ServerDisconnectedError(), httpx.ConnectTimeout)
    assert _transport_failure(dropped).startswith("connection failed: ServerDisconnectedError")


def test_a_read_timeout_is_a_timeout():
    slow = _mapped(aiohttp.SocketTimeoutError("Timeout on reading data from socket"),
                   httpx.ReadTimeout)
    assert _transport_failure(slow).startswith("timed out")
    assert _transport_failure(httpx.ReadTimeout("plain httpx")).startswith("timed out")
    assert _transport_failure(ConnectionResetError("reset")).startswith("connection failed")
