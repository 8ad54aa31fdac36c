"""The base of every subscription-file section: frozen, and unknown keys refused (typos fail loudly)."""

from pydantic import BaseModel, ConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
