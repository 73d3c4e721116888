"""Error messages name the file, the line, the path inside the document and the accepted form.

Each test writes literal YAML, so the expected line numbers can be read off the test.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from .builders import a_backup_policy, messages, write

DRILL = textwrap.dedent("""\
    apiVersion: drd.dev/v1
    kind: DrillPolicy
    metadata:
      name: shop-nightly
    spec:
      backupPolicy: shop
      target: {target}
      schedule: "@daily"
      objectives:
        rto: 30m
    """)
"""A drill document; ``target`` is on line 7, ``rto`` on line 10, and appended lines start at 11."""


def test_a_drill_into_a_cluster_outside_the_inventory(policies: Path) -> None:
    """An unknown target names the known clusters."""
    write(policies, "shop.yaml", a_backup_policy(), DRILL.format(target="dr-east"))
    assert messages(policies) == [
        'policies/shop.yaml:21: document 2: spec.target: cluster "dr-east" is not in the inventory '
        "(known: canary-east, dr-west, primary-east)"
    ]


def test_a_drill_into_a_primary_cluster(policies: Path) -> None:
    """Drills never restore into a primary; the message lists the roles that allow drills."""
    write(policies, "drill.yaml", DRILL.format(target="primary-east"))
    write(policies, "shop.yaml", a_backup_policy(cluster="canary-east"))
    assert messages(policies) == [
        'policies/drill.yaml:7: spec.target: cluster "primary-east" has role primary; drills only target clusters '
        "with role dr, canary, staging"
    ]


def test_an_unknown_field_lists_the_known_ones(policies: Path) -> None:
    """A misspelt field is unknown, with the fields of that place and the closest one."""
    write(policies, "shop.yaml", DRILL.format(target="dr-west") + "  tagret: dr-west\n", a_backup_policy())
    assert messages(policies) == [
        "policies/shop.yaml:11: document 1: spec.tagret: unknown field; known fields are: timezone, schedule, "
        "backupPolicy, target, objectives, allowPartiallyFailedBackup, isolation, verify, teardown, timeout; "
        'did you mean "target"?'
    ]


def test_snake_case_is_an_unknown_field(policies: Path) -> None:
    """YAML keys are camelCase; the snake_case spelling is pointed at its camelCase name."""
    write(policies, "shop.yaml", a_backup_policy(count_partially_failed=True))
    (message,) = messages(policies)
    assert message.startswith("policies/shop.yaml:14: spec.count_partially_failed: unknown field;")
    assert message.endswith('did you mean "countPartiallyFailed"?')


def test_a_value_of_the_wrong_type(policies: Path) -> None:
    """The message says what was expected and what was found."""
    write(policies, "drill.yaml", DRILL.format(target="dr-west") + "  isolation:\n    denyNetwork: maybe\n")
    write(policies, "shop.yaml", a_backup_policy())
    assert messages(policies) == [
        'policies/drill.yaml:12: spec.isolation.denyNetwork: expected true or false, got the string "maybe"'
    ]


def test_an_unquoted_yes_where_a_name_belongs(policies: Path) -> None:
    """YAML's yes-is-true surprise is explained."""
    write(policies, "shop.yaml", a_backup_policy(application=True))
    assert messages(policies) == [
        "policies/shop.yaml:6: spec.application: expected a valid name: at most 63 lowercase letters, digits and "
        '"-", starting and ending with a letter or digit, got the boolean true (YAML reads unquoted yes, no, on, '
        "off, true and false as booleans: quote the value)"
    ]


def test_a_missing_field_says_what_belongs_there(policies: Path) -> None:
    """A required field that is absent is reported at its parent's line with the expected form."""
    write(policies, "drill.yaml", DRILL.format(target="dr-west").replace("    rto: 30m\n", "    rta: 30m\n"))
    write(policies, "shop.yaml", a_backup_policy())
    assert messages(policies)[0] == (
        "policies/drill.yaml:9: spec.objectives.rto: required field is missing; expected a duration: a number and "
        "a unit (w, d, h, m, s), largest first, e.g. 30m, 6h, 1h30m, 7d, 2w or 720h0m0s"
    )


def test_an_enum_value_lists_the_accepted_ones(policies: Path) -> None:
    """A role that does not exist names the roles that do."""
    write(policies, "more.yaml", """
        apiVersion: drd.dev/v1
        kind: Cluster
        metadata:
          name: dr-south
        spec:
          region: sa-east-1
          role: backup
          connection: {context: dr-south}
        """)  # fmt: skip
    assert messages(policies) == [
        'policies/more.yaml:7: spec.role: expected one of: primary, dr, canary, staging, got the string "backup"'
    ]


def test_a_check_of_unknown_type(policies: Path) -> None:
    """Checks are told apart by type; an unknown one lists the accepted types, at its list item's line."""
    write(policies, "drill.yaml", DRILL.format(target="dr-west") + "  verify:\n    - type: ping\n      host: x\n")
    write(policies, "shop.yaml", a_backup_policy())
    assert messages(policies) == [
        'policies/drill.yaml:12: spec.verify[0]: unknown type "ping"; accepted types: exec, http, job, '
        "objectsPresent, resourceExists, tcp, workloadsReady"
    ]


