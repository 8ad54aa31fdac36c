"""Built-in transform for WooCommerce webhook deliveries (what the agent sees: docs/vendors.md).

WooCommerce POSTs the REST API (wc/v3) resource as the body and names what happened in headers:
``X-WC-Webhook-Topic: order.updated`` and ``X-WC-Webhook-Source: https://shop.example/``. A
producer keeps them as Kafka headers, or wraps the body as ``{"topic": …, "source": …,
"payload": {…}}``. Without the source, the resource's own ``_links`` name the store; a webhook
still on the legacy REST API sends ``{"order": {…}}`` with older field names, read as wc/v3's;
action webhooks (``action.*``: a hook's name and argument) are filtered saying so.

=================  ====================================================  =====================
topic              name                                                  actor
=================  ====================================================  =====================
order.created      Order #727 placed (created, when not via checkout)    customer / the shop
order.updated      one per status: Order #727 processing / on hold /     the shop
                   completed / cancelled / payment failed / refunded;
                   and the newest partial refund: Order #723 partly
                   refunded
customer.created   no activity: Links only (teaches the directory)
customer.updated   no activity: Links only
=================  ====================================================  =====================

order.updated fires for every change and a pure function cannot know the previous state, so each
status is keyed ``woocommerce:order:<id>:<status>`` and each refund ``woocommerce:refund:<id>``:
the idempotency ledger shows each fact once however many updates repeat it (within the ledger's
``ttl_s``). Statuses that tell an agent nothing (pending payment, drafts, trash) are
``Filtered("status_not_shown")``. A refund summary in the order carries no date of its own: it is
dated by the update that first carries it (``date_modified_gmt``), and only the newest refund
(WooCommerce lists them newest first) is reported, since older ones came with earlier updates.

Contact: the order's billing email, else its billing phone (WooCommerce's checkout asks the buyer
for both as their own details; the shipping address's phone is never used). Without either, the
activity names ``woocommerce:order:<id>`` and ``woocommerce:customer:<id>`` (not for guests,
whose ``customer_id`` is 0) for the contact directory to resolve; every delivery returns the
Links it teaches (the order and the customer → the billing email/phone).

Times: the ``*_gmt`` fields (UTC without a zone suffix, by WooCommerce's definition); the local
ones are never guessed at. Amounts are decimal strings in the order's ``currency``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from transforms._envelope import clip, humanize, ident, json_kind
from transforms._sniff import misrouted
from transforms.activity import Activity, ActivityObject, Actor, Contact, Link, Source
from transforms.contract import clean_text, vendor_ref
from transforms.event import EventMeta, Filtered, Transform, TransformError
from transforms.money import money, parse_amount
from transforms.timefmt import parse_time

__all__ = ["MAX_ITEMS", "WooCommerceConfig", "configure", "woocommerce_activity"]

MAX_ITEMS = 10
_MAX_ID = 255
_ZONED = re.compile(r"(?:[Zz]|[+-]\d\d:?\d\d)$")
_NOT_SHOWN = ("pending", "checkout-draft", "draft", "auto-draft", "trash")
# status -> (name suffix, what happened: completes "Order #727 (29.35 USD) …")
_STATUSES: dict[str, tuple[str, str]] = {
    "processing": ("processing", "is being prepared"),
    "on-hold": ("on hold", "is on hold, awaiting payment"),
    "completed": ("completed", "was completed"),
    "cancelled": ("cancelled", "was cancelled"),
    "failed": ("payment failed", "could not be paid: the payment failed or was declined"),
    "refunded": ("refunded", "was refunded in full"),
}


@dataclass(frozen=True, slots=True)
class WooCommerceConfig:
    """``topic``: a fixed topic for a Kafka topic that carries one kind. ``topic_header`` /
    ``source_header``: the headers WooCommerce's became. ``topic_field`` / ``payload_field`` /
    ``source_field``: the envelope's field names. ``store_url``: the shop's address, for admin
    links when deliveries don't say. ``source_name``: how the timeline names the source."""

    topic: str | None = None
    topic_header: str = "X-WC-Webhook-Topic"
    source_header: str = "X-WC-Webhook-Source"
    topic_field: str = "topic"
    payload_field: str = "payload"
    source_field: str = "source"
    store_url: str | None = None
    source_name: str = "WooCommerce"

    def __post_init__(self) -> None:
        if self.topic is not None and self.topic.strip().lower() not in _BUILDERS:
            raise ValueError(f"woocommerce.configure(topic={self.topic!r}): known topics are "
                             + ", ".join(sorted(_BUILDERS)))


