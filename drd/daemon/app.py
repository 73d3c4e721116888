"""The daemon's composition root: the only place that wires settings, store, clients, metrics and jobs.

Lifecycle: :meth:`Daemon.start` opens the store, starts ``/metrics``,
``/healthz`` and ``/readyz``, loads the configuration, joins the leader
election and starts the scheduler; :meth:`Daemon.run` loops until asked to
stop, reloading when the configuration directory changes or SIGHUP asks;
:meth:`Daemon.shutdown` stops taking work, gives running jobs a bounded grace
to reach a recorded state, releases the Lease and exits.

Only the leader acts (jobs, backup observation); every replica serves its
health endpoints and checks clusters, so a follower is ready to take over.
"""

from __future__ import annotations

import functools
import os
import threading

import prometheus_client
import structlog
from prometheus_client import CollectorRegistry

from drd.backups import run as backups
from drd.clients.connect import Connections
from drd.clients.errors import KubeError
from drd.clients.kube import KubeClient
from drd.clients.vault import VaultClient
from drd.clock import Clock, SystemClock
from drd.daemon import catchup, leader_config
from drd.daemon.backup_observer import BackupObserver
from drd.daemon.cluster_health import HealthBoard, check_cluster
from drd.daemon.config_source import ConfigSource
from drd.daemon.drill_recorder import finish_drill
from drd.daemon.drills import check_freshness, run_drill, sweep_drill_namespaces
from drd.daemon.finishers import Finishers
from drd.daemon.http import HealthServer
from drd.daemon.jobs import JobContext, JobSpec
from drd.daemon.leader import LeaderElector
from drd.daemon.readiness import ClusterStatus, ConfigStatus, LeaderStatus, Readiness
from drd.daemon.recorder import Recorder
from drd.daemon.restores import finish_restore
from drd.daemon.rotation_recorder import finish_rotation
from drd.daemon.rotations import check_rotation_ages, start_scheduled_rotation
from drd.daemon.rpo import RpoWatch
from drd.daemon.runbook_runs import RunbookRuns
from drd.daemon.scheduler import JobScheduler
from drd.daemon.upgrade_ledger import StoreLedger
from drd.daemon.upgrade_recorder import finish_upgrade_run
from drd.drills.run import KIND as DRILL_KIND
from drd.errors import ConfigError
from drd.metrics import Metrics
from drd.operations import repo_escrow
from drd.operations.notification import Notification
from drd.operations.notify import Notifier
from drd.outcomes import Outcome, Phase
from drd.policy.loader import Config
from drd.policy.models.backup import BackupPolicy
from drd.policy.models.cluster import Cluster, Role
from drd.policy.models.drill import DrillPolicy
from drd.policy.models.rotation import RotationPolicy
from drd.policy.models.upgrade import UpgradePlan
from drd.restore.run import KIND as RESTORE_KIND
from drd.rotation.run import KIND as ROTATION_KIND
from drd.runbooks.observer import MetricsObserver
from drd.runbooks.usage import backups_in_use
from drd.settings import Settings
from drd.store import Store, open_store
from drd.upgrades.progress import CLUSTER_KIND as UPGRADE_CLUSTER_KIND
from drd.upgrades.progress import STAGE_KIND as UPGRADE_STAGE_KIND
from drd.upgrades.run import UpgradeDriver

log = structlog.get_logger(__name__)

SCHEDULE_RECONCILE_SECONDS = 60.0
RETENTION_SECONDS = 300.0
RPO_CHECK_SECONDS = 30.0
LOGGED_ONLY = frozenset(
    {"health", "rpo", "runbooks", "record", "sweep", "freshness", "upgrades", "rotation-age", DRILL_KIND, ROTATION_KIND}
)
"""Job outcomes only logged: checks and housekeeping (upgrades are advanced and ages checked every few seconds:
storing each pass would fill the store), and drills and rotations (each is its own run in the store)."""
RECORD_SECONDS = 15.0
"""How often the leader counts drills and restores finished by the CLI (their evidence is in the store)."""
SWEEP_SECONDS = 60.0
"""How often expired drill namespaces are looked for."""
RUNBOOK_POLL_SECONDS = 5.0
UPGRADE_ADVANCE_SECONDS = 15.0
"""How often the daemon starts the next runs of upgrades already started, and exports their phases."""
"""How often the leader looks for runbook runs to carry on (detached, approved, queued, interrupted)."""
HEALTH_CHECK_SECONDS = 15.0
REPO_ESCROW_SECONDS = 300.0
"""How often the leader checks every cluster's velero-repo-credentials against the escrow in Vault (when configured)."""


