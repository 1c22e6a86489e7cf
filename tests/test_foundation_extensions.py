"""Extension points (SPEC C21): built-ins are registered through the same entry-point groups as plug-ins."""

from __future__ import annotations

import pytest

from carbonpark import extensions
from carbonpark.errors import UnknownFactorError


def test_builtins_are_registered_as_entry_points() -> None:
    assert {"fuel_combustion", "mass_balance", "measured"} <= set(extensions.available("accounting_methods"))
    assert {"grid", "battery", "chp", "heat_pump"} <= set(extensions.available("dispatch_assets"))
    assert callable(extensions.load("accounting_methods", "mass_balance"))
    assert extensions.load("dispatch_assets", "battery").__name__ == "define_battery"


def test_unknown_names_list_what_is_installed() -> None:
    with pytest.raises(UnknownFactorError, match=r"installed: .*mass_balance"):
        extensions.load("accounting_methods", "alchemy")
    with pytest.raises(UnknownFactorError, match="known: "):
        extensions.available("teleporters")
