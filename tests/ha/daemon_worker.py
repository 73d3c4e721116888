"""``drd daemon`` with schedules shorter than a minute, for the HA tests: ``python daemon_worker.py daemon …``.

drd refuses ``@every`` intervals under one minute (``drd.policy.schedule.MIN_INTERVAL``), which would make
"many schedule cycles" take hours. This runs the real ``drd daemon`` command, in a process of its own, with
that floor lowered to one second and nothing else changed, so policies can say ``@every 5s``.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from drd.cli.main import main
from drd.policy import schedule

ACCELERATED_MIN_INTERVAL = timedelta(seconds=1)

if __name__ == "__main__":
    schedule.MIN_INTERVAL = ACCELERATED_MIN_INTERVAL
    sys.exit(main(sys.argv[1:]))
