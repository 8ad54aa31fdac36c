"""The memory directory: the shared behaviour suite, plus TTL and the size bound (fake clock)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.contacts.directory import MAX_DEPTH, MemoryDirectory, with_contact
from tests.unit.directory_contract import RACHEL, DirectoryContract, email
from transforms.activity import Activity, Actor, Contact, Link, Source


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestMemoryDirectory(DirectoryContract):
    def directory(self) -> MemoryDirectory:
        return MemoryDirectory()


def test_a_ref_is_forgotten_ttl_after_the_last_link_that_named_it():
    clock = FakeClock()
    d = MemoryDirectory(ttl_s=100, clock=clock)
    d.learn([email("stripe:cus_1", RACHEL), email("stripe:cus_2", "monica@example.com")])
    clock.now += 60
    d.learn([Link("stripe:cus_1", contact=Contact(phone="+15555550100"))])  # re-arms cus_1 only
    clock.now += 39.9
    assert d.resolve(["stripe:cus_2"]) is not None
    clock.now += 0.1
    assert d.resolve(["stripe:cus_2"]) is None
    assert d.resolve(["stripe:cus_1"]) == Contact(email=RACHEL, phone="+15555550100")
    clock.now += 60
    assert d.resolve(["stripe:cus_1"]) is None


def test_resolving_does_not_extend_a_refs_life():
    clock = FakeClock()
    d = MemoryDirectory(ttl_s=100, clock=clock)
    d.learn([email("stripe:cus_1", RACHEL)])
    for _ in range(10):
        clock.now += 10
        d.resolve(["stripe:cus_1"])
    assert d.resolve(["stripe:cus_1"]) is None


def test_an_expired_record_does_not_merge_into_a_new_one():
    clock = FakeClock()
    d = MemoryDirectory(ttl_s=100, clock=clock)
    d.learn([Link("stripe:cus_1", contact=Contact(email=RACHEL, phone="+15555550100"))])
    clock.now += 100
    d.learn([Link("stripe:cus_1", contact=Contact(phone="+15555550199"))])
    assert d.resolve(["stripe:cus_1"]) == Contact(phone="+15555550199")


def test_an_expired_hop_breaks_the_chain():
    clock = FakeClock()
    d = MemoryDirectory(ttl_s=100, clock=clock)
    d.learn([email("stripe:cus_1", RACHEL)])
    clock.now += 50
    d.learn([Link("stripe:ch_1", alias_of="stripe:cus_1")])
    clock.now += 50
    assert d.resolve(["stripe:ch_1"]) is None
    assert d.lookup(["stripe:ch_1"]).visited == ("stripe:ch_1", "stripe:cus_1")


def test_when_full_the_ref_learned_longest_ago_goes_first():
    d = MemoryDirectory(max_entries=3)
    d.learn([email(f"x:{i}", f"{i}@example.com") for i in range(3)])
    d.learn([Link("x:0", contact=Contact(phone="+15555550100"))])  # x:0 is the newest now
    d.learn([email("x:3", "3@example.com")])
    assert len(d) == 3 and d.evicted == 1
    assert d.resolve(["x:1"]) is None
    assert [d.resolve([f"x:{i}"]) is not None for i in (0, 2, 3)] == [True] * 3
    d.learn([email(f"y:{i}", "y@example.com") for i in range(10)])
    assert len(d) == 3 and d.evicted == 11


# --- against a model written the plain way ------------------------------------------------------

REFS = [f"x:{i}" for i in range(6)]
_field = st.sampled_from([None, "", "a@example.com", "b@example.com"])
_link = st.builds(
    lambda ref, e, p, alias: Link(ref, Contact(email=e, phone=p) if (e or p) else None, alias),
    st.sampled_from(REFS), _field, st.sampled_from([None, "+1555", "+1666"]),
    st.sampled_from([None, *REFS]))


def model_resolve(links: list[Link], refs: list[str]) -> Contact | None:
    """Merge by replaying the Links into plain dicts, walk by recursion."""
    records: dict[str, dict[str, str]] = {}
    for link in links:
        rec = records.setdefault(link.ref, {})
        if link.contact is not None:
            rec.update({k: v for k, v in (("email", link.contact.email),
                                          ("phone", link.contact.phone)) if v})
        if link.alias_of and link.alias_of != link.ref:
            rec["alias"] = link.alias_of
    records = {r: rec for r, rec in records.items() if rec}

    def chain(ref: str | None, seen: tuple[str, ...]) -> list[dict[str, str]]:
        if ref is None or ref in seen or len(seen) == MAX_DEPTH or ref not in records:
            return []
        return [records[ref], *chain(records[ref].get("alias"), (*seen, ref))]

    for ref in refs:
        hops = chain(ref, ())
        found = {k: next((h[k] for h in hops if k in h), None) for k in ("email", "phone")}
        if found["email"] or found["phone"]:
            return Contact(**found)
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(_link, max_size=12), st.lists(st.sampled_from(REFS), max_size=3))
def test_resolve_agrees_with_the_plain_model(links, refs):
    d = MemoryDirectory()
    d.learn(links)
    assert d.resolve(refs) == model_resolve(links, refs)


# --- the pipeline's step ----------------------------------------------------------------------

def _activity(contact: Contact) -> Activity:
    return Activity(name="Payment succeeded", contact=contact, actor=Actor("cus_1", "Rachel"),
                    source=Source("stripe", "acct_1"), timestamp=datetime(2024, 5, 1, tzinfo=UTC),
                    key="stripe:evt_1")


def test_with_contact_fills_identifiers_from_refs_and_leaves_direct_contacts_alone():
    d = MemoryDirectory()
    d.learn([Link("stripe:ch_1", alias_of="stripe:cus_1"), email("stripe:cus_1", RACHEL)])
    waiting = _activity(Contact(refs=("stripe:ch_1",)))
    sent = with_contact(waiting, d)
    assert sent is not None and sent.contact == Contact(email=RACHEL, refs=("stripe:ch_1",))
    assert sent.payload()["contact"] == {"email": RACHEL} and sent.key == "stripe:evt_1"
    direct = _activity(Contact(phone="+1555", refs=("stripe:cus_1",)))
    assert with_contact(direct, d) is direct
    assert with_contact(_activity(Contact(refs=("stripe:cus_2",))), d) is None
    nothing = _activity(Contact())
    assert with_contact(nothing, d) is nothing  # no refs: the contract check reports it
