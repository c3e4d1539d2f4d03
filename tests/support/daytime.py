"""Tests of today's live numbers run where it is daytime: the simulator sends yesterday's
shift before the shift starts, so at night "today" would have nothing to compare."""

from __future__ import annotations

from schemas.settings import Settings
from simulator import daytime_zone


def in_daytime_zone(settings: Settings) -> Settings:
    """``settings`` in :func:`simulator.daytime_zone` (validated afresh: ``zone`` is cached)."""
    values = {name: getattr(settings, name) for name in type(settings).model_fields}
    return type(settings)(**{**values, "timezone": daytime_zone()})
