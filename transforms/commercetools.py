"""Built-in transform for commercetools Messages (what the agent sees: docs/vendors.md).

A commercetools Subscription delivers each Message as ``{"notificationType": "Message",
"projectKey": …, "id": …, "resource": {"typeId": "order", "id": …}, "resourceVersion": …,
"resourceUserProvidedIdentifiers": {"orderNumber": …}, "type": "OrderCreated", "createdAt": …,
…the message's own fields}``; its Confluent Cloud destination puts exactly that on a Kafka topic.
A Message read from the Messages API (no ``notificationType``) is read the same way.

=============================  ================================================  ==============
type                           name                                              actor
=============================  ================================================  ==============
OrderCreated, OrderImported    Order 1001 placed (imported)                      the customer
OrderStateChanged              Order 1001 confirmed / completed / cancelled      the shop
OrderPaymentStateChanged       Order 1001 paid / payment failed / balance due /  the shop
                               credit owed (Pending: filtered)
PaymentTransactionAdded        Payment succeeded / failed, Payment authorised,   the customer /
                               Payment refunded, … (Initial, Pending: filtered)  the shop
PaymentTransactionStateChanged Payment transaction succeeded / failed            the shop
ReturnInfoAdded                Order 1001 return registered                      the customer
DeliveryAdded                  Order 1001 delivery created                       the shop
ParcelAddedToDelivery          Order 1001 parcel added                           the shop
CustomerCreated, PaymentCreated,
OrderPaymentAdded              no activity: Links only
=============================  ================================================  ==============

Other message types and the ResourceCreated/Updated/Deleted change notifications are filtered
(``event_type_not_shown``). A message too large for its destination arrives with
``payloadNotIncluded`` instead of its fields: ``Filtered("payload_not_included")``, counted, with
the message and its resource named so it can be read from the Messages API.

The key is ``commercetools:<message id>`` (the same on every redelivery). The time is the
message's ``createdAt`` (when the change was made), a payment transaction's own ``timestamp``
where it has one. Money is ``centAmount`` (or ``preciseAmount``) with its ``fractionDigits``,
exact.

Contact: the order's ``customerEmail``. Every other message names only its resource:
``commercetools:order:<id>``, ``commercetools:payment:<id>``; the order's messages teach the
directory that its payments belong to it and who it belongs to (its email, else its
``customerId``), ``CustomerCreated`` who a customer is, so a payment resolves payment → order →
customer, or waits for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from transforms._envelope import clip, humanize, json_kind
from transforms._sniff import misrouted
from transforms.activity import Activity, ActivityObject, Actor, Contact, Link, Source
from transforms.contract import clean_text, vendor_ref
from transforms.event import EventMeta, Filtered, Transform, TransformError
from transforms.money import currency_exponent, money
from transforms.timefmt import parse_time

__all__ = ["MAX_ITEMS", "CommercetoolsConfig", "commercetools_activity", "configure"]

MAX_ITEMS = 10
_MAX_ID = 255
_CHANGE_NOTIFICATIONS = ("ResourceCreated", "ResourceUpdated", "ResourceDeleted")
_ORDER_STATES = {"Confirmed": ("confirmed", "was confirmed"),
                 "Complete": ("completed", "was completed"),
                 "Cancelled": ("cancelled", "was cancelled"),
                 "Open": ("reopened", "is open again")}
_PAYMENT_STATES = {"Paid": ("paid", "is paid"),
                   "Failed": ("payment failed", "could not be paid: its payment failed"),
                   "BalanceDue": ("balance due", "has a balance due: it is not fully paid"),
                   "CreditOwed": ("credit owed", "was paid more than its total: the customer "
                                                 "is owed a credit")}
# transaction type -> (name on Success, on Failure, what happened on Success, on Failure)
_TRANSACTIONS: dict[str, tuple[str, str, str, str]] = {
    "Authorization": ("Payment authorised", "Authorisation failed",
                      "A payment of {amount} was authorised.",
                      "Authorising a payment of {amount} failed"),
    "CancelAuthorization": ("Authorisation cancelled", "Cancelling the authorisation failed",
                            "The authorisation of {amount} was cancelled.",
                            "Cancelling the authorisation of {amount} failed"),
    "Charge": ("Payment succeeded", "Payment failed", "Payment of {amount} succeeded.",
               "Payment of {amount} failed"),
    "Refund": ("Payment refunded", "Refund failed", "{amount} of the payment was refunded.",
               "Refunding {amount} of the payment failed"),
    "Chargeback": ("Payment charged back", "Payment charged back",
                   "The customer's bank charged back {amount} of the payment.",
                   "The customer's bank charged back {amount} of the payment"),
}


@dataclass(frozen=True, slots=True)
class CommercetoolsConfig:
    """``locale``: which language of a LocalizedString (product names) to show, the first one
    present when it is missing. ``source_name``: how the timeline names the source.
    ``merchant_center_url``: your Merchant Center's address (e.g.
    ``https://mc.europe-west1.gcp.commercetools.com``), for links to orders; None: no links."""

    locale: str = "en"
    source_name: str = "commercetools"
    merchant_center_url: str | None = None

    def __post_init__(self) -> None:
        if not self.source_name.strip():
            raise ValueError("commercetools.configure(source_name=...): must not be empty")
        url = self.merchant_center_url
        if url is not None and not url.startswith("https://"):
            raise ValueError(f"commercetools.configure(merchant_center_url={url!r}): expected "
                             "an https:// address like https://mc.europe-west1.gcp.commercetools.com")


