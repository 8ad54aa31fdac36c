"""A local Freshdesk: the contact-activities API, its rate budget, faults, and a timeline.

It plays the other party in integration, chaos and demo runs, so its validation is
written from the contract alone and never shares code with our own transforms.
"""

from consumer.sandbox.app import make_app
from consumer.sandbox.server import SandboxServer
from consumer.sandbox.settings import SandboxSettings

__all__ = ["SandboxServer", "SandboxSettings", "make_app"]
