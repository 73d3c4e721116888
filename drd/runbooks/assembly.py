"""Building an engine from settings and a loaded configuration: one place for the CLI and the daemon."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from drd.clients.connect import Connections
from drd.clock import Clock, SystemClock
from drd.operations.notify import Notifier
from drd.policy.loader import Config
from drd.runbooks.engine.actions import Action
from drd.runbooks.engine.environment import Environment
from drd.runbooks.engine.locks import RunLocks
from drd.runbooks.engine.runner import Engine, RunObserver
from drd.runbooks.steps import default_actions
from drd.settings import Settings
from drd.store import Store


@dataclass
class Assembly:
    """An engine and what it is made of (the caller closes it)."""

    engine: Engine
    env: Environment
    locks: RunLocks
    connections: Connections

    def close(self) -> None:
        self.connections.close()


ACTOR_ENV = "DRD_ACTOR"
"""Environment variable naming the person at the CLI when ``user@host`` does not (a shared account, CI)."""


def local_identity() -> str:
    """Who acts when a person runs the CLI: ``$DRD_ACTOR`` when set, else ``user@host``."""
    actor = os.environ.get(ACTOR_ENV, "").strip()
    if actor:
        return actor
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def assemble(
    settings: Settings,
    config: Config,
    store: Store,
    *,
    identity: str | None = None,
    executor: str | None = None,
    clock: Clock | None = None,
    observer: RunObserver | None = None,
    lock_seconds: int = 30,
    crash: Callable[[str, str], None] | None = None,
    extra_actions: Mapping[str, Action] | None = None,
) -> Assembly:
    """An engine over the inventory's clusters, Vault (when configured) and the notification webhook.

    ``extra_actions`` adds step types implemented above the runbooks layer (the upgrade steps,
    :func:`drd.upgrades.steps.upgrade_actions`). ``crash`` is a test seam: called at each step
    boundary, it may raise to stop the engine dead.
    """
    clock = clock or SystemClock()
    who = identity or local_identity()
    connections = Connections(
        default_kubeconfig=settings.kube.kubeconfig, timeout_seconds=settings.kube.request_timeout_seconds
    )
    env = Environment(
        config=config,
        connections=connections,
        clock=clock,
        notifier=Notifier(
            webhook_url=settings.notify.webhook_url.value or None,
            clock=clock,
            min_interval_seconds=0,
        ),
        vault_factory=_vault_factory(settings),
        identity=who,
        prometheus_url=settings.prometheus.url or None,
    )

    def run_is_live(run_id: str) -> bool:
        try:
            return not store.get_run(run_id).phase.terminal
        except Exception:
            return False

    locks = RunLocks(
        kube_of=env.kube,
        run_is_live=run_is_live,
        clock=clock,
        namespace=settings.leader.namespace,
        duration_seconds=lock_seconds,
    )
    engine = Engine(
        store=store,
        env=env,
        locks=locks,
        actions={**default_actions(), **(extra_actions or {})},
        observer=observer,
        executor=executor or f"{who}/{id(store):x}",
        crash=crash,
    )
    return Assembly(engine, env, locks, connections)


def _vault_factory(settings: Settings) -> Any:
    if not settings.vault.addr:
        return None

    def build() -> Any:
        from drd.clients.vault import VaultClient

        return VaultClient.from_settings(settings.vault)

    return build
