"""A district of 25 residents renders every report and gives no one away (issue 13).

The world is Kærbæk Kommune with one small area made the district Lille Lund (about 25 residents,
about 10 respondents per wave; ``worlds/tiny_district.py``), not the project's synthetic
municipality. The whole wave is rendered with ``evaluering run``; the runner's own scan has to
pass (tables' ``data-n``, figures' records of the persons behind them). Then what the reports
*show* is checked against counts computed here from the raw input tables, independently of the
package:

* every level of a 0/1 indicator that rests on fewer than ``min_cell`` persons with or without
  the attribute is shown as "–" in Lille Lund's report;
* no interval in any report goes beyond ±100 percentage points;
* in the monitoring report, a district minus its listed small areas (what subtraction gives away)
  is empty or holds at least ``min_cell`` residents.

Slow (renders seven reports, about 4 minutes on two cores).
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import yaml

from evaluering.cli import main as cli_main
from evaluering.report.scan import scan_html
from worlds.tiny_district import KEY, MIN_CELL, NAME, write_tiny_world

pytestmark = pytest.mark.slow

SEED = 11
BASELINE, FOLLOWUP = 2021, 2024


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    data = tmp_path_factory.mktemp("tiny-data")
    out = tmp_path_factory.mktemp("tiny-reports")
    params_path = write_tiny_world(data, SEED)
    code = cli_main(["run", "--params", str(params_path), "--data", str(data), "--out", str(out), "--jobs", "2"])
    return data, params_path, out, code


def _cells(row_html: str) -> list[str]:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row_html, flags=re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in cells]


def _rows(html: str) -> list[list[str]]:
    return [cells for cells in (_cells(r) for r in html.split("<tr>")[1:]) if cells]


def _raw(data: Path) -> dict[str, pd.DataFrame]:
    areas = pd.read_csv(data / "areas.csv", sep=";", dtype=str, encoding="utf-8-sig").fillna("")
    survey, _ = pyreadstat.read_sav(str(data / "survey.sav"))
    return {"areas": areas, "register": pd.read_parquet(data / "register.parquet"), "survey": survey}


def _indicators(params_path: Path) -> list[dict]:
    raw = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    return [i for g in raw["effect_goals"] for t in g["themes"] for i in t["indicators"]]


def _with_without(ind: dict, raw: dict, area_ids: set[str], year: int) -> tuple[int, int] | None:
    """Persons in Lille Lund with and without the indicator's attribute in ``year``, from the raw tables."""
    comp = ind["computation"]
    if comp["kind"] == "register_share" and not comp.get("latest_non_missing"):
        reg = raw["register"]
        rows = reg[(reg["year"] == year) & reg["area_id"].isin(area_ids) & reg["age"].between(*comp["age"])
                   & reg[comp["column"]].notna()]
        has = rows[comp["column"]].isin(comp["values"])
        return int(has.sum()), int((~has).sum())
    if comp["kind"] == "survey_share":
        sv = raw["survey"]
        rows = sv[(sv["wave"] == year) & sv["area_id"].isin(area_ids) & (sv["responded"] == 1)
                  & sv[comp["question"]].notna()]
        has = rows[comp["question"]].isin(comp["values"])
        return int(has.sum()), int((~has).sum())
    return None


def test_every_report_renders_and_passes_the_runners_scan(rendered):
    _, _, out, code = rendered
    assert code == 0
    reports = sorted(p.name for p in (out / "2024").glob("*.html"))
    assert "lille-lund.html" in reports and len(reports) == 7
    for path in (out / "2024").glob("*.html"):
        assert scan_html(path.read_text(encoding="utf-8"), min_cell=MIN_CELL) == [], path.name


def test_small_levels_are_hidden_where_the_raw_data_say_so(rendered):
    data, params_path, out, _ = rendered
    raw = _raw(data)
    area_ids = set(raw["areas"].loc[raw["areas"]["district"] == KEY, "area_id"])
    html = (out / "2024" / "lille-lund.html").read_text(encoding="utf-8")
    rows = {}
    for r in _rows(html):  # the goal tables' rows: the first row of each indicator (later tables repeat names)
        if r and re.match(r"\d+\. ", r[0]):
            rows.setdefault(r[0].split(".")[0], r)
    checked = 0
    for ind in _indicators(params_path):
        for year, side in ((BASELINE, 0), (FOLLOWUP, 1)):
            counts = _with_without(ind, raw, area_ids, year)
            if counts is None:
                continue
            shown = rows[str(ind["number"])][1].split("→")[side].strip()
            if min(counts) < MIN_CELL:
                assert shown == "–", (ind["key"], year, counts, shown)
                checked += 1
    assert checked >= 10  # the tiny district really has small cells, and each is hidden


def test_no_interval_beyond_100_percentage_points(rendered):
    _, _, out, _ = rendered
    bound = re.compile(r"\(([−+]?[\d.]+,\d) til ([−+]?[\d.]+,\d)\)")
    for path in (out / "2024").glob("*.html"):
        text = unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))
        for low, high in bound.findall(text):
            for value in (low, high):
                number = float(value.replace("−", "-").replace(".", "").replace(",", "."))
                assert abs(number) <= 100, (path.name, low, high)


def test_a_district_minus_its_listed_areas_is_empty_or_large_enough(rendered):
    data, params_path, out, _ = rendered
    areas = _raw(data)["areas"]
    html = (out / "2024" / "overvaagning.html").read_text(encoding="utf-8")
    section = html[html.index('id="kriterier"'):html.index('id="omraader"')]
    residents = {}
    for row in _rows(section):
        name = re.sub(r"\s*\(under .*\)$", "", row[0])
        if row[1] != "–":
            residents[name] = int(row[1].replace(".", ""))
    raw_params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    district_names = {d["key"]: d["name"] for d in raw_params["districts"]}
    assert district_names[KEY] == NAME
    for key, name in district_names.items():
        total = residents.get(name)
        listed = [residents[a] for a in areas.loc[areas["district"] == key, "area_name"] if a in residents]
        if total is None or not listed:
            continue
        remainder = total - sum(listed)
        assert remainder == 0 or remainder >= MIN_CELL, (name, total, listed)
