"""Which of a backup's objects a restore's resource filters keep (``includedResources``/``excludedResources``).

Velero matches a filter entry against a resource as discovery names it
(velero.md §1.2): the plural (``deployments``), the plural with its group
(``deployments.apps``), or ``*`` for everything; an exclusion wins over an
inclusion. A resource list names objects by ``group/version/Kind``, so the
plural is looked up through discovery (cached per client); a kind the cluster
does not serve is matched by its lowercase plural guess (``Widget`` →
``widgets``), which is what a person would type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from drd.clients.kube import KubeClient
from drd.operations import objects


def names_of(kube: KubeClient, gvk: str) -> frozenset[str]:
    """Every name a filter may use for the resource of ``gvk`` (``apps/v1/Deployment``)."""
    api_version, _, kind = gvk.rpartition("/")
    group = api_version.rpartition("/")[0]
    try:
        resource = objects.resource_for(kube, api_version, kind)
        plural = resource.plural
    except objects.UnknownKind:
        plural = kind.lower() + "s"
    names = {plural, kind.lower()}
    if group:
        names.add(f"{plural}.{group}")
    return frozenset(names)


def selected(names: Iterable[str], *, included: Iterable[str] = (), excluded: Iterable[str] = ()) -> bool:
    """Whether a resource known by ``names`` passes the filters (empty or ``*`` includes all)."""
    known = {n.lower() for n in names}
    wanted = {n.lower() for n in included}
    unwanted = {n.lower() for n in excluded}
    if "*" in unwanted or known & unwanted:
        return False
    return not wanted or "*" in wanted or bool(known & wanted)


def filter_listing(
    kube: KubeClient,
    listing: Mapping[str, Iterable[str]],
    *,
    included: Iterable[str] = (),
    excluded: Iterable[str] = (),
) -> dict[str, list[str]]:
    """The entries of a resource list whose kind passes the filters (Namespaces always stay: they are created)."""
    include, exclude = list(included), list(excluded)
    if not include and not exclude:
        return {gvk: list(entries) for gvk, entries in listing.items()}
    kept: dict[str, list[str]] = {}
    for gvk, entries in listing.items():
        if gvk == "v1/Namespace" or selected(names_of(kube, gvk), included=include, excluded=exclude):
            kept[gvk] = list(entries)
    return kept
