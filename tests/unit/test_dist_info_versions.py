"""The prereqs step reads the packages' versions from their dist-info folders' names (issue 77: reading each
METADATA took about a tenth of a second of CPU that `status` paid): the class is every distribution of this venv,
each named as importlib.metadata names it, with the version it reads from the metadata."""

from __future__ import annotations

import importlib.metadata

from kit.steps.s01_prereqs import PYTHON_PACKAGES, dist_info_versions, dist_key, python_packages


def test_every_distribution_s_folder_names_the_version_its_metadata_gives() -> None:
    named = dist_info_versions()
    seen: set[str] = set()
    for dist in importlib.metadata.distributions():  # sys.path's order: the first of a name is the one imported
        key = dist_key(dist.metadata["Name"])
        if key in seen:
            continue
        seen.add(key)
        assert named.get(key) == dist.version, (dist.metadata["Name"], named.get(key), dist.version)
    assert len(seen) > 50


def test_python_packages_are_importlib_metadata_s() -> None:
    found = python_packages()
    assert set(PYTHON_PACKAGES) <= set(found)
    assert found == {name: importlib.metadata.version(name) for name in found}
