# ruff: noqa: E501, B007  (the generator below is copied unchanged from the peer bench)
"""The benches' data: realistic ``orders`` events, and producing many of them quickly.

The event shape is the peer bench's (``../shared/peer-bench/produce.py``, copied here: our team's
code): order lifecycles (created -> paid -> fulfilled, 6% cancelled, 8% refunded) of 5,000
customers, keyed by customer id, 1.4-3.0 KB (median ~2 KB) with addresses, items and metadata the
``orders`` transform ignores. ``filtered=True`` gives ``order.updated`` events, which ``orders``
filters.

Producing 200,000 events through this generator would cost the harness more CPU than the consumer
spends on them, so :func:`pool` makes a few hundred real events once and :func:`bodies` repeats
them with a fresh ``event_id`` each (prefix + 9 digits + the rest: no JSON work per message).
Every body is still a distinct event to the consumer (its idempotency key is ``orders:<event_id>``).
"""

from __future__ import annotations

import random
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
from confluent_kafka import Producer

# --- copied from ../shared/peer-bench/produce.py (unchanged) ------------------------------------
FIRST = ["Rachel", "Monica", "Phoebe", "Joey", "Chandler", "Ross", "Janice", "Gunther", "Emily",
         "Carol", "Susan", "Mike", "Richard", "Julie", "Kathy", "Tag", "Frank", "Ursula", "Estelle",
         "Jack", "Judy", "Ben", "Emma", "Erica", "Amy", "Paolo", "Pete", "David", "Mona", "Elizabeth"]
LAST = ["Green", "Geller", "Buffay", "Tribbiani", "Bing", "Hubbard", "Waltham", "Willick", "Bunch",
        "Burke", "Thomas", "Jones", "Hannigan", "Leonard", "Stevens", "Lavelle", "Bernard", "Rhodes"]
CATALOG = [
    ("White Ace Sneakers", "SNK-ACE-WHT", "42.00", {"size": ["8 UK", "9 UK", "10 UK", "11 UK"]}),
    ("Merino Crew Socks", "SCK-MER", "4.00", {"size": ["S", "M", "L"], "colour": ["grey", "navy"]}),
    ("Canvas Tote Bag", "BAG-CNV-NAT", "18.50", {}),
    ("Packable Rain Jacket", "JKT-RAIN", "89.00", {"size": ["S", "M", "L", "XL"], "colour": ["navy", "olive"]}),
    ("Leather Card Holder", "ACC-CARD", "24.00", {"colour": ["brown", "black"]}),
    ("Organic Cotton Tee", "TEE-ORG", "19.99", {"size": ["XS", "S", "M", "L"], "colour": ["white", "black", "sand"]}),
    ("Wool Beanie", "HAT-WOOL", "22.00", {"colour": ["charcoal", "rust"]}),
    ("Trail Running Shoes", "SNK-TRL", "119.95", {"size": ["7 UK", "8 UK", "9 UK", "10 UK"]}),
    ("Linen Shirt", "SHT-LIN", "54.00", {"size": ["S", "M", "L"], "colour": ["blue", "white"]}),
    ("Water Bottle 750 ml", "ACC-BTL-750", "16.00", {"colour": ["steel", "mint"]}),
    ("Denim Jacket", "JKT-DNM", "98.00", {"size": ["S", "M", "L"]}),
    ("Silk Scarf", "ACC-SCF", "35.50", {"colour": ["red", "teal"]}),
]
CITIES = [("Manhattan", "NY", "10014", "US"), ("Brooklyn", "NY", "11201", "US"),
          ("London", "", "SW1A 1AA", "GB"), ("Berlin", "", "10115", "DE"), ("Paris", "", "75003", "FR")]
CURRENCY = {"US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR"}
CARRIERS = [("UPS", "https://www.ups.com/track?tracknum="), ("FedEx", "https://www.fedex.com/fedextrack/?trknbr="),
            ("DHL", "https://www.dhl.com/track?id=")]
REASONS = ["ordered the wrong size", "found_cheaper_elsewhere", "customer_changed_mind",
           "item arrived damaged", "socks arrived with a hole", "late_delivery"]


def customers(n: int, rnd: random.Random) -> list[dict]:
    out = []
    for i in range(n):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        city, region, postcode, country = rnd.choice(CITIES)
        street = f"{rnd.randint(1, 999)} {rnd.choice(['Bedford', 'Grove', 'Morton', 'Perry', 'Bleecker'])} Street"
        address = {"name": f"{first} {last}", "line1": street, "line2": f"Apt {rnd.randint(1, 40)}",
                   "city": city, "region": region or None, "postcode": postcode, "country": country,
                   "phone": f"+1555{rnd.randint(1000000, 9999999)}"}
        out.append({
            "id": f"cus_{i:06d}",
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}.{i}@example.com",
            "phone": address["phone"],
            "locale": rnd.choice(["en-US", "en-GB", "de-DE", "fr-FR"]),
            "tags": rnd.sample(["vip", "newsletter", "wholesale", "returning", "first-order"], 2),
            "accepts_marketing": rnd.random() < 0.4,
            "address": address,
            "currency": CURRENCY[country],
        })
    return out


