"""Finding a transform by name: a built-in ("orders") or an import path ("pkg.module:function")."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import cast

from transforms.adyen import adyen_activity
from transforms.commercetools import commercetools_activity
from transforms.event import Transform
from transforms.orders import order_activity
from transforms.payments import payment_activity
from transforms.paypal import paypal_activity
from transforms.shopify import shopify_activity
from transforms.square import square_activity
from transforms.stripe import stripe_activity
from transforms.woocommerce import woocommerce_activity

__all__ = ["BUILTIN_TRANSFORMS", "resolve"]

BUILTIN_TRANSFORMS: Mapping[str, Transform] = MappingProxyType(
    {
        "orders": order_activity,
        "payments": payment_activity,
        "shopify": shopify_activity,  # transforms.shopify.configure() for other options
        "stripe": stripe_activity,  # transforms.stripe.configure() for other options
        "woocommerce": woocommerce_activity,  # transforms.woocommerce.configure() for options
        "adyen": adyen_activity,  # transforms.adyen.configure() for options
        "commercetools": commercetools_activity,  # transforms.commercetools.configure()
        "paypal": paypal_activity,  # transforms.paypal.configure() for options
        "square": square_activity,  # transforms.square.configure() for options
    }
)


def resolve(spec: str) -> Transform:
    """The transform ``spec`` names. Raises LookupError saying what was wrong and how to fix it."""
    if not isinstance(spec, str) or not spec.strip():
        raise LookupError(
            f"transform {spec!r}: expected a built-in name ({_known()}) "
            "or an import path like 'mypackage.module:function'"
        )
    spec = spec.strip()
    if ":" not in spec:
        found = BUILTIN_TRANSFORMS.get(spec)
        if found is not None:
            return found
        hint = ""
        if "." in spec:
            head, _, tail = spec.rpartition(".")
            hint = f" (did you mean '{head}:{tail}'?)"
        raise LookupError(
            f"unknown transform '{spec}': built-in transforms are {_known()}; "
            f"for your own, give an import path like 'mypackage.module:function'{hint}"
        )

    module_name, _, attr_path = spec.partition(":")
    if not module_name or not attr_path:
        raise LookupError(
            f"transform '{spec}': an import path needs both parts, 'mypackage.module:function'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LookupError(
            f"transform '{spec}': cannot import module '{module_name}' ({exc}); "
            "check the module name and that its package is installed in this environment"
        ) from exc
    except Exception as exc:  # the module exists but blew up while importing: say so, not "unknown"
        raise LookupError(
            f"transform '{spec}': importing module '{module_name}' failed with "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    target: object = module
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise LookupError(
                f"transform '{spec}': module '{module_name}' has no attribute '{attr_path}'; "
                "check the name after the ':'"
            ) from None
    if not callable(target):
        raise LookupError(
            f"transform '{spec}': '{attr_path}' is a {type(target).__name__}, not a function; "
            "a transform is called as transform(event, meta)"
        )
    return cast(Transform, target)  # any callable is trusted to take (event, meta)


def _known() -> str:
    return ", ".join(f"'{name}'" for name in sorted(BUILTIN_TRANSFORMS))
