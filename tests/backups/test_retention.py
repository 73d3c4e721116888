"""Retention plans (pure): which backups a policy keeps and which it prunes, and why.

Aspects: keepLast/daily/weekly/monthly with restic ``forget`` semantics
(periods that have a backup, a backup kept by any rule is kept); the safety
rules that override every rule (newest good, in use, unfinished); failed
backups pruned only once a newer good one exists; PartiallyFailed counted
only when the policy says so; no rules, no pruning.
"""

from __future__ import annotations

from typing import Any

import pytest

from drd.backups import retention
from drd.policy.models.backup import Retention
from tests.backups.builders import T0, an_observation

B = an_observation

CASES: list[Any] = [
    pytest.param(
        {},
        [B("a", "2026-06-15T10:00"), B("b", "2026-06-15T11:00")],
        {},
        {"a", "b"},
        set(),
        id="no rules prune nothing (Velero's ttl expires backups)",
    ),
    pytest.param(
        {"keepLast": 2},
        [
            B("a", "2026-06-15T08:00"),
            B("b", "2026-06-15T09:00"),
            B("c", "2026-06-15T10:00"),
            B("d", "2026-06-15T11:00"),
        ],
        {},
        {"c", "d"},
        {"a", "b"},
        id="keepLast keeps the N newest",
    ),
    pytest.param(
        {"keepLast": 2},
        [
            B("a", "2026-06-15T08:00"),
            B("b", "2026-06-15T09:00"),
            B("c", "2026-06-15T10:00", phase="Failed"),
            B("d", "2026-06-15T11:00", phase="Failed"),
        ],
        {},
        {"a", "b", "c", "d"},
        set(),
        id="failed backups never use up a keepLast slot and are kept while no newer good one exists",
    ),
    pytest.param(
        {"daily": 2},
        [
            B("mon-early", "2026-06-15T01:00"),
            B("mon-late", "2026-06-15T11:00"),
            B("fri", "2026-06-12T23:00"),
            B("thu", "2026-06-11T23:00"),
        ],
        {},
        {"mon-late", "fri"},
        {"mon-early", "thu"},
        id="daily keeps the newest of each of the last N days that have one (gaps skipped)",
    ),
    pytest.param(
        {"weekly": 2},
        [
            B("w25", "2026-06-15T11:00"),
            B("w24-sun", "2026-06-14T23:00"),
            B("w24-mon", "2026-06-08T01:00"),
            B("w23", "2026-06-07T23:00"),
        ],
        {},
        {"w25", "w24-sun"},
        {"w24-mon", "w23"},
        id="weekly buckets by ISO week (Monday to Sunday)",
    ),
    pytest.param(
        {"monthly": 2},
        [
            B("jun", "2026-06-15T11:00"),
            B("may-31", "2026-05-31T23:00"),
            B("may-01", "2026-05-01T01:00"),
            B("apr", "2026-04-30T23:00"),
        ],
        {},
        {"jun", "may-31"},
        {"may-01", "apr"},
        id="monthly keeps the newest of each of the last N months",
    ),
    pytest.param(
        {"keepLast": 1, "daily": 3},
        [
            B("today-1", "2026-06-15T10:00"),
            B("today-2", "2026-06-15T11:00"),
            B("yesterday", "2026-06-14T11:00"),
            B("two-days-ago", "2026-06-13T11:00"),
            B("three-days-ago", "2026-06-12T11:00"),
        ],
        {},
        {"today-2", "yesterday", "two-days-ago"},
        {"today-1", "three-days-ago"},
        id="a backup kept by any rule is kept",
    ),
    pytest.param(
        {"keepLast": 0},
        [B("a", "2026-06-15T10:00"), B("b", "2026-06-15T11:00")],
        {},
        {"b"},
        {"a"},
        id="the newest good backup survives even rules that keep nothing",
    ),
    pytest.param(
        {"keepLast": 1},
        [B("a", "2026-06-15T09:00"), B("b", "2026-06-15T10:00"), B("c", "2026-06-15T11:00")],
        {"in_use": frozenset({"a"})},
        {"a", "c"},
        {"b"},
        id="a backup in use by a drill or restore survives",
    ),
    pytest.param(
        {"keepLast": 1},
        [
            B("a", "2026-06-15T09:00"),
            B("b", "2026-06-15T10:00"),
            B("running", "2026-06-15T11:00", phase="InProgress"),
            B("going", "2026-06-15T08:00", phase="Deleting"),
        ],
        {},
        {"b", "running", "going"},
        {"a"},
        id="unfinished backups are never pruned",
    ),
    pytest.param(
        {"keepLast": 1},
        [
            B("failed", "2026-06-15T09:00", phase="Failed"),
            B("invalid", "2026-06-15T09:30", phase="FailedValidation"),
            B("good", "2026-06-15T10:00"),
            B("failed-after", "2026-06-15T11:00", phase="Failed"),
        ],
        {},
        {"good", "failed-after"},
        {"failed", "invalid"},
        id="failed backups go once a newer good one exists",
    ),
    pytest.param(
        {"keepLast": 1},
        [B("good", "2026-06-15T10:00"), B("partial", "2026-06-15T11:00", phase="PartiallyFailed")],
        {},
        {"good", "partial"},
        set(),
        id="PartiallyFailed is not good by default: kept as evidence, never the newest good",
    ),
    pytest.param(
        {"keepLast": 1},
        [B("good", "2026-06-15T10:00"), B("partial", "2026-06-15T11:00", phase="PartiallyFailed")],
        {"count_partially_failed": True},
        {"partial"},
        {"good"},
        id="PartiallyFailed counts as good when the policy says so",
    ),
]


