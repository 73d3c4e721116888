"""Which values are secret: secret parameters and the secret outputs of step types (``vault.read``'s value).

A value computed from a secret is secret too. The engine asks
:func:`is_tainted` of a template before it logs, stores or shows what it
rendered; lint warns when a secret would flow into a notification, an
approval message or the run's outputs.
"""

from __future__ import annotations

from drd.runbooks.spec.catalog import CATALOG
from drd.runbooks.spec.cel import Ref
from drd.runbooks.spec.expressions import Template
from drd.runbooks.spec.models import Runbook


def is_secret(runbook: Runbook, ref: Ref) -> bool:
    """Whether the value at ``ref`` is (or may contain) a secret."""
    spec = runbook.spec
    if ref[0] == "params":
        names = [name for name, parameter in spec.parameters.items() if parameter.secret]
        return bool(names) if len(ref) == 1 else ref[1] in names
    if ref[0] != "steps":
        return False
    steps = [step for step in spec.all_steps if len(ref) == 1 or step.id == ref[1]]
    for step in steps:
        step_type = CATALOG.get(step.type)
        secret = step_type.secret_outputs if step_type else frozenset()
        if len(ref) <= 3 and secret and (len(ref) < 3 or ref[2] == "outputs"):
            return True
        if len(ref) > 3 and ref[2] == "outputs" and ref[3] in secret:
            return True
    return False


def is_tainted(runbook: Runbook, template: Template) -> bool:
    """Whether rendering ``template`` may produce a secret (it reads one)."""
    return any(is_secret(runbook, ref) for ref in template.references)
