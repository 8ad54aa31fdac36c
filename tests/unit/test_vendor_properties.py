"""Vendor payloads mutated at random never break a transform: the outcome passes ``check()``
(valid activities, each encodable once its contact is resolved, and valid Links), a Filtered with
a reason from the fixed set, or a TransformError with a reason, never any other exception.

The mutations are what older API versions and buggy producers send: keys deleted, values replaced
by null, wrong types, huge or non-ASCII strings, integers at and beyond 2**53 and 2**64.
"""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms import (
    FILTER_REASONS,
    Contact,
    EventMeta,
    TransformError,
    adyen,
    check,
    commercetools,
    encode,
    paypal,
    shopify,
    square,
    stripe,
    woocommerce,
)

VENDORS = Path(__file__).parents[1] / "fixtures" / "vendors"
SHOPIFY = sorted((VENDORS / "shopify").glob("*.json"))
STRIPE = sorted((VENDORS / "stripe").glob("*.json"))
WOOCOMMERCE = sorted((VENDORS / "woocommerce").glob("*.json"))
ADYEN = sorted((VENDORS / "adyen").glob("*.json"))
# the vendors whose payload alone says everything (no topic header or envelope)
SELF_DESCRIBING = [(path, transform) for vendor, transform in (
    ("paypal", paypal.paypal_activity), ("square", square.square_activity),
    ("commercetools", commercetools.commercetools_activity))
    for path in sorted((VENDORS / vendor).glob("*.json"))]
WOO_TOPICS = ["order.created", "order.updated", "customer.created", "order.deleted"]
TOPICS = ["orders/create", "orders/paid", "orders/cancelled", "orders/fulfilled",
          "orders/updated", "refunds/create", "checkouts/create", "orders/delete"]
SETTINGS = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