def configure(**options: Any) -> Transform:
    """A commercetools transform with these options (CommercetoolsConfig's fields, by keyword)."""
    config = CommercetoolsConfig(**options)

    def commercetools_messages(event: Any, meta: EventMeta) -> list[Activity | Link] | Filtered:
        return _activities(event, meta, config)

    commercetools_messages.config = config  # type: ignore[attr-defined]  # for tests and tools
    return commercetools_messages


# ---- reading a message --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Message:
    raw: dict[str, Any]
    id: str
    type: str
    resource_type: str  # "order", "payment", "customer"
    resource_id: str
    timestamp: datetime
    source: Source
    project: str | None
    config: CommercetoolsConfig

    def system(self) -> Actor:
        return Actor(id=self.project or "commercetools", name=self.source.name, type="system")

    def ref(self) -> str | None:
        return vendor_ref("commercetools", self.resource_type, self.resource_id)

    def order_label(self) -> str:
        """``1001`` (the order number the customer knows), else the order's id."""
        number = _str(_obj(self.raw, "resourceUserProvidedIdentifiers"), "orderNumber")
        return clip(number or self.resource_id, 60)

    def order_link(self) -> str | None:
        base, project = self.config.merchant_center_url, self.project
        if not base or not project or self.resource_type != "order":
            return None
        return (f"{base.rstrip('/')}/{quote(project, safe='')}/orders/"
                f"{quote(self.resource_id, safe='')}")

    def where(self) -> str:
        return f"commercetools {self.type} message {clip(self.id, 60)}"


def _activities(event: Any, meta: EventMeta,
                config: CommercetoolsConfig) -> list[Activity | Link] | Filtered:
    kind = _message_type(event)
    if kind in _CHANGE_NOTIFICATIONS:
        return Filtered("event_type_not_shown",
                        f"commercetools: a {kind} change notification carries no change: "
                        "subscribe the Subscription to messages to see what happened")
    if isinstance(event.get("payloadNotIncluded"), dict):
        return _not_included(event, kind)
    build = _BUILDERS.get(kind)
    if build is None:
        return Filtered("event_type_not_shown",
                        f"commercetools: {clip(kind, 100)} is not shown on the timeline")
    return build(_read_message(event, kind, meta, config))


