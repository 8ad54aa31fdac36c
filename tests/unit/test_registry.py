"""resolve(): built-in names, import paths, and an error that says how to fix each mistake."""

from __future__ import annotations

from typing import Any

import pytest

from transforms import BUILTIN_TRANSFORMS, EventMeta, resolve
from transforms.adyen import adyen_activity
from transforms.commercetools import commercetools_activity
from transforms.orders import order_activity
from transforms.payments import payment_activity
from transforms.paypal import paypal_activity
from transforms.shopify import shopify_activity
from transforms.square import square_activity
from transforms.stripe import stripe_activity
from transforms.woocommerce import woocommerce_activity

NOT_A_FUNCTION = 42


def echo_transform(event: Any, meta: EventMeta) -> None:
    """A custom transform, found by import path in the tests below."""
    return None


class Vendor:
    @staticmethod
    def transform(event: Any, meta: EventMeta) -> None:
        return None


def test_builtin_names_resolve_to_the_builtin_transforms() -> None:
    assert resolve("orders") is order_activity
    assert resolve(" payments ") is payment_activity
    assert dict(BUILTIN_TRANSFORMS) == {"orders": order_activity, "payments": payment_activity,
                                        "shopify": shopify_activity, "stripe": stripe_activity,
                                        "woocommerce": woocommerce_activity,
                                        "adyen": adyen_activity,
                                        "commercetools": commercetools_activity,
                                        "paypal": paypal_activity, "square": square_activity}
    assert resolve("woocommerce") is woocommerce_activity and resolve("adyen") is adyen_activity
    assert resolve("commercetools") is commercetools_activity
    assert resolve("paypal") is paypal_activity and resolve("square") is square_activity


def test_builtin_registry_cannot_be_changed_at_runtime() -> None:
    with pytest.raises(TypeError):
        BUILTIN_TRANSFORMS["orders"] = echo_transform  # type: ignore[index]


def test_import_path_resolves_to_a_function_in_a_module() -> None:
    assert resolve("tests.unit.test_registry:echo_transform") is echo_transform
    assert resolve("tests.unit.test_registry:Vendor.transform") is Vendor.transform


def test_unknown_name_lists_the_known_ones_and_the_import_path_form() -> None:
    with pytest.raises(LookupError) as caught:
        resolve("ordrs")
    assert str(caught.value) == (
        "unknown transform 'ordrs': built-in transforms are 'adyen', 'commercetools', 'orders', "
        "'payments', 'paypal', 'shopify', 'square', 'stripe', 'woocommerce'; "
        "for your own, give an import path like 'mypackage.module:function'"
    )


def test_dotted_name_without_colon_suggests_the_colon_form() -> None:
    with pytest.raises(LookupError, match=r"did you mean 'mypkg.vendors:stripe'\?"):
        resolve("mypkg.vendors.stripe")


def test_module_that_cannot_be_imported_includes_the_import_error() -> None:
    with pytest.raises(LookupError) as caught:
        resolve("no_such_package.transforms:orders")
    message = str(caught.value)
    assert "cannot import module 'no_such_package.transforms'" in message
    assert "No module named 'no_such_package'" in message
    assert "installed" in message


def test_missing_attribute_names_the_module_and_the_attribute() -> None:
    with pytest.raises(LookupError) as caught:
        resolve("tests.unit.test_registry:no_such_function")
    assert str(caught.value) == (
        "transform 'tests.unit.test_registry:no_such_function': module "
        "'tests.unit.test_registry' has no attribute 'no_such_function'; "
        "check the name after the ':'"
    )


def test_attribute_that_is_not_callable_is_refused() -> None:
    with pytest.raises(LookupError) as caught:
        resolve("tests.unit.test_registry:NOT_A_FUNCTION")
    assert str(caught.value) == (
        "transform 'tests.unit.test_registry:NOT_A_FUNCTION': 'NOT_A_FUNCTION' is a int, "
        "not a function; a transform is called as transform(event, meta)"
    )


@pytest.mark.parametrize("spec", ["", "   ", "mypkg:", ":orders"])
def test_empty_or_half_specs_are_refused(spec: str) -> None:
    with pytest.raises(LookupError, match=r"mypackage\.module:function"):
        resolve(spec)


def test_module_that_fails_while_importing_says_how_it_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_import(name: str) -> None:
        raise RuntimeError("settings file missing")

    monkeypatch.setattr("transforms.registry.importlib.import_module", broken_import)
    with pytest.raises(LookupError) as caught:
        resolve("vendor_pkg.shopify:transform")
    assert str(caught.value) == (
        "transform 'vendor_pkg.shopify:transform': importing module 'vendor_pkg.shopify' "
        "failed with RuntimeError: settings file missing"
    )