def configure(**options: Any) -> Transform:
    """A WooCommerce transform with these options (WooCommerceConfig's fields, by keyword)."""
    config = WooCommerceConfig(**options)

    def woocommerce_events(event: Any, meta: EventMeta) -> list[Activity | Link] | Filtered:
        return _activities(event, meta, config)

    woocommerce_events.config = config  # type: ignore[attr-defined]  # for tests and tools
    return woocommerce_events


@dataclass(frozen=True, slots=True)
class _Delivery:
    topic: str
    body: dict[str, Any]
    store: str | None  # "https://shop.example/"
    meta: EventMeta
    config: WooCommerceConfig

    @property
    def host(self) -> str | None:
        return urlsplit(self.store).hostname if self.store else None

    @property
    def source(self) -> Source:
        return Source(name=self.config.source_name, id=self.host or self.meta.topic)

    def system(self) -> Actor:
        """The shop: its host name when the delivery says which store it is, else the source's
        name ("WooCommerce"); never the Kafka topic, which names no shop."""
        return Actor(id=self.host or self.config.source_name.lower(),
                     name=self.host or self.config.source_name, type="system")

    def admin(self, order_id: str) -> str | None:
        # the classic order edit screen (post.php); whether a store on HPOS order storage
        # redirects it to its own page is not verified here
        return f"{self.store}wp-admin/post.php?post={order_id}&action=edit" if self.store else None


def _activities(event: Any, meta: EventMeta, config: WooCommerceConfig) -> list[Activity | Link] | Filtered:
    if not isinstance(event, dict):
        raise TransformError("not a WooCommerce delivery: expected a JSON object "
                             f"(got {json_kind(event)})")
    body, topic, store = _unwrap(event, meta, config)
    if not topic:
        if set(body) == {"webhook_id"}:  # the ping WooCommerce sends when a webhook is saved
            return Filtered("event_type_not_shown", "woocommerce: a webhook ping")
        raise TransformError(
            f"not a WooCommerce delivery: no topic: expected the {config.topic_header} header or "
            f"an envelope {{\"{config.topic_field}\": …, \"{config.payload_field}\": {{…}}}}; for "
            "a Kafka topic that carries one kind, use woocommerce.configure(topic=…)")
    topic = topic.strip().lower()
    build = _BUILDERS.get(topic)
    if build is None:
        return _not_shown(topic)
    store = config.store_url or meta.header(config.source_header) or store or _linked_store(body)
    return build(_Delivery(topic, body, _store_root(store), meta, config))


def _unwrap(event: dict[str, Any], meta: EventMeta,
            config: WooCommerceConfig) -> tuple[dict[str, Any], str | None, str | None]:
    """The resource, the topic and the store an envelope names. Another vendor's payload is a
    misrouted topic; the legacy REST API's ``{"order": {…}}`` is read as the order."""
    body, topic, store = event, config.topic or meta.header(config.topic_header), None
    wrapped = event.get(config.payload_field)
    if isinstance(wrapped, dict) and config.topic_field in event:
        body, store = wrapped, _str(event, config.source_field)
        topic = topic or _str(event, config.topic_field)
    if (foreign := misrouted(body, "woocommerce", "a WooCommerce delivery")) is not None:
        raise TransformError(foreign)
    return _legacy(body), topic, store


def _not_shown(topic: str) -> Filtered:
    if topic.startswith("action."):
        return Filtered("event_type_not_shown",
                        f"woocommerce: {clip(topic, 100)} is an action webhook (a WordPress "
                        "hook's name and argument, not an order or customer): not shown on the "
                        "timeline; subscribe the webhook to an order.* or customer.* topic")
    return Filtered("event_type_not_shown",
                    f"woocommerce: topic {clip(topic, 100)} is not shown on the timeline")


def _store_root(store: str | None) -> str | None:
    """``https://shop.example/`` from any address of the store; None when it is not one."""
    if store is None:
        return None
    parts = urlsplit(store)
    ok = parts.scheme in ("http", "https") and parts.hostname
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/" if ok else None


def _linked_store(body: dict[str, Any]) -> str | None:
    """The store's address from the resource's own REST links (``_links.self[0].href``, e.g.
    ``https://shop.example/wp-json/wc/v3/orders/727``): what a delivery without the
    X-WC-Webhook-Source header still says about where it came from."""
    links = _list(_obj(body, "_links"), "self")
    href = _str(links[0], "href") if links and isinstance(links[0], dict) else None
    if not href or "/wp-json/" not in href:
        return None
    return href.split("/wp-json/", 1)[0] + "/"


