"""Contacts: who a vendor id belongs to, and where events wait until the directory knows.

- ``directory``: the contact directory learned from the streams (memory or Redis);
- ``parking_lot``: the loop's one handle on waiting events (park, take_parked, due);
- ``park_record``: the waiting topic's records; ``waiting_topic``: creating it;
- ``waiting_room``: the poll thread's in-memory room of events waiting for a Link.
"""
