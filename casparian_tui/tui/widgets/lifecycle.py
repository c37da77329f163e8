"""Async screen methods that may outlive their screen (quit during a refresh)."""

from __future__ import annotations

import functools

from textual.css.query import NoMatches


def quiet_if_gone(method):
    """Drop the update when the screen was torn down while the database answered."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        try:
            return await method(self, *args, **kwargs)
        except NoMatches:
            if self.is_attached:
                raise  # a real bug: the widget should be there

    return wrapper
