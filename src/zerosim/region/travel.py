"""Region layer: the shipped travel matrix between seven Chinese cities, and how it is derived.

Layer ``region`` -- imports numpy/pandas only. Every number is explained in ``data/SOURCES.md``;
this module is the derivation itself, so ``data/travel.csv`` can be regenerated and checked:
``python -m zerosim.region.travel`` rewrites it, and ``tests/test_region.py`` checks that the
shipped file equals :func:`derive_travel_table`.

``trips_per_day`` is one-way passenger trips per day from ``origin`` to ``destination`` (real
people, 2019 level). The matrix is symmetric: a trip out is matched by a trip back.

* **air** (source-based): the 2019 passenger throughput of each city's airports, ``A_i`` (CAAC 2019
  airport bulletin), shared out in proportion to the destination's share of national throughput:
  ``air_ij = A_i * A_j / (2 * 365 * A_national)`` (``A_i / 2`` departures a year; ``A_j / A_national``
  the share of them landing in city j: ASSUMPTION, no route table). No air service between cities
  less than 500 km apart (ASSUMPTION: Beijing-Shijiazhuang has no scheduled flights; 1 h by HSR).
  Check: Beijing-Shanghai gives 12,700 a day each way (9.3 M a year); OAG counted 8.12 M scheduled
  seats between Beijing Capital and Shanghai Hongqiao alone in 2019, and the 2012 origin-destination
  count was 6.84 M passengers (Wang 2014).
* **rail** (gravity, one anchor): ``rail_ij = K * P_i * P_j / d_ij**2`` with 2020 census populations
  and great-circle distances (the exponent 2 is an ASSUMPTION); K makes Beijing-Shanghai equal
  the 2012 origin-destination rail count of 5.10 M passengers a year (Wang 2014), i.e. 6,986 a day
  each way (2012 level kept: ASSUMPTION; the whole Jinghu line carried 3.2 times more in 2019 than
  2012, so this is probably low). Check: it predicts 3.5 M a year Wuhan-Guangzhou, against 6.46 M
  counted in 2011 (Wang 2014): the gravity model is good to a factor of about 2.
* **rail to and from Lhasa** replaces the gravity value (which cannot see that the Qinghai-Tibet
  railway is the only line into Tibet): 2.593 M rail passengers entered or left Tibet in 2018
  (derived from the 2023 record of 2.959 M, 366,000 above 2018), half of them leaving, i.e. 3,552 a
  day, split among destinations by ASSUMPTION shares (the Beijing, Shanghai and Guangzhou trains,
  and the every-other-day Chongqing train): see ``LHASA_RAIL_SHARE``.
* **road** only between cities less than 500 km apart (Beijing-Shijiazhuang): half the rail volume
  (ASSUMPTION: coaches and private cars; no origin-destination count found).
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from pathlib import Path

import pandas as pd

#: National airport passenger throughput 2019 (CAAC 2019 airport bulletin: 135,162.9 ten-thousands).
NATIONAL_AIRPORT_PASSENGERS_2019 = 1_351_629_000
#: No scheduled flights between cities closer than this (ASSUMPTION; Beijing-Shijiazhuang 264 km has none).
AIR_MIN_DISTANCE_KM = 500.0
#: Road trips only between cities closer than this (ASSUMPTION).
ROAD_MAX_DISTANCE_KM = 500.0
#: Road volume as a share of the rail volume on short pairs (ASSUMPTION).
ROAD_SHARE_OF_RAIL = 0.5
#: Gravity distance exponent of the rail model (ASSUMPTION).
RAIL_DISTANCE_EXPONENT = 2.0
#: Beijing-Shanghai rail origin-destination passengers, both directions, 2012 (Wang 2014).
RAIL_ANCHOR_PASSENGERS_PER_YEAR = 5_100_000
RAIL_ANCHOR = ("Beijing", "Shanghai")
#: Rail passengers leaving Tibet per day: (2,959,000 - 366,000) / 2 / 365 (2018, derived; SOURCES.md R3).
LHASA_RAIL_OUTBOUND_PER_DAY = (2_959_000 - 366_000) / 2 / 365
#: Share of Lhasa's outbound rail passengers travelling to each city (ASSUMPTION, SOURCES.md R4).
LHASA_RAIL_SHARE = {"Beijing": 0.06, "Shanghai": 0.06, "Xian": 0.06, "Chongqing": 0.03, "Wuhan": 0.02,
                    "Shijiazhuang": 0.01}
MODES = ("rail", "air", "road")


@cache
def city_table() -> pd.DataFrame:
    """The shipped city table (``data/cities.csv``): 2020 census population, coordinates, 2019 airport passengers."""
    text = resources.files("zerosim.region").joinpath("data/cities.csv").read_text(encoding="utf-8")
    from io import StringIO

    return pd.read_csv(StringIO(text))


def distance_km(a: str, b: str) -> float:
    """Great-circle distance between two cities of the city table (haversine, Earth radius 6,371 km)."""
    table = city_table().set_index("city")
    lat1, lon1, lat2, lon2 = map(math.radians, (table.at[a, "latitude"], table.at[a, "longitude"],
                                                  table.at[b, "latitude"], table.at[b, "longitude"]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def derive_travel_table() -> pd.DataFrame:
    """The travel matrix (origin, destination, mode, trips_per_day, source), derived as the module docstring says."""
    table = city_table().set_index("city")
    names = list(table.index)
    population = table["population_2020"].astype(float)
    airports = table["airport_passengers_2019"].astype(float)
    a, b = RAIL_ANCHOR
    anchor_per_day = RAIL_ANCHOR_PASSENGERS_PER_YEAR / 2 / 365
    k = anchor_per_day * distance_km(a, b) ** RAIL_DISTANCE_EXPONENT / (population[a] * population[b])
    rows = []
    for origin in names:
        for destination in names:
            if origin == destination:
                continue
            d = distance_km(origin, destination)
            if "Lhasa" in (origin, destination):
                other = destination if origin == "Lhasa" else origin
                rail = LHASA_RAIL_OUTBOUND_PER_DAY * LHASA_RAIL_SHARE[other]
                rail_source = "R3 x R4: Tibet rail outbound 2018 x ASSUMPTION share"
            else:
                rail = k * population[origin] * population[destination] / d ** RAIL_DISTANCE_EXPONENT
                rail_source = "R1 gravity on census population, anchored on R2 (Beijing-Shanghai 2012)"
            rows.append((origin, destination, "rail", rail, rail_source))
            if d >= AIR_MIN_DISTANCE_KM:
                air = airports[origin] * airports[destination] / (2 * 365 * NATIONAL_AIRPORT_PASSENGERS_2019)
                rows.append((origin, destination, "air", air, "A1-A4 airport throughput x destination share (A5)"))
            if d < ROAD_MAX_DISTANCE_KM:
                rows.append((origin, destination, "road", ROAD_SHARE_OF_RAIL * rail,
                             "ASSUMPTION: road = 0.5 x rail below 500 km"))
    frame = pd.DataFrame(rows, columns=["origin", "destination", "mode", "trips_per_day", "source"])
    frame["trips_per_day"] = frame["trips_per_day"].round(0).astype(int)
    frame.insert(3, "distance_km", [round(distance_km(o, d)) for o, d in zip(frame["origin"], frame["destination"])])
    return frame


@cache
def shipped_travel_table() -> pd.DataFrame:
    """The shipped ``data/travel.csv``."""
    from io import StringIO

    text = resources.files("zerosim.region").joinpath("data/travel.csv").read_text(encoding="utf-8")
    return pd.read_csv(StringIO(text))


def shipped_cities() -> list[str]:
    """Names of the cities with shipped travel and population data."""
    return list(city_table()["city"])


def write_travel_table(path: Path | None = None) -> Path:
    """Regenerate ``data/travel.csv`` from the derivation."""
    path = Path(path) if path is not None else Path(__file__).with_name("data") / "travel.csv"
    derive_travel_table().to_csv(path, index=False)
    return path


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print(write_travel_table())
