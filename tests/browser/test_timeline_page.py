"""What the agent sees: real vendor events, delivered as the consumer delivers them, rendered by
headless Chromium on the sandbox's timeline page.

Each activity is the real encoded body of a built-in transform run on a recorded vendor payload,
POSTed to ``/api/v2/contact-activities`` exactly as the consumer posts it. The browser then goes
where an agent would (the contact list, the contact, the "Details" of an activity) and the test
reads what is *rendered*: text inside a closed ``<details>`` or otherwise not laid out does not
count. The full-page screenshot is kept under the test's tmp_path (the path is printed).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

import transforms
from consumer.outcomes import Delivery
from consumer.transform_runner import run_transform
from consumer_devtools.sandbox import SandboxServer
from tests.browser.cdp import BrowserError, Chromium
from tests.fixtures.sandbox import SandboxFactory
from transforms import EventMeta

pytestmark = pytest.mark.integration

VENDORS = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
API = "/api/v2/contact-activities"
AUTH = ("sandbox-key", "X")

# One activity card as rendered: its text nodes that are laid out and visible, and the
# (term, value) pairs of its context that are (a value of None: a nested group's heading).
READ_CARDS = """(() => {
  const seen = el => {
    if (!el || !el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const visibleText = root => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const parts = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(node);
      const box = range.getBoundingClientRect();
      if (node.data.trim() && seen(node.parentElement) && box.width > 0 && box.height > 0)
        parts.push(node.data.trim());
    }
    return parts;
  };
  return [...document.querySelectorAll('ol.timeline > li > .card')].map(card => ({
    text: visibleText(card),
    time: card.querySelector('time')?.getAttribute('datetime'),
    pairs: [...card.querySelectorAll('dt')]
      .filter(dt => seen(dt) && seen(dt.nextElementSibling))
      .map(dt => [dt.innerText.trim(),
                  dt.nextElementSibling.querySelector('dl, ol') ? null
                    : dt.nextElementSibling.innerText.trim()]),
  }));
})()"""


def deliver(transform: str, fixture: str, *headers: tuple[str, bytes]) -> Delivery:
    """The one Delivery the built-in ``transform`` makes of a recorded payload."""
    event = orjson.loads((VENDORS / fixture).read_bytes())
    meta = EventMeta(transform, 0, 1, None, None, headers)
    outcome = run_transform(transforms.resolve(transform), transform, event, meta)
    assert isinstance(outcome, tuple) and len(outcome) == 1, outcome
    return outcome[0]


def post(sandbox: SandboxServer, body: bytes) -> None:
    """As consumer.delivery.freshdesk posts: the encoded bytes, JSON, HTTP Basic with the API key."""
    answer = httpx.post(sandbox.base_url + API, content=body, auth=AUTH, timeout=10,
                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text


def leaf_pairs(context: dict[str, Any]) -> set[tuple[str, str | None]]:
    """Every (term, value) an agent should read in the context; groups as (term, None)."""
    pairs: set[tuple[str, str | None]] = set()
    for key, value in context.items():
        if isinstance(value, dict):
            pairs |= {(key, None)} | leaf_pairs(value)
        else:
            pairs.add((key, str(value)))
    return pairs


def shown_as(moment: datetime) -> str:
    """How the timeline writes a time: 10 Jan 2008, 16:00:00 UTC."""
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%b %Y, %H:%M:%S} UTC"


def open_timeline(browser: Chromium, sandbox: SandboxServer, contact: str) -> None:
    """From the contact list to ``contact``'s timeline, by clicking its link."""
    browser.goto(sandbox.base_url + "/")
    links = browser.evaluate("[...document.querySelectorAll('td a')]"
                             ".map(a => [a.innerText, a.getAttribute('href')])")
    href = dict(links)[contact]
    assert browser.click_link(f'a[href="{href}"]') == sandbox.base_url + href


def open_all_details(browser: Chromium) -> None:
    """Click every activity's "Details", as an agent would to read its context."""
    count = browser.evaluate("document.querySelectorAll('details').length")
    for i in range(1, count + 1):
        browser.click(f"ol.timeline > li:nth-child({i}) details > summary")
    assert browser.evaluate("[...document.querySelectorAll('details')].every(d => d.open)")


def screenshot(browser: Chromium, path: Path) -> Path:
    browser.screenshot(path)
    print(f"screenshot: {path}")
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == browser.window[0] and height >= 300, (width, height)
    return path


SHOPIFY_ORDER: dict[str, Any] = dict(
    transform="shopify", fixture="shopify/order_legacy_python-api.json",
    headers=(("X-Shopify-Topic", b"orders/create"),), contact="bob.norman@hostmail.com",
    happened=datetime.fromisoformat("2008-01-10T11:00:00-05:00"),  # the order's created_at
    name="Order #1001 placed",
    description="Bob Norman placed order #1001 for 409.94 USD (3 items).",
    in_details=["IPod Nano - 8gb - green", "IPOD2008BLACK", "authorized"])