# The legacy REST API (WooCommerce before 2.6 and webhooks still set to "Legacy API v3") wraps the
# resource as {"order": {…}} / {"customer": {…}} with older field names; read as their wc/v3 names.
_LEGACY_FIELDS = {"order_number": "number", "billing_address": "billing",
                  "created_at": "date_created_gmt", "updated_at": "date_modified_gmt",
                  "completed_at": "date_completed_gmt"}


def _legacy(body: dict[str, Any]) -> dict[str, Any]:
    if len(body) != 1:
        return body
    [(kind, inner)] = body.items()
    if kind not in ("order", "customer") or not isinstance(inner, dict):
        return body
    resource: dict[str, Any] = {_LEGACY_FIELDS.get(str(key), str(key)): value
                                for key, value in inner.items()}
    payment = _obj(inner, "payment_details")
    if "payment_method_title" not in resource and (title := _str(payment, "method_title")):
        resource["payment_method_title"] = title
    return resource


# ---- orders -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Order:
    id: str
    label: str  # "#727"
    currency: str | None
    total: Decimal | None
    status: str
    contact: Contact
    customer: Actor
    customer_name: str | None
    links: list[Link]
    body: dict[str, Any]

    def shown(self, amount: Decimal | None = None) -> str | None:
        value = self.total if amount is None else amount
        return money(value, self.currency) if value is not None and self.currency else None


def _read_order(d: _Delivery) -> _Order:
    body = d.body
    order_id = _order_id(d)
    status = _order_status(d, order_id)
    number = _str(body, "number") or order_id
    billing = _obj(body, "billing")
    customer_id = ident(body, "customer_id", "customer_id") if body.get("customer_id") else None
    contact, links = _order_contact(billing, order_id, customer_id)
    full = " ".join(p for p in (_text(billing, "first_name"), _text(billing, "last_name")) if p)
    name = clip(full, 200) if full else None
    identifier = contact.identifier()
    shown = identifier[1] if identifier else None
    actor = Actor(id=customer_id or shown or contact.refs[0], name=name or shown or "Customer")
    label = clip(number if number.startswith("#") else f"#{number}", 60)
    return _Order(order_id, label, _code(body.get("currency")),
                  _amount(body, "total", f"WooCommerce order {order_id}"), status, contact, actor,
                  name, links, body)


def _order_id(d: _Delivery) -> str:
    body = d.body
    if "id" not in body or "status" not in body:
        raise TransformError(f"not a WooCommerce order: no `id`/`status` (the {d.topic} webhook "
                             "body is the REST API order)")
    order_id = ident(body, "id", "id")
    if order_id is None or len(order_id) > _MAX_ID:
        raise TransformError(f"WooCommerce {d.topic}: id {body.get('id')!r:.40} is not an order id")
    return order_id


def _order_status(d: _Delivery, order_id: str) -> str:
    status = _str(d.body, "status")
    # WordPress post statuses are slugs of at most 20 characters
    if status is None or len(status) > 40 or clean_text(status) != status:
        raise TransformError(f"WooCommerce {d.topic} order {order_id}: status "
                             f"{d.body.get('status')!r:.40} is not an order status slug")
    return status


def _order_contact(billing: dict[str, Any], order_id: str,
                   customer_id: str | None) -> tuple[Contact, list[Link]]:
    """The billing email/phone, else the order's and customer's refs; and the Links the order
    teaches (both refs → the email/phone, else the order → its customer)."""
    contact = Contact(email=_contact_detail(billing, "email"),
                      phone=_contact_detail(billing, "phone"))
    order_ref = vendor_ref("woocommerce", "order", order_id)
    customer_ref = vendor_ref("woocommerce", "customer", customer_id)
    if contact.identifier() is not None:
        return contact, [Link(ref, contact=contact) for ref in (order_ref, customer_ref) if ref]
    links = [Link(order_ref, alias_of=customer_ref)] if order_ref and customer_ref else []
    return Contact(refs=tuple(r for r in (order_ref, customer_ref) if r)), links


def _summary(order: _Order, status: str) -> dict[str, Any]:
    context: dict[str, Any] = {"Order number": order.label, "Status": status}
    if total := order.shown():
        context["Total"] = total
    if method := _text(order.body, "payment_method_title"):
        context["Payment method"] = clip(method, 100)
    context["Order ID"] = order.id
    return context


