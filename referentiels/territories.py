"""Job basins ("bassins d'emploi"): the embedded default set, a loader for your own, distances.

A basin has an ``id`` (a lowercase slug such as ``"beauvais"``, stable across versions), a
``name``, a ``region`` (the 2016 administrative region), a ``department`` (INSEE code of the main
town's department) and the WGS84 coordinates ``lat``, ``lon`` (degrees) of its main town.

::

    from referentiels.territories import default_basins, load_basins, haversine_km
    basins = default_basins()                     # polars DataFrame, 60 basins across France
    mine = load_basins("my_basins.csv")           # id,name,lat,lon (+ region, department)
    haversine_km(49.43, 2.08, basins["lat"], basins["lon"])   # km from Beauvais to each basin

The embedded set covers every metropolitan region, with the pilots' basins (Beauvais,
Saint-Quentin; Bordeaux, Bayonne, Périgueux) and eleven Île-de-France basins. Coordinates are
those of the main town's centre (rounded to 4 decimals, ~10 m); they place seekers, offers and
trainings on the map, they do not draw the basin's boundary.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from .csvfiles import LINE, read_csv, require_unique, require_values
from .errors import ReferentielError, UnknownBasin

EARTH_KM: float = 6371.0088
"""Mean Earth radius (IUGG), km: the one radius of every great-circle distance (:func:`haversine_km`)."""

COLUMNS = ("id", "name", "region", "department", "lat", "lon")
SCHEMA = {"id": pl.String, "name": pl.String, "region": pl.String, "department": pl.String,
          "lat": pl.Float64, "lon": pl.Float64}

# id, name, region, department, lat, lon of the main town
_DEFAULT: tuple[tuple[str, str, str, str, float, float], ...] = (
    # Hauts-de-France
    ("beauvais", "Beauvais", "Hauts-de-France", "60", 49.4295, 2.0807),
    ("saint-quentin", "Saint-Quentin", "Hauts-de-France", "02", 49.8465, 3.2876),
    ("amiens", "Amiens", "Hauts-de-France", "80", 49.8941, 2.2958),
    ("compiegne", "Compiègne", "Hauts-de-France", "60", 49.4179, 2.8261),
    ("creil", "Creil - Sud Oise", "Hauts-de-France", "60", 49.2603, 2.4750),
    ("lille", "Lille", "Hauts-de-France", "59", 50.6292, 3.0573),
    ("dunkerque", "Dunkerque", "Hauts-de-France", "59", 51.0343, 2.3768),
    ("valenciennes", "Valenciennes", "Hauts-de-France", "59", 50.3570, 3.5235),
    ("arras", "Arras", "Hauts-de-France", "62", 50.2910, 2.7775),
    ("boulogne-sur-mer", "Boulogne-sur-Mer", "Hauts-de-France", "62", 50.7264, 1.6147),
    # Île-de-France
    ("paris", "Paris", "Île-de-France", "75", 48.8566, 2.3522),
    ("saint-denis", "Saint-Denis - Plaine Commune", "Île-de-France", "93", 48.9362, 2.3574),
    ("roissy", "Roissy - Sud Picardie", "Île-de-France", "95", 49.0036, 2.5156),
    ("cergy", "Cergy-Pontoise", "Île-de-France", "95", 49.0364, 2.0761),
    ("mantes", "Mantes-la-Jolie", "Île-de-France", "78", 48.9908, 1.7172),
    ("versailles", "Versailles - Saint-Quentin-en-Yvelines", "Île-de-France", "78", 48.8049, 2.1204),
    ("saclay", "Massy - Saclay", "Île-de-France", "91", 48.7309, 2.2713),
    ("evry", "Évry - Corbeil", "Île-de-France", "91", 48.6238, 2.4296),
    ("creteil", "Créteil - Orly", "Île-de-France", "94", 48.7904, 2.4556),
    ("marne-la-vallee", "Marne-la-Vallée", "Île-de-France", "77", 48.8502, 2.6508),
    ("meaux", "Meaux", "Île-de-France", "77", 48.9601, 2.8788),
    ("melun", "Melun - Sénart", "Île-de-France", "77", 48.5394, 2.6607),
    # Nouvelle-Aquitaine
    ("bordeaux", "Bordeaux", "Nouvelle-Aquitaine", "33", 44.8378, -0.5792),
    ("bayonne", "Bayonne", "Nouvelle-Aquitaine", "64", 43.4929, -1.4748),
    ("perigueux", "Périgueux", "Nouvelle-Aquitaine", "24", 45.1846, 0.7214),
    ("bergerac", "Bergerac", "Nouvelle-Aquitaine", "24", 44.8533, 0.4833),
    ("pau", "Pau", "Nouvelle-Aquitaine", "64", 43.2951, -0.3708),
    ("mont-de-marsan", "Mont-de-Marsan", "Nouvelle-Aquitaine", "40", 43.8902, -0.4994),
    ("agen", "Agen", "Nouvelle-Aquitaine", "47", 44.2033, 0.6163),
    ("limoges", "Limoges", "Nouvelle-Aquitaine", "87", 45.8336, 1.2611),
    ("poitiers", "Poitiers", "Nouvelle-Aquitaine", "86", 46.5802, 0.3404),
    ("la-rochelle", "La Rochelle", "Nouvelle-Aquitaine", "17", 46.1603, -1.1511),
    # Normandie
    ("rouen", "Rouen", "Normandie", "76", 49.4432, 1.0999),
    ("le-havre", "Le Havre", "Normandie", "76", 49.4944, 0.1079),
    ("caen", "Caen", "Normandie", "14", 49.1829, -0.3707),
    # Grand Est
    ("reims", "Reims", "Grand Est", "51", 49.2583, 4.0317),
    ("metz", "Metz", "Grand Est", "57", 49.1193, 6.1757),
    ("nancy", "Nancy", "Grand Est", "54", 48.6921, 6.1844),
    ("strasbourg", "Strasbourg", "Grand Est", "67", 48.5734, 7.7521),
    ("mulhouse", "Mulhouse", "Grand Est", "68", 47.7508, 7.3359),
    # Bretagne
    ("rennes", "Rennes", "Bretagne", "35", 48.1173, -1.6778),
    ("brest", "Brest", "Bretagne", "29", 48.3904, -4.4861),
    ("lorient", "Lorient", "Bretagne", "56", 47.7483, -3.3700),
    # Pays de la Loire
    ("nantes", "Nantes", "Pays de la Loire", "44", 47.2184, -1.5536),
    ("angers", "Angers", "Pays de la Loire", "49", 47.4784, -0.5632),
    ("cholet", "Cholet", "Pays de la Loire", "49", 47.0600, -0.8790),
    ("le-mans", "Le Mans", "Pays de la Loire", "72", 48.0061, 0.1996),
    # Centre-Val de Loire
    ("orleans", "Orléans", "Centre-Val de Loire", "45", 47.9030, 1.9093),
    ("tours", "Tours", "Centre-Val de Loire", "37", 47.3941, 0.6848),
    # Bourgogne-Franche-Comté
    ("dijon", "Dijon", "Bourgogne-Franche-Comté", "21", 47.3220, 5.0415),
    ("besancon", "Besançon", "Bourgogne-Franche-Comté", "25", 47.2378, 6.0241),
    # Auvergne-Rhône-Alpes
    ("lyon", "Lyon", "Auvergne-Rhône-Alpes", "69", 45.7640, 4.8357),
    ("saint-etienne", "Saint-Étienne", "Auvergne-Rhône-Alpes", "42", 45.4397, 4.3872),
    ("grenoble", "Grenoble", "Auvergne-Rhône-Alpes", "38", 45.1885, 5.7245),
    ("clermont-ferrand", "Clermont-Ferrand", "Auvergne-Rhône-Alpes", "63", 45.7772, 3.0870),
    # Occitanie
    ("toulouse", "Toulouse", "Occitanie", "31", 43.6047, 1.4442),
    ("montpellier", "Montpellier", "Occitanie", "34", 43.6108, 3.8767),
    # Provence-Alpes-Côte d'Azur
    ("marseille", "Marseille", "Provence-Alpes-Côte d'Azur", "13", 43.2965, 5.3698),
    ("toulon", "Toulon", "Provence-Alpes-Côte d'Azur", "83", 43.1242, 5.9280),
    ("nice", "Nice", "Provence-Alpes-Côte d'Azur", "06", 43.7102, 7.2620),
    # Corse
    ("ajaccio", "Ajaccio", "Corse", "2A", 41.9192, 8.7386),
)


def default_basins() -> pl.DataFrame:
    """The embedded job basins: columns id, name, region, department (String), lat, lon (Float64, degrees).

    One row per basin, sorted as declared (by region, pilots first); ``id`` is unique.
    """
    return pl.DataFrame(list(_DEFAULT), schema=SCHEMA, orient="row")


def load_basins(path: str | Path | None = None) -> pl.DataFrame:
    """Read a user's basins CSV (UTF-8, comma-separated); ``None`` gives ``default_basins()``.

    Required columns: ``id``, ``name``, ``lat``, ``lon`` (decimal degrees, WGS84; a decimal
    comma is accepted). Optional: ``region``, ``department``. Ids must be unique and non-empty.
    Raises ``ReferentielError`` naming file, line, column, what was expected and what was found.
    Returns the same schema as ``default_basins()``.
    """
    if path is None:
        return default_basins()
    path = Path(path)
    file = str(path)
    frame = read_csv(path, required=("id", "name", "lat", "lon"), optional=("region", "department"))
    require_values(frame, ("id", "name", "lat", "lon"), file)
    require_unique(frame, ["id"], file, "basin id")
    parsed = {}
    for column, low, high in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
        values = frame[column].str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
        bad = frame.filter(values.is_null() | values.is_nan())
        if bad.height:
            raise ReferentielError("not a number", file=file, line=int(bad[LINE][0]), column=column,
                                   expected="decimal degrees such as 49.4295", found=str(bad[column][0]))
        bad = frame.filter((values < low) | (values > high))
        if bad.height:
            raise ReferentielError("coordinate out of range", file=file, line=int(bad[LINE][0]),
                                   column=column, expected=f"degrees between {low:g} and {high:g}",
                                   found=str(bad[column][0]))
        parsed[column] = values
    return frame.select(
        pl.col("id"), pl.col("name"), pl.col("region"), pl.col("department"),
        parsed["lat"].alias("lat"), parsed["lon"].alias("lon"),
    ).cast(SCHEMA)  # type: ignore[arg-type]


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees; numpy broadcasting.

    Arguments are scalars or array-likes (lists, numpy arrays, polars Series) of broadcastable
    shapes, e.g. ``(n, 1)`` against ``(m,)`` gives an ``(n, m)`` matrix. Returns float64 km,
    ``>= 0``, symmetric, exactly 0 for identical points. Pure: no state, no I/O.
    """
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dp / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_matrix_km(basins: pl.DataFrame) -> np.ndarray:
    """(n, n) float64 km between every pair of basins of a frame with ``lat``, ``lon``."""
    lat = basins["lat"].to_numpy().astype(np.float64)
    lon = basins["lon"].to_numpy().astype(np.float64)
    return haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])


