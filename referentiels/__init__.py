"""Data in: referentials (ROME 4.0, the generic CSV format, the embedded demo), catalogues, territories.

``load(source)`` is the one entry point::

    load("demo")                          # the embedded default referential
    load("rome:../shared/data/rome-v460") # the official ROME 4.0 CSV folder
    load("csv:path/to/folder")            # the generic documented format
"""

from __future__ import annotations

from .errors import NotYesNo, ReferentielError, UnknownBasin, UnknownCode, UnknownOccupation, UnknownSkill
from .loading import DEMO_DIR, load, parse_source
from .model import SKILL_KINDS, Referentiel

__all__ = ["DEMO_DIR", "NotYesNo", "Referentiel", "ReferentielError", "SKILL_KINDS", "UnknownBasin", "UnknownCode",
           "UnknownOccupation", "UnknownSkill", "load", "parse_source"]
