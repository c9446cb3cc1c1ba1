"""The vectorised core: pure functions and small immutable objects over numpy / scipy arrays.

No file, network or database access here, no printing, no web framework: ``api`` does that.
"""

from .errors import MatchingError, UnknownSector
from .space import KIND_WEIGHTS, SkillSpace

__all__ = ["KIND_WEIGHTS", "MatchingError", "SkillSpace", "UnknownSector"]