def _message_type(event: Any) -> str:
    if not isinstance(event, dict):
        raise TransformError("not a commercetools message: expected a JSON object "
                             f"(got {json_kind(event)})")
    if (foreign := misrouted(event, "commercetools", "a commercetools message")) is not None:
        raise TransformError(foreign)
    notification = event.get("notificationType")
    if notification in _CHANGE_NOTIFICATIONS:
        return str(notification)
    kind = event.get("type")
    if not isinstance(kind, str) or not kind.strip() or not isinstance(event.get("resource"), dict):
        raise TransformError("not a commercetools message: no `type`/`resource` (a message has a "
                             "type like \"OrderCreated\" and resource {typeId, id})")
    return kind.strip()


def _not_included(event: dict[str, Any], kind: str) -> Filtered:
    """A message too large for the Subscription's destination: commercetools leaves out its
    fields. Nothing can be shown; the operator can read it from the Messages API."""
    missing = _obj(event, "payloadNotIncluded")
    resource = _obj(event, "resource")
    return Filtered("payload_not_included",
                    f"commercetools: {clip(_str(missing, 'payloadType') or kind, 60)} message "
                    f"{clip(_str(event, 'id') or '?', 60)} of {clip(_str(resource, 'typeId') or '?', 30)} "
                    f"{clip(_str(resource, 'id') or '?', 60)} arrived without its payload "
                    f"({clip(_str(missing, 'reason') or 'no reason given', 100)}); read it from "
                    "the Messages API")


def _read_message(event: dict[str, Any], kind: str, meta: EventMeta,
                  config: CommercetoolsConfig) -> _Message:
    message_id = _id(event, "id")
    if message_id is None:
        raise TransformError(f"commercetools {kind} message has no id")
    resource = _obj(event, "resource")
    resource_type, resource_id = _str(resource, "typeId"), _id(resource, "id")
    if not resource_type or not resource_id:
        raise TransformError(f"commercetools {kind} message {message_id}: resource needs "
                             "typeId and id")
    project = _id(event, "projectKey")
    source = Source(name=config.source_name, id=project or meta.topic)
    return _Message(event, message_id, kind, resource_type, resource_id,
                    _when(event, meta, kind), source, project, config)


def _when(message: dict[str, Any], meta: EventMeta, kind: str) -> datetime:
    """The message's createdAt (when the change was made), else the Kafka message's time."""
    value = message.get("createdAt")
    if isinstance(value, str) and value.strip():
        return parse_time(value, "createdAt")
    if meta.timestamp is not None:
        return meta.timestamp
    raise TransformError(f"commercetools {kind} message has no createdAt and its Kafka message "
                         "has no timestamp")


# ---- orders -------------------------------------------------------------------------------------


def _order_created(m: _Message) -> list[Activity | Link]:
    order = _obj(m.raw, "order")
    if not order:
        raise TransformError(f"{m.where()} has no order")
    order_id = _id(order, "id") or m.resource_id
    label = clip(_str(order, "orderNumber") or order_id, 60)
    total = _money(m, order, "totalPrice")
    contact, links = _order_contact(m, order, order_id)
    name = _billing_name(order)
    context = _order_context(order, order_id, label, total)
    units = _items(m, order, context)
    imported = m.type == "OrderImported"
    what = f"{label}{f' for {money(*total)}' if total else ''}" + (
        f" ({units} item{'' if units == 1 else 's'})" if units else "")
    description = (f"Order {what} was imported." if imported
                   else f"{name or 'The customer'} placed order {what}.")
    identifier = contact.identifier()
    shown = identifier[1] if identifier else None
    actor = Actor(id=_id(order, "customerId") or shown or contact.refs[0],
                  name=name or shown or "Customer")
    activity = Activity(
        name=f"Order {label} {'imported' if imported else 'placed'}", contact=contact,
        actor=actor, source=m.source, timestamp=m.timestamp, description=description,
        object=ActivityObject("order", order_id, m.order_link()), context=context,
        key=f"commercetools:{m.id}")
    return [activity, *links]


