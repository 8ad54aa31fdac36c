"""A local Freshdesk: the contact-activities API, its rate budget, faults, and a timeline.

It plays the other party in integration, chaos and demo runs, so its validation is
written from the contract alone and never shares code with our own transforms.
"""

from consumer_devtools.sandbox.app import make_app
from consumer_devtools.sandbox.server import SandboxServer
from consumer_devtools.sandbox.settings import SandboxSettings

__all__ = ["SandboxServer", "SandboxSettings", "make_app"]
