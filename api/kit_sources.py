"""Where a kit's optional inputs come from: job basins (tension) and a training catalogue (plans)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def kit_inputs(state, *, basins: list[str], catalogue: Path | None) -> dict[str, Any]:
    """Keyword arguments of ``build_kit`` for the chosen basins and catalogue (none: empty)."""
    inputs: dict[str, Any] = {}
    if basins:
        inputs.update(basins=[{"id": b, "name": b} for b in basins])
    if catalogue is not None:
        inputs.update(catalogue_name=str(catalogue))
    return inputs
