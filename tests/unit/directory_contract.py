"""The directory's behaviour, one suite for every backend (as arroyo's tests/backends/mixins.py).

A subclass provides ``directory()`` (a fresh, empty one) and may provide ``replica(d)`` (a second
directory sharing d's store). The memory backend runs it in tests/unit/test_directory.py, the
Redis backend in tests/integration/test_redis_directory.py.
"""

from __future__ import annotations

from consumer.contacts.directory import MAX_DEPTH, ContactDirectory
from transforms.activity import Contact, Link

RACHEL = "rachel@example.com"


def email(ref: str, address: str) -> Link:
    return Link(ref, contact=Contact(email=address))


class DirectoryContract:
    def directory(self) -> ContactDirectory:
        raise NotImplementedError

    def test_a_learned_ref_resolves_to_its_contact_and_an_unknown_one_to_none(self):
        d = self.directory()
        d.learn([email("stripe:cus_1", RACHEL)])
        assert d.resolve(["stripe:cus_1"]) == Contact(email=RACHEL)
        assert d.resolve(["stripe:cus_2"]) is None
        assert d.resolve([]) is None

    def test_identifiers_come_back_exactly_as_learned(self):
        d = self.directory()
        odd = "zoë.o'brien+\"shop\"/\u202e@exämple.com"
        d.learn([Link("shopify:customer:\u00e9/1", contact=Contact(email=odd, phone="+44 (0)20 7946-0958"))])
        assert d.resolve(["shopify:customer:\u00e9/1"]) == Contact(email=odd,
                                                                    phone="+44 (0)20 7946-0958")

    def test_an_alias_chain_resolves_to_the_customer_at_its_end(self):
        d = self.directory()
        d.learn([Link("stripe:dp_1", alias_of="stripe:ch_1"),
                 Link("stripe:ch_1", alias_of="stripe:cus_1"),
                 email("stripe:cus_1", RACHEL)])
        assert d.resolve(["stripe:dp_1"]) == Contact(email=RACHEL)
        assert d.resolve(["stripe:ch_1"]) == Contact(email=RACHEL)

    def test_the_first_ref_that_resolves_wins(self):
        d = self.directory()
        d.learn([email("stripe:cus_1", RACHEL), email("stripe:cus_2", "monica@example.com"),
                 Link("stripe:ch_9", alias_of="stripe:cus_404")])
        assert d.resolve(["stripe:ch_9", "stripe:nope", "stripe:cus_2", "stripe:cus_1"]) == \
            Contact(email="monica@example.com")

    def test_a_later_phone_adds_to_the_email_and_a_later_email_replaces_it(self):
        d = self.directory()
        d.learn([email("shopify:customer:1", "old@example.com")])
        d.learn([Link("shopify:customer:1", contact=Contact(phone="+15555550100"))])
        assert d.resolve(["shopify:customer:1"]) == Contact(email="old@example.com",
                                                             phone="+15555550100")
        d.learn([Link("shopify:customer:1", contact=Contact(email="new@example.com", mobile=""))])
        assert d.resolve(["shopify:customer:1"]) == Contact(email="new@example.com",
                                                             phone="+15555550100")

    def test_a_later_alias_replaces_the_old_one(self):
        d = self.directory()
        d.learn([email("stripe:cus_1", RACHEL), email("stripe:cus_2", "monica@example.com"),
                 Link("stripe:ch_1", alias_of="stripe:cus_1")])
        d.learn([Link("stripe:ch_1", alias_of="stripe:cus_2")])
        assert d.resolve(["stripe:ch_1"]) == Contact(email="monica@example.com")

    def test_a_refs_own_identifiers_come_first_and_its_alias_fills_the_rest(self):
        d = self.directory()
        d.learn([Link("stripe:ch_1", contact=Contact(email="billing@example.com"),
                      alias_of="stripe:cus_1"),
                 Link("stripe:cus_1", contact=Contact(email=RACHEL, phone="+15555550100"))])
        assert d.resolve(["stripe:ch_1"]) == Contact(email="billing@example.com",
                                                     phone="+15555550100")

    def test_a_cycle_ends_the_walk_and_an_identifier_on_it_still_counts(self):
        d = self.directory()
        d.learn([Link("x:a", alias_of="x:b"), Link("x:b", alias_of="x:a")])
        assert d.resolve(["x:a"]) is None
        d.learn([Link("x:b", contact=Contact(phone="+15555550100"))])
        assert d.resolve(["x:a"]) == Contact(phone="+15555550100")

    def test_a_chain_longer_than_max_depth_does_not_resolve(self):
        d = self.directory()
        hops = MAX_DEPTH + 1  # refs x:0 .. x:MAX_DEPTH, the email on the last one
        d.learn([Link(f"x:{i}", alias_of=f"x:{i + 1}") for i in range(hops - 1)]
                + [email(f"x:{hops - 1}", RACHEL)])
        assert d.resolve(["x:1"]) == Contact(email=RACHEL)  # MAX_DEPTH refs: within the bound
        assert d.resolve(["x:0"]) is None  # one more than the bound

    def test_links_that_teach_nothing_are_ignored(self):
        d = self.directory()
        d.learn([Link("x:a"), Link("x:b", contact=Contact(email="")), Link("x:c", alias_of="x:c"),
                 Link("x:d", contact=Contact(refs=("x:a",)))])
        assert [d.resolve([r]) for r in ("x:a", "x:b", "x:c", "x:d")] == [None] * 4

    def test_lookup_names_every_ref_visited_the_missing_end_included(self):
        d = self.directory()
        d.learn([Link("stripe:dp_1", alias_of="stripe:ch_1"),
                 Link("stripe:ch_1", alias_of="stripe:cus_1")])
        found = d.lookup(["stripe:dp_1", "stripe:pi_7"])
        assert found.contact is None
        assert found.visited == ("stripe:dp_1", "stripe:ch_1", "stripe:cus_1", "stripe:pi_7")
        assert found.missing == ("stripe:cus_1", "stripe:pi_7")
        assert found.describe() == ("waiting for stripe:cus_1, stripe:pi_7 to be learned (looked "
                                    "up stripe:dp_1 → stripe:ch_1 → stripe:cus_1 → stripe:pi_7)")
        d.learn([email("stripe:cus_1", RACHEL)])
        found = d.lookup(["stripe:dp_1", "stripe:pi_7"])
        assert found.contact == Contact(email=RACHEL)
        assert found.visited == ("stripe:dp_1", "stripe:ch_1", "stripe:cus_1")
        assert found.describe() == ("resolved to email rachel@example.com "
                                    "(looked up stripe:dp_1 → stripe:ch_1 → stripe:cus_1)")
        d.learn([Link("x:a", alias_of="x:b"), Link("x:b", alias_of="x:a")])
        assert d.lookup(["x:a"]).describe().startswith("cannot resolve: no identifier on a cycle")