weird_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from([2**53 + 1, 2**63 - 1, 2**64 - 1, -(2**63), 0, -1, 2**70]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x2FFFF), min_size=1,
            max_size=30),
    st.just("ø" * 70_000),
    st.sampled_from(["", " ", "2024-02-30T25:00:00Z", "not a time", "usd", "XXXX", "#", "{}",
                     "customer", "fraud", "paid", "partial", "1e999", "-0.00", "NaN"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, original: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(original)
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        paths = [p for p in _paths(event) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = event
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(weird_values)
    return event


RESOLVED = Contact(email="rachel@example.com")


def _check(result: Any) -> None:
    checked = check(result)  # a ContractError here is a bug: the transform must not build it
    if checked.filtered is not None:
        assert checked.filtered.reason in FILTER_REASONS
    for activity in checked.activities:
        encode(activity.with_contact(RESOLVED) if activity.needs_contact else activity)


def _load(path: Path) -> dict[str, Any]:
    return orjson.loads(path.read_bytes())


CONFIGURED_SHOPIFY = shopify.configure(external_id="shopify:{customer_id}",
                                       shop_domain="acme.myshopify.com")
CONFIGURED_STRIPE = stripe.configure(external_id="stripe:{customer_id}")


@pytest.mark.parametrize("path", SHOPIFY, ids=lambda p: p.name)
def test_mutated_shopify_deliveries_become_activities_none_or_transform_errors(path: Path) -> None:
    original = _load(path)

    @SETTINGS
    @given(event=mutated(original), topic=st.sampled_from(TOPICS), wrap=st.booleans(),
           configured=st.booleans())
    def check(event: dict[str, Any], topic: str, wrap: bool, configured: bool) -> None:
        headers: tuple[tuple[str, bytes | None], ...] = ()
        if wrap:
            event = {"topic": topic, "shop_domain": "acme.myshopify.com", "payload": event}
        else:
            headers = (("X-Shopify-Topic", topic.encode()),)
        meta = EventMeta("shopify", 0, 1, datetime(2024, 5, 1, tzinfo=UTC), None, headers)
        transform = CONFIGURED_SHOPIFY if configured else shopify.shopify_activity
        with contextlib.suppress(TransformError):  # a reason is an allowed outcome
            _check(transform(event, meta))

    check()


@pytest.mark.parametrize("path", STRIPE, ids=lambda p: p.name)
def test_mutated_stripe_events_become_activities_none_or_transform_errors(path: Path) -> None:
    original = _load(path)

    @SETTINGS
    @given(event=mutated(original), configured=st.booleans())
    def check(event: dict[str, Any], configured: bool) -> None:
        meta = EventMeta("stripe", 0, 1, datetime(2024, 5, 1, tzinfo=UTC), None)
        transform = CONFIGURED_STRIPE if configured else stripe.stripe_activity
        with contextlib.suppress(TransformError):  # a reason is an allowed outcome
            _check(transform(event, meta))

    check()


@pytest.mark.parametrize("path", WOOCOMMERCE, ids=lambda p: p.name)
def test_mutated_woocommerce_deliveries_pass_check_filter_or_say_why(path: Path) -> None:
    original = _load(path)

    @SETTINGS
    @given(event=mutated(original), topic=st.sampled_from(WOO_TOPICS), wrap=st.booleans())
    def check_one(event: dict[str, Any], topic: str, wrap: bool) -> None:
        headers: tuple[tuple[str, bytes | None], ...] = ()
        if wrap:
            event = {"topic": topic, "source": "https://shop.example/", "payload": event}
        else:
            headers = (("X-WC-Webhook-Topic", topic.encode()),
                       ("X-WC-Webhook-Source", b"https://shop.example/"))
        meta = EventMeta("woo", 0, 1, datetime(2024, 5, 1, tzinfo=UTC), None, headers)
        with contextlib.suppress(TransformError):
            _check(woocommerce.woocommerce_activity(event, meta))

    check_one()


@pytest.mark.parametrize("path", ADYEN, ids=lambda p: p.name)
def test_mutated_adyen_notifications_pass_check_filter_or_say_why(path: Path) -> None:
    original = _load(path)

    @SETTINGS
    @given(event=mutated(original))
    def check_one(event: dict[str, Any]) -> None:
        meta = EventMeta("adyen", 0, 1, datetime(2024, 5, 1, tzinfo=UTC), None)
        with contextlib.suppress(TransformError):
            _check(adyen.adyen_activity(event, meta))

    check_one()


@pytest.mark.parametrize(("path", "transform"), SELF_DESCRIBING,
                         ids=[f"{p.parent.name}/{p.name}" for p, _ in SELF_DESCRIBING])
def test_mutated_paypal_square_and_commercetools_events_pass_check_filter_or_say_why(
        path: Path, transform: Any) -> None:
    original = _load(path)

    @SETTINGS
    @given(event=mutated(original))
    def check_one(event: dict[str, Any]) -> None:
        meta = EventMeta("t", 0, 1, datetime(2024, 5, 1, tzinfo=UTC), None)
        with contextlib.suppress(TransformError):
            _check(transform(event, meta))

    check_one()


@settings(max_examples=60, deadline=None)
@given(event=weird_values)
def test_events_that_are_not_objects_are_transform_errors_saying_so(event: Any) -> None:
    meta = EventMeta("t", 0, 0, None, None, (("x-shopify-topic", b"orders/create"),
                                             ("x-wc-webhook-topic", b"order.created")))
    for transform, vendor in ((shopify.shopify_activity, "Shopify"),
                              (stripe.stripe_activity, "Stripe"),
                              (woocommerce.woocommerce_activity, "WooCommerce"),
                              (adyen.adyen_activity, "Adyen"),
                              (paypal.paypal_activity, "PayPal"),
                              (square.square_activity, "Square"),
                              (commercetools.commercetools_activity, "commercetools")):
        with pytest.raises(TransformError, match=f"^not an? {vendor} "):
            transform(event, meta)
