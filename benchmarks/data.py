"""Where benchmarks find the real ROME data (same rule as the tests)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rome_dir() -> Path:
    path = Path(os.environ.get("PASSERELLES_ROME_DIR", ROOT.parent / "shared" / "data" / "rome-v460"))
    if not path.is_dir():
        raise FileNotFoundError(f"ROME data not found at {path} (set PASSERELLES_ROME_DIR)")
    return path