def _items(order: _Order, context: dict[str, Any]) -> int:
    lines = [line for line in _list(order.body, "line_items") if isinstance(line, dict)]
    units = 0
    described: dict[str, Any] = {}
    for line in lines:
        quantity = line.get("quantity")
        quantity = quantity if isinstance(quantity, int) and 0 <= quantity < 10**9 else 1
        units += quantity
        if len(described) < MAX_ITEMS:
            entry: dict[str, Any] = {"Item name": clip(_text(line, "name") or "Item", 200),
                                     "Quantity": quantity}
            price = _amount(line, "price", None)
            if price is not None and order.currency:
                entry["Price"] = money(price, order.currency)
            if sku := _str(line, "sku"):
                entry["SKU"] = clip(sku, 100)
            described[f"Item {len(described) + 1}"] = entry
    if len(lines) > MAX_ITEMS:
        described["More"] = f"and {len(lines) - MAX_ITEMS} more"
    if lines:
        context["Items"] = units
        context["Item description"] = described
    return units


def _activity(d: _Delivery, order: _Order, name: str, description: str, actor: Actor,
              context: dict[str, Any], when: datetime, key: str) -> Activity:
    return Activity(name=name, contact=order.contact, actor=actor, source=d.source,
                    timestamp=when, description=description,
                    object=ActivityObject("order", order.id, d.admin(order.id)),
                    context=context, key=key)


def _created(d: _Delivery) -> list[Activity | Link]:
    order = _read_order(d)
    context = _summary(order, humanize(order.status))
    units = _items(order, context)
    total = f" for {order.shown()}" if order.total is not None and order.currency else ""
    count = f" ({units} item{'' if units == 1 else 's'})" if units else ""
    via = _str(order.body, "created_via")
    # only a checkout is the customer's own doing; an order made in the admin or by the API is
    # the shop's, whoever it is for
    if via in (None, "checkout", "store-api"):
        who = order.customer_name or "The customer"
        activity = _activity(d, order, f"Order {order.label} placed",
                             f"{who} placed order {order.label}{total}{count}.", order.customer,
                             context, _when(d, "date_created_gmt"),
                             f"woocommerce:order:{order.id}:placed")
    else:
        context["Created via"] = clip(humanize(via), 60)
        activity = _activity(d, order, f"Order {order.label} created",
                             f"Order {order.label}{total}{count} was created by the shop "
                             f"({clip(humanize(via), 60)}).", d.system(), context,
                             _when(d, "date_created_gmt"), f"woocommerce:order:{order.id}:placed")
    return [activity, *order.links]


def _updated(d: _Delivery) -> list[Activity | Link] | Filtered:
    order = _read_order(d)
    found: list[Activity | Link] = []
    status = order.status
    if status not in _NOT_SHOWN:
        found.append(_status_activity(d, order))
    if status != "refunded" and (refund := _newest_refund(d, order)) is not None:
        found.append(refund)
    if not found and not order.links:
        return Filtered("status_not_shown", f"woocommerce: order status {clip(status, 40)} is not "
                                            "shown on the timeline")
    return [*found, *order.links]


def _status_activity(d: _Delivery, order: _Order) -> Activity:
    suffix, happened = _STATUSES.get(order.status, (clip(humanize(order.status), 60),
                                                    f"is now {clip(humanize(order.status), 60)}"))
    paid = order.status == "processing" and _paid(order.body)
    if paid:
        happened = "is paid and being prepared"
    amount = f" ({order.shown()})" if order.shown() else ""
    method = _text(order.body, "payment_method_title")
    how = f" ({clip(method, 100)})" if method and order.status in ("on-hold", "failed") else ""
    context = _summary(order, suffix)
    _items(order, context)
    when = {"completed": ("date_completed_gmt", "date_modified_gmt"),
            "processing": ("date_paid_gmt", "date_modified_gmt") if paid else ("date_modified_gmt",),
            }.get(order.status, ("date_modified_gmt",))
    return _activity(d, order, f"Order {order.label} {suffix}",
                     f"Order {order.label}{amount} {happened}{how}.", d.system(), context,
                     _when(d, *when), f"woocommerce:order:{order.id}:{order.status}")


def _paid(body: dict[str, Any]) -> bool:
    """Paid: ``date_paid_gmt`` is set, or (legacy API) ``payment_details.paid`` is true."""
    return bool(body.get("date_paid_gmt")) or _obj(body, "payment_details").get("paid") is True