def new_order(seq: int, cust: dict, at: datetime, rnd: random.Random) -> dict:
    items, subtotal = [], Decimal("0.00")
    for line in range(rnd.choice([1, 1, 2, 2, 3, 3, 4, 5, 6])):
        name, sku, price, opts = CATALOG[rnd.randrange(len(CATALOG))]
        options = {k: rnd.choice(v) for k, v in opts.items()}
        qty = rnd.choice([1, 1, 1, 2, 3])
        item = {"name": name, "sku": f"{sku}-{'-'.join(o[:3].upper() for o in options.values()) or 'STD'}",
                "quantity": qty, "price": price, "product_id": f"prod_{zlib.crc32(name.encode()) % 100000:05d}",
                "variant_id": f"var_{rnd.randint(10000, 99999)}", "vendor": "Central Perk Goods",
                "image_url": f"https://cdn.shop.example/products/{sku.lower()}.jpg"}
        if options:
            item["options"] = options
        items.append(item)
        subtotal += Decimal(price) * qty
    shipping = Decimal(rnd.choice(["0.00", "4.95", "9.90"]))
    tax = (subtotal * Decimal("0.08")).quantize(Decimal("0.01"))
    total = subtotal + shipping + tax
    return {
        "id": f"ord_{seq:07d}", "number": 100000 + seq, "currency": cust["currency"],
        "subtotal": str(subtotal), "shipping_total": str(shipping), "tax_total": str(tax),
        "total": str(total), "items": items,
        "link": f"https://shop.example/admin/orders/{100000 + seq}",
        "shipping_address": cust["address"], "billing_address": cust["address"],
        "shipping_method": rnd.choice(["standard", "express", "pickup"]),
        "payment_gateway": rnd.choice(["stripe", "paypal", "adyen"]),
        "discount_codes": rnd.choice([[], [], ["SPRING10"], ["WELCOME5"]]),
        "note": rnd.choice([None, "Please leave at the door.", "Gift wrap, no invoice in the box."]),
        "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


STATUS = {"order.created": "placed", "order.paid": "paid", "order.cancelled": "cancelled",
          "order.fulfilled": "shipped", "order.refunded": "partially_refunded", "order.updated": "placed"}


def event(eid: int, kind: str, at: datetime, cust: dict, order: dict, rnd: random.Random) -> dict:
    c = {k: cust[k] for k in ("id", "name", "email", "phone", "locale", "tags", "accepts_marketing")}
    ev = {
        "event_id": f"evt_{eid:09d}", "type": kind, "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "customer": c, "source": {"name": "Central Perk Shop", "id": "shop.example"},
        "order": {**order, "status": STATUS[kind]},
        "metadata": {"schema_version": 3, "producer": "orders-service/7.4.2",
                     "trace_id": f"{rnd.getrandbits(128):032x}",
                     "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"},
    }
    if kind == "order.cancelled":
        ev["reason"] = rnd.choice(REASONS)
        ev["cancelled_by"] = rnd.choice(["customer", "customer", "shop"])
    elif kind == "order.fulfilled":
        carrier, url = rnd.choice(CARRIERS)
        tracking = f"1Z{rnd.getrandbits(48):012X}"
        ev["fulfillment"] = {"carrier": carrier, "tracking_number": tracking, "tracking_url": url + tracking}
    elif kind == "order.refunded":
        first = order["items"][0]
        ev["refund"] = {"amount": first["price"] if rnd.random() < 0.7 else order["total"],
                        "reason": rnd.choice(REASONS)}
    return ev


def timeline(n: int, n_customers: int, seed: int, filtered: bool):
    """(key, event) for n events, in time order."""
    rnd = random.Random(seed)
    people = customers(n_customers, rnd)
    base = datetime(2026, 3, 1, tzinfo=UTC)
    items: list[tuple[datetime, int, str, dict, dict]] = []
    seq = 0
    while len(items) < n * 1.02 + 10:
        seq += 1
        cust = people[rnd.randrange(n_customers)]
        t0 = base + timedelta(seconds=rnd.randint(0, 30 * 86400))
        order = new_order(seq, cust, t0, rnd)
        if filtered:
            steps = [("order.updated", t0)]
        else:
            steps = [("order.created", t0)]
            if rnd.random() < 0.06:
                steps.append(("order.cancelled", t0 + timedelta(minutes=rnd.randint(1, 600))))
            else:
                steps.append(("order.paid", t0 + timedelta(seconds=rnd.randint(5, 600))))
                steps.append(("order.fulfilled", t0 + timedelta(hours=rnd.randint(6, 72))))
                if rnd.random() < 0.08:
                    steps.append(("order.refunded", t0 + timedelta(days=rnd.randint(4, 20))))
        for kind, at in steps:
            items.append((at, seq, kind, cust, order))
    items.sort(key=lambda x: (x[0], x[1]))
    for eid, (at, _seq, kind, cust, order) in enumerate(items[:n]):
        yield cust["id"].encode(), event(eid, kind, at, cust, order, rnd)


# --- end of the copy ----------------------------------------------------------------------------

_ID_HEAD = b'{"event_id":"evt_'


def _padded(ev: dict, size: int, rnd: random.Random) -> dict:
    """``ev`` with more order items until its JSON is about ``size`` bytes (a big order)."""
    items = ev["order"]["items"]
    while len(orjson.dumps(ev)) < size:
        extra = dict(rnd.choice(items))
        extra["variant_id"] = f"var_{rnd.randint(10000, 99999)}"
        items.append(extra)
    return ev


def blob_pool(size_bytes: int, count: int = 50, seed: int = 20261207) -> list[tuple[bytes, bytes]]:
    """Like :func:`pool`, each event carrying ``size_bytes`` of an attachment the transform does
    not read (a payment processor's raw response, a scanned receipt): big messages, small
    activities. Random text, so compression does not shrink it on the wire."""
    rnd = random.Random(seed)
    out = []
    for key, ev in timeline(count, 5000, seed, False):
        ev["attachment"] = "".join(rnd.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=size_bytes))
        body = orjson.dumps(ev)
        out.append((key, body[len(_ID_HEAD) + 9:]))
    return out


