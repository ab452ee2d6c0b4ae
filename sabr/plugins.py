"""Plugins: modules of your own that register model types or allocation strategies.

The configuration's ``plugins`` names importable modules (``plugins: [my_models]``); each
registers what it adds when imported (sabr.model_types.register_model_type,
sabr.data.allocations.register_allocation). A run imports them wherever the registries
are read: where the configuration is validated (so their names are allowed), in each
task that parses its configuration sections (sabr.settings.CellSettings), and in the
TensorFlow process that trains (:func:`call_with_plugins`). A plugin's code is part of
the cache keys of the stages that load it (tasks.common). No Prefect here.
"""
from __future__ import annotations

import importlib

__all__ = ["load_plugins", "call_with_plugins"]


def load_plugins(names) -> None:
    """Import each named module (once); ValueError (one line) for one that cannot be."""
    for name in names or ():
        try:
            importlib.import_module(name)
        except Exception as err:        # any failure of the plugin's import is the plugin's
            raise ValueError(f"plugins: {name!r} cannot be imported ({type(err).__name__}: "
                             f"{err}); allowed names of importable modules") from None


def call_with_plugins(plugins, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` after importing ``plugins``: what a process that did not
    parse the configuration (the TensorFlow process of tasks/isolation.py) runs."""
    load_plugins(plugins)
    return fn(*args, **kwargs)
