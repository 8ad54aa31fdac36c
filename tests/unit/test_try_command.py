"""``activity-consumer try``: what it prints for activities, filtered and rejected events, and its
exit codes, called through a throwaway parser (the lead wires it into consumer/cli.py)."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
from pathlib import Path

import pytest

from consumer.try_command import add_parser

VENDORS = Path(__file__).parents[1] / "fixtures" / "vendors"
SHOPIFY_ORDER = VENDORS / "shopify" / "order_legacy_python-api.json"
CHECKOUT = VENDORS / "stripe" / "evt_checkout.session.completed_2020-03-02.json"
CANCELED = VENDORS / "stripe" / "evt_payment_intent.canceled_2025-05-28.basil.json"
DISPUTE = VENDORS / "stripe" / "evt_charge.dispute.created_2020-03-02.json"


def try_(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="activity-consumer")
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["try", *argv])
    out = io.StringIO()
    return args.func(args, out), out.getvalue()


def test_shopify_delivery_prints_the_activity_and_its_key() -> None:
    code, out = try_("--transform", "shopify", "--header", "X-Shopify-Topic=orders/create",
                     "-H", "X-Shopify-Shop-Domain=jsmith.myshopify.com", str(SHOPIFY_ORDER))
    assert code == 0
    assert out.startswith(f"== {SHOPIFY_ORDER}\nlearned   shopify:order:450789469 → email "
                          "bob.norman@hostmail.com\n")
    assert "\nactivity  key=shopify:order:450789469:placed\n{\n" in out
    assert '    "name": "Order #1001 placed",' in out
    assert '      "link": "https://jsmith.myshopify.com/admin/orders/450789469"' in out
    assert '    "email": "bob.norman@hostmail.com"' in out


def test_stripe_event_prints_the_activity() -> None:
    code, out = try_("-t", "stripe", str(CHECKOUT))
    assert code == 0
    assert "activity  key=stripe:evt_T8nSaZqtPudigUMqnnbY4D4v" in out
    assert '"description": "Copple completed checkout and paid 9.99 EUR."' in out


def test_filtered_event_says_why_and_exits_0() -> None:
    code, out = try_("-t", "stripe", str(CANCELED))
    assert code == 0
    assert out.endswith("filtered (event_type_not_shown): stripe: payment_intent.canceled is not "
                        "shown on the timeline\n")


def test_an_event_naming_only_a_charge_waits_for_its_contact_and_exits_0() -> None:
    code, out = try_("-t", "stripe", str(CHECKOUT), str(DISPUTE))
    assert code == 0
    assert "Checkout completed" in out
    assert ("waiting (contact unknown): waiting for the contact of "
            "stripe:ch_1IqtGAJDPojXS6LNstgEfUji, stripe:pi_1IqtG9JDPojXS6LNOGnYrIqq") in out


def test_rejected_event_prints_the_reason_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "evt_1", "object": "event", "type": "charge.succeeded", '
                   '"data": {"object": "not a charge"}}')
    code, out = try_("-t", "stripe", str(CHECKOUT), str(bad))
    assert code == 1
    assert "Checkout completed" in out  # the good one is still shown
    assert "rejected (transform): " in out


def test_json_lines_show_each_line_with_its_number(tmp_path: Path) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(b"\n".join([CHECKOUT.read_bytes().replace(b"\n", b""),
                                  b"", CANCELED.read_bytes().replace(b"\n", b"")]) + b"\n")
    code, out = try_("-t", "stripe", str(lines))
    assert code == 0
    assert f"== {lines}:1\nlearned   " in out
    assert "\nactivity  key=stripe:evt_T8nSaZqtPudigUMqnnbY4D4v" in out
    assert f"== {lines}:3\nfiltered (" in out


def test_a_line_that_is_not_json_is_rejected(tmp_path: Path) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_text('{"type": "charge.pending", "id": "evt_1"}\n{"type": \n')
    code, out = try_("-t", "stripe", str(lines))
    assert code == 1
    assert f"== {lines}:1\nfiltered (" in out
    assert f"== {lines}:2\nrejected (decode): value is not JSON:" in out


def test_stdin_is_read_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(CHECKOUT.read_bytes())))
    code, out = try_("-t", "stripe", "-")
    assert code == 0
    assert out.startswith("== <stdin>\n")
    assert "\nactivity  key=stripe:evt_T8nSaZqtPudigUMqnnbY4D4v" in out


def test_a_contract_violation_is_shown_as_rejected(tmp_path: Path) -> None:
    event = tmp_path / "e.json"
    event.write_text('{"event_id": 1, "type": "order.created", "occurred_at": 1714557600, '
                     '"customer": {"email": "rachel@example.com"}, "order": {"id": 1}}')
    code, out = try_("-t", "tests.unit.test_try_command:nameless_activity", str(event))
    assert code == 1
    assert "rejected (contract): activity.name: must be 1-255 characters (got 0)" in out


def nameless_activity(event: object, meta: object) -> object:
    """A custom transform with a bug, found by import path above: it builds an empty name."""
    from transforms.orders import order_activity

    activity = order_activity(event, meta)  # type: ignore[arg-type]
    return activity and dataclasses.replace(activity, name="")


def test_unknown_transform_and_bad_header_exit_2() -> None:
    code, out = try_("-t", "shopfiy", str(SHOPIFY_ORDER))
    assert code == 2 and "unknown transform 'shopfiy'" in out
    code, out = try_("-t", "shopify", "-H", "X-Shopify-Topic", str(SHOPIFY_ORDER))
    assert code == 2 and "expected NAME=VALUE" in out


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    code, out = try_("-t", "stripe", str(tmp_path / "nope.json"))
    assert code == 2 and "No such file" in out


def test_events_run_through_one_directory_waiting_until_a_later_event_names_the_customer(
        tmp_path: Path) -> None:
    charge, customer = tmp_path / "charge.json", tmp_path / "customer.json"
    charge.write_text('{"kind": "charge", "id": "ch_9", "customer": "cus_1"}')
    customer.write_text('{"kind": "customer", "id": "cus_1", "email": "rachel@example.com"}')
    code, out = try_("-t", "tests.unit.contact_transforms:transform",
                     str(charge), str(customer), str(charge))
    assert code == 0
    first, second, third = out.split("== ")[1:]
    assert "waiting (contact unknown): waiting for the contact of test:cus_1" in first
    assert "learned   test:cus_1 → email rachel@example.com" in second
    assert "filtered (contact_facts)" in second
    assert '"email": "rachel@example.com"' in third, "resolved through what it learned"


def test_a_contacts_file_fills_the_directory_first(tmp_path: Path) -> None:
    charge, contacts = tmp_path / "charge.json", tmp_path / "contacts.jsonl"
    charge.write_text('{"kind": "charge", "id": "ch_9", "customer": "cus_1"}')
    contacts.write_text('{"ref": "test:cus_1", "email": "monica@example.com"}\n')
    code, out = try_("-t", "tests.unit.contact_transforms:transform", "--contacts",
                     str(contacts), str(charge))
    assert code == 0 and "contacts: learned 1 links" in out
    assert '"email": "monica@example.com"' in out


def test_a_type_the_probe_filters_is_filtered_from_the_bytes_as_the_consumer_does(
        tmp_path: Path) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_text('{"type": "order.updated", "order": {"id": "o1"}}\n'
                     '{"type": "order.updated", "order": {"id": }}\n'  # not JSON after the type
                     '{"type": "order.created", "order": {"id": }}\n')
    code, out = try_("-t", "orders", str(lines))
    assert code == 1
    shown = "filtered (event_type_not_shown): orders: order.updated is not shown on the timeline"
    assert f"== {lines}:1\n{shown}\n== {lines}:2\n{shown}\n" in out, "the consumer filters both"
    assert f"== {lines}:3\nrejected (decode): value is not JSON:" in out


INPUTS = Path(__file__).parents[2] / "examples" / "inputs"


@pytest.mark.parametrize(("topic", "example"), [
    ("shop.public.orders", "debezium-orders"), ("outbox.event.order", "outbox-orders"),
    ("payments.events", "cloudevents-payments"), ("checkout.orders", "avro-orders")])
def test_try_with_a_subscription_file_runs_the_topics_format_envelope_and_mapping(topic, example):
    """`try -c FILE --topic T` runs the route `run` builds: the worked examples become what
    their expected.json says (the Avro value given as JSON: try encodes nothing)."""
    code, out = try_("-c", str(INPUTS / "subscriptions.yaml"), "--topic", topic,
                     str(INPUTS / example / "event.json"))
    assert code == 0, out
    (want,) = json.loads((INPUTS / example / "expected.json").read_text())
    key_line = f"activity  key={want['key']}\n"
    assert key_line in out, out
    body = json.loads(out.split(key_line, 1)[1])
    if example == "avro-orders":  # its mapping names the source after $topic
        want["body"]["activity"]["source"]["id"] = topic
    assert body == want["body"]


def test_try_with_a_subscription_file_names_the_topics_it_has(tmp_path: Path) -> None:
    code, out = try_("-c", str(INPUTS / "subscriptions.yaml"), "--topic", "nope", "-")
    assert code == 2 and "no subscription" in out and "outbox.event.order" in out


def test_a_file_starting_with_a_utf8_bom_is_one_json_document(tmp_path: Path) -> None:
    bom = tmp_path / "event.json"
    bom.write_bytes(b"\xef\xbb\xbf" + CHECKOUT.read_bytes())
    code, out = try_("-t", "stripe", str(bom))
    assert code == 0 and out.count("== ") == 1 and "rejected" not in out, out
    assert '"description": "Copple completed checkout and paid 9.99 EUR."' in out
