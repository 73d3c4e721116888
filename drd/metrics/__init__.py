"""drd's Prometheus metrics: the contract's instruments on an injected registry, and scrape-time RPO.

``Metrics`` (:mod:`drd.metrics.recorder`) is what the daemon records into;
``RpoSample`` and ``RpoProvider`` (:mod:`drd.metrics.objectives`) are how it
feeds ``drd_rpo_seconds`` from the store at scrape time. See docs/metrics.md.
"""

from drd.metrics.objectives import RpoProvider, RpoSample
from drd.metrics.recorder import Metrics
from drd.metrics.vocabulary import Objective

__all__ = ["Metrics", "Objective", "RpoProvider", "RpoSample"]