def test_a_field_inside_a_check(policies: Path) -> None:
    """Paths inside checks read spec.verify[N].field, without pydantic's union tag."""
    verify = "  verify:\n    - type: workloadsReady\n    - type: http\n      service: storefront\n      port: 0\n"
    write(policies, "drill.yaml", DRILL.format(target="dr-west") + verify)
    write(policies, "shop.yaml", a_backup_policy())
    assert messages(policies) == ["policies/drill.yaml:15: spec.verify[1].port: must be at least 1, got the integer 0"]


def test_a_bad_cron_expression(policies: Path) -> None:
    """A schedule with four fields says what a schedule may be."""
    write(policies, "shop.yaml", a_backup_policy(schedule="0 3 * *"))
    assert messages(policies) == [
        'policies/shop.yaml:11: spec.schedule: "0 3 * *" has 4 fields; use a five-field cron expression such as '
        '"0 3 * * *" (minute hour day-of-month month day-of-week), a macro (@hourly, @daily, @weekly, @monthly, '
        '@yearly) or an interval such as "@every 6h"'
    ]


def test_a_bad_duration(policies: Path) -> None:
    """A fractional duration shows the accepted form."""
    write(policies, "shop.yaml", a_backup_policy(ttl="1.5d"))
    assert messages(policies) == [
        'policies/shop.yaml:14: spec.ttl: invalid duration "1.5d": use a number and a unit (w, d, h, m, s), '
        "largest first, e.g. 30m, 6h, 1h30m, 7d, 2w or 720h0m0s"
    ]


def test_an_rpo_shorter_than_the_schedule_interval(policies: Path) -> None:
    """An RPO the schedule cannot meet is an error at the rpo, with the gap it must cover."""
    write(policies, "shop.yaml", a_backup_policy(schedule="0 */6 * * *", objectives={"rpo": "4h"}))
    assert messages(policies) == [
        "policies/shop.yaml:13: spec.objectives.rpo: rpo 4h is shorter than the longest gap between scheduled "
        'backups (6h for "0 */6 * * *"), so it would be breached before backups run; set rpo to at least 6h or '
        "back up more often"
    ]


def test_a_duplicate_key(policies: Path) -> None:
    """A key repeated in one mapping is an error at the repeat, naming the first line."""
    write(policies, "drill.yaml", DRILL.format(target="dr-west") + "  target: canary-east\n")
    write(policies, "shop.yaml", a_backup_policy())
    assert messages(policies) == [
        'policies/drill.yaml:11: spec.target: duplicate key "target" (first on line 7): a key may appear once per '
        "mapping"
    ]


def test_the_same_name_in_two_files(policies: Path) -> None:
    """Two documents of one kind may not share a name; the error names both files."""
    write(policies, "a.yaml", a_backup_policy())
    write(policies, "b.yaml", a_backup_policy())
    assert messages(policies) == [
        'policies/b.yaml:4: metadata.name: BackupPolicy "shop" is already defined in policies/a.yaml:4'
    ]


def test_an_unknown_kind_lists_the_accepted_kinds(policies: Path) -> None:
    """Only registered kinds load; a List wrapper is pointed at multi-document files."""
    write(policies, "list.yaml", "apiVersion: drd.dev/v1\nkind: ClusterList\nitems: []\n")
    assert messages(policies) == [
        'policies/list.yaml:2: kind: unknown kind "ClusterList"; accepted kinds: BackupPolicy, Cluster, '
        "DrillPolicy, RotationPolicy, UpgradePlan; write one document per item, separated by ---"
    ]


def test_another_api_version(policies: Path) -> None:
    """A Kubernetes manifest in the policy directory is named as not drd's."""
    write(policies, "velero.yaml", "apiVersion: velero.io/v1\nkind: Backup\n")
    assert messages(policies) == [
        'policies/velero.yaml:1: apiVersion: must be "drd.dev/v1" (got "velero.io/v1"): drd reads only its own '
        "documents"
    ]


def test_an_odd_label_key_is_quoted_in_the_path(policies: Path) -> None:
    """Keys that are not identifiers appear in brackets, so the path stays unambiguous."""
    document = a_backup_policy()
    document["metadata"]["labels"] = {"team name": "x"}
    write(policies, "shop.yaml", document)
    (message,) = messages(policies)
    assert message.startswith('policies/shop.yaml:6: metadata.labels["team name"]: label key "team name" is not valid')


def test_every_problem_in_every_file_is_reported(policies: Path) -> None:
    """Loading never stops at the first problem: each file's problems come back together, ordered by file and line."""
    write(policies, "a.yaml", a_backup_policy(ttl="soon", schedule="@never"))
    write(policies, "b.yaml", DRILL.format(target="nowhere").replace("30m", "30"))
    assert [message.split(": ")[0] for message in messages(policies)] == [
        "policies/a.yaml:11",
        "policies/a.yaml:14",
        "policies/b.yaml:10",
    ]