def nearest_basin(lat, lon, basins: pl.DataFrame | None = None) -> np.ndarray:
    """Row index (int64) in ``basins`` of the basin nearest to each point (ties: first row)."""
    basins = default_basins() if basins is None else basins
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    d = haversine_km(lat[:, None], lon[:, None], basins["lat"].to_numpy()[None, :],
                     basins["lon"].to_numpy()[None, :])
    return np.argmin(d, axis=1).astype(np.int64)


def basins_within(basin_id: str, radius_km: float, basins: pl.DataFrame | None = None) -> list[str]:
    """Ids of the basins whose main town is within ``radius_km`` of ``basin_id``'s (itself first).

    Raises :class:`~referentiels.errors.UnknownBasin` for an unknown basin id. Sorted by distance, then id.
    """
    basins = default_basins() if basins is None else basins
    ids = basins["id"].to_list()
    if basin_id not in ids:
        raise UnknownBasin(basin_id)
    row = ids.index(basin_id)
    d = haversine_km(basins["lat"][row], basins["lon"][row], basins["lat"].to_numpy(), basins["lon"].to_numpy())
    order = np.lexsort((np.asarray(ids, dtype=object).astype(str), d))
    return [ids[i] for i in order if d[i] <= radius_km]


__all__ = ["COLUMNS", "EARTH_KM", "basins_within", "default_basins", "distance_matrix_km",
           "haversine_km", "load_basins", "nearest_basin"]
