"""Object-metadata validation with the apiserver's rules and wording.

Only ``metadata`` is validated (names, label keys and values, annotation keys):
the emulator does no schema validation of ``spec``. The messages are copied from
``k8s.io/apimachinery/pkg/util/validation`` so that a 422 from the emulator reads
like one from a cluster.
"""

from __future__ import annotations

import re
from typing import Any

from drd.sandbox.kube.errors import FieldError, invalid_value, required_value
from drd.sandbox.kube.registry import NameRule, ResourceType

_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = _LABEL_FMT + r"(\." + _LABEL_FMT + ")*"
_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"

_SUBDOMAIN = re.compile(f"^{_SUBDOMAIN_FMT}$")
_LABEL = re.compile(f"^{_LABEL_FMT}$")
_DNS1035 = re.compile(f"^{_DNS1035_FMT}$")
_QUALIFIED_NAME = re.compile(f"^{_QUALIFIED_NAME_FMT}$")
_LABEL_VALUE = re.compile(f"^{_LABEL_VALUE_FMT}$")

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '"
    + _SUBDOMAIN_FMT
    + "')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '"
    + _LABEL_FMT
    + "')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '" + _DNS1035_FMT + "')"
)
QUALIFIED_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '"
    + _QUALIFIED_NAME_FMT
    + "')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '" + _LABEL_VALUE_FMT + "')"
)

MAX_GENERATED_NAME_PREFIX = 58
"""``generateName`` prefixes are cut to this length so prefix + 5 random characters fit in 63."""


def name_problems(name: str, rule: NameRule) -> list[str]:
    """The reasons ``name`` is not acceptable under ``rule`` (empty when it is)."""
    if rule == "path":
        if name in (".", ".."):
            return [f"may not be '{name}'"]
        return [f"may not contain '{c}'" for c in "/%" if c in name]
    limit, pattern, message = {
        "subdomain": (253, _SUBDOMAIN, SUBDOMAIN_MSG),
        "label": (63, _LABEL, LABEL_MSG),
        "dns1035": (63, _DNS1035, DNS1035_MSG),
    }[rule]
    problems = []
    if len(name) > limit:
        problems.append(f"must be no more than {limit} characters")
    if not pattern.match(name):
        problems.append(message)
    return problems


def qualified_name_problems(key: str) -> list[str]:
    """Why ``key`` is not a valid label or annotation key (``[prefix/]name``)."""
    prefix, slash, name = key.rpartition("/")
    problems: list[str] = []
    if slash:
        if not prefix:
            problems.append("prefix part must be non-empty")
        else:
            problems.extend("prefix part " + p for p in name_problems(prefix, "subdomain"))
    if not name:
        problems.append("name part must be non-empty")
    else:
        if len(name) > 63:
            problems.append("name part must be no more than 63 characters")
        if not _QUALIFIED_NAME.match(name):
            problems.append(QUALIFIED_NAME_MSG)
    return problems


def label_value_problems(value: str) -> list[str]:
    """Why ``value`` is not a valid label value."""
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if not _LABEL_VALUE.match(value):
        problems.append(LABEL_VALUE_MSG)
    return problems


def validate_metadata(rt: ResourceType, obj: dict[str, Any]) -> list[FieldError]:
    """Field errors in ``obj["metadata"]`` (name, labels, annotations), in the apiserver's order."""
    meta = obj.get("metadata") or {}
    errors: list[FieldError] = []
    name = meta.get("name") or ""
    if not name:
        errors.append(required_value("metadata.name", "name or generateName is required"))
    else:
        errors.extend(invalid_value("metadata.name", name, p) for p in name_problems(name, rt.name_rule))
    labels = meta.get("labels") or {}
    for key, value in labels.items():
        errors.extend(invalid_value("metadata.labels", key, p) for p in qualified_name_problems(key))
        if not isinstance(value, str):
            errors.append(invalid_value("metadata.labels", value, "label values must be strings"))
        else:
            errors.extend(invalid_value("metadata.labels", value, p) for p in label_value_problems(value))
    for key in meta.get("annotations") or {}:
        errors.extend(invalid_value("metadata.annotations", key, p) for p in qualified_name_problems(key.lower()))
    return errors


def finalizer_problems(old_meta: dict[str, Any], new_meta: dict[str, Any]) -> list[FieldError]:
    """Finalizers may not be added to an object that is being deleted."""
    if not old_meta.get("deletionTimestamp"):
        return []
    old = set(old_meta.get("finalizers") or [])
    added = [f for f in new_meta.get("finalizers") or [] if f not in old]
    if not added:
        return []
    go_list = "[]string{" + ", ".join(f'"{f}"' for f in added) + "}"
    return [
        FieldError(
            "FieldValueForbidden",
            "metadata.finalizers",
            f"no new finalizers can be added if the object is being deleted, found new finalizers {go_list}",
        )
    ]
