"""The errors a user can act on, one tree for the whole project.

Everything a stage, the settings or the command line raise on purpose derives from
:class:`ToolgenError`, and its message says what to fix. The CLI maps the tree to exit codes:
:class:`ConfigError` and :class:`UsageError` exit 2, :class:`StageError` exits 1; anything
outside the tree is a bug and keeps its traceback (a ``ValueError`` or pydantic's
``ValidationError`` from deep inside a stage is never mistaken for a user's mistake).

This module imports nothing from the project, so every module may raise these.
"""

from __future__ import annotations


class ToolgenError(Exception):
    """An error the user can act on; the message names the file, field or value at fault."""

    exit_code = 1


class ConfigError(ToolgenError):
    """A configuration that cannot be used; the message names the file and field."""

    exit_code = 2


class UsageError(ToolgenError):
    """A command-line value that cannot be used; the message names the option."""

    exit_code = 2


class StageError(ToolgenError):
    """A stage could not do its job: missing inputs, nothing to work on, every item failed."""


class NothingToDo(StageError):
    """A stage found no input to work on; the message says where it looked."""
