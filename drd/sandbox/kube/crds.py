"""CustomResourceDefinitions: turning a CRD object into served resources, and Velero's CRDs.

A cluster "installs Velero" the way a real one does — by creating the CRDs
through the API — so "Velero is not installed" is simply their absence.
:func:`velero_crds` returns manifests with Velero's group, kinds, plurals,
short names and printer columns; their schemas are open
(``x-kubernetes-preserve-unknown-fields``) because the emulator does not
validate against schemas. As in Velero itself, none declares a ``status``
subresource.
"""

from __future__ import annotations

import copy
from typing import Any

from drd.sandbox.kube.errors import FieldError, invalid_value, required_value
from drd.sandbox.kube.registry import PrinterColumn, ResourceType, ScaleSpec, version_priority

Obj = dict[str, Any]

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
"""Put on every CRD; removed (by the emulator) once the CRD's objects are deleted."""


def types_from_crd(crd: Obj) -> list[ResourceType]:
    """The resources a CRD serves: one per ``served`` version."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    types = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        scale = subresources.get("scale")
        types.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular") or names["kind"].lower(),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status_subresource="status" in subresources,
                scale=None
                if scale is None
                else ScaleSpec(
                    spec_replicas_path=scale.get("specReplicasPath", ".spec.replicas"),
                    status_replicas_path=scale.get("statusReplicasPath", ".status.replicas"),
                    label_selector_path=scale.get("labelSelectorPath", ""),
                ),
                generation=True,
                custom=True,
                printer_columns=tuple(
                    PrinterColumn(
                        name=c["name"],
                        json_path=c["jsonPath"],
                        type=c.get("type", "string"),
                        description=c.get("description", ""),
                        priority=int(c.get("priority", 0)),
                    )
                    for c in version.get("additionalPrinterColumns") or []
                ),
            )
        )
    return types


def validate_crd(crd: Obj) -> list[FieldError]:
    """The structural problems the emulator checks in a CRD (a subset of the apiserver's)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    errors: list[FieldError] = []
    for key in ("group",):
        if not spec.get(key):
            errors.append(required_value(f"spec.{key}"))
    for key in ("plural", "kind"):
        if not names.get(key):
            errors.append(required_value(f"spec.names.{key}"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errors.append(
            FieldError(
                "FieldValueNotSupported", "spec.scope", 'supported values: "Cluster", "Namespaced"', spec.get("scope")
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        errors.append(required_value("spec.versions", "must have exactly one version marked as storage version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        errors.append(
            invalid_value("spec.versions", versions, "must have exactly one version marked as storage version")
        )
    name = (crd.get("metadata") or {}).get("name", "")
    if spec.get("group") and names.get("plural") and name != f"{names['plural']}.{spec['group']}":
        errors.append(invalid_value("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    return errors


def established_status(crd: Obj, *, now: str) -> Obj:
    """The status the apiextensions controllers give an accepted CRD (``Established`` and ``NamesAccepted``)."""
    spec = crd.get("spec") or {}
    names = copy.deepcopy(spec.get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "NoConflicts",
                "message": "no conflicts found",
            },
            {
                "type": "Established",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
        ],
        "storedVersions": storage,
    }


def crd_manifest(
    *,
    group: str,
    kind: str,
    plural: str,
    versions: list[str] | tuple[str, ...] = ("v1",),
    namespaced: bool = True,
    short_names: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    status_subresource: bool = False,
    scale: bool = False,
    printer_columns: tuple[PrinterColumn, ...] = (),
) -> Obj:
    """A ``apiextensions.k8s.io/v1`` CRD manifest with an open schema; the first version is the storage version."""
    storage = sorted(versions, key=version_priority)[0]
    subresources: Obj = {}
    if status_subresource:
        subresources["status"] = {}
    if scale:
        subresources["scale"] = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
    names: Obj = {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()}
    if short_names:
        names["shortNames"] = list(short_names)
    if categories:
        names["categories"] = list(categories)
    version_entries = []
    for version in versions:
        entry: Obj = {
            "name": version,
            "served": True,
            "storage": version == storage,
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        }
        if subresources:
            entry["subresources"] = copy.deepcopy(subresources)
        if printer_columns:
            entry["additionalPrinterColumns"] = [
                {
                    "name": c.name,
                    "type": c.type,
                    "jsonPath": c.json_path,
                    **({"description": c.description} if c.description else {}),
                    **({"priority": c.priority} if c.priority else {}),
                }
                for c in printer_columns
            ]
        version_entries.append(entry)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "labels": {"component": "velero"} if group == "velero.io" else {}},
        "spec": {
            "group": group,
            "names": names,
            "scope": "Namespaced" if namespaced else "Cluster",
            "versions": version_entries,
        },
    }


_AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")

VELERO_V1: tuple[tuple[str, str, tuple[str, ...], tuple[PrinterColumn, ...]], ...] = (
    ("Backup", "backups", (), ()),
    ("Restore", "restores", (), ()),
    (
        "Schedule",
        "schedules",
        (),
        (
            PrinterColumn("Status", ".status.phase", description="Status of the schedule"),
            PrinterColumn(
                "Schedule", ".spec.schedule", description="A Cron expression defining when to run the Backup"
            ),
            PrinterColumn(
                "LastBackup", ".status.lastBackup", "date", "The last time a Backup was run for this schedule"
            ),
            _AGE,
            PrinterColumn("Paused", ".spec.paused", "boolean"),
        ),
    ),
    (
        "BackupStorageLocation",
        "backupstoragelocations",
        ("bsl",),
        (
            PrinterColumn(
                "Phase", ".status.phase", description="Backup Storage Location status such as Available/Unavailable"
            ),
            PrinterColumn("Last Validated", ".status.lastValidationTime", "date"),
            _AGE,
            PrinterColumn("Default", ".spec.default", "boolean", "Default backup storage location"),
        ),
    ),
    ("VolumeSnapshotLocation", "volumesnapshotlocations", ("vsl",), ()),
    ("DeleteBackupRequest", "deletebackuprequests", (), ()),
    ("DownloadRequest", "downloadrequests", (), ()),
    ("ServerStatusRequest", "serverstatusrequests", ("ssr",), ()),
    (
        "BackupRepository",
        "backuprepositories",
        (),
        (_AGE, PrinterColumn("Repository Type", ".spec.repositoryType")),
    ),
    ("PodVolumeBackup", "podvolumebackups", (), ()),
    ("PodVolumeRestore", "podvolumerestores", (), ()),
)
"""Velero's ``velero.io/v1`` kinds: (kind, plural, short names, printer columns)."""

VELERO_V2ALPHA1: tuple[tuple[str, str], ...] = (("DataUpload", "datauploads"), ("DataDownload", "datadownloads"))


def velero_crds(*, data_mover: bool = False) -> list[Obj]:
    """Velero's CRDs as manifests, ready to create through the API (no status subresource, all namespaced).

    ``data_mover=True`` adds the ``velero.io/v2alpha1`` DataUpload and DataDownload CRDs.
    """
    manifests = [
        crd_manifest(group="velero.io", kind=kind, plural=plural, short_names=short, printer_columns=columns)
        for kind, plural, short, columns in VELERO_V1
    ]
    if data_mover:
        manifests.extend(
            crd_manifest(group="velero.io", kind=kind, plural=plural, versions=("v2alpha1",))
            for kind, plural in VELERO_V2ALPHA1
        )
    return manifests
