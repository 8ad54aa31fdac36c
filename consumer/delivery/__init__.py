"""Delivery: posting each job's activities to one Freshdesk account, on its own asyncio thread.

- ``station``: the poll thread's handle (jobs in, one future per job out) over ``bridge``;
- ``deliverer``: one job from its contacts' turn to its result; ``attempt``: one activity's
  attempts (the ledger claim and the retry policy); ``contact_turns``: one job at a time per
  contact; ``halt``: the gate that 401/403/404 close;
- ``freshdesk``: the HTTP client and the answer table; ``budget``: the account's rate budget.
"""
