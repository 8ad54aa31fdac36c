"""Another vendor's payload on a topic subscribed to a built-in is a misrouted topic: rejected,
naming what it looks like and which built-in reads it, never settled as "filtered" (issue 22,
class 6) — neither by the transform nor by the byte probe that runs before the decode."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from transforms import BUILTIN_TRANSFORMS, EventMeta, Filtered, TransformError
from transforms.probe import probe_of, type_probe

VENDORS = Path(__file__).parents[1] / "fixtures" / "vendors"
# one real-shaped payload of each vendor, and what its transform's rejection calls it
SAMPLES = {
    "stripe": ("stripe/evt_payment_intent.canceled_2025-05-28.basil.json", "a Stripe event"),
    "adyen": ("adyen/chargeback.json", "an Adyen notification"),
    "paypal": ("paypal/capture-completed_built.json", "a PayPal webhook"),
    "square": ("square/payment.updated_completed_built.json", "a Square webhook"),
    "commercetools": ("commercetools/OrderStateChanged_confirmed_built.json",
                      "a commercetools message"),
    "shopify": ("shopify/order_2019-04_test-notification.json", "a Shopify webhook"),
    "woocommerce": ("woocommerce/order_727_completed_wp-api-v3-update.json",
                    "a WooCommerce webhook"),
}
# the topic/header each transform expects, so that only the payload is wrong
HEADERS = (("X-Shopify-Topic", b"orders/paid"), ("X-WC-Webhook-Topic", b"order.updated"))
META = EventMeta("misrouted", 0, 7, datetime(2024, 6, 1, tzinfo=UTC), None, HEADERS)
NAMES = {"stripe": "a Stripe event", "adyen": "an Adyen notification",
         "paypal": "a PayPal webhook", "square": "a Square webhook",
         "commercetools": "a commercetools message", "shopify": "a Shopify delivery",
         "woocommerce": "a WooCommerce delivery"}


def load(vendor: str) -> dict[str, Any]:
    return orjson.loads((VENDORS / SAMPLES[vendor][0]).read_bytes())


PAIRS = [(own, other) for own in NAMES for other in SAMPLES if other != own]


@pytest.mark.parametrize(("own", "other"), PAIRS, ids=[f"{o}-topic-gets-{p}" for o, p in PAIRS])
def test_a_vendor_transform_rejects_another_vendors_payload_naming_it(own: str, other: str) -> None:
    with pytest.raises(TransformError) as caught:
        BUILTIN_TRANSFORMS[own](load(other), META)
    assert str(caught.value) == (
        f"not {NAMES[own]} (looks like {SAMPLES[other][1]}): the topic is misrouted or mixes "
        f"vendors; subscribe a topic of these to '{other}'")


def test_a_square_payload_on_a_stripe_topic_was_filtered_and_is_now_rejected() -> None:
    # the case: "type": "payment.updated" is not a Stripe type, so it read as filtered
    with pytest.raises(TransformError, match=r"^not a Stripe event \(looks like a Square webhook\)"):
        BUILTIN_TRANSFORMS["stripe"](load("square"), META)


@pytest.mark.parametrize("generic", ["orders", "payments"])
@pytest.mark.parametrize("vendor", sorted(SAMPLES))
def test_the_generic_transforms_and_their_byte_probes_reject_vendor_payloads(
        generic: str, vendor: str) -> None:
    raw = (VENDORS / SAMPLES[vendor][0]).read_bytes()
    probe = probe_of(BUILTIN_TRANSFORMS[generic])
    assert probe is not None and probe(raw) is None  # unsure: the transform decides
    compact = orjson.dumps(orjson.loads(raw))
    assert probe(compact) is None
    with pytest.raises(TransformError, match=rf"this looks like {SAMPLES[vendor][1]}: subscribe "
                                             rf"the topic to '{vendor}'"):
        BUILTIN_TRANSFORMS[generic](orjson.loads(raw), META)


def test_the_probe_still_filters_generic_events_of_types_not_shown() -> None:
    raw = orjson.dumps({"event_id": "e1", "type": "order.viewed", "customer": {"email": "a@b.c"},
                        "order": {"id": "1"}})
    probe = probe_of(BUILTIN_TRANSFORMS["orders"])
    assert probe is not None
    assert probe(raw) == BUILTIN_TRANSFORMS["orders"](orjson.loads(raw), META)


def test_a_generic_event_on_a_vendor_topic_names_the_generic_schema() -> None:
    event = {"event_id": "e1", "type": "payment.failed", "customer": {"email": "a@b.c"},
             "payment": {"id": "p1", "amount": "1.00", "currency": "EUR"}}
    with pytest.raises(TransformError, match=r"^not a Square webhook \(looks like an event of the "
                                             r"generic schema .*'payments'$"):
        BUILTIN_TRANSFORMS["square"](event, META)


def test_without_its_marker_check_the_probe_would_filter_a_square_payload() -> None:
    # Square's own data.type makes the probe unsure anyway; without it (a producer that drops it),
    # only the leading merchant_id stops the probe from settling a misrouted payload as filtered
    event = load("square")
    event["data"] = {k: v for k, v in event["data"].items() if k != "type"}
    event["data"]["object"]["payment"].pop("processing_fee")
    raw = orjson.dumps(event)
    probe = probe_of(BUILTIN_TRANSFORMS["orders"])
    assert probe is not None and probe(raw) is None
    unmarked = type_probe(["order.created"], lambda kind: Filtered("event_type_not_shown", kind))
    assert unmarked(raw) == Filtered("event_type_not_shown", "payment.updated")
    with pytest.raises(TransformError, match="looks like a Square webhook"):
        BUILTIN_TRANSFORMS["orders"](event, META)


def test_a_marker_after_the_type_is_not_read_by_either_so_both_filter() -> None:
    # the generic transforms read the keys before "type", where vendors write their markers:
    # the probe, which reads the same part, agrees with the transform either way
    raw = b'{"type": "order.viewed", "merchant_id": "M", "data": {"id": "x", "object": {}}}'
    probe = probe_of(BUILTIN_TRANSFORMS["orders"])
    assert probe is not None
    assert probe(raw) == BUILTIN_TRANSFORMS["orders"](orjson.loads(raw), META) == Filtered(
        "event_type_not_shown", "orders: order.viewed is not shown on the timeline")
