"""The contact directory: which customer a vendor identifier belongs to, learned from the streams.

Most payment events name no email: a Stripe charge carries ``customer: "cus_…"``, a dispute only
``charge: "ch_…"``, a Shopify refund only ``order_id``. The email is in the streams, just in
another event (``customer.created``, the charge, the order). So:

- a transform stays pure: it puts what it knows in ``Contact.refs`` (``"stripe:cus_1"``) and
  returns :class:`~transforms.activity.Link` values for what an event *teaches*
  (``Link("stripe:cus_1", contact=Contact(email=…))``, ``Link("stripe:ch_1",
  alias_of="stripe:cus_1")``);
- the pipeline, on the poll thread, between transform and delivery, calls ``learn`` with every
  Link and ``resolve`` for every activity whose contact has no direct identifier; an activity
  that does not resolve yet waits (:mod:`consumer.contacts.waiting_room`).

Why the pipeline resolves rather than handing transforms a read-only lookup: transforms stay
functions of the event (testable with a dict, the same output on replay), the directory's I/O
and its DirectoryUnavailable stay out of them, and "waiting for data" is decided in one place.

Backends as for the ledger: :class:`MemoryDirectory` (one process) and :class:`RedisDirectory`
(every replica, the same Redis as the ledger under another prefix, with a local cache), chosen
by the ``contacts:`` section (:class:`ContactSettings`).

Filling it: every subscribed topic's Links; a topic whose events only teach (a compacted
``customers`` topic keyed by customer id, subscribed with a transform that returns only Links,
so nothing of it is ever posted; compaction keeps each customer's latest record, so reading it
from the beginning refills an empty directory); and ``contacts.bootstrap_file``
(:mod:`consumer.contacts.directory.bootstrap`) at start. Committed offsets matter here: the memory
backend is empty after a restart, so with it a directory-only topic must be read from the
beginning at every start (seek to the beginning on assignment rather than resume from the
group's offset), and each replica sees only its own partitions of it, so the memory backend is
for one replica. With Redis (persistent, AOF) resuming from committed offsets is right.
"""

from consumer.config import ContactSettings, LedgerSettings, directory_url
from consumer.contacts.directory._api import ContactDirectory, DirectoryUnavailable, with_contact
from consumer.contacts.directory._memory import MemoryDirectory
from consumer.contacts.directory._record import MAX_DEPTH, Resolution
from consumer.contacts.directory._redis import RedisDirectory
from consumer.contacts.directory.bootstrap import BootstrapError, BootstrapResult, load_bootstrap_file

__all__ = ["MAX_DEPTH", "BootstrapError", "BootstrapResult", "ContactDirectory", "ContactSettings",
           "DirectoryUnavailable", "MemoryDirectory", "RedisDirectory", "Resolution",
           "directory_url", "load_bootstrap_file", "make_directory", "with_contact"]


def make_directory(contacts: ContactSettings, ledger: LedgerSettings) -> ContactDirectory:
    """The directory the ``contacts:`` section describes (Redis: its url, else the ledger's)."""
    if contacts.backend == "redis":
        url = directory_url(contacts, ledger)
        assert url is not None  # config's cross-section check saw to it
        return RedisDirectory(url.get_secret_value(), prefix=contacts.prefix,
                              ttl_s=contacts.ttl_s, timeout_s=contacts.timeout_s,
                              cache_entries=contacts.cache_entries,
                              cache_ttl_s=contacts.cache_ttl_s)
    return MemoryDirectory(contacts.max_entries, contacts.ttl_s)