def _order_context(order: dict[str, Any], order_id: str, label: str,
                   total: tuple[Decimal, str] | None) -> dict[str, Any]:
    context: dict[str, Any] = {"Order number": label}
    if total:
        context["Total"] = money(*total)
    for field, state in (("Order state", "orderState"), ("Payment state", "paymentState"),
                         ("Shipment state", "shipmentState")):
        if value := _str(order, state):
            context[field] = clip(humanize(value), 60)
    context["Order ID"] = order_id
    return context


def _order_contact(m: _Message, order: dict[str, Any],
                   order_id: str) -> tuple[Contact, list[Activity | Link]]:
    """The order's customerEmail, else its refs; and what it teaches: the order and its
    customer → that email (else the order → its customer), and each payment → the order."""
    email = _contact_detail(order, "customerEmail", m)
    order_ref = vendor_ref("commercetools", "order", order_id)
    customer_ref = vendor_ref("commercetools", "customer", _id(order, "customerId"))
    links: list[Activity | Link] = []
    if email:
        links += [Link(ref, contact=Contact(email=email)) for ref in (order_ref, customer_ref)
                  if ref]
    elif order_ref and customer_ref:
        links.append(Link(order_ref, alias_of=customer_ref))
    if order_ref:
        links += [Link(ref, alias_of=order_ref) for ref in _payment_refs(order)]
    if email:
        return Contact(email=email), links
    refs = tuple(r for r in (order_ref, customer_ref) if r)
    if not refs:
        raise TransformError(f"{m.where()}: the order names no customer email and no usable id")
    return Contact(refs=refs), links


def _payment_refs(order: dict[str, Any]) -> list[str]:
    payments = _list(_obj(order, "paymentInfo"), "payments")
    return [ref for p in payments if isinstance(p, dict)
            and (ref := vendor_ref("commercetools", "payment", _id(p, "id")))]


def _items(m: _Message, order: dict[str, Any], context: dict[str, Any]) -> int:
    lines = [line for line in _list(order, "lineItems") if isinstance(line, dict)]
    units = _units(lines)
    described: dict[str, Any] = {}
    for number, line in enumerate(lines[:MAX_ITEMS], start=1):
        entry: dict[str, Any] = {"Item name": clip(_localized(m, line.get("name")) or "Item", 200)}
        if (quantity := _quantity(line)) is not None:
            entry["Quantity"] = quantity
        if price := _money(m, _obj(line, "price"), "value", strict=False):
            entry["Price"] = money(*price)
        if sku := _str(_obj(line, "variant"), "sku"):
            entry["SKU"] = clip(sku, 100)
        described[f"Item {number}"] = entry
    if len(lines) > MAX_ITEMS:
        described["More"] = f"and {len(lines) - MAX_ITEMS} more"
    if lines:
        context["Items"] = units
        context["Item description"] = described
    return units


def _order_state(m: _Message) -> list[Activity | Link] | Filtered:
    return _order_change(m, "orderState", _ORDER_STATES, "Order state")


def _order_payment_state(m: _Message) -> list[Activity | Link] | Filtered:
    return _order_change(m, "paymentState", _PAYMENT_STATES, "Payment state")


def _order_change(m: _Message, field: str, table: dict[str, tuple[str, str]],
                  label_text: str) -> list[Activity | Link] | Filtered:
    """OrderStateChanged / OrderPaymentStateChanged: the new state, in words; the message names
    only the order."""
    state = _str(m.raw, field)
    entry = table.get(state or "")
    if entry is None:
        return Filtered("status_not_shown", f"commercetools: {field} {clip(state or 'none', 40)} "
                                            "is not shown on the timeline")
    suffix, happened = entry
    label = m.order_label()
    context: dict[str, Any] = {"Order number": label, label_text: state}
    old_field = "old" + field[:1].upper() + field[1:]  # oldOrderState, oldPaymentState
    if old := _str(m.raw, old_field):
        context[f"Previous {label_text.lower()}"] = clip(old, 60)
    context["Order ID"] = m.resource_id
    return [_activity(m, f"Order {label} {suffix}", f"Order {label} {happened}.", m.system(),
                      context, ActivityObject("order", m.resource_id, m.order_link()))]


