"""Field-by-field checks of the custom resources the chart renders, against models generated from
the CRDs their projects publish (KEDA, Prometheus Operator; the cloudcoil.models.* packages).

The models ignore unknown fields, so a validated object is dumped again and compared with the
input: a field the CRD does not have (a typo, a wrong level) is missing from the dump and shows
up as a difference, as does a value the schema coerced into another type.
"""

from __future__ import annotations

from typing import Any

from cloudcoil.models.keda.v1alpha1 import ScaledObject, TriggerAuthentication
from cloudcoil.models.prometheus_operator.v1 import PrometheusRule, ServiceMonitor
from pydantic import BaseModel

MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("keda.sh/v1alpha1", "ScaledObject"): ScaledObject,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): TriggerAuthentication,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): ServiceMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PrometheusRule,
}


def validate_custom_resource(doc: dict[str, Any]) -> list[str]:
    """Problems with ``doc`` (empty when it matches its CRD field by field)."""
    model = MODELS[(doc["apiVersion"], doc["kind"])]
    obj = model.model_validate(doc)  # raises on a wrong type or a missing required field
    again = obj.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return list(_differences(doc, again, doc["kind"]))


def _differences(given: Any, kept: Any, path: str):
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            yield f"{path}: an object in the chart, {type(kept).__name__} in the CRD"
            return
        for key, value in given.items():
            if key not in kept:
                yield f"{path}.{key}: no such field in the CRD"
            else:
                yield from _differences(value, kept[key], f"{path}.{key}")
    elif isinstance(given, list):
        if not isinstance(kept, list) or len(kept) != len(given):
            yield f"{path}: a list in the chart, not the same in the CRD"
            return
        for i, (a, b) in enumerate(zip(given, kept, strict=True)):
            yield from _differences(a, b, f"{path}[{i}]")
    elif given != kept and str(given) != str(kept):
        yield f"{path}: {given!r} became {kept!r}"


def known(doc: dict[str, Any]) -> bool:
    return (doc["apiVersion"], doc["kind"]) in MODELS