STRIPE_CHECKOUT: dict[str, Any] = dict(
    transform="stripe", fixture="stripe/evt_checkout.session.completed_2020-03-02.json",
    headers=(), contact="billz@supabase.io",
    happened=datetime.fromtimestamp(1619697430, UTC),  # the event's `created`
    name="Checkout completed",
    description="Copple completed checkout and paid 9.99 EUR.",
    in_details=["cs_live_9RBjcHiy2i5p99Tf1MYM90c3SHK1grU0E6Ae6pKWR2KPA4ZiuKiB2X1Y3X",
                "in_1KJqKBJDPojXS6LNJbvLUgEy", "paid"])


@pytest.mark.parametrize("case", [SHOPIFY_ORDER, STRIPE_CHECKOUT], ids=["shopify-order",
                                                                         "stripe-checkout"])
def test_delivered_activity_is_readable_on_the_contacts_timeline(
        case: dict[str, Any], sandbox_factory: SandboxFactory, browser: Chromium,
        tmp_path: Path) -> None:
    delivery = deliver(case["transform"], case["fixture"], *case["headers"])
    assert delivery.contact == f"email:{case['contact']}"
    activity = orjson.loads(delivery.body)["activity"]
    sandbox = sandbox_factory()
    post(sandbox, delivery.body)

    open_timeline(browser, sandbox, case["contact"])
    [card] = browser.evaluate(READ_CARDS)

    assert activity["name"] == case["name"] and activity["description"] == case["description"]
    assert case["name"] in card["text"]
    assert case["description"] in card["text"]
    assert shown_as(case["happened"]) in card["text"]  # the event's time, not when received
    assert card["time"] == case["happened"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert not any("(time received)" in t for t in card["text"])
    # The context sits behind "Details", closed: not on the screen until the agent opens it
    # (this is also what shows that the checks below see only what is rendered).
    context = leaf_pairs(activity["context"])
    assert len(context) >= 6
    assert card["pairs"] == []
    assert not set(case["in_details"]) & set(card["text"])

    open_all_details(browser)
    [card] = browser.evaluate(READ_CARDS)

    missing = context - {tuple(p) for p in card["pairs"]}
    assert not missing, f"context not visible after opening Details: {sorted(missing, key=str)}"
    assert set(case["in_details"]) <= set(card["text"])
    screenshot(browser, tmp_path / f"timeline-{case['transform']}.png")


def test_activity_text_with_html_shows_as_text_and_runs_nothing(
        sandbox_factory: SandboxFactory, browser: Chromium, tmp_path: Path) -> None:
    body = orjson.loads(deliver(SHOPIFY_ORDER["transform"], SHOPIFY_ORDER["fixture"],
                                *SHOPIFY_ORDER["headers"]).body)
    hostile = copy.deepcopy(body)
    name = "<script>alert(1)</script>"
    description = "<img src=x onerror=\"document.title='pwned'\"> <b id=injected>bold</b>"
    context_value = "<script>alert(2)</script><i id=injected-value>x</i>"
    context_key = "<u id=injected-key>Note</u>"
    hostile["activity"].update(name=name, description=description)
    hostile["activity"]["context"] = {context_key: context_value,
                                      "Nested": {"Item name": "<iframe src=/></iframe>"}}
    hostile["activity"]["actor"]["name"] = "<svg onload=alert(3)>"
    sandbox = sandbox_factory()
    post(sandbox, orjson.dumps(hostile))

    open_timeline(browser, sandbox, SHOPIFY_ORDER["contact"])
    open_all_details(browser)
    [card] = browser.evaluate(READ_CARDS)

    for text in (name, description, "<svg onload=alert(3)>"):
        assert text in card["text"]
    assert {(context_key, context_value), ("Item name", "<iframe src=/></iframe>")} <= {
        tuple(p) for p in card["pairs"]}
    injected = browser.evaluate(
        "document.querySelectorAll('main script, main img, main iframe, main svg, "
        "main i, main u, #injected, #injected-key, #injected-value').length")
    assert injected == 0
    assert browser.evaluate("document.scripts.length") == 0
    assert browser.evaluate("document.title") == f"Timeline: {SHOPIFY_ORDER['contact']}"
    assert "Page.javascriptDialogOpening" not in browser.event_names()
    screenshot(browser, tmp_path / "timeline-escaping.png")


def test_the_browser_would_notice_a_script_that_ran(browser: Chromium) -> None:
    """The control: the same text served unescaped runs, and the test would fail on it."""
    with pytest.raises(BrowserError, match="opened a dialog"):
        browser.goto("data:text/html,<strong><script>alert(1)</script></strong>")


def test_headings_count_in_english(sandbox_factory: SandboxFactory, browser: Chromium) -> None:
    """Found by looking at the screenshots: "1 activities"."""
    sandbox = sandbox_factory()
    for case in (SHOPIFY_ORDER, STRIPE_CHECKOUT):
        post(sandbox, deliver(case["transform"], case["fixture"], *case["headers"]).body)

    browser.goto(sandbox.base_url + "/")
    assert browser.evaluate("document.querySelector('h2').innerText") == (
        "Contacts 2 contacts, 2 activities")
    open_timeline(browser, sandbox, STRIPE_CHECKOUT["contact"])
    assert browser.evaluate("document.querySelector('h2').innerText") == (
        "billz@supabase.io email · 1 activity, newest first")