class Daemon:
    """drd's long-running service."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, identity: str | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.identity = identity or leader_config.default_identity()
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created: 1/3 of a scrape, no use
        self.registry = CollectorRegistry(auto_describe=True)
        self.metrics = Metrics(self.registry, clock=self.clock)
        self.config = ConfigSource([settings.config.directory], clock=self.clock)
        self.connections = Connections(
            default_kubeconfig=settings.kube.kubeconfig, timeout_seconds=settings.kube.request_timeout_seconds
        )
        self.health = HealthBoard()
        self.notifier = Notifier(
            webhook_url=settings.notify.webhook_url.value or None,
            clock=self.clock,
            min_interval_seconds=settings.notify.min_interval_seconds,
        )
        self._repo_alerts: dict[str, tuple[str, str | None]] = {}
        """velero-repo-credentials findings announced: cluster → (state, digest); only the escrow job uses it."""
        self._repo_states: dict[str, str] = {}
        """The states the escrow job found last (a pass that changes nothing and finds the same is only logged)."""
        self.store: Store | None = None
        self.elector: LeaderElector | None = None
        self.observer: BackupObserver | None = None
        self.rpo: RpoWatch | None = None
        self.http = HealthServer(
            settings.daemon.listen, registry=self.registry, liveness=self._alive, readiness=self.readiness
        )
        self._stopping = threading.Event()
        self._reload_requested = threading.Event()
        self._leading = threading.Event()
        context = JobContext(
            clock=self.clock,
            is_leader=self.is_leader,
            is_stopping=self._stopping.is_set,
            record=self._record,
            schedule_retry=lambda spec, delay, attempt: None,
        )
        self.scheduler = JobScheduler(context)
        context.schedule_retry = self.scheduler.schedule_retry
        self._recorder: Recorder | None = None
        self.runbook_runs: RunbookRuns | None = None
        self.finishers = Finishers(
            {
                DRILL_KIND: lambda run: finish_drill(
                    self._store(), run, config=self.config.current, metrics=self.metrics, notifier=self.notifier
                ),
                RESTORE_KIND: lambda run: finish_restore(
                    self._store(), run, config=self.config.current, metrics=self.metrics
                ),
                UPGRADE_CLUSTER_KIND: lambda run: finish_upgrade_run(self._store(), run, notifier=self.notifier),
                UPGRADE_STAGE_KIND: lambda run: finish_upgrade_run(self._store(), run, notifier=self.notifier),
                ROTATION_KIND: lambda run: finish_rotation(
                    self._store(), run, metrics=self.metrics, notifier=self.notifier
                ),
            },
            then=MetricsObserver(self.metrics),
        )
        """Records finished drills, restores and upgrade runs (the engine's observer, and the ``runs:record`` job)."""

    # Lifecycle
    def start(self) -> None:
        """Open the store, serve health endpoints, load config, join the election, start scheduling."""
        log.info("daemon_starting", identity=self.identity, settings=self.settings.effective())
        self.store = open_store(self.settings.store.url, clock=self.clock)
        self._recorder = Recorder(store=self.store, metrics=self.metrics)
        self.scheduler.context.history = catchup.StoreHistory(self.store)
        self.rpo = RpoWatch(store=self.store, clock=self.clock)
        self.observer = BackupObserver(
            store=self.store, record_metrics=self._backup_finished, notifier=self.notifier, clock=self.clock
        )
        self.metrics.set_rpo_provider(self.rpo.samples)
        self.runbook_runs = RunbookRuns(
            settings=self.settings,
            store=self.store,
            config=lambda: self.config.current,
            identity=self.identity,
            clock=self.clock,
            observer=self.finishers,
        )
        self.http.start()
        self._load_config()
        if self.config.current is None:
            raise ConfigError(
                "no valid configuration to start with:\n" + "\n".join(str(p) for p in self.config.last_attempt.problems)
            )
        self.scheduler.start()
        self._apply_config()
        self._start_election()

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set, reloading configuration when it changes or on request (SIGHUP)."""
        poll = self.settings.daemon.reload_poll_seconds
        last_poll = self.clock.monotonic()
        while not stop.wait(min(poll, 1.0)):
            due = self.clock.monotonic() - last_poll >= poll
            if self._reload_requested.is_set() or (due and self.config.changed()):
                self._reload_requested.clear()
                self.reload()
            if due:
                last_poll = self.clock.monotonic()

    def request_reload(self) -> None:
        """Ask the run loop to reload (signal handlers call this: it only sets a flag)."""
        self._reload_requested.set()

    def reload(self) -> None:
        """Load the configuration again; a broken one is reported and the last good one keeps running."""
        self._load_config()
        self._apply_config()

    def shutdown(self) -> bool:
        """Stop taking work, let running jobs finish within the grace, release the Lease; True if all finished."""
        self._stopping.set()
        log.info("daemon_stopping", grace_seconds=self.settings.daemon.shutdown_grace_seconds)
        finished = self.scheduler.shutdown(grace_seconds=self.settings.daemon.shutdown_grace_seconds)
        if self.observer is not None:
            self.observer.stop()
        if self.runbook_runs is not None:
            self.runbook_runs.close()
        if self.elector is not None:
            self.elector.stop()
        self.http.stop()
        self.connections.close()
        if self.store is not None:
            self.store.close()
        log.info("daemon_stopped", jobs_finished=finished)
        return finished

    # What the endpoints and the jobs ask
    def is_leader(self) -> bool:
        if self.elector is None:
            return not self.settings.leader.enabled
        return self.elector.is_leader

    def readiness(self) -> Readiness:
        if self.elector is None:
            alone = not self.settings.leader.enabled
            leader = LeaderStatus(known=True, is_self=True, holder=self.identity) if alone else LeaderStatus.unknown()
        else:
            holder = self.elector.leader_identity
            leader = LeaderStatus(known=holder is not None, is_self=self.elector.is_leader, holder=holder)
        last = self.config.last_attempt
        config = ConfigStatus(valid=self.config.valid, errors=last.problems, loaded_at=self.config.loaded_at)
        checked = self.health.snapshot()
        inventory = self.config.current.clusters if self.config.current else {}
        clusters = {
            name: ClusterStatus(reachable=h.reachable, error=h.error)
            if (h := checked.get(name))
            else ClusterStatus(reachable=False, error="not checked yet")
            for name in inventory
        }
        problems = ("shutting down",) if self._stopping.is_set() else ()
        return Readiness(leader=leader, config=config, clusters=clusters, other_problems=problems)

    def _alive(self) -> bool:
        """Liveness: the process answers and its scheduler thread runs (a wedged process would not)."""
        return self.scheduler.running or self._stopping.is_set()

    # Configuration
    def _load_config(self) -> None:
        result = self.config.load()
        self.metrics.set_config_errors(result.errors_by_file)
        if result.problems:
            log.error(
                "config_invalid",
                errors=[str(p) for p in result.problems],
                keeping_config_loaded_at=self.config.loaded_at.isoformat() if self.config.loaded_at else None,
            )
        else:
            log.info("config_loaded", clusters=len(result.config.clusters) if result.config else 0)

    def _apply_config(self) -> None:
        config = self.config.current
        if config is None:
            return
        self.metrics.set_policies(config.backup_policies.values(), config.drill_policies.values())
        self.metrics.set_clusters(config.clusters)
        self._seed_last_success(config)
        self.connections.retain(config.clusters)
        self.health.retain(set(config.clusters))
        if self.rpo is not None:
            self.rpo.set_config(config)
        self.scheduler.sync(self._jobs(config))
        if self._leading.is_set():
            self._observe(config)

    def _seed_last_success(self, config: Config) -> None:
        """Last successful backup per policy from the store, so the gauge is right from start-up."""
        if self.store is None:
            return
        for name, policy in config.backup_policies.items():
            record = self.store.last_good_backup(name)
            if record is not None and record.completed_at is not None:
                cluster = config.source_cluster(policy).metadata.name
                self.metrics.set_backup_last_success(policy=name, cluster=cluster, completed=record.completed_at)

    def _jobs(self, config: Config) -> list[JobSpec]:
        jobs = [
            JobSpec(
                id="health:clusters",
                kind="health",
                subject="clusters",
                func=self._check_clusters,
                interval_seconds=HEALTH_CHECK_SECONDS,
                leader_only=False,
            ),
            JobSpec(
                id="rpo:check", kind="rpo", subject="policies", func=self._check_rpo, interval_seconds=RPO_CHECK_SECONDS
            ),
            JobSpec(
                id="runs:record",
                kind="record",
                subject="runs",
                func=self._record_finished_runs,
                interval_seconds=RECORD_SECONDS,
            ),
            JobSpec(
                id="runbooks:runs",
                kind="runbooks",
                subject="runs",
                func=self._carry_on_runbooks,
                interval_seconds=RUNBOOK_POLL_SECONDS,
            ),
            JobSpec(
                id="upgrades:advance",
                kind="upgrades",
                subject="plans",
                func=functools.partial(self._advance_upgrades, config),
                inputs=(config,),
                interval_seconds=UPGRADE_ADVANCE_SECONDS,
            ),
        ]
        for name, policy in sorted(config.backup_policies.items()):
            cluster = config.source_cluster(policy)
            jobs.append(
                JobSpec(
                    id=f"schedule:{name}",
                    kind="schedule",
                    subject=name,
                    func=functools.partial(self._reconcile_schedule, policy, cluster),
                    inputs=(policy, cluster),
                    interval_seconds=SCHEDULE_RECONCILE_SECONDS,
                )
            )
            if policy.spec.retention.rules:
                jobs.append(
                    JobSpec(
                        id=f"retention:{name}",
                        kind="retention",
                        subject=name,
                        func=functools.partial(self._prune, policy, cluster),
                        inputs=(policy, cluster),
                        interval_seconds=RETENTION_SECONDS,
                    )
                )
        jobs += self._drill_jobs(config)
        jobs += self._rotation_jobs(config)
        if self.settings.vault.addr:  # the escrow lives in Vault: without one there is nothing to compare with
            jobs.append(
                JobSpec(
                    id="velero:repo-escrow",
                    kind="repo-escrow",
                    subject=repo_escrow.SECRET_NAME,
                    func=functools.partial(self._escrow_repo_credentials, config),
                    inputs=(tuple(sorted(config.clusters.items())),),
                    interval_seconds=REPO_ESCROW_SECONDS,
                )
            )
        return jobs

    def _drill_jobs(self, config: Config) -> list[JobSpec]:
        """Each DrillPolicy on its schedule (missed slots caught up once), the sweeper, the freshness check."""
        jobs = [
            JobSpec(
                id="drills:sweep",
                kind="sweep",
                subject="drill-namespaces",
                func=functools.partial(self._sweep_drills, config),
                inputs=(config,),
                interval_seconds=SWEEP_SECONDS,
            ),
            JobSpec(
                id="drills:freshness",
                kind="freshness",
                subject="drills",
                func=functools.partial(self._check_drill_freshness, config),
                inputs=(config,),
                interval_seconds=RPO_CHECK_SECONDS,
            ),
        ]
        for name, policy in sorted(config.drill_policies.items()):
            jobs.append(
                JobSpec(
                    id=f"drill:{name}",
                    kind=DRILL_KIND,
                    subject=name,
                    func=functools.partial(self._drill, config, policy),
                    inputs=(policy, config.clusters.get(policy.spec.target)),
                    schedule=policy.spec.schedule,
                    catch_up="once",
                    starting_deadline=policy.spec.effective_timeout,
                    retries=0,
                )
            )
        return jobs

    def _rotation_jobs(self, config: Config) -> list[JobSpec]:
        """Each RotationPolicy on its schedule, and the age check (``maxAge``, ``drd_secret_age_seconds``)."""
        policies = config.of_kind(RotationPolicy)
        if not policies:
            return []
        jobs = [
            JobSpec(
                id="rotations:age",
                kind="rotation-age",
                subject="rotations",
                func=functools.partial(self._check_rotation_ages, config),
                inputs=(config,),
                interval_seconds=RPO_CHECK_SECONDS,
            )
        ]
        for name, policy in sorted(policies.items()):
            if policy.spec.schedule is None:
                continue
            jobs.append(
                JobSpec(
                    id=f"rotation:{name}",
                    kind=ROTATION_KIND,
                    subject=name,
                    func=functools.partial(self._rotate, config, policy, "schedule"),
                    inputs=(policy,),
                    schedule=policy.spec.schedule,
                    catch_up="once",
                    retries=0,
                )
            )
        return jobs

    def _rotate(self, config: Config, policy: RotationPolicy, trigger: str) -> Outcome:
        assert self.runbook_runs is not None
        return start_scheduled_rotation(
            self.runbook_runs.assembly(config),
            config,
            policy,
            trigger=trigger,
            lock_cluster=self.settings.leader.cluster,
            clock=self.clock,
        )

    def _check_rotation_ages(self, config: Config) -> Outcome:
        return check_rotation_ages(
            config,
            self._store(),
            self.metrics,
            rotate=lambda policy: self._rotate(config, policy, "max-age"),
            clock=self.clock,
        )

    def _drill(self, config: Config, policy: DrillPolicy) -> Outcome:
        assert self.runbook_runs is not None
        return run_drill(self.runbook_runs.assembly(config), config, policy, trigger="schedule", clock=self.clock)

    def _sweep_drills(self, config: Config) -> Outcome:
        return sweep_drill_namespaces(config, self.connections, clock=self.clock)

    def _check_drill_freshness(self, config: Config) -> Outcome:
        assert self.store is not None
        return check_freshness(config, self.store, self.metrics, clock=self.clock)

    # Jobs
    def _reconcile_schedule(self, policy: BackupPolicy, cluster: Cluster) -> Outcome:
        return backups.reconcile_schedule(self.connections.get(cluster), policy, cluster, clock=self.clock)

    def _prune(self, policy: BackupPolicy, cluster: Cluster) -> Outcome:
        in_use = backups_in_use(self.store) if self.store is not None else frozenset()
        return backups.prune(self.connections.get(cluster), policy, cluster, in_use=in_use, clock=self.clock)

    def _store(self) -> Store:
        assert self.store is not None, "the store opens at start()"
        return self.store

    def _record_finished_runs(self) -> Outcome:
        started = self.clock.now()
        counted = self.finishers.count_finished(self._store())
        return Outcome("record", "runs", Phase.COMPLETED, started, self.clock.now(), {"counted": counted})

    def _carry_on_runbooks(self) -> Outcome:
        assert self.runbook_runs is not None
        return self.runbook_runs.tick()

    def _advance_upgrades(self, config: Config) -> Outcome:
        """Start the next runs of every upgrade already started (never a new one), and export each cluster's phase."""
        assert self.runbook_runs is not None
        started = self.clock.now()
        plans = config.of_kind(UpgradePlan)
        submitted = 0
        for name, plan in sorted(plans.items()):
            ledger = StoreLedger(self._store())
            if not ledger.runs(name):
                self.metrics.set_upgrade_phases(name, {})
                continue
            driver = UpgradeDriver(
                self.runbook_runs.assembly(config).engine, config, plan, ledger, requested_by="daemon", trigger="daemon"
            )
            before = driver.status()
            now = driver.advance() if before.start else before
            submitted += len(before.start)
            self.metrics.set_upgrade_phases(name, {c.cluster: c.phase for c in now.clusters})
        return Outcome(
            "upgrades", "plans", Phase.COMPLETED, started, self.clock.now(), {"plans": len(plans), "started": submitted}
        )

    def _check_clusters(self) -> Outcome:
        started = self.clock.now()
        config = self.config.current
        unreachable = []
        for name, cluster in sorted((config.clusters if config else {}).items()):
            health = check_cluster(self.connections.get(cluster), cluster, now=self.clock.now())
            self.health.update(health)
            self.metrics.set_cluster_reachable(name, health.reachable)
            for location, available in health.locations.items():
                self.metrics.set_location_available(name, location, available)
            if not health.reachable:
                unreachable.append(name)
        phase = Phase.COMPLETED if not unreachable else Phase.PARTIALLY_FAILED
        return Outcome("health", "clusters", phase, started, self.clock.now(), {"unreachable": unreachable})

    def _escrow_repo_credentials(self, config: Config) -> Outcome:
        """Escrow, compare and seed every cluster's velero-repo-credentials; export states; announce new findings."""
        started = self.clock.now()
        targets: dict[str, repo_escrow.VeleroCluster] = {}
        unreachable: dict[str, str] = {}
        for name, cluster in sorted(config.clusters.items()):
            try:
                targets[name] = repo_escrow.VeleroCluster(self.connections.get(cluster), cluster.spec.velero_namespace)
            except KubeError as exc:
                unreachable[name] = f"cannot connect: {exc}"
        vault = VaultClient.from_settings(self.settings.vault, timeout=self.settings.kube.request_timeout_seconds)
        try:
            report = repo_escrow.reconcile_repo_credentials(targets, vault, unreachable=unreachable)
        finally:
            vault.close()
        self.metrics.set_repo_credentials_states(report.states)
        for finding in repo_escrow.alerts_to_send(report, self._repo_alerts):
            notice = repo_escrow.notification(finding, report)
            if notice is not None:
                self.notifier.notify(notice, kube=self._kube_or_none(config.clusters[finding.cluster]))
        unknown = {f.cluster for f in report.clusters.values() if f.state is repo_escrow.CredentialState.UNREACHABLE}
        self._repo_alerts = {c: seen for c, seen in self._repo_alerts.items() if c in unknown} | {
            f.cluster: (f.state.value, f.digest) for f in report.alerts
        }
        changed = report.changed or report.states != self._repo_states
        self._repo_states = report.states
        details = {"action": "changed" if changed else "unchanged", "healthy": report.healthy, **report.details()}
        return Outcome("repo-escrow", repo_escrow.SECRET_NAME, Phase.COMPLETED, started, self.clock.now(), details)

    def _check_rpo(self) -> Outcome:
        assert self.rpo is not None
        return self.rpo.check(notify=self._notify_breach)

    def _notify_breach(self, notice: Notification, cluster: Cluster) -> None:
        self.notifier.notify(notice, kube=self._kube_or_none(cluster))

    def _kube_or_none(self, cluster: Cluster) -> KubeClient | None:
        try:
            return self.connections.get(cluster)
        except KubeError:
            return None

    def _record(self, spec: JobSpec, outcome: Outcome, trigger: str) -> None:
        """Record a job's outcome; routine no-ops (checks, unchanged schedules, nothing to prune) are only logged.

        Every run of a scheduled job is stored, no-op or not: its runs are what its catch-up reads.
        """
        if outcome.kind in LOGGED_ONLY:  # drills and rotations record themselves: their runs are in the store
            log.debug("check_finished", **outcome.fields())
            return
        no_op = outcome.phase is Phase.SKIPPED or (
            outcome.phase is Phase.COMPLETED
            and (outcome.details.get("action") == "unchanged" or outcome.details.get("pruned") == 0)
        )
        if no_op and spec.schedule is None:
            self.metrics.record(outcome)
            log.debug("job_unchanged", **outcome.fields())
        elif self._recorder is not None:
            self._recorder.record(outcome, trigger=trigger)

    # Leadership
    def _start_election(self) -> None:
        if not self.settings.leader.enabled:
            self._on_started_leading()
            return
        cluster = self._lease_cluster()
        kube = self.connections.get(cluster) if cluster is not None else KubeClient.in_cluster(cluster="in-cluster")
        self.elector = LeaderElector.from_settings(
            kube,
            self.settings.leader,
            clock=self.clock,
            identity=self.identity,
            on_started_leading=self._on_started_leading,
            on_stopped_leading=self._on_stopped_leading,
        )
        self.elector.start()

    def _lease_cluster(self) -> Cluster | None:
        config = self.config.current
        assert config is not None
        wanted = self.settings.leader.cluster
        if wanted:
            if wanted not in config.clusters:
                raise ConfigError(f'DRD_LEADER_CLUSTER="{wanted}" is not in the inventory')
            return config.clusters[wanted]
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            return None
        primaries = [c for c in config.clusters.values() if c.spec.role is Role.PRIMARY]
        if not primaries:
            raise ConfigError("no cluster to hold the leader Lease: set DRD_LEADER_CLUSTER or add a primary cluster")
        return sorted(primaries, key=lambda c: c.metadata.name)[0]

    def _backup_finished(self, outcome: Outcome) -> None:
        self.metrics.record(outcome)
        if self.rpo is not None:
            self.rpo.invalidate()

    def _on_started_leading(self) -> None:
        self._leading.set()
        self.metrics.set_leader(True)
        config = self.config.current
        if config is not None:
            self._observe(config)
        if self.elector is not None:  # a new leader acts at once instead of waiting for each job's next slot
            for job_id in self.scheduler.interval_job_ids:
                self.scheduler.run_now(job_id)
        self.scheduler.catch_up()  # scheduled jobs run once what they missed, decided from the store

    def _on_stopped_leading(self) -> None:
        self._leading.clear()
        self.metrics.set_leader(False)
        if self.observer is not None:
            self.observer.stop()

    def _observe(self, config: Config) -> None:
        if self.observer is None:
            return
        sources = {
            config.source_cluster(p).metadata.name: config.source_cluster(p) for p in config.backup_policies.values()
        }
        wanted = {}
        for name, cluster in sources.items():
            try:
                wanted[name] = (cluster, self.connections.get(cluster))
            except KubeError as exc:
                log.warning("cluster_connect_failed", cluster=name, error=str(exc))
        self.observer.watch(wanted)
