"""Where a kit's optional inputs come from: job basins (tension) and a training catalogue (plans)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.services.errors import UnknownBasin
from api.services.training_service import TrainingService


def kit_inputs(state, *, basins: list[str], catalogue: Path | None) -> dict[str, Any]:
    """Keyword arguments of ``build_kit`` for the chosen basins and catalogue (none: empty).

    Basins bring their names, the tension of each occupation in them (issue 6's
    ``TrainingService.tension_frame``, from the store) and the access routes of the arrival
    sector's hubs around them (``TrainingService.access_routes``); a catalogue brings a training
    plan per bridge (``TrainingService.occupation_gap``)."""
    inputs: dict[str, Any] = {}
    if not basins and catalogue is None:
        return inputs
    service = TrainingService.of(state)
    if basins:
        known = dict(zip(service.basins["id"].to_list(), service.basins["name"].to_list()))
        unknown = [b for b in basins if b not in known]
        if unknown:
            raise UnknownBasin(unknown[0], list(known),
                               f"unknown job basin(s) {', '.join(unknown)}; GET /basins lists them")
        inputs.update(basins=[{"id": b, "name": known[b]} for b in basins], tension_for=service.tension_frame,
                      access_for=lambda code, basin: service.access_routes(code, basin, k=5))
    if catalogue is not None:
        service.use_catalogue(catalogue)
        inputs.update(catalogue_name=str(catalogue), plan_for=lambda a, b: service.occupation_gap(a, b)["plan"])
    return inputs
