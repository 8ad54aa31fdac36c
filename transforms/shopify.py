"""Built-in transform for Shopify webhook deliveries (what the agent sees: docs/vendors.md).

A delivery's body does not say what happened: its topic comes from the ``X-Shopify-Topic``
header (any case) or, when the producer wrapped the body, from the envelope
``{"topic": "orders/create", "shop_domain": "…", "payload": {…}}``. GraphQL-style topics
(``ORDERS_CREATE``) are accepted too.

================  =========================================  ===================================
topic             name                                       actor
================  =========================================  ===================================
orders/create     Order #1001 placed                         the customer
orders/paid       Order #1001 paid                           the customer
orders/cancelled  Order #1001 cancelled                      the customer when ``cancel_reason``
                                                             is "customer", else the shop
orders/fulfilled  Order #1001 shipped (fulfilled)            the shop
orders/updated    see below: zero, one or two of the above   as above
refunds/create    Order … refunded / partly refunded         the shop
checkouts/create  Checkout started                           the customer
================  =========================================  ===================================

orders/updated: Shopify sends it for every change, trivial ones included (tags, notes), and a pure
function cannot remember the previous state. So it reports only changes the payload itself dates
to this very update, i.e. whose own timestamp is within 5 seconds of the order's ``updated_at``:
``cancelled_at`` (cancelled), a refund's ``created_at`` (refunded), a fulfillment's
``created_at``/``updated_at`` (shipped). Each becomes the same activity, with the same key, as its
own topic would give, so a consumer subscribed to both sees one fact once. Anything else: None.

Contacts: the order's email (else the customer's), else the order's or customer's phone, never
an address's phone (the shipping address may be a gift's recipient, the billing one a parent).
Without either, the activity's contact is the refs the delivery names (``shopify:order:<id>``,
``shopify:customer:<id>``) for the pipeline to resolve through the contact directory. Every
delivery also returns the ``Link``s it teaches: the order → its email/phone, the customer → their
email/phone, and an order without contact details → its customer.

Amounts: every amount an agent reads is in one stated currency. Shopify sends shop-currency
fields (``total_price``, line ``price``) beside presentment-currency ones (``*_set``): the
presentment money (what the customer paid) is used when the order total and every priced line
carry it in one currency, else the shop money for all of them.

Keys name the fact, not the delivery: ``shopify:order:<id>:placed|paid|cancelled|fulfilled``,
``shopify:refund:<id>``, ``shopify:fulfillment:<id>``, ``shopify:checkout:<id>``. Order ids are
64-bit integers (above 2**53): orjson decodes them exactly and they are kept as strings.

Configuration (a factory, so the transform stays a pure function)::

    # mycompany/transforms.py, then ``transform: mycompany.transforms:shop_events``
    from transforms import shopify
    shop_events = shopify.configure(topic_field="kind", shop_domain="acme.myshopify.com",
                                    external_id="shopify:{customer_id}")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

from transforms._envelope import clip, humanize, ident, json_kind
from transforms._sniff import misrouted
from transforms.activity import Activity, ActivityObject, Actor, Contact, Link, Source
from transforms.contract import clean_text, vendor_ref
from transforms.event import EventMeta, Filtered, Transform, TransformError
from transforms.money import money, parse_amount
from transforms.timefmt import parse_time

__all__ = ["CANCEL_REASONS", "MAX_ITEMS", "ShopifyConfig", "configure", "shopify_activity"]

MAX_ITEMS = 10  # line items listed one by one; the rest are counted ("and 4 more")
SAME_UPDATE = timedelta(seconds=5)  # orders/updated: how close a change's time must be to it
_MAX_ID = 255
_HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")

CANCEL_REASONS = {  # Shopify's cancel_reason values, as the end of "was cancelled: …"
    "customer": "the customer changed or cancelled the order",
    "fraud": "the order was flagged as fraudulent",
    "inventory": "items were out of stock",
    "declined": "the payment was declined",
    "staff": "a staff error",
}


@dataclass(frozen=True, slots=True)
class ShopifyConfig:
    """How to read deliveries; every field has a default that fits Shopify's own webhooks.

    ``topic``: a fixed topic, for a Kafka topic that carries one kind of delivery only.
    ``topic_header`` / ``shop_domain_header``: the message headers Shopify's HTTP headers became.
    ``topic_field`` / ``payload_field`` / ``shop_domain_field``: the envelope's field names.
    ``shop_domain``: the ``*.myshopify.com`` domain, for admin links when deliveries don't say.
    ``external_id``: template for ``unique_external_id`` when an order has no email or phone,
    ``{customer_id}`` being the Shopify customer id; None (default) rejects such events.
    """

    topic: str | None = None
    topic_header: str = "X-Shopify-Topic"
    topic_field: str = "topic"
    payload_field: str = "payload"
    shop_domain: str | None = None
    shop_domain_header: str = "X-Shopify-Shop-Domain"
    shop_domain_field: str = "shop_domain"
    external_id: str | None = None
    source_name: str = "Shopify"

    def __post_init__(self) -> None:
        if self.external_id is not None and "{customer_id}" not in self.external_id:
            raise ValueError(
                f"shopify.configure(external_id={self.external_id!r}): the template must contain "
                "{customer_id}, e.g. 'shopify:{customer_id}'"
            )
        if self.topic is not None and _topic(self.topic) not in _BUILDERS:
            raise ValueError(f"shopify.configure(topic={self.topic!r}): known topics are "
                             + ", ".join(sorted(_BUILDERS)))


def configure(**options: Any) -> Transform:
    """A Shopify transform with these options (ShopifyConfig's fields, by keyword). Assign the
    result to a module attribute and name it by import path in the subscription file."""
    config = ShopifyConfig(**options)

    def shopify_events(event: Any, meta: EventMeta) -> list[Activity | Link] | Filtered:
        return _activities(event, meta, config)

    shopify_events.config = config  # type: ignore[attr-defined]  # for tests and tools
    return shopify_events


# ---- the delivery -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Delivery:
    topic: str
    body: dict[str, Any]
    shop: str | None  # "acme.myshopify.com"
    meta: EventMeta
    config: ShopifyConfig

    @property
    def source(self) -> Source:
        return Source(name=self.config.source_name, id=self.shop or self.meta.topic)

    def system(self) -> Actor:
        return Actor(id=self.shop or "shopify", name=self.shop or self.config.source_name,
                     type="system")

    def admin(self, section: str, object_id: str) -> str | None:
        return f"https://{self.shop}/admin/{section}/{quote(object_id, safe='')}" if self.shop \
            else None


def _activities(event: Any, meta: EventMeta, config: ShopifyConfig) -> list[Activity | Link] | Filtered:
    if not isinstance(event, dict):
        raise TransformError(f"not a Shopify delivery: expected a JSON object (got {json_kind(event)})")
    body, topic, shop = _unwrap(event, meta, config)
    build = _BUILDERS.get(topic)
    if build is None:
        return Filtered("event_type_not_shown",
                        f"shopify: topic {clip(topic, 100)} is not shown on the timeline")
    d = _Delivery(topic, body, _shop_domain(config, meta, shop, body), meta, config)
    result = build(d)
    if isinstance(result, Filtered):
        return result
    activities = result if isinstance(result, list) else [result]
    links = _links(d, body)
    if not activities and not links:
        return Filtered("no_change_to_show", f"shopify: this {d.topic} dates no change it shows "
                                             "to its own updated_at")
    return [*activities, *links]


def _unwrap(event: dict[str, Any], meta: EventMeta,
            config: ShopifyConfig) -> tuple[dict[str, Any], str, str | None]:
    """The delivery's body, its topic (normalised) and the shop domain an envelope names."""
    body, topic, shop = event, config.topic or meta.header(config.topic_header), None
    wrapped = event.get(config.payload_field)
    if isinstance(wrapped, dict) and config.topic_field in event:
        body, shop = wrapped, _str(event, config.shop_domain_field)
        topic = topic or _str(event, config.topic_field)
    if not topic:
        raise TransformError(
            f"not a Shopify delivery: no topic: expected the {config.topic_header} header or an "
            f"envelope {{\"{config.topic_field}\": …, \"{config.payload_field}\": {{…}}}}; for a "
            "Kafka topic that carries one kind, use shopify.configure(topic=…)")
    if (foreign := misrouted(body, "shopify", "a Shopify delivery")) is not None:
        raise TransformError(foreign)
    return body, _topic(topic), shop


def _shop_domain(config: ShopifyConfig, meta: EventMeta, envelope_shop: str | None,
                 body: dict[str, Any]) -> str | None:
    """The shop's domain from the options, the header, the envelope or the body; None when it
    is not a domain (no admin links rather than broken ones)."""
    shop = (config.shop_domain or meta.header(config.shop_domain_header) or envelope_shop
            or _shop_of(body))
    return shop if shop is not None and _HOSTNAME.match(shop) else None


def _topic(value: str) -> str:
    """``"ORDERS_CREATE"`` / ``" Orders/Create "`` -> ``"orders/create"``."""
    value = value.strip().lower()
    return value if "/" in value else value.replace("_", "/", 1)


def _shop_of(body: dict[str, Any]) -> str | None:
    """The shop's myshopify domain, from the order status page's address when it is one (custom
    storefront domains don't serve the admin)."""
    url = _str(body, "order_status_url")
    try:
        host = urlsplit(url).hostname if url else None
    except ValueError:
        return None
    return host if host and host.endswith(".myshopify.com") else None


# ---- what every order activity reads ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Order:
    id: str
    label: str  # "#1001"
    total: tuple[Decimal, str] | None  # (amount, currency) as the customer paid
    contact: Contact
    customer: Actor
    customer_name: str | None
    body: dict[str, Any]
    pricing: _Pricing

    def total_text(self) -> str | None:
        return money(*self.total) if self.total else None

    def who(self) -> str:
        return self.customer_name or "The customer"


def _read_order(d: _Delivery, body: dict[str, Any] | None = None) -> _Order:
    body = d.body if body is None else body
    if d.topic.startswith("checkouts/") and body.get("id") is None and body.get("token"):
        # API 2026-04 checkouts carry their token and no id
        order_id = _id(body, "token", f"Shopify {d.topic} payload")
    else:
        order_id = _id(body, "id", f"Shopify {d.topic} payload")
    name = _str(body, "name") or _str(body, "order_number") or order_id
    label = clip(name if name.startswith("#") else f"#{name}", 60)
    ref_id = None if d.topic.startswith("checkouts/") else order_id
    contact, actor, customer_name = _read_customer(d, body, ref_id)
    pricing = _pricing(body)
    return _Order(order_id, label, pricing.total, contact, actor, customer_name, body, pricing)


def _read_customer(d: _Delivery, body: dict[str, Any],
                   order_id: str | None) -> tuple[Contact, Actor, str | None]:
    """The contact, the customer as actor, and their name. Address phones are never the
    contact: the shipping address is often someone else's (a gift, a workplace)."""
    customer = _obj(body, "customer")
    customer_id = _plain_id(customer.get("id"))
    contact = _order_contact(d, body, order_id, customer_id)
    identifier = contact.identifier()
    name = _buyer_name(body)
    shown = identifier[1] if identifier else None
    actor_id = customer_id if customer_id and len(customer_id) <= _MAX_ID else (
        shown or contact.refs[0])
    return contact, Actor(id=actor_id, name=name or shown or "Customer"), name


def _order_contact(d: _Delivery, body: dict[str, Any], order_id: str | None,
                   customer_id: str | None) -> Contact:
    """The email/phone (or the configured external id), else the order's and customer's refs."""
    email, phone = _customer_details(body)
    external = None
    if d.config.external_id is not None and customer_id:
        external = d.config.external_id.replace("{customer_id}", customer_id)
    contact = Contact(email=email, phone=phone,
                      unique_external_id=_bounded(external, "external id", _MAX_ID))
    if contact.identifier() is not None:
        return contact
    refs = tuple(r for r in (vendor_ref("shopify", "order", order_id),
                             vendor_ref("shopify", "customer", customer_id)) if r)
    if not refs:
        raise TransformError(f"Shopify {d.topic} payload {_plain_id(body.get('id'))} names no "
                             "customer email, phone, order or customer id")
    return Contact(refs=refs)


def _buyer_name(body: dict[str, Any]) -> str | None:
    """The buyer's name: the customer account's, else the billing address's (who paid); never
    the shipping address's, which may be a recipient's."""
    customer = _obj(body, "customer")
    full = " ".join(p for p in (_str(customer, "first_name"), _str(customer, "last_name")) if p)
    name = _first(full or None, _str(_obj(body, "billing_address"), "name"))
    return clip(name, 200) if name else None


def _customer_details(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The order's (else the customer account's) email and phone, as strings only: a number in
    an email field is a producer bug, never an address."""
    customer = _obj(body, "customer")
    email = _first(_text(body, "email"), _text(body, "contact_email"), _text(customer, "email"))
    phone = _first(_text(body, "phone"), _text(customer, "phone"))
    return _bounded(email, "email", 254), _bounded(phone, "phone", 50)


def _links(d: _Delivery, body: dict[str, Any]) -> list[Link]:
    """What this delivery teaches the contact directory (module docstring)."""
    if d.topic == "refunds/create":
        order_id, customer = _plain_id(body.get("order_id")), _obj(body, "customer")
    else:
        order_id = None if d.topic.startswith("checkouts/") else _plain_id(body.get("id"))
        customer = _obj(body, "customer")
    email, phone = _customer_details(body)
    customer_id = _plain_id(customer.get("id"))
    links: list[Link] = []
    order_ref = vendor_ref("shopify", "order", order_id)
    customer_ref = vendor_ref("shopify", "customer", customer_id)
    if order_ref and (email or phone):
        links.append(Link(order_ref, contact=Contact(email=email, phone=phone)))
    if customer_ref:
        own_email = _bounded(_text(customer, "email"), "email", 254) or email
        own_phone = _bounded(_text(customer, "phone"), "phone", 50) or phone
        if own_email or own_phone:
            links.append(Link(customer_ref, contact=Contact(email=own_email, phone=own_phone)))
        elif order_ref and not (email or phone):
            links.append(Link(order_ref, alias_of=customer_ref))
    return links


@dataclass(frozen=True, slots=True)
class _Pricing:
    """Which of Shopify's two money sets every amount of one order is read from."""

    currency: str | None
    total: tuple[Decimal, str] | None
    presentment: bool  # True: the customer's currency (``*_set.presentment_money``)

    def line_price(self, line: dict[str, Any]) -> Decimal | None:
        if self.presentment:
            money_ = _obj(_obj(line, "price_set"), "presentment_money")
            return _amount(money_.get("amount"))
        return _amount(line.get("price"))


def _pricing(body: dict[str, Any]) -> _Pricing:
    """Presentment money when the total and every priced line carry it in one currency, else the
    shop's money for everything: never a line in one currency beside a total in another."""
    presented = _obj(_obj(body, "total_price_set"), "presentment_money")
    code, total = _code(presented.get("currency_code")), _amount(presented.get("amount"))
    lines = [line for line in _list(body, "line_items") if isinstance(line, dict)]
    if code and total is not None and all(
            _code(_obj(_obj(line, "price_set"), "presentment_money").get("currency_code")) == code
            and _amount(_obj(_obj(line, "price_set"), "presentment_money").get("amount")) is not None
            for line in lines if line.get("price") is not None):
        return _Pricing(code, (total, code), True)
    shop_code, shop_total = _code(body.get("currency")), _amount(body.get("total_price"))
    if shop_code:
        return _Pricing(shop_code, (shop_total, shop_code) if shop_total is not None else None,
                        False)
    if code and total is not None:  # no shop money at all: the presentment total alone
        return _Pricing(code, (total, code), True)
    return _Pricing(None, None, False)


def _summary(order: _Order, status: str) -> dict[str, Any]:
    context: dict[str, Any] = {"Order number": order.label, "Status": status}
    if total := order.total_text():
        context["Total"] = total
    for label, key in (("Payment status", "financial_status"),
                       ("Fulfillment status", "fulfillment_status")):
        if value := _str(order.body, key):
            context[label] = clip(humanize(value), 60)
    context["Order ID"] = order.id
    return context


def _items(lines: Any, pricing: _Pricing | None, context: dict[str, Any]) -> int:
    """Adds "Items" (units) and "Item description" (the first MAX_ITEMS lines) to ``context``,
    prices in the pricing's one currency (none shown without one)."""
    if not isinstance(lines, list):
        return 0
    lines = [line for line in lines if isinstance(line, dict)]
    units = sum(_quantity(line) for line in lines)
    described: dict[str, Any] = {f"Item {number}": _item_entry(line, pricing)
                                 for number, line in enumerate(lines[:MAX_ITEMS], start=1)}
    if len(lines) > MAX_ITEMS:
        described["More"] = f"and {len(lines) - MAX_ITEMS} more"
    if lines:
        context["Items"] = units
        context["Item description"] = described
    return units


def _quantity(line: dict[str, Any]) -> int:
    quantity = line.get("quantity")
    return quantity if isinstance(quantity, int) and 0 <= quantity < 10**9 else 1


def _item_entry(line: dict[str, Any], pricing: _Pricing | None) -> dict[str, Any]:
    name = _first(_str(line, "name"), _str(line, "title"), _str(line, "sku")) or "Item"
    entry: dict[str, Any] = {"Item name": clip(name, 200), "Quantity": _quantity(line)}
    price = pricing.line_price(line) if pricing else None
    if price is not None and pricing and pricing.currency:
        entry["Price"] = money(price, pricing.currency)
    if sku := _str(line, "sku"):
        entry["SKU"] = clip(sku, 100)
    return entry


def _activity(d: _Delivery, order: _Order, name: str, description: str, actor: Actor,
              context: dict[str, Any], when: datetime, key: str) -> Activity:
    return Activity(name=name, contact=order.contact, actor=actor, source=d.source,
                    timestamp=when, description=description,
                    object=ActivityObject("order", order.id, d.admin("orders", order.id)),
                    context=context, key=key)


# ---- the topics ---------------------------------------------------------------------------------


def _placed(d: _Delivery) -> Activity:
    order = _read_order(d)
    context = _summary(order, "placed")
    units = _items(order.body.get("line_items"), order.pricing, context)
    total = f" for {order.total_text()}" if order.total else ""
    count = f" ({units} item{'' if units == 1 else 's'})" if units else ""
    return _activity(d, order, f"Order {order.label} placed",
                     f"{order.who()} placed order {order.label}{total}{count}.", order.customer,
                     context, _when(d, order.body, "created_at", "processed_at"),
                     f"shopify:order:{order.id}:placed")


# What each topic asserts, and the payload states that agree with it. A delivery's payload is the
# order as it is when Shopify serializes it, which may already be past the fact (paid, then
# voided): the activity then says so instead of showing "paid" beside "Payment status: voided".
_AGREES = {"financial_status": ("paid",), "fulfillment_status": ("fulfilled", "partial")}
_STATE_LABELS = {"financial_status": "Payment status", "fulfillment_status": "Fulfillment status"}


def _not_contradicted(order: _Order, field: str, context: dict[str, Any]) -> str:
    """When the payload's ``field`` disagrees with the topic's fact: relabels it in ``context``
    as the state at delivery and returns a sentence saying so; else ``""``."""
    state = _str(order.body, field)
    if state in _AGREES[field]:
        return ""
    label = _STATE_LABELS[field]
    context.pop(label, None)
    shown = clip(humanize(state), 60) if state else "not set"
    context[f"{label} when Shopify sent this"] = shown
    return f" When Shopify sent this, the order's {label.lower()} was {shown}."


def _paid(d: _Delivery) -> Activity:
    order = _read_order(d)
    context = _summary(order, "paid")
    _items(order.body.get("line_items"), order.pricing, context)
    paid = f" {order.total_text()}" if order.total else ""
    note = _not_contradicted(order, "financial_status", context)
    return _activity(d, order, f"Order {order.label} paid",
                     f"{order.who()} paid{paid} for order {order.label}.{note}", order.customer,
                     context,
                     _when(d, order.body, "updated_at", "processed_at", "created_at"),
                     f"shopify:order:{order.id}:paid")


def _cancelled(d: _Delivery, order: _Order | None = None) -> Activity:
    order = order or _read_order(d)
    context = _summary(order, "cancelled")
    code = _str(order.body, "cancel_reason")
    by_customer = (code or "").lower() == "customer"
    amount = f" ({order.total_text()})" if order.total else ""
    if by_customer:
        description = f"{order.who()} cancelled order {order.label}{amount}."
    else:
        reason = CANCEL_REASONS.get((code or "").lower())
        description = f"Order {order.label}{amount} was cancelled" + (f": {reason}." if reason
                                                                      else ".")
    if code:
        context["Cancellation reason"] = clip(humanize(code), 100)
    refunded = _str(order.body, "financial_status")
    if refunded in ("refunded", "partially_refunded", "voided"):
        description += f" Payment: {humanize(refunded)}."
    _items(order.body.get("line_items"), order.pricing, context)
    return _activity(d, order, f"Order {order.label} cancelled", description,
                     order.customer if by_customer else d.system(), context,
                     _when(d, order.body, "cancelled_at", "updated_at"),
                     f"shopify:order:{order.id}:cancelled")


def _fulfilled(d: _Delivery, order: _Order | None = None,
               fulfillment: dict[str, Any] | None = None) -> Activity:
    order = order or _read_order(d)
    if fulfillment is None:
        fulfillment = next(_fulfillments(order.body), {})
    partial = _str(order.body, "fulfillment_status") == "partial"
    carrier, tracking, url = _tracking(fulfillment)
    verb = "shipped" if carrier or tracking else "fulfilled"
    verb = f"partly {verb}" if partial else verb
    context = _summary(order, verb)
    via = f" with {clip(carrier, 100)}" if carrier else ""
    number = f", tracking number {clip(tracking, 100)}" if tracking else ""
    for label, value in (("Carrier", carrier), ("Tracking number", tracking),
                         ("Tracking link", url)):
        if value:
            context[label] = clip(value, 500)
    _items(fulfillment.get("line_items") or order.body.get("line_items"),
           order.pricing, context)
    fulfillment_id = _plain_id(fulfillment.get("id"))
    key = (f"shopify:fulfillment:{fulfillment_id}" if partial and fulfillment_id
           else f"shopify:order:{order.id}:fulfilled")
    note = _not_contradicted(order, "fulfillment_status", context)
    when = (_when(d, fulfillment, "created_at", "updated_at") if fulfillment
            else _when(d, order.body, "updated_at"))
    return _activity(d, order, f"Order {order.label} {verb}",
                     f"Order {order.label} was {verb}{via}{number}.{note}", d.system(), context,
                     when, key)


def _tracking(fulfillment: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """The carrier, the tracking number and the tracking link (the first of several)."""
    carrier = _str(fulfillment, "tracking_company")
    tracking = _str(fulfillment, "tracking_number") or _first(*_strs(fulfillment, "tracking_numbers"))
    url = _str(fulfillment, "tracking_url") or _first(*_strs(fulfillment, "tracking_urls"))
    return carrier, tracking, url


def _refunded(d: _Delivery, order: _Order | None = None,
              refund: dict[str, Any] | None = None) -> Activity:
    """refunds/create carries the refund alone (its order only as ``order_id``, no customer unless
    the producer added ``email``/``customer``); orders/updated passes the order it came in."""
    refund = d.body if refund is None else refund
    refund_id = _id(refund, "id", f"Shopify {d.topic} refund")
    standalone = order is None
    if order is None:
        order = _refund_order(d, refund, refund_id)
    label = f"order {order.id}" if standalone else f"order {order.label}"
    lines = _refund_lines(refund)
    back = _refund_amount(refund, order.pricing.currency)
    partly = back is not None and order.total is not None and back[1] == order.total[1] \
        and back[0] < order.total[0]
    status = "partly refunded" if partly else "refunded"
    context = {"Order ID": order.id} if standalone else _summary(order, status)
    context["Refund ID"] = refund_id
    note = _str(refund, "note")
    if back:
        context["Refunded amount"] = money(*back)
    description = _refund_sentence(label, back, order.total if not partly else None, note)
    if note:
        context["Refund note"] = clip(note, 500)
    _items(lines, _refund_pricing(lines, back[1] if back else None), context)
    name = f"Order {status}" if standalone else f"Order {order.label} {status}"
    return _activity(d, order, name, description, d.system(), context,
                     _when(d, refund, "created_at", "processed_at"), f"shopify:refund:{refund_id}")


def _refund_order(d: _Delivery, refund: dict[str, Any], refund_id: str) -> _Order:
    """The order of a refunds/create delivery, as far as the refund names it: its id only."""
    order_id = _plain_id(refund.get("order_id"))
    if order_id is None:
        raise TransformError(f"Shopify refund {refund_id} has no order_id")
    contact, actor, name = _read_customer(d, refund, order_id)
    return _Order(order_id, order_id, None, contact, actor, name, refund,
                  _Pricing(None, None, False))


def _refund_lines(refund: dict[str, Any]) -> list[dict[str, Any]]:
    """The refunded line items (each ``refund_line_items[].line_item``)."""
    lines = [line.get("line_item") for line in _list(refund, "refund_line_items")
             if isinstance(line, dict)]
    return [line for line in lines if isinstance(line, dict)]


def _refund_sentence(label: str, back: tuple[Decimal, str] | None,
                     whole: tuple[Decimal, str] | None, note: str | None) -> str:
    """``whole`` is the order's total unless the refund is known to be partial."""
    because = f": {clip(note, 300).rstrip('. ')}" if note else ""
    if back and whole == back:
        return f"{label[:1].upper()}{label[1:]} was refunded in full ({money(*back)}){because}."
    if back:
        return f"{money(*back)} of {label} was refunded{because}."
    return f"{label[:1].upper()}{label[1:]} was refunded{because}."


def _checkout_started(d: _Delivery) -> Activity | Filtered:
    if d.body.get("completed_at"):  # it became an order: orders/create tells that story
        return Filtered("already_completed", "shopify: this checkout was completed: the order's "
                                             "own events show it")
    checkout = _read_order(d)
    context = _summary(checkout, "started, not completed")
    context.pop("Order number")
    context["Checkout ID"] = context.pop("Order ID")
    units = _items(checkout.body.get("line_items"), checkout.pricing, context)
    if link := _str(checkout.body, "abandoned_checkout_url"):
        context["Checkout link for the customer"] = clip(link, 500)
    total = f" for {checkout.total_text()}" if checkout.total else ""
    count = f" ({units} item{'' if units == 1 else 's'})" if units else ""
    return Activity(name="Checkout started", contact=checkout.contact, actor=checkout.customer,
                    source=d.source, timestamp=_when(d, checkout.body, "created_at", "updated_at"),
                    description=f"{checkout.who()} started a checkout{total}{count} and has not "
                                "completed it yet.",
                    object=ActivityObject("checkout", checkout.id,
                                          d.admin("checkouts", checkout.id)
                                          if checkout.body.get("id") is not None else None),
                    context=context, key=f"shopify:checkout:{checkout.id}")


def _updated(d: _Delivery) -> list[Activity]:
    """orders/updated: the facts this update itself made (module docstring); [] filters it."""
    order = _read_order(d)
    updated = _time(order.body, "updated_at")
    if updated is None:
        return []

    def fresh(obj: dict[str, Any], *keys: str) -> bool:
        return any((t := _time(obj, key)) is not None and abs(t - updated) <= SAME_UPDATE
                   for key in keys)

    found: list[Activity] = []
    if fresh(order.body, "cancelled_at"):
        found.append(_cancelled(d, order))
    for refund in _list(order.body, "refunds"):
        if isinstance(refund, dict) and fresh(refund, "created_at", "processed_at"):
            found.append(_refunded(d, order, refund))
    for fulfillment in _fulfillments(order.body):
        if fresh(fulfillment, "created_at", "updated_at"):
            found.append(_fulfilled(d, order, fulfillment))
            break
    return found


_BUILDERS: dict[str, Callable[[_Delivery], Any]] = {
    "orders/create": _placed,
    "orders/paid": _paid,
    "orders/cancelled": _cancelled,
    "orders/fulfilled": _fulfilled,
    "orders/updated": _updated,
    "refunds/create": _refunded,
    "checkouts/create": _checkout_started,
}


def _refund_amount(refund: dict[str, Any],
                   order_currency: str | None) -> tuple[Decimal, str] | None:
    """The money that went back: the refund's successful refund transactions, in one currency.
    A transaction without a currency (seen with ``"currency": null``) takes the one its refund
    states elsewhere (its other transactions, its lines' presentment money) or its order's."""
    fallback = _stated_currency(refund) or order_currency
    total, currency = Decimal(0), None
    for transaction in _successful_refunds(refund):
        amount = _amount(transaction.get("amount"))
        code = _code(transaction.get("currency")) or fallback
        if amount is not None and amount >= 0 and code is not None and currency in (None, code):
            total, currency = total + amount, code
    return (total, currency) if currency else None


def _stated_currency(refund: dict[str, Any]) -> str | None:
    """The first currency the refund states: a transaction's, else a line's presentment money."""
    stated = [_code(t.get("currency")) for t in _list(refund, "transactions") if isinstance(t, dict)]
    stated += [_code(_obj(_obj(line, "subtotal_set"), "presentment_money").get("currency_code"))
               for line in _list(refund, "refund_line_items")]
    return next((code for code in stated if code), None)


def _successful_refunds(refund: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for transaction in _list(refund, "transactions"):
        if isinstance(transaction, dict) and _str(transaction, "kind") == "refund" \
                and _str(transaction, "status") in (None, "success"):
            yield transaction


def _refund_pricing(lines: list[dict[str, Any]], currency: str | None) -> _Pricing:
    """Refunded lines' prices in the refund's currency: their presentment money when every one
    carries it in that currency, their plain price when none has a money set (single-currency
    shops before 2019), else no prices at all rather than a mix."""
    if currency is None:
        return _Pricing(None, None, False)
    sets = [_obj(line, "price_set") for line in lines if line.get("price") is not None]
    if sets and all(_code(_obj(s, "presentment_money").get("currency_code")) == currency
                    for s in sets):
        return _Pricing(currency, None, True)
    if not any(sets):
        return _Pricing(currency, None, False)
    return _Pricing(None, None, False)


# ---- small readers: lenient for optional fields, strict (TransformError) for essential ones ----


def _fulfillments(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Fulfillments that did not fail, newest first."""
    for item in reversed(_list(body, "fulfillments")):
        if isinstance(item, dict) and _str(item, "status") not in ("failure", "error", "cancelled"):
            yield item


def _str(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return (value.strip() or None) if isinstance(value, str) else None


def _text(obj: Any, key: str) -> str | None:
    """A string field as it came (stripped); anything else, numbers included, is None."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return (value.strip() or None) if isinstance(value, str) else None


def _strs(obj: dict[str, Any], key: str) -> list[str | None]:
    return [v.strip() or None if isinstance(v, str) else None for v in _list(obj, key)[:5]] or [None]


def _obj(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _list(obj: Any, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


def _plain_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= _MAX_ID else None


def _id(obj: dict[str, Any], key: str, what: str) -> str:
    value = ident(obj, key, key)
    if value is None:  # every Shopify resource has its id: without one this is something else
        raise TransformError(f"not a {what}: no `{key}`")
    if len(value) > _MAX_ID:
        raise TransformError(f"{key}: {len(value)} characters is too long for an id")
    return value


def _bounded(value: str | None, what: str, limit: int) -> str | None:
    """A contact detail, refused (never cleaned: that would change who) when it is too long or
    carries control characters."""
    if value is not None and len(value) > limit:
        raise TransformError(f"customer {what} is {len(value)} characters long (at most {limit})")
    if value is not None and clean_text(value) != value:
        raise TransformError(f"customer {what} {value[:60]!r} contains control or "
                             "bidirectional-override characters; fix the producer")
    return value


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = parse_amount(value)
    except TransformError:
        return None
    return amount if abs(amount) < 10**15 else None


def _code(value: Any) -> str | None:
    ok = isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha()
    return value.upper() if ok else None


def _time(obj: dict[str, Any], key: str) -> datetime | None:
    """An optional time; None when absent or unreadable."""
    value = obj.get(key)
    if value is None:
        return None
    try:
        return parse_time(value, key)
    except TransformError:
        return None


def _when(d: _Delivery, obj: dict[str, Any], *keys: str) -> datetime:
    """The time of what happened: the first of ``keys`` present (rejected when unreadable, never
    silently replaced), else the Kafka message's time."""
    for key in keys:
        if obj.get(key) is not None:
            return parse_time(obj[key], key)
    if d.meta.timestamp is not None:
        return d.meta.timestamp
    raise TransformError(f"Shopify {d.topic} payload has none of {', '.join(keys)} and its Kafka "
                         "message has no timestamp")


shopify_activity = configure()
