"""Small values the pages pass around and cache on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Upload:
    """One uploaded file as the user set it up: its digest, name, and mapping choices."""

    digest: str
    name: str
    overrides: tuple[tuple[str, str | None], ...] = ()
    stages: str | None = None  # the edited stage map as JSON rows
    sheet: str | None = None
