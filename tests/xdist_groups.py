"""``--dist loadgroup`` under pytest 9.2 (``make test``): the ``xdist_group`` marks take effect again.

pytest-xdist 3.8 tells its scheduler an item's group by suffixing the item's legacy ``_nodeid``
(``test_x.py::test_y@group``). pytest 9.2 names items by a structured id (``Node._id``) and no longer
reads ``_nodeid``, so every group was silently ignored (pytest-dev/pytest-xdist#1386): a module with
a sandbox of its own started one on each worker its tests landed on, and so did the console's
browser and the CDK synth. Here xdist's suffixed name becomes the item's id, after xdist's own hook;
where xdist's mutation works (an older pytest, a fixed xdist) there is nothing to do.
"""

from __future__ import annotations

import pytest
from _pytest.nodeid import coerce_node_id


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        grouped = item.__dict__.get("_nodeid")
        if isinstance(grouped, str) and grouped != item.nodeid:
            item._id = coerce_node_id(grouped)
