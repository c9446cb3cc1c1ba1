"""Job basins: the embedded set, the CSV loader's errors, and the haversine helper."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referentiels import ReferentielError
from referentiels.errors import UnknownBasin
from referentiels.territories import (EARTH_KM, basins_within, default_basins, distance_matrix_km, haversine_km,
                                      load_basins, nearest_basin)

PILOTS = {"beauvais", "saint-quentin", "bordeaux", "bayonne", "perigueux"}


def test_default_basins_schema_and_pilots():
    b = default_basins()
    assert b.columns == ["id", "name", "region", "department", "lat", "lon"]
    assert b.schema["lat"] == pl.Float64 and b.schema["lon"] == pl.Float64
    assert 30 <= b.height <= 80
    assert b["id"].is_unique().all()
    assert PILOTS <= set(b["id"])
    assert (b.filter(pl.col("region") == "Île-de-France").height) >= 5
    assert b["region"].n_unique() >= 13  # every metropolitan region
    # metropolitan France bounding box
    assert b["lat"].is_between(41.3, 51.1).all() and b["lon"].is_between(-5.2, 9.6).all()


def test_known_distances():
    b = default_basins()
    at = {r["id"]: (r["lat"], r["lon"]) for r in b.iter_rows(named=True)}
    # Paris - Bordeaux is ~500 km as the crow flies; Beauvais - Saint-Quentin ~99 km
    assert haversine_km(*at["paris"], *at["bordeaux"]) == pytest.approx(499, abs=5)
    assert haversine_km(*at["beauvais"], *at["saint-quentin"]) == pytest.approx(99, abs=3)
    assert haversine_km(*at["bordeaux"], *at["bayonne"]) == pytest.approx(160, abs=8)


def test_distance_matrix_and_nearest():
    b = default_basins()
    d = distance_matrix_km(b)
    assert d.shape == (b.height, b.height)
    assert np.allclose(d, d.T) and np.all(np.diag(d) == 0)
    assert list(nearest_basin(b["lat"].to_numpy(), b["lon"].to_numpy(), b)) == list(range(b.height))
    assert basins_within("beauvais", 60)[0] == "beauvais"
    assert "creil" in basins_within("beauvais", 60) and "bordeaux" not in basins_within("beauvais", 60)
    with pytest.raises(UnknownBasin, match="unknown job basin 'atlantis'"):
        basins_within("atlantis", 10)


@settings(max_examples=200, deadline=None)
@given(st.floats(-90, 90), st.floats(-180, 180), st.floats(-90, 90), st.floats(-180, 180),
       st.floats(-90, 90), st.floats(-180, 180))
def test_haversine_is_a_metric(la1, lo1, la2, lo2, la3, lo3):
    ab, ba = haversine_km(la1, lo1, la2, lo2), haversine_km(la2, lo2, la1, lo1)
    assert ab >= 0 and ab == pytest.approx(ba, abs=1e-6)
    assert ab <= np.pi * EARTH_KM + 1e-6
    assert haversine_km(la1, lo1, la1, lo1) == 0
    assert ab <= haversine_km(la1, lo1, la3, lo3) + haversine_km(la3, lo3, la2, lo2) + 1e-6


def test_haversine_broadcasts_vectors():
    lat = np.array([49.0, 45.0, 43.0])
    lon = np.array([2.0, 0.0, -1.0])
    m = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    assert m.shape == (3, 3)
    row = haversine_km(lat[0], lon[0], pl.Series(lat), pl.Series(lon))
    assert np.allclose(row, m[0])


def test_load_basins_reads_a_good_file(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("id,name,lat,lon,region\nb1,Un,\"49,5\",2.1,R\nb2,Deux,44.8,-0.58,\n", encoding="utf-8")
    b = load_basins(p)
    assert b.columns == ["id", "name", "region", "department", "lat", "lon"]
    assert b["lat"].to_list() == [49.5, 44.8]
    assert b["region"].to_list() == ["R", None]
    assert load_basins(None).equals(default_basins())


@pytest.mark.parametrize("text, line, column, needle", [
    ("id,name,lat\nb1,Un,49\n", 1, None, "missing column(s) 'lon'"),
    ("id,name,lat,lon\nb1,Un,49,2\nb1,Deux,48,2\n", 3, "id", "duplicate basin id"),
    ("id,name,lat,lon\nb1,Un,north,2\n", 2, "lat", "not a number"),
    ("id,name,lat,lon\nb1,Un,49,2\nb2,Deux,95,2\n", 3, "lat", "out of range"),
    ("id,name,lat,lon\nb1,Un,49,200\n", 2, "lon", "out of range"),
    ("id,name,lat,lon\nb1,,49,2\n", 2, "name", "empty value"),
    ("id,name,lat,lon\n", 2, None, "no rows"),
])
def test_load_basins_errors_say_where(tmp_path, text, line, column, needle):
    p = tmp_path / "b.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ReferentielError) as info:
        load_basins(p)
    e = info.value
    assert needle in str(e) and e.file == str(p) and e.line == line and e.column == column


def test_load_basins_missing_file(tmp_path):
    with pytest.raises(ReferentielError, match="file not found"):
        load_basins(tmp_path / "nope.csv")