def _return_added(m: _Message) -> list[Activity | Link]:
    info = _obj(m.raw, "returnInfo")
    items = [i for i in _list(info, "items") if isinstance(i, dict)]
    units = _units(items)
    label = m.order_label()
    context: dict[str, Any] = {"Order number": label, "Returned items": units}
    comments = [c for i in items if (c := _str(i, "comment"))]
    if comments:
        context["Return comments"] = clip("; ".join(comments), 500)
    if tracking := _str(info, "returnTrackingId"):
        context["Return tracking ID"] = clip(tracking, 100)
    context["Order ID"] = m.resource_id
    count = f"{units} item{'' if units == 1 else 's'}" if units else "items"
    date = _day(info.get("returnDate"))
    on = f" on {date}" if date else ""
    return [_activity(m, f"Order {label} return registered",
                      f"A return of {count} of order {label} was registered{on}.",
                      m.system(), context,
                      ActivityObject("order", m.resource_id, m.order_link()))]


def _delivery(m: _Message) -> list[Activity | Link]:
    """DeliveryAdded (a delivery with its items and parcels) and ParcelAddedToDelivery (one
    parcel): a shipment was recorded; whether it left the warehouse, the message does not say."""
    delivery, parcel = _obj(m.raw, "delivery"), _obj(m.raw, "parcel")
    parcels = [parcel] if parcel else [p for p in _list(delivery, "parcels") if isinstance(p, dict)]
    tracking = next((t for p in parcels if (t := _obj(p, "trackingData"))), {})
    number, carrier = _str(tracking, "trackingId"), _str(tracking, "carrier")
    returning = tracking.get("isReturn") is True
    units = _units(_list(delivery, "items"))
    label = m.order_label()
    context = _delivery_context(m, units, carrier, number, returning)
    via = f" ({clip(carrier, 60)})" if carrier else ""
    tracked = f" with tracking number {clip(number, 100)}{via}" if number else via
    if parcel:
        name = f"Order {label} parcel added"
        description = (f"{'A return parcel' if returning else 'A parcel'}{tracked} was added to "
                       f"a delivery of order {label}.")
    else:
        name = f"Order {label} delivery created"
        count = f" of {units} item{'' if units == 1 else 's'}" if units else ""
        description = f"A delivery{count} was created for order {label}{tracked}."
    return [_activity(m, name, description, m.system(), context,
                      ActivityObject("order", m.resource_id, m.order_link()))]


def _delivery_context(m: _Message, units: int, carrier: str | None, number: str | None,
                      returning: bool) -> dict[str, Any]:
    context: dict[str, Any] = {"Order number": m.order_label()}
    if units:
        context["Items in the delivery"] = units
    for field, value in (("Carrier", carrier), ("Tracking number", number)):
        if value:
            context[field] = clip(value, 100)
    if returning:
        context["Return parcel"] = True
    context["Order ID"] = m.resource_id
    return context


# ---- payments -----------------------------------------------------------------------------------


def _transaction_added(m: _Message) -> list[Activity | Link] | Filtered:
    transaction = _obj(m.raw, "transaction")
    kind, state = _str(transaction, "type"), _str(transaction, "state")
    entry = _TRANSACTIONS.get(kind or "")
    if entry is None or state not in ("Success", "Failure"):
        return Filtered("status_not_shown", f"commercetools: a {clip(kind or '?', 40)} "
                                            f"transaction in state {clip(state or '?', 40)} is "
                                            "not shown")
    amount = _money(m, transaction, "amount")
    shown = money(*amount) if amount else "an amount commercetools did not state"
    name, failed_name, happened, failed = entry
    ok = state == "Success"
    description = happened.format(amount=shown) if ok else failed.format(amount=shown) + (
        ": commercetools does not say why; the payment service provider's record of "
        "the interaction has the reason.")
    context: dict[str, Any] = {"Amount": shown, "Transaction type": kind, "Transaction state":
                               state}
    for label, key in (("Transaction ID", "id"), ("Interaction ID", "interactionId")):
        if value := _id(transaction, key):
            context[label] = value
    context["Payment ID"] = m.resource_id
    # the customer pays (and their bank charges back); refunds and cancellations are the shop's
    by_customer = kind in ("Authorization", "Charge", "Chargeback")
    stamp = transaction.get("timestamp")  # when the payment service provider did it
    when = parse_time(stamp, "transaction.timestamp") if isinstance(stamp, str) and stamp.strip() \
        else m.timestamp
    return [_activity(m, name if ok else failed_name, description,
                      _payment_customer(m) if by_customer else m.system(), context,
                      ActivityObject("payment", m.resource_id), when=when)]


