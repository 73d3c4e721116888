"""The string types of policy documents, validated like Kubernetes validates them.

Each type is ``Annotated[str, …]`` with a validator whose message states the
accepted form (pydantic's own ``pattern`` message only prints a regex) and a
JSON Schema ``pattern`` for editors. Names follow Kubernetes: DNS-1123 labels
for object and policy names, qualified names for label keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, GetCoreSchemaHandler, GetJsonSchemaHandler, PlainSerializer, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from drd.policy.frozen import FrozenMap

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
LABEL_NAME = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
NAMESPACE_GLOB = r"^[-a-z0-9*?\[\]{},]+$"
RESOURCE = r"^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$"
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def short(value: str, limit: int = 40) -> str:
    """``value`` cut to ``limit`` characters for a message, so a huge input never floods the output."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass(frozen=True)
class Matches:
    """Annotation metadata: the string must match ``pattern``; the error message names the ``accepted`` form."""

    pattern: str
    accepted: str
    max_length: int
    examples: tuple[str, ...]

    def check(self, value: str) -> str:
        """``value`` unchanged, or ValueError saying what is accepted."""
        if len(value) > self.max_length or not re.fullmatch(self.pattern, value):
            raise ValueError(f'"{short(value)}" is not {self.accepted}')
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": self.pattern,
            "maxLength": self.max_length,
            "examples": list(self.examples),
        }


Name = Annotated[
    str,
    Matches(
        DNS_LABEL,
        'a valid name: at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit',
        63,
        ("shop", "dr-west"),
    ),
]
"""A policy, cluster, namespace, container or storage-location name (Kubernetes DNS-1123 label)."""

ObjectName = Annotated[
    str,
    Matches(
        DNS_SUBDOMAIN,
        'a valid object name: at most 253 lowercase letters, digits, "-" and ".", '
        "starting and ending with a letter or digit",
        253,
        ("storefront", "shop-postgres"),
    ),
]
"""A Kubernetes object name (DNS-1123 subdomain)."""

ServiceName = Annotated[
    str,
    Matches(
        DNS_1035_LABEL,
        'a valid Service name: at most 63 lowercase letters, digits and "-", starting with a letter',
        63,
        ("storefront",),
    ),
]
"""A Kubernetes Service name (DNS-1035 label)."""

NamespacePattern = Annotated[
    str,
    Matches(
        NAMESPACE_GLOB,
        'a namespace name or a glob such as "shop-*" (lowercase letters, digits, "-" and *, ?, [ ], { })',
        63,
        ("shop", "shop-*"),
    ),
]
"""A namespace name, or a Velero 1.18 namespace glob (``*``, ``?``, ``[abc]``, ``{a,b}``)."""

ResourceName = Annotated[
    str,
    Matches(
        RESOURCE,
        'a resource such as "pods", "deployments.apps" or "*"',
        253,
        ("deployments.apps", "persistentvolumeclaims", "*"),
    ),
]
"""A resource name as Velero filters take it: plural, optionally with its API group."""

Quantity = Annotated[
    str,
    Matches(QUANTITY, 'a Kubernetes quantity such as "500m", "2", "512Mi" or "10Gi"', 32, ("500m", "4", "8Gi")),
]
"""A Kubernetes resource quantity (cpu, memory, storage)."""

EnvName = Annotated[
    str,
    Matches(
        ENV_NAME, 'an environment variable name (letters, digits and "_", not starting with a digit)', 253, ("PGHOST",)
    ),
]
"""An environment variable name."""


def _check_label_key(key: str) -> str:
    """``key`` unchanged if it is a Kubernetes label key (``[prefix/]name``), else ValueError saying why."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not re.fullmatch(DNS_SUBDOMAIN, prefix)):
        raise ValueError(f'label key prefix "{short(prefix)}" is not a DNS subdomain such as "app.kubernetes.io"')
    if len(name) > 63 or not re.fullmatch(LABEL_NAME, name):
        raise ValueError(
            f'label key "{short(key)}" is not valid: use [prefix/]name where name is at most 63 letters, digits, '
            '"-", "_" and ".", starting and ending with a letter or digit'
        )
    return key


LabelKey = Annotated[
    str,
    AfterValidator(_check_label_key),
    WithJsonSchema({"type": "string", "maxLength": 317, "examples": ["app", "app.kubernetes.io/name"]}),
]
"""A label key: an optional DNS-subdomain prefix and ``/``, then a name of at most 63 characters."""

LabelValue = Annotated[
    str,
    Matches(
        LABEL_VALUE,
        'a valid label value: at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or '
        "digit, or empty",
        63,
        ("shop", ""),
    ),
]
"""A label value (may be empty)."""


def _freeze(value: Mapping[str, str]) -> FrozenMap[str, str]:
    return FrozenMap(value)


Labels = Annotated[Mapping[LabelKey, LabelValue], AfterValidator(_freeze), PlainSerializer(dict, return_type=dict)]
"""A label map (immutable)."""

EnvMap = Annotated[Mapping[EnvName, str], AfterValidator(_freeze), PlainSerializer(dict, return_type=dict)]
"""Environment variables with plain values (immutable)."""
