"""`scan --exclude GLOB`: which entries the walker skips.

The glob dialect is the project's one dialect (scout/patterns.py), matched
in Python against the stored (encoded) rel_path while walking, in linear
time (scout/glob_match.py). Like
.gitignore, an excluded folder excludes everything below it and is not even
entered: a folder is excluded when a pattern matches the folder itself or
everything directly under it (`build`, `build/`, `build/**`, `build/*`).
"""

from __future__ import annotations

from casparian_tui.errors import UsageError
from casparian_tui.scout.glob_match import glob_matcher
from casparian_tui.scout.patterns import compile_glob
from casparian_tui.scout.walker import ExcludeFn

# A name no real file can have (NUL is forbidden in names): matching
# "<folder>/<probe>" means the pattern covers whatever is in the folder.
_PROBE = "\x00"


def compile_excludes(patterns: list[str] | tuple[str, ...]) -> ExcludeFn | None:
    """A matcher for the walker, or None when there is nothing to exclude."""
    if not patterns:
        return None
    matchers = []
    for raw in patterns:
        if raw.strip().startswith("!"):
            raise UsageError(f"--exclude {raw!r}: a leading '!' makes no sense here.", hint="Just omit that pattern.")
        glob = compile_glob(raw)  # raises a clear UsageError when invalid
        matchers.append((glob.target == "name", glob_matcher(glob)))

    def matches(rel_path: str) -> bool:
        for by_name, fullmatch in matchers:
            subject = rel_path.rsplit("/", 1)[-1] if by_name else rel_path
            if fullmatch(subject):
                return True
        return False

    def excluded(rel_path: str, is_dir: bool) -> bool:
        if matches(rel_path):
            return True
        return is_dir and matches(f"{rel_path}/{_PROBE}")

    return excluded


def under_excluded(exclude: ExcludeFn, rel_path: str) -> bool:
    """Is this cataloged file excluded, itself or through one of its folders?"""
    if exclude(rel_path, False):
        return True
    parts = rel_path.split("/")[:-1]
    return any(exclude("/".join(parts[:k]), True) for k in range(1, len(parts) + 1))
