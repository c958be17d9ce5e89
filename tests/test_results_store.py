"""The wave's results store: reports drawn from it show exactly what reports computed from the data
show, it holds no microdata or identifiers, only a store of the same inputs is used, and a run
computes the wave once.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import pickle

import matplotlib
import pandas as pd
import pytest

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402

from evaluering.report.area import AreaReport  # noqa: E402
from evaluering.report.computed import ResultsMissing  # noqa: E402
from evaluering.report.district import DistrictReport  # noqa: E402
from evaluering.report.monitoring import MonitoringReport  # noqa: E402
from evaluering.report.overview import OverviewReport  # noqa: E402
from evaluering.report.store import (  # noqa: E402
    ResultsStore,
    StoreError,
    read_report,
    results_key,
    store_folder,
    write_store,
)

WAVE, BASELINE = 2024, 2021


def _shown(output) -> list:
    """What a section puts on the page: HTML text, and each figure as PNG bytes."""
    if isinstance(output, (list, tuple)):
        return [part for item in output for part in _shown(item)]
    if output is None:
        return [None]
    if isinstance(output, plt.Figure):
        _assert_inside_canvas(output)
        buffer = io.BytesIO()
        output.savefig(buffer, format="png", metadata={"Software": None})
        plt.close(output)
        return [buffer.getvalue()]
    return [output.data]


def _assert_inside_canvas(fig) -> None:
    """Nothing a report figure draws lies outside its canvas: a report's PNG is the whole canvas
    (``figure_record``), not cropped to the tight box, so anything outside would be cut off.
    """
    tight = fig.get_tightbbox()
    width, height = fig.get_size_inches()
    tolerance = 0.02  # inches: a line's half width on the edge
    assert tight.x0 >= -tolerance and tight.y0 >= -tolerance, (tight, fig.axes[0].get_title())
    assert tight.x1 <= width + tolerance and tight.y1 <= height + tolerance, (tight, fig.axes[0].get_title())


def test_the_figure_without_panels_fits_its_canvas():
    from evaluering.report.figures import event_study_grid

    _assert_inside_canvas(event_study_grid({}, []))


def _round_trip(report):
    """The report as a notebook gets it from the store: computed, stripped, pickled and read back."""
    return pickle.loads(pickle.dumps(report.precompute().for_store()))


def _assert_same_sections(computed, stored, sections) -> None:
    for name, args in sections:
        assert _shown(getattr(stored, name)(*args)) == _shown(getattr(computed, name)(*args)), name


def test_a_district_report_from_the_store_shows_what_the_computed_one_shows(prepared, params, params_file,
                                                                           synthetic_dir):
    report = DistrictReport.compute(params, prepared, "moerkhoej", BASELINE, WAVE, params_file, synthetic_dir)
    stored = _round_trip(report)
    assert stored.data is None and stored.evaluation.balanced == {}  # no survey microdata kept
    sections = [("title", ()), ("headline", ()), *[("effect_goal", (g.key,)) for g in params.effect_goals],
                ("estimates_figure", ()), ("theme_trends", ()), ("event_studies", ()), ("methods", ()),
                ("weighting", ()), ("love_plot", ())]
    _assert_same_sections(report, stored, sections)
    pd.testing.assert_frame_equal(stored.evaluation.table, report.evaluation.table)
    overview = OverviewReport(params, (stored.evaluation,), params_file, synthetic_dir)
    assert "Mørkhøj" in overview.summary().data
    _shown(overview.figure())  # one district: the narrowest overview figure still holds its labels


def test_the_monitoring_and_area_reports_from_the_store_show_what_the_computed_ones_show(
        prepared, params, params_file, synthetic_dir):
    monitoring = MonitoringReport.compute(params, prepared, WAVE, params_file, synthetic_dir)
    _assert_same_sections(monitoring, _round_trip(monitoring),
                          [("title", ()), ("criteria", ()), ("area_trends", ()), ("ambitions", ()),
                           ("survey_planning", ())])
    area = AreaReport.compute(params, prepared, WAVE, params_file, synthetic_dir)
    stored = _round_trip(area)
    assert stored.frame is None and stored.data is None  # no person-level frame kept
    _assert_same_sections(area, stored, [("title", ()), ("variation", ()), ("threshold", ()),
                                         ("decomposition", ()), ("movers", ()), ("caveats", ())])


def test_a_stored_report_without_a_computation_says_so(prepared, params, params_file, synthetic_dir):
    report = MonitoringReport.compute(params, prepared, WAVE, params_file, synthetic_dir).for_store()
    with pytest.raises(ResultsMissing, match="_criteria_tables.*not in the stored results"):
        report.criteria()


@dataclasses.dataclass(frozen=True)
class _Result:
    table: pd.DataFrame
    notes: dict = dataclasses.field(default_factory=dict)


def test_the_store_refuses_identifiers_wherever_they_are(tmp_path):
    nested = _Result(pd.DataFrame({"x": [1.0]}), {"inner": [_Result(pd.DataFrame({"person_id": ["p1"]}))]})
    with pytest.raises(StoreError, match=r"identifiers: d\.notes\.'inner'\.0\.table \(person_id\)"):
        write_store(tmp_path / "s", "k", {}, {"d": nested})
    indexed = _Result(pd.DataFrame({"x": [1.0]}, index=pd.Index(["c1"], name="counter_id")))
    with pytest.raises(StoreError, match="counter_id"):
        write_store(tmp_path / "s", "k", {}, {"d": indexed})
    assert not (tmp_path / "s").exists()


def test_only_a_store_of_the_same_inputs_is_read_and_a_changed_one_is_refused(tmp_path):
    folder = tmp_path / "s"
    write_store(folder, "key-a", {"wave": 1}, {"d": _Result(pd.DataFrame({"x": [1.0, 2.0]}))})
    assert read_report(folder, "d", "key-a").table["x"].tolist() == [1.0, 2.0]
    assert read_report(folder, "d", "key-b") is None  # other inputs: compute instead
    assert read_report(folder, "other", "key-a") is None
    assert read_report(tmp_path / "none", "d", "key-a") is None
    write_store(folder, "key-b", {}, {"e": _Result(pd.DataFrame())})  # replaced as a whole
    assert read_report(folder, "d", "key-a") is None and read_report(folder, "e", "key-b") is not None
    payload = (folder / "e.pickle").read_bytes()
    (folder / "e.pickle").write_bytes(payload.replace(b"notes", b"notez"))
    with pytest.raises(StoreError, match="changed after they were written"):
        read_report(folder, "e", "key-b")


def test_the_run_keeps_every_report_of_the_wave_in_the_store(rendered_reports, params, params_file, synthetic_dir):
    code, out = rendered_reports
    assert code == 0
    store = ResultsStore.open(out, WAVE)
    assert store.manifest["key"] == results_key(params_file, synthetic_dir, WAVE, BASELINE)
    assert set(store.reports) == {d.key for d in params.districts} | {"monitoring", "area"}
    district = store.report("moerkhoej")
    assert isinstance(district, DistrictReport) and district.data is None
    table = store.table("moerkhoej", "indikatorer")
    assert table["estimate"].to_numpy() == pytest.approx(district.evaluation.table["estimate"].to_numpy(),
                                                          nan_ok=True)
    assert "trends" not in store.table("monitoring", "udvikling").columns  # a plain table
    assert "Ikke til offentliggørelse" in (out / ".store" / "LAESMIG.txt").read_text(encoding="utf-8")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert ".store" not in index
    manifest = json.loads((store_folder(out, WAVE) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["data_dir"] == str(synthetic_dir.resolve())


def test_a_notebook_draws_from_the_store_only_for_its_own_inputs(rendered_reports, params_file, synthetic_dir,
                                                                 tmp_path, monkeypatch):
    _, out = rendered_reports
    folder = store_folder(out, WAVE)
    calls = []
    monkeypatch.setattr("evaluering.report.district.load_prepared",
                        lambda *a: calls.append(a) or (_ for _ in ()).throw(RuntimeError("computed")))
    report = DistrictReport.build(params_file, synthetic_dir, "moerkhoej", WAVE, None, folder)
    assert report.data is None and not calls  # drawn from the store
    other = tmp_path / "params.yaml"
    other.write_text(params_file.read_text(encoding="utf-8") + "\n# another parameter file\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="computed"):
        DistrictReport.build(other, synthetic_dir, "moerkhoej", WAVE, None, folder)


def test_a_run_computes_once_and_reuses_the_results_of_the_same_inputs(tmp_path, params, params_file,
                                                                       synthetic_dir, monkeypatch):
    from evaluering.cli import _compute_results
    from evaluering.runner import RunContext, plan_wave

    computed = []

    def fake_compute(names, inputs, store, *, jobs=1, progress=True):
        computed.append(list(names))
        key = results_key(inputs.params_file, inputs.data_dir, inputs.wave, inputs.baseline)
        write_store(store, key, {}, {n: _Result(pd.DataFrame()) for n in names})
        return {}

    monkeypatch.setattr(importlib.import_module("evaluering.runner.compute"), "compute_wave", fake_compute)
    monkeypatch.setattr(importlib.import_module("evaluering.indicators.prepare"), "prepare", lambda *args: None)
    out = tmp_path / "out"
    specs = plan_wave(params, params_file=params_file, data_dir=synthetic_dir,
                      notebooks_dir=params_file.parents[1] / "notebooks", out_dir=out, wave=WAVE)
    where = dict(jobs=1, params_file=params_file, data_dir=synthetic_dir, out_dir=out, wave=WAVE)
    context = RunContext(5, frozenset(), "digest", force=True)
    _compute_results(specs, params, None, context, recompute=False, **where)
    _compute_results(specs, params, None, context, recompute=False, **where)  # --force: the same results
    _compute_results(specs[:1], params, None, context, recompute=True, **where)  # --recompute
    districts = [d.key for d in params.districts]
    assert computed == [[*districts, "monitoring", "area"], [districts[0]]]


def test_a_run_stopped_while_computing_keeps_the_previous_store(tmp_path, params, params_file, synthetic_dir,
                                                               monkeypatch):
    from evaluering.cli import _compute_results
    from evaluering.runner import RunContext, RunInterrupted, plan_wave
    from evaluering.runner.compute import WaveInputs, compute_wave
    from evaluering.runner.execute import INTERRUPTED

    out = tmp_path / "out"
    folder = store_folder(out, WAVE)
    write_store(folder, "old", {}, {"d": _Result(pd.DataFrame())})

    def stopped(name, inputs):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module("evaluering.runner.compute"), "_report", stopped)
    with pytest.raises(KeyboardInterrupt):
        compute_wave(["a", "b"], WaveInputs(params, None, params_file, synthetic_dir, WAVE, BASELINE), folder,
                     jobs=1, progress=False)
    assert read_report(folder, "d", "old") is not None  # the previous store is as it was

    monkeypatch.setattr(importlib.import_module("evaluering.indicators.prepare"), "prepare", lambda *args: None)
    specs = plan_wave(params, params_file=params_file, data_dir=synthetic_dir,
                      notebooks_dir=params_file.parents[1] / "notebooks", out_dir=out, wave=WAVE)
    with pytest.raises(RunInterrupted) as stop:
        _compute_results(specs, params, None, RunContext(5, frozenset(), "digest"), recompute=True, jobs=1,
                         params_file=params_file, data_dir=synthetic_dir, out_dir=out, wave=WAVE)
    assert [r.error for r in stop.value.results] == [INTERRUPTED] * len(specs)
    assert read_report(folder, "d", "old") is not None


def test_a_rerun_of_inputs_the_store_was_computed_from_need_not_validate_them_again(
        rendered_reports, params, params_file, synthetic_dir, tmp_path):
    from evaluering.cli import _validated_before

    _, out = rendered_reports
    assert _validated_before(params, params_file, synthetic_dir, out, WAVE, None)
    assert _validated_before(params, params_file, synthetic_dir, out, WAVE, ["Mørkhøj"])
    assert not _validated_before(params, params_file, synthetic_dir, out, WAVE, ["Nowhere"])  # named later
    assert not _validated_before(params, params_file, synthetic_dir, tmp_path, WAVE, None)  # no store
    changed = tmp_path / "data"
    changed.mkdir()
    for table in synthetic_dir.iterdir():
        if table.is_file():
            (changed / table.name).write_bytes(table.read_bytes())
    assert _validated_before(params, params_file, changed, out, WAVE, None)  # the same files elsewhere
    (changed / "areas.parquet").write_bytes(b"not parquet")
    assert not _validated_before(params, params_file, changed, out, WAVE, None)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_report_that_cannot_be_computed_is_left_to_its_notebook(tmp_path, params, params_file, synthetic_dir,
                                                                  monkeypatch, jobs):
    from evaluering.runner.compute import WaveInputs, compute_wave

    def report(name, inputs):
        if name == "b":
            raise ValueError("no data for b")
        return _Result(pd.DataFrame({"x": [1.0]}))

    monkeypatch.setattr(importlib.import_module("evaluering.runner.compute"), "_report", report)
    folder = tmp_path / "store"
    failures = compute_wave(["a", "b", "c"], WaveInputs(params, None, params_file, synthetic_dir, WAVE, BASELINE),
                            folder, jobs=jobs, progress=False)
    assert list(failures) == ["b"] and failures["b"].startswith("ValueError: no data for b")
    key = results_key(params_file, synthetic_dir, WAVE, BASELINE)
    assert read_report(folder, "a", key) is not None and read_report(folder, "c", key) is not None
    assert read_report(folder, "b", key) is None
