"""Files the config names: secrets (systemd credentials first), paths relative to the config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def resolve_secret_path(path: Path, context: Any) -> Path:
    """Relative secret files are looked up in systemd's credentials folder, else the config's."""
    if path.is_absolute():
        return path
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / path).exists():
        return Path(creds) / path
    return config_relative(path, context)


def config_relative(path: Path, context: Any) -> Path:
    """A path from the config: relative ones are taken from the config file's folder."""
    if path.is_absolute():
        return path
    base = context.get("base_dir") if isinstance(context, dict) else None
    return (Path(base) if base else Path(".")) / path
