"""``--dist loadgroup`` under pytest 9.2 (``make test``): the ``xdist_group`` marks take effect again.

pytest-xdist 3.8 tells its scheduler an item's group by suffixing the item's legacy ``_nodeid``
(``test_x.py::test_y@group``), in a hook that runs before the conftest hooks that add marks (the
console's browser group, the CDK synth's). pytest 9.2 names items by a structured id (``Node._id``)
and no longer reads ``_nodeid`` (pytest-dev/pytest-xdist#1386), so every group was silently
ignored: a module with a sandbox of its own started one on each worker its tests landed on, and so
did the console's browser and the synth. Here, after every other hook, each grouped item gets the
id xdist means it to have; one that already has it (an older pytest, a fixed xdist) is left alone.
"""

from __future__ import annotations

import pytest
from _pytest.nodeid import coerce_node_id


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        suffix = "@" + "_".join(sorted(names))
        if names and not item.nodeid.endswith(suffix):
            item._id = coerce_node_id(item.nodeid + suffix)
