"""The Activity model, encode()'s contract checks, activity_key, and the money/time helpers."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms import (
    FILTER_REASONS,
    FILTERED_UNSPECIFIED,
    Activity,
    ActivityObject,
    Actor,
    Checked,
    Contact,
    ContractError,
    EventMeta,
    Filtered,
    Link,
    Source,
    TransformError,
    activity_key,
    check,
    clean_text,
    encode,
    iso_utc,
    minor_to_major,
    money,
    parse_amount,
    parse_time,
    vendor_ref,
)

WHEN = datetime(2020, 10, 1, 14, 0, tzinfo=UTC)
ALLOWED_ACTIVITY_KEYS = {
    "name", "timestamp", "description", "link", "actor", "source", "object", "context",
}


def make(**changes: object) -> Activity:
    fields: dict[str, object] = {
        "name": "Transaction failed",
        "contact": Contact(email="rachel@example.com"),
        "actor": Actor(id="918mI2k1", name="Rachel"),
        "source": Source(name="shopify", id="7819e8k1119"),
        "timestamp": WHEN,
        "description": "Transaction for order 84637930 failed",
        "object": ActivityObject(type="transaction", id="1234",
                                 link="https://shop.example/orders/84637930"),
        "context": {"Items": 2, "Amount": "50", "Currency": "USD",
                    "Item description": {"item1": {"Item name": "White Ace Sneakers",
                                                   "Size": "10 UK"}}},
    }
    fields.update(changes)
    return Activity(**fields)  # type: ignore[arg-type]


def problems_of(activity: Activity) -> list[str]:
    with pytest.raises(ContractError) as caught:
        encode(activity)
    return caught.value.problems


# --- the payload ---------------------------------------------------------------------------

def test_valid_activity_encodes_to_the_contract_example_and_round_trips() -> None:
    body = encode(make())
    assert isinstance(body, bytes)
    assert orjson.loads(body) == {
        "activity": {
            "name": "Transaction failed",
            "timestamp": "2020-10-01T14:00:00Z",
            "description": "Transaction for order 84637930 failed",
            "actor": {"id": "918mI2k1", "name": "Rachel", "type": "contact"},
            "source": {"name": "shopify", "id": "7819e8k1119"},
            "object": {"type": "transaction", "id": "1234",
                       "link": "https://shop.example/orders/84637930"},
            "context": {"Items": 2, "Amount": "50", "Currency": "USD",
                        "Item description": {"item1": {"Item name": "White Ace Sneakers",
                                                       "Size": "10 UK"}}},
        },
        "contact": {"email": "rachel@example.com"},
    }


def test_none_fields_are_left_out_and_no_unknown_keys_appear() -> None:
    minimal = make(description=None, object=ActivityObject(type="order", id="1"), context=None,
                   key="orders:1")
    payload = orjson.loads(encode(minimal))
    assert set(payload) == {"activity", "contact"}
    assert set(payload["activity"]) == {"name", "timestamp", "actor", "source", "object"}
    assert payload["activity"]["object"] == {"type": "order", "id": "1"}
    assert "key" not in payload["activity"]  # the idempotency key is ours, never Freshdesk's
    full = orjson.loads(encode(make(link="https://x.example/a")))
    assert set(full["activity"]) <= ALLOWED_ACTIVITY_KEYS
    assert set(full["activity"]["actor"]) == {"id", "name", "type"}
    assert set(full["activity"]["source"]) == {"name", "id"}
    assert set(full["activity"]["object"]) <= {"type", "id", "link"}


def test_timestamp_is_sent_in_utc_whole_seconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2024, 5, 1, 12, 30, 15, 987654, tzinfo=plus_two)
    payload = make(timestamp=local).payload()
    assert payload["activity"]["timestamp"] == "2024-05-01T10:30:15Z"


@pytest.mark.parametrize(
    ("contact", "sent"),
    [
        (Contact(email="r@example.com", phone="+1555", mobile="+1666", unique_external_id="c1"),
         {"email": "r@example.com"}),
        (Contact(phone="+1555", mobile="+1666", unique_external_id="c1"), {"phone": "+1555"}),
        (Contact(mobile="+1666", unique_external_id="c1"), {"mobile": "+1666"}),
        (Contact(unique_external_id="c1"), {"unique_external_id": "c1"}),
        (Contact(email="", phone="+1555"), {"phone": "+1555"}),
    ],
)
def test_payload_sends_exactly_one_contact_identifier_preferring_email(
    contact: Contact, sent: dict[str, str]
) -> None:
    assert orjson.loads(encode(make(contact=contact)))["contact"] == sent
    assert contact.identifier() == next(iter(sent.items()))


def test_email_syntax_is_left_to_freshdesk() -> None:
    body = encode(make(contact=Contact(email="rachel(at)example.com")))
    assert orjson.loads(body)["contact"] == {"email": "rachel(at)example.com"}


def test_read_only_mappings_are_encoded_as_objects() -> None:
    context = MappingProxyType({"Amount": "50.00 USD", "Nested": MappingProxyType({"a": 1})})
    body = encode(make(context=context))
    assert orjson.loads(body)["activity"]["context"] == {"Amount": "50.00 USD",
                                                         "Nested": {"a": 1}}


# --- each rule rejects with a clear problem ---------------------------------------------------

@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"name": ""}, "activity.name: must be 1-255 characters (got 0)"),
        ({"name": "x" * 256}, "activity.name: must be 1-255 characters (got 256)"),
        ({"name": "   "}, "activity.name: must not be blank"),
        ({"name": None}, "activity.name: must be a string (got None)"),
        ({"actor": Actor(id="", name="Rachel")}, "activity.actor.id: must not be empty"),
        ({"actor": Actor(id=918, name="Rachel")},  # type: ignore[arg-type]
         "activity.actor.id: must be a string (got int)"),
        ({"actor": Actor(id="a", name="Rachel", type="")}, "activity.actor.type: must not be empty"),
        ({"source": Source(name="shop", id="")}, "activity.source.id: must not be empty"),
        ({"source": Source(name="", id="s")}, "activity.source.name: must not be empty"),
        ({"object": ActivityObject(type="order", id="")}, "activity.object.id: must not be empty"),
        ({"object": ActivityObject(type="order", id=5)},  # type: ignore[arg-type]
         "activity.object.id: must be a string (got int)"),
        ({"description": ""}, "activity.description: must not be empty (leave it None instead)"),
        ({"link": 5}, "activity.link: must be a string or None (got int)"),
        ({"object": ActivityObject(type="order", id="5", link="")},
         "activity.object.link: must not be empty (leave it None instead)"),
        ({"contact": Contact()},
         "contact: needs one of email, phone, mobile or unique_external_id (got none), "
         "or vendor refs the contact directory can resolve"),
        ({"contact": Contact(email=" ")}, "contact.email: must not be empty"),
        ({"contact": Contact(refs=("stripe:cus_1", "stripe:ch_1"))},
         "contact: not resolved: it names only vendor refs (stripe:cus_1, stripe:ch_1); the "
         "pipeline must resolve them through the contact directory (activity.with_contact(...)) "
         "before encoding"),
        ({"contact": Contact(email="rachel@example.com\u202e")},
         "contact.email: contains control or bidirectional-override characters "
         "('rachel@example.com\\u202e'); fix the producer, an identifier is never cleaned "
         "silently"),
        ({"contact": Contact(refs=("",))},
         "contact.refs: must be a tuple of non-empty strings of at most 300 characters, like "
         "'stripe:cus_123' (got ('',))"),
        ({"timestamp": datetime(2024, 5, 1, 10, 0)},
         "activity.timestamp: must be timezone-aware (got naive 2024-05-01T10:00:00); "
         "attach tzinfo=UTC"),
        ({"timestamp": "2024-05-01T10:00:00Z"},
         "activity.timestamp: must be a datetime (got str)"),
        ({"context": ["not", "an", "object"]}, "activity.context: must be a JSON object (got list)"),
        ({"context": {"Amount": Decimal("50.00")}},
         'activity.context["Amount"]: Decimal is not JSON '
         "(use str, int, float, bool, None, a list or an object)"),
        ({"context": {"Ratio": math.nan}}, 'activity.context["Ratio"]: nan is not a JSON number'),
        ({"context": {1: "one"}}, "activity.context: key 1 must be a string"),
        ({"context": {"Id": 2**64}},
         f'activity.context["Id"]: integer {2**64} does not fit in 64 bits; send a string'),
        ({"context": {"a": {"b": {"c": {"d": {"e": {"f": "level 6"}}}}}}},
         'activity.context["a"]["b"]["c"]["d"]["e"]: nested deeper than 5 levels '
         "(context is level 1)"),
        ({"context": {"a": [[[[["level 6"]]]]]}},
         'activity.context["a"][0][0][0][0]: nested deeper than 5 levels (context is level 1)'),
        ({"key": ""}, "key: must be a non-empty string or None (got '')"),
    ],
)
def test_encode_rejects_each_broken_rule_with_a_clear_problem(
    changes: dict[str, object], problem: str
) -> None:
    assert problems_of(make(**changes)) == [problem]


def test_context_nested_exactly_five_levels_is_accepted() -> None:
    deepest = {"a": {"b": {"c": {"d": {"e": "in level 5"}}}}, "l": [[[["in level 5"]]]]}
    assert orjson.loads(encode(make(context=deepest)))["activity"]["context"] == deepest


def test_body_over_64_kib_is_rejected_and_just_under_is_accepted() -> None:
    overhead = len(encode(make(context={"Notes": ""})))
    fits = make(context={"Notes": "x" * (64 * 1024 - overhead)})
    assert len(encode(fits)) == 64 * 1024
    too_big = make(context={"Notes": "x" * (64 * 1024 - overhead + 1)})
    [problem] = problems_of(too_big)
    assert problem.startswith(f"body: {64 * 1024 + 1} bytes is over the 64 KiB limit (65536 bytes)")


def test_all_problems_are_listed_together_and_joined_in_the_message() -> None:
    broken = make(name="", actor=Actor(id="", name="R"), contact=Contact(),
                  timestamp=datetime(2024, 1, 1))
    with pytest.raises(ContractError) as caught:
        encode(broken)
    assert len(caught.value.problems) == 4
    assert str(caught.value) == "; ".join(caught.value.problems)
    assert isinstance(caught.value, ValueError)


# --- activity_key -------------------------------------------------------------------------------

def test_activity_key_prefers_the_transforms_key() -> None:
    activity = make(key="payments:evt_1")
    assert activity_key(activity, encode(activity)) == "payments:evt_1"


def test_activity_key_is_equal_for_equal_payloads_built_in_different_dict_orders() -> None:
    one = make(context={"A": 1, "B": {"x": 1, "y": 2}})
    two = make(context={"B": {"y": 2, "x": 1}, "A": 1})
    assert encode(one) != encode(two)  # the bodies keep their order...
    assert activity_key(one, encode(one)) == activity_key(two, encode(two))  # ...the key does not


def test_activity_key_differs_for_different_payloads() -> None:
    one, two = make(context={"A": 1}), make(context={"A": 2})
    assert activity_key(one, encode(one)) != activity_key(two, encode(two))


def test_activity_key_is_sha256_of_the_sorted_payload_so_any_process_agrees() -> None:
    activity = make(description=None, object=None, context={"b": 1, "a": 2})
    canonical = (
        b'{"activity":{"actor":{"id":"918mI2k1","name":"Rachel","type":"contact"},'
        b'"context":{"a":2,"b":1},"name":"Transaction failed",'
        b'"source":{"id":"7819e8k1119","name":"shopify"},"timestamp":"2020-10-01T14:00:00Z"},'
        b'"contact":{"email":"rachel@example.com"}}'
    )
    expected = "sha256:" + hashlib.sha256(canonical).hexdigest()
    assert activity_key(activity, encode(activity)) == expected


# --- EventMeta ---------------------------------------------------------------------------------

def test_event_meta_header_is_case_insensitive_first_match_and_decoded() -> None:
    meta = EventMeta("orders", 0, 7, None, None, headers=(
        ("Content-Type", b"application/json"), ("content-type", b"text/plain"),
        ("trace", None), ("bad", b"\xff\xfeok"),
    ))
    assert meta.header("CONTENT-TYPE") == "application/json"
    assert meta.header("trace") == ""
    assert meta.header("missing") is None
    assert meta.header("bad") == "\ufffd\ufffdok"


# --- money and time helpers ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("50"), "USD", "50.00 USD"),
        (Decimal("50.5"), "usd", "50.50 USD"),
        (Decimal("5000"), "JPY", "5000 JPY"),
        (Decimal("5000.00"), "JPY", "5000 JPY"),
        (Decimal("1.5"), "KWD", "1.500 KWD"),
        (Decimal("10.005"), "USD", "10.005 USD"),  # never rounded into a wrong figure
        (Decimal("1E+3"), "EUR", "1000.00 EUR"),
        (Decimal("-8"), "USD", "-8.00 USD"),
    ],
)
def test_money_uses_the_currency_exponent(amount: Decimal, currency: str, shown: str) -> None:
    assert money(amount, currency) == shown


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [(5000, "USD", Decimal("50.00")), (5000, "JPY", Decimal("5000")),
     (1500, "KWD", Decimal("1.500")), (1500, "BHD", Decimal("1.500")),
     (1, "XYZ", Decimal("0.01"))],
)
def test_minor_to_major_uses_the_iso_4217_exponent(minor: int, currency: str, major: Decimal) -> None:
    assert minor_to_major(minor, currency) == major
    assert str(minor_to_major(minor, currency)) == str(major)


def test_minor_to_major_refuses_non_integers() -> None:
    with pytest.raises(TransformError, match="must be an integer"):
        minor_to_major(50.0, "USD")  # type: ignore[arg-type]
    with pytest.raises(TransformError, match="must be an integer"):
        minor_to_major(True, "USD")


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("50.00", Decimal("50.00")), (" 7 ", Decimal("7")), (50, Decimal("50")),
     (0.1, Decimal("0.1")), (Decimal("2.5"), Decimal("2.5"))],
)
def test_parse_amount_accepts_decimal_strings_and_numbers(value: object, parsed: Decimal) -> None:
    assert parse_amount(value) == parsed  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, None, "NaN", "Infinity", math.nan, "abc", "1,000", "1_000",
                                   [], ""])
def test_parse_amount_refuses_bools_nan_and_junk(value: object) -> None:
    with pytest.raises(TransformError, match=r"^amount: "):
        parse_amount(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00.250Z", datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)),
        (1714557600, datetime(2024, 5, 1, 10, tzinfo=UTC)),
        (1714557600.5, datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        (1714557600123, datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)),
    ],
)
def test_parse_time_reads_iso_8601_and_epoch_seconds_or_milliseconds(
    value: object, expected: datetime
) -> None:
    parsed = parse_time(value)  # type: ignore[arg-type]
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "is not an ISO-8601 time"),
        ("2024-05-01T10:00:00", "has no time zone"),
        ("1714557600", "is not an ISO-8601 time"),
        (True, "expected an ISO-8601 string or epoch"),
        (None, "expected an ISO-8601 string or epoch"),
        (math.inf, "is not a time"),
        (10**15, "too large"),
    ],
)
def test_parse_time_refuses_junk(value: object, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        parse_time(value)  # type: ignore[arg-type]


def test_iso_utc_converts_to_utc_and_refuses_naive_datetimes() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert iso_utc(datetime(2024, 5, 1, 9, 0, 5, 999999, tzinfo=tokyo)) == "2024-05-01T00:00:05Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        iso_utc(datetime(2024, 5, 1))


# ---- the transform stage: check(), refs, Links ---------------------------------------------------


def test_an_activity_naming_only_refs_passes_the_transform_stage_and_is_encoded_once_resolved() -> None:
    waiting = make(contact=Contact(refs=("stripe:cus_1",)), key="stripe:evt_1")
    checked = check(waiting)
    assert checked.activities == (waiting,) and checked.links == () and checked.filtered is None
    assert waiting.needs_contact
    resolved = waiting.with_contact(Contact(email="rachel@example.com"))
    assert not resolved.needs_contact and resolved.key == waiting.key
    assert orjson.loads(encode(resolved))["contact"] == {"email": "rachel@example.com"}


def test_check_sorts_activities_and_links_keeping_their_order() -> None:
    first, second = make(name="one"), make(name="two")
    learned = Link("stripe:cus_1", contact=Contact(email="rachel@example.com"))
    alias = Link("stripe:ch_1", alias_of="stripe:cus_1")
    checked = check([first, learned, second, alias])
    assert checked.activities == (first, second) and checked.links == (learned, alias)
    assert check([alias]) == Checked((), (alias,))


@pytest.mark.parametrize("result", [None, [], Filtered("event_type_not_shown", "x")])
def test_check_turns_nothing_into_a_filtered_outcome(result: object) -> None:
    checked = check(result)
    assert checked.activities == () and checked.links == ()
    assert checked.filtered == (result if isinstance(result, Filtered) else FILTERED_UNSPECIFIED)


@pytest.mark.parametrize(("result", "problem"), [
    ("an activity", "my_transform returned str; expected an Activity, a Link, a list of them, "
                    "Filtered or None"),
    ([make(), 5], "[1] my_transform returned a int in its list; expected Activity or Link items"),
    ([Link("stripe:ch_1")], "link 'stripe:ch_1': needs exactly one of contact or alias_of"),
    ([Link("stripe:ch_1", contact=Contact(), alias_of="stripe:cus_1")],
     "link 'stripe:ch_1': needs exactly one of contact or alias_of"),
    ([Link("stripe:ch_1", contact=Contact(refs=("stripe:cus_1",)))],
     "link 'stripe:ch_1': contact must be a Contact with an email, phone, mobile or "
     "unique_external_id"),
    ([Link("stripe:ch_1", alias_of="stripe:ch_1")],
     "link 'stripe:ch_1': alias_of must be another ref (got 'stripe:ch_1')"),
    ([Link("", alias_of="stripe:cus_1")],
     "link.ref: must be a non-empty string of at most 300 characters like 'stripe:cus_123' "
     "(got '')"),
    ([make(name="")], "activity.name: must be 1-255 characters (got 0)"),
])
def test_check_names_what_is_wrong_with_a_result(result: object, problem: str) -> None:
    with pytest.raises(ContractError) as caught:
        check(result, "my_transform")
    assert caught.value.problems == [problem]


def test_filter_reasons_are_a_small_fixed_set_of_metric_safe_codes() -> None:
    assert len(FILTER_REASONS) <= 16  # each a label value of the filtered counter: a handful
    for reason in FILTER_REASONS:
        assert reason.isascii() and reason.replace("_", "").isalpha() and reason.islower()


# ---- text an agent reads is cleaned ---------------------------------------------------------------

_UNSAFE_CHARS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))] + [
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
unsafe = st.sampled_from(_UNSAFE_CHARS)
texts = st.text(alphabet=st.one_of(st.characters(blacklist_categories=("Cs",)), unsafe),
                max_size=60)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_nul_and_a_right_to_left_override_never_reach_the_agent() -> None:
    body = encode(make(name="Refund\u0000 for invoice\u202efdp.exe",
                       description="line one\nline two\tand a tab\r",
                       context={"Note\u0007": ["a\u2066b", {"k": "\u0085x"}]}))
    activity = orjson.loads(body)["activity"]
    assert activity["name"] == "Refund for invoicefdp.exe"
    assert activity["description"] == "line one\nline two\tand a tab"  # tab/newline kept
    assert activity["context"] == {"Note": ["ab", {"k": "x"}]}


def test_a_name_made_only_of_control_characters_is_rejected_after_cleaning() -> None:
    assert problems_of(make(name="\u0000\u202e")) == [
        "activity.name: must be 1-255 characters (got 0) (after removing control characters)"]


@settings(max_examples=300, deadline=None)
@given(name=texts, description=texts, note=texts, key=texts)
def test_property_encoded_text_never_holds_an_unsafe_character_and_keeps_the_rest(
        name: str, description: str, note: str, key: str) -> None:
    activity = make(name=name or "x", description=description or None,
                    context={"Note": note, key or "k": [note, {"n": note}]})
    try:
        body = encode(activity)
    except ContractError as e:  # only ever a blank name/description after cleaning
        assert all("must" in p for p in e.problems)
        return
    sent = orjson.loads(body)["activity"]
    for text in _strings(sent):
        assert not any(c in text for c in _UNSAFE_CHARS), repr(text)
    assert sent["name"] == clean_text(name or "x")
    assert sent["context"]["Note"] == clean_text(note)
    assert clean_text(note) == "".join(c for c in note if c not in _UNSAFE_CHARS)


@settings(max_examples=200, deadline=None)
@given(email=texts)
def test_property_a_contact_identifier_is_never_cleaned_silently(email: str) -> None:
    activity = make(contact=Contact(email=email))
    try:
        body = encode(activity)
    except ContractError:
        return
    assert orjson.loads(body)["contact"] == {"email": email}  # exactly as given, or refused
    assert clean_text(email) == email


@settings(max_examples=300, deadline=None)
@given(vendor=st.sampled_from(["stripe", "shopify"]), kind=st.sampled_from([None, "order"]),
       ident=st.one_of(st.none(), texts, st.text(min_size=290, max_size=320)))
def test_property_vendor_ref_gives_a_ref_check_accepts_or_nothing(
        vendor: str, kind: str | None, ident: str | None) -> None:
    parts = (vendor, kind, ident) if kind else (vendor, ident)
    ref = vendor_ref(*parts)
    if ref is None:  # a missing or junk id names nobody
        assert not ident or clean_text(ident) != ident or len(":".join(p for p in parts if p)) > 300 \
            or ident.isspace()
        return
    assert ref == ":".join(p for p in parts if p)
    waiting = make(contact=Contact(refs=(ref,)))
    learned = Link(ref, contact=Contact(email="rachel@example.com"))
    assert check([waiting, learned]) == Checked((waiting,), (learned,))


json_non_strings = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                             st.lists(st.text(max_size=3), max_size=2),
                             st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(["email", "phone", "mobile", "unique_external_id"]),
       value=json_non_strings)
def test_property_a_contact_identifier_of_another_json_type_is_refused_not_stringified(
        field: str, value: object) -> None:
    # "email": 123 must never reach Freshdesk as "123": a stranger's timeline, or a new contact
    contact = Contact(**{field: value})  # type: ignore[arg-type]
    if not value:  # 0, False, [], {}: no identifier at all
        assert problems_of(make(contact=contact))[0].startswith("contact: needs one of")
        return
    assert problems_of(make(contact=contact)) == [
        f"contact.{field}: must be a string (got {type(value).__name__})"]
