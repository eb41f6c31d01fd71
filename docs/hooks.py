"""MkDocs hook: pages written on other branches may be missing from a checkout.

The navigation lists them (the site has them once the branches are merged);
until then they are dropped from the navigation with a note, instead of
failing ``mkdocs build --strict``. Any other missing page still fails it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.belleflow")

#: Pages that may not exist yet in a given checkout.
PENDING = frozenset({"report.md", "validation.md", "reliability.md", "writing-a-channel.md"})


def _prune(items: list[Any], docs: Path) -> list[Any]:
    kept: list[Any] = []
    for item in items:
        if isinstance(item, dict):
            ((title, target),) = item.items()
            if isinstance(target, list):
                kept.append({title: _prune(target, docs)})
                continue
            if target in PENDING and not (docs / target).is_file():
                log.info("page %s is not in this checkout: left out of the navigation", target)
                continue
        kept.append(item)
    return kept


def on_config(config: Any) -> Any:
    """Drop the pending pages that are missing from the navigation."""
    config["nav"] = _prune(config["nav"], Path(config["docs_dir"]))
    return config