def _newest_refund(d: _Delivery, order: _Order) -> Activity | None:
    refunds = [r for r in _list(order.body, "refunds") if isinstance(r, dict)]
    if not refunds:
        return None
    newest = refunds[0]
    refund_id = ident(newest, "id", "refunds[0].id")
    if refund_id is None or len(refund_id) > _MAX_ID:
        return None
    where = f"WooCommerce order {order.id} refund {refund_id}"
    # WooCommerce lists refunds with negative totals ("-10.00"): the money that went back
    back = _signed_amount(newest, "total", where)
    total_back = sum((abs(a) for r in refunds
                      if (a := _signed_amount(r, "total", where)) is not None), Decimal(0))
    context = _summary(order, "partly refunded")
    context["Refund ID"] = refund_id
    reason = _text(newest, "reason") or _text(newest, "refund")  # "refund" in the order's summary
    because = f": {clip(reason, 300).rstrip('. ')}" if reason else ""
    if back is not None and order.currency:
        context["Refunded amount"] = money(abs(back), order.currency)
        of = f" of order {order.label}" + (f" ({order.shown()})" if order.shown() else "")
        description = f"{money(abs(back), order.currency)}{of} was refunded{because}."
        if len(refunds) > 1:
            context["Refunded in total"] = money(total_back, order.currency)
            description = description[:-1] + f" ({money(total_back, order.currency)} refunded in total)."
    else:
        description = f"Part of order {order.label} was refunded{because}."
    if reason:
        context["Refund reason"] = clip(reason, 300)
    return _activity(d, order, f"Order {order.label} partly refunded", description, d.system(),
                     context, _when(d, "date_modified_gmt"), f"woocommerce:refund:{refund_id}")


# ---- customers ----------------------------------------------------------------------------------


def _customer(d: _Delivery) -> list[Activity | Link] | Filtered:
    body = d.body
    customer_id = ident(body, "id", "id") if "id" in body else None
    if customer_id is None:
        raise TransformError(f"not a WooCommerce customer: no `id` (the {d.topic} webhook body "
                             "is the REST API customer)")
    billing = _obj(body, "billing")
    contact = Contact(email=_contact_detail(body, "email") or _contact_detail(billing, "email"),
                      phone=_contact_detail(billing, "phone"))
    ref = vendor_ref("woocommerce", "customer", customer_id)
    if contact.identifier() is None or ref is None:
        return Filtered("nothing_to_learn",
                        f"woocommerce: customer {clip(customer_id, 60)} has no email or phone")
    return [Link(ref, contact=contact)]


_BUILDERS: dict[str, Callable[[_Delivery], Any]] = {
    "order.created": _created,
    "order.updated": _updated,
    "customer.created": _customer,
    "customer.updated": _customer,
}


# ---- small readers ------------------------------------------------------------------------------


def _str(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return (value.strip() or None) if isinstance(value, str) else None


def _text(obj: Any, key: str) -> str | None:
    """Text WooCommerce stores HTML-escaped (product names like "Ship Your Idea &ndash; Color:
    Black", payment method titles, refund reasons, names), as an agent should read it."""
    value = _str(obj, key)
    return (html.unescape(value).strip() or None) if value and "&" in value else value


def _contact_detail(obj: dict[str, Any], key: str) -> str | None:
    """An email/phone: a JSON string or nothing; refused (never cleaned) when it could not be
    one, because changing it would change who the activity is for."""
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise TransformError(f"WooCommerce {key}: expected a string (got {json_kind(value)})")
    value = value.strip()
    if len(value) > 254 or clean_text(value) != value:
        raise TransformError(f"WooCommerce {key} {value[:60]!r} is too long or contains control "
                             "characters; fix the producer")
    return value


def _obj(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _list(obj: Any, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _code(value: Any) -> str | None:
    ok = isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha()
    return value.upper() if ok else None


def _signed_amount(obj: dict[str, Any], key: str, where: str | None) -> Decimal | None:
    value = obj.get(key)
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        amount = parse_amount(value, f"{where}: {key}" if where else key)
    except TransformError:
        if where is None:
            return None  # an optional field (a line's price): left out
        raise
    return amount if abs(amount) < 10**15 else None


def _amount(obj: dict[str, Any], key: str, where: str | None) -> Decimal | None:
    """A non-negative amount; a negative order total is a producer bug, not an order."""
    amount = _signed_amount(obj, key, where)
    if amount is not None and amount < 0:
        if where is None:
            return None
        raise TransformError(f"{where}: {key} {obj.get(key)!r:.40} is negative")
    return amount


def _when(d: _Delivery, *keys: str) -> datetime:
    """The first of the ``*_gmt`` ``keys`` present (UTC by definition, written without a zone),
    else the Kafka message's time."""
    for key in keys:
        value = d.body.get(key)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            return parse_time(text if _ZONED.search(text) else text + "Z", key)
    if d.meta.timestamp is not None:
        return d.meta.timestamp
    raise TransformError(f"WooCommerce {d.topic} payload has none of {', '.join(keys)} and its "
                         "Kafka message has no timestamp")


woocommerce_activity = configure()