def _transaction_state(m: _Message) -> list[Activity | Link] | Filtered:
    """PaymentTransactionStateChanged names the transaction and its new state only: not its
    type or amount, so the activity says no more."""
    state, transaction = _str(m.raw, "state"), _id(m.raw, "transactionId")
    if state not in ("Success", "Failure"):
        return Filtered("status_not_shown", f"commercetools: transaction state "
                                            f"{clip(state or 'none', 40)} is not shown")
    ok = state == "Success"
    what = f"transaction {transaction}" if transaction else "a transaction"
    description = (f"The payment's {what} succeeded." if ok else
                   f"The payment's {what} failed; commercetools does not say why (the payment "
                   "service provider's record has the reason).")
    context: dict[str, Any] = {"Transaction state": state}
    if transaction:
        context["Transaction ID"] = transaction
    context["Payment ID"] = m.resource_id
    return [_activity(m, "Payment transaction succeeded" if ok else "Payment transaction failed",
                      description, m.system(), context, ActivityObject("payment", m.resource_id))]


# ---- what only teaches the directory ------------------------------------------------------------


def _customer_created(m: _Message) -> list[Activity | Link] | Filtered:
    customer = _obj(m.raw, "customer")
    customer_id = _id(customer, "id") or m.resource_id
    ref = vendor_ref("commercetools", "customer", customer_id)
    email = _contact_detail(customer, "email", m)
    if ref is None or email is None:
        return Filtered("nothing_to_learn", f"commercetools: customer {clip(customer_id, 60)} "
                                            "has no email")
    return [Link(ref, contact=Contact(email=email))]


def _payment_created(m: _Message) -> list[Activity | Link] | Filtered:
    payment = _obj(m.raw, "payment")
    customer_ref = vendor_ref("commercetools", "customer", _id(_obj(payment, "customer"), "id"))
    payment_ref = vendor_ref("commercetools", "payment", _id(payment, "id") or m.resource_id)
    if customer_ref and payment_ref:
        return [Link(payment_ref, alias_of=customer_ref)]
    return Filtered("nothing_to_learn", "commercetools: the payment names no customer")


def _order_payment_added(m: _Message) -> list[Activity | Link] | Filtered:
    payment_ref = vendor_ref("commercetools", "payment", _id(_obj(m.raw, "payment"), "id"))
    order_ref = m.ref()
    if payment_ref and order_ref:
        return [Link(payment_ref, alias_of=order_ref)]
    return Filtered("nothing_to_learn", "commercetools: the message names no payment")


_BUILDERS: dict[str, Callable[[_Message], list[Activity | Link] | Filtered]] = {
    "OrderCreated": _order_created,
    "OrderImported": _order_created,
    "OrderStateChanged": _order_state,
    "OrderPaymentStateChanged": _order_payment_state,
    "ReturnInfoAdded": _return_added,
    "DeliveryAdded": _delivery,
    "ParcelAddedToDelivery": _delivery,
    "PaymentTransactionAdded": _transaction_added,
    "PaymentTransactionStateChanged": _transaction_state,
    "CustomerCreated": _customer_created,
    "PaymentCreated": _payment_created,
    "OrderPaymentAdded": _order_payment_added,
}


# ---- shared pieces ------------------------------------------------------------------------------