def pool(size_bytes: int | None = None, filtered: bool = False, count: int = 500,
         seed: int = 20261202) -> list[tuple[bytes, bytes]]:
    """``count`` (key, body-after-the-event-id) pairs: real events, padded to ``size_bytes``."""
    rnd = random.Random(seed + 1)
    out = []
    for key, ev in timeline(count, 5000, seed, filtered):
        if size_bytes:
            ev = _padded(ev, size_bytes, rnd)
        body = orjson.dumps(ev)
        assert body.startswith(_ID_HEAD), body[:40]
        out.append((key, body[len(_ID_HEAD) + 9:]))  # evt_ + 9 digits
    return out


def bodies(n: int, entries: list[tuple[bytes, bytes]], first_id: int = 0
           ) -> Iterator[tuple[bytes, bytes]]:
    """n (key, value) pairs cycling over ``entries``, each with its own event_id."""
    for i in range(n):
        key, rest = entries[i % len(entries)]
        yield key, _ID_HEAD + b"%09d" % (first_id + i) + rest


def produce(bootstrap: str, topic: str, messages: Iterator[tuple[bytes, bytes]],
            progress: Callable[[str], None] | None = None, every: int = 50_000) -> dict:
    """Produce everything, batched (linger, 1 MB batches, lz4: 2.3x faster than none for 12 KB
    events on this machine; acks=1); returns
    {count, seconds, bytes_median}."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1_000_000,
                  "compression.type": "lz4", "acks": 1,
                  "queue.buffering.max.messages": 200_000, "queue.buffering.max.kbytes": 512_000})
    started, count, sizes = time.monotonic(), 0, []
    for key, value in messages:
        if count % 997 == 0:  # prime: not in step with the pool's cycle
            sizes.append(len(value))
        while True:
            try:
                p.produce(topic, value=value, key=key)
                break
            except BufferError:
                p.poll(0.05)
        count += 1
        if progress and count % every == 0:
            progress(f"  produced {count:,} to {topic}")
    left = p.flush(300)
    if left:
        raise RuntimeError(f"{topic}: {left} messages not acknowledged")
    sizes.sort()
    return {"count": count, "seconds": round(time.monotonic() - started, 1),
            "bytes_median": sizes[len(sizes) // 2] if sizes else 0}


def unique_events(n: int, seed: int = 7) -> list[tuple[bytes, bytes, str]]:
    """n delivered events made one by one (every name|object.id distinct): (key, body, ident)
    where ident is the ``name|object.id`` the ``orders`` transform gives it."""
    from transforms import EventMeta
    from transforms.orders import order_activity

    out = []
    for key, ev in timeline(n, 5000, seed, False):
        act = order_activity(ev, EventMeta("bench", 0, 0, None, None, ()))
        out.append((key, orjson.dumps(ev), f"{act.name}|{act.object.id}"))
    if len({x[2] for x in out}) != len(out):
        print("warning: name|object.id not unique", file=sys.stderr)
    return out
