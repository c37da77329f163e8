"""Files the program needs at run time, shipped inside the package: the sample
parsers and the demo recipe. (The repository's top-level `assets/` links here, so
`assets/parsers/csv_rows.py` works from a checkout as the README shows.)"""

from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from pathlib import Path

_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def asset_path(*parts: str) -> Path:
    """A shipped file or folder as a real path (extracted for the process if the package is zipped)."""
    found = resources.files(__name__).joinpath(*parts)
    if isinstance(found, Path):
        return found
    return _extracted.enter_context(resources.as_file(found))


def sample_parsers_dir() -> Path:
    return asset_path("parsers")


def demo_recipe_path() -> Path:
    return asset_path("demo_recipe.json")