@pytest.mark.parametrize(("rules", "backups", "options", "keep", "delete"), CASES)
def test_retention_keeps_and_prunes(rules, backups, options, keep, delete):
    """The plan keeps exactly ``keep`` and prunes exactly ``delete``; every backup gets a reason."""
    planned = retention.plan(Retention.model_validate(rules), backups, now=T0, **options)
    assert (keep, delete) == (set(planned.keep), set(planned.delete))
    assert set(planned.reasons) == {backup.name for backup in backups}


def test_the_plan_lists_backups_newest_first():
    """keep and delete are ordered newest first, ties broken by name (Velero's names end in a timestamp)."""
    backups = [
        B("drd-shop-1", "2026-06-15T10:00"),
        B("drd-shop-3", "2026-06-15T11:00"),
        B("drd-shop-2", "2026-06-15T11:00"),
    ]
    planned = retention.plan(Retention(keep_last=1), backups, now=T0)
    assert (planned.keep, planned.delete) == (("drd-shop-3",), ("drd-shop-2", "drd-shop-1"))


def test_reasons_name_the_rule_that_keeps_a_backup():
    """A kept backup's reason names each rule and its period; a pruned one names the rules it escaped."""
    backups = [B("a", "2026-06-14T11:00"), B("b", "2026-06-15T11:00")]
    planned = retention.plan(Retention(keep_last=1, daily=1), backups, now=T0)
    assert planned.reasons["b"] == "kept by keepLast (1 of 1), daily (2026-06-15)"
    assert planned.reasons["a"] == "not kept by any retention rule (keepLast 1, daily 1)"


def test_a_pruned_failed_backup_says_which_newer_backup_replaces_it():
    """The reason of a pruned Failed backup gives its age and the newer good backup."""
    backups = [B("broken", "2026-06-15T09:00", phase="Failed"), B("good", "2026-06-15T10:00")]
    planned = retention.plan(Retention(keep_last=1), backups, now=T0)
    assert planned.reasons["broken"] == "Failed 3h ago, and a newer good backup exists (good)"


def test_the_newest_good_backup_says_why_it_survives():
    """When no rule keeps it, the newest good backup is kept by the safety rule, and says so."""
    planned = retention.plan(Retention(keep_last=0), [B("only", "2026-06-15T11:00")], now=T0)
    assert planned.reasons["only"] == "the newest good backup is never pruned"


def test_the_example_in_docs_backups_md():
    """The retention example of docs/backups.md, decision by decision and reason by reason."""
    backups = [
        B("mon-11", "2026-06-15T11:00", phase="Failed"),
        B("mon-10", "2026-06-15T10:00"),
        B("mon-09", "2026-06-15T09:00"),
        B("mon-08", "2026-06-15T08:00", phase="Failed"),
        B("mon-01", "2026-06-15T01:00"),
        B("sun-23", "2026-06-14T23:00"),
        B("sun-01", "2026-06-14T01:00"),
        B("sat-23", "2026-06-13T23:00"),
        B("fri-23", "2026-06-12T23:00"),
    ]
    planned = retention.plan(Retention(keep_last=2, daily=3), backups, now=T0, in_use=frozenset({"fri-23"}))
    assert planned.delete == ("mon-08", "mon-01", "sun-01")
    assert planned.reasons == {
        "mon-11": "Failed, and no newer good backup exists yet: kept as evidence",
        "mon-10": "kept by keepLast (1 of 2), daily (2026-06-15)",
        "mon-09": "kept by keepLast (2 of 2)",
        "mon-08": "Failed 4h ago, and a newer good backup exists (mon-10)",
        "mon-01": "not kept by any retention rule (keepLast 2, daily 3)",
        "sun-23": "kept by daily (2026-06-14)",
        "sun-01": "not kept by any retention rule (keepLast 2, daily 3)",
        "sat-23": "kept by daily (2026-06-13)",
        "fri-23": "in use by an active drill or restore",
    }
