"""Sortable unique ids (ULID layout, stdlib only).

26 characters of Crockford base32: 48 bits of milliseconds since the epoch, then 80
random bits. Ids made by one process are strictly increasing, even within one
millisecond or when the clock steps back, so ``ORDER BY id`` is creation order; ids
from different processes interleave by time.
"""

from __future__ import annotations

import secrets
import threading
from datetime import datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_RANDOM_MAX = (1 << _RANDOM_BITS) - 1
_LENGTH = 26

_lock = threading.Lock()
_last = (0, 0)


def new_id(now: datetime) -> str:
    """A new id whose time part is ``now`` (or the previous id's, if that is later)."""
    global _last  # noqa: PLW0603 - the process-wide monotonic state is the point
    millis = int(now.timestamp() * 1000)
    with _lock:
        last_millis, last_random = _last
        if millis > last_millis:
            _last = (millis, secrets.randbits(_RANDOM_BITS))
        elif last_random < _RANDOM_MAX:
            _last = (last_millis, last_random + 1)
        else:
            _last = (last_millis + 1, secrets.randbits(_RANDOM_BITS))
        value = (_last[0] << _RANDOM_BITS) | _last[1]
    return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(5 * (_LENGTH - 1), -1, -5))