def _activity(m: _Message, name: str, description: str, actor: Actor, context: dict[str, Any],
              obj: ActivityObject, when: datetime | None = None) -> Activity:
    """An activity for the message's resource, which names no contact: its ref."""
    ref = m.ref()
    if ref is None:
        raise TransformError(f"{m.where()}: resource id {m.resource_id!r:.60} is not usable")
    return Activity(name=name, contact=Contact(refs=(ref,)), actor=actor, source=m.source,
                    timestamp=when or m.timestamp, description=description, object=obj,
                    context=context, key=f"commercetools:{m.id}")


def _payment_customer(m: _Message) -> Actor:
    return Actor(id=m.ref() or m.resource_id, name="Customer")


def _quantity(item: Any) -> int | None:
    value = item.get("quantity") if isinstance(item, dict) else None
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9
    return value if ok else None


def _units(items: list[Any]) -> int:
    """The items' quantities added up (malformed ones left out)."""
    return sum(q for item in items if (q := _quantity(item)) is not None)


def _billing_name(order: dict[str, Any]) -> str | None:
    address = _obj(order, "billingAddress")
    full = " ".join(p for p in (_str(address, "firstName"), _str(address, "lastName")) if p)
    return clip(full, 200) if full else None


def _localized(m: _Message, value: Any) -> str | None:
    """A LocalizedString in the configured locale, else its first language."""
    if isinstance(value, str):
        return value.strip() or None
    if not isinstance(value, dict):
        return None
    preferred = value.get(m.config.locale)
    if isinstance(preferred, str) and preferred.strip():
        return preferred.strip()
    return next((v.strip() for v in value.values() if isinstance(v, str) and v.strip()), None)


def _money(m: _Message, obj: dict[str, Any], key: str, strict: bool = True) -> tuple[Decimal, str] | None:
    """A commercetools Money, ``{"centAmount": 1000, "currencyCode": "EUR", "fractionDigits": 2}``
    (or ``preciseAmount`` for high precision), exact; None when absent. ``strict``: a malformed
    one is rejected (else left out, for optional ones like a line's price)."""
    value = obj.get(key)
    if value is None:
        return None
    try:
        return _read_money(m, key, value)
    except TransformError:
        if strict:
            raise
        return None


def _read_money(m: _Message, key: str, value: Any) -> tuple[Decimal, str]:
    if not isinstance(value, dict):
        raise TransformError(f"{m.where()}: {key} must be a Money object (got {json_kind(value)})")
    code = value.get("currencyCode")
    if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha()):
        raise TransformError(f"{m.where()}: {key}.currencyCode {code!r:.40} is not a currency code")
    high = value.get("type") == "highPrecision" and "preciseAmount" in value
    minor = value.get("preciseAmount" if high else "centAmount")
    digits = value.get("fractionDigits", currency_exponent(code))
    if isinstance(minor, bool) or not isinstance(minor, int) or minor < 0:
        raise TransformError(f"{m.where()}: {key}.centAmount must be a non-negative integer "
                             f"(got {minor!r:.40})")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 20:
        raise TransformError(f"{m.where()}: {key}.fractionDigits {digits!r:.20} is not valid")
    return Decimal(minor).scaleb(-digits), code.upper()


def _str(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return (value.strip() or None) if isinstance(value, str) else None


def _obj(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _list(obj: Any, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _id(obj: Any, key: str) -> str | None:
    value = _str(obj, key)
    return value if value and len(value) <= _MAX_ID else None


def _contact_detail(obj: dict[str, Any], key: str, m: _Message) -> str | None:
    """An email as commercetools sent it, refused (never cleaned) when it could not be one."""
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise TransformError(f"{m.where()}: {key} must be a string (got {json_kind(value)})")
    value = value.strip()
    if len(value) > 254 or clean_text(value) != value:
        raise TransformError(f"{m.where()}: {key} {value[:60]!r} is too long or contains "
                             "control characters; fix the producer")
    return value


def _day(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return f"{parse_time(value, 'time'):%Y-%m-%d}"
    except TransformError:
        return None


commercetools_activity = configure()
