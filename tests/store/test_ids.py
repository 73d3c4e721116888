"""Run and step ids: 26 characters, unique, and sorted in creation order."""

from __future__ import annotations

import re
from datetime import timedelta

from drd.store import ids

from .support import T0


def test_ids_are_26_crockford_base32_characters():
    """An id is 26 characters of Crockford's base32 (no I, L, O, U), safe in names and URLs."""
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", ids.new_id(T0))


def test_ids_made_at_the_same_instant_still_increase():
    """Many ids made with a clock standing still are distinct and strictly increasing."""
    made = [ids.new_id(T0) for _ in range(1000)]
    assert sorted(set(made)) == made


def test_ids_sort_by_time():
    """An id made later sorts after one made earlier, and its time prefix says when."""
    earlier, later = ids.new_id(T0 + timedelta(days=400)), ids.new_id(T0 + timedelta(days=401))
    assert earlier < later
    assert earlier[:10] != later[:10]


def test_ids_keep_increasing_when_the_clock_steps_back():
    """A clock stepping backwards (NTP, a manual clock) never makes a smaller id."""
    ahead = ids.new_id(T0 + timedelta(days=800))
    assert ids.new_id(T0) > ahead
