"""Command line: ``evaluering run``, ``evaluering validate DIR``, ``evaluering data synthetic``.

Exit codes: 0 done; 1 ``validate`` found errors, or some reports failed (their previous versions
were kept), or the wave's Excel workbook was refused (the previous one was kept); 2 bad input or
an impossible request (one line ``evaluering: <file, column or key>: <problem>`` on stderr; also
for wrong command-line arguments); 3 a bug (a full traceback and a line asking to report it); 130
stopped by Ctrl-C or SIGTERM (previous reports kept).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import traceback
from contextlib import contextmanager
from pathlib import Path

from .config import Params, load_params
from .errors import EvalueringError, RequestError

DEFAULT_PARAMS = Path("params/gladsaxe.yaml")
DEFAULT_DATA = Path("data/synthetic")
DEFAULT_SEED = 2021

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
BUG_NOTE = ("evaluering: internal error: this is a bug in evaluering, not a problem with your input; "
            "please report it with the traceback above")


def _fail(message: str) -> int:
    print(f"evaluering: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _params(args: argparse.Namespace) -> tuple[Path, Params]:
    """Load the parameter file and say which one is in use (the default is Gladsaxe's)."""
    given = args.params is not None
    path = Path(args.params) if given else DEFAULT_PARAMS
    try:
        params = load_params(path)
    except EvalueringError as exc:
        if given:
            raise
        raise type(exc)(f"{exc} (the default parameter file; give --params FILE)") from None
    note = "" if given else "; the default, give --params FILE for another municipality"
    print(f"Parameter file: {path} ({params.municipality.name}{note})", file=sys.stderr)
    return path, params


# --- data synthetic ----------------------------------------------------------------------------


def _existing_delivery(out: Path) -> list[str]:
    """Names of the table files (and truth.json) already in ``out``."""
    from .data.contract import TABLE_NAMES
    from .data.io import SUFFIXES

    if not out.is_dir():
        return []
    names = {f"{t}{s}" for t in TABLE_NAMES for s in SUFFIXES} | {"truth.json"}
    return sorted(p.name for p in out.iterdir() if p.name.lower() in names)


def _cmd_synthetic(args: argparse.Namespace) -> int:
    from .data.synthetic import SyntheticDataError, generate

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise RequestError(f"{out}: --out is a file, not a folder")
    existing = _existing_delivery(out)
    if existing and not args.force:
        raise RequestError(f"{out}: already holds a delivery ({', '.join(existing)}); "
                           "give --force to overwrite it, or choose another --out")
    _, params = _params(args)
    planted = "none" if args.no_effects else "effects"
    try:
        written = generate(params, out, seed=args.seed, include_next_wave=args.next_wave, world=args.world,
                           planted=planted)
    except SyntheticDataError as error:  # the generator's own refusals (a parameter file it has no model for)
        raise RequestError(f"synthetic generator: {error}") from None
    except OSError as error:
        raise RequestError(f"{out}: cannot write the synthetic data there ({error.strerror})") from None
    what = f"world {args.world}" + (", no planted effects" if args.no_effects else "")
    print(f"Synthetic data (seed {args.seed}, {what}) written to {written}")
    return EXIT_OK


# --- validate ----------------------------------------------------------------------------------


def _cmd_validate(args: argparse.Namespace) -> int:
    from .data.validate import validate_directory

    _, params = _params(args)
    report = validate_directory(Path(args.directory), params)
    print(report.to_text())
    return EXIT_OK if report.ok else EXIT_FAILED


# --- run ---------------------------------------------------------------------------------------


def _writable_folder(out_dir: Path) -> None:
    """Create ``out_dir`` if needed and make sure reports can be written into it."""
    if out_dir.exists() and not out_dir.is_dir():
        raise RequestError(f"{out_dir}: --out is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise RequestError(f"{out_dir}: cannot write reports there ({exc.strerror or exc})") from None


@contextmanager
def _signals_interrupt():
    """While running, SIGTERM and SIGHUP stop the run as Ctrl-C does (workers stopped, status kept)."""
    def interrupt(signum: int, _frame) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    names = [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)]
    try:
        previous = {name: signal.signal(getattr(signal, name), interrupt) for name in names}
    except ValueError:  # not the main thread: leave the handlers alone
        previous = {}
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


def _compute_results(specs, params, dataset, context, *, jobs: int, params_file: Path, data_dir: Path,
                     out_dir: Path, wave: int, recompute: bool) -> None:
    """Compute once what the reports to be rebuilt draw from, into the wave's results store.

    Nothing is computed when every report is up to date, or when the store already holds the
    results of exactly these inputs (parameter file, data, code), unless ``recompute``; ``dataset``
    (the validated tables) is None only in that case (see :func:`_validated_before`). A report
    that cannot be computed here computes on its own in its notebook, which reports the error in
    its cell; an interruption is a RunInterrupted.
    """
    from .report.store import results_key, store_folder, stored_names_for
    from .runner import RunInterrupted, RunResult, needs_run
    from .runner.execute import INTERRUPTED
    from .runner.plan import stored_names

    names = stored_names([s for s in specs if needs_run(s, context)], params)
    store = store_folder(out_dir, wave)
    baseline = params.survey.baseline_wave
    if not names or (not recompute and set(names) <= stored_names_for(
            store, results_key(params_file, data_dir, wave, baseline))):
        return
    from .indicators.prepare import prepare  # only now: the models and reports take seconds to import
    from .runner.compute import WaveInputs, compute_wave

    try:
        inputs = WaveInputs(params, prepare(dataset, params), params_file, data_dir, wave, baseline)
        failures = compute_wave(names, inputs, store, jobs=jobs)
    except KeyboardInterrupt:
        raise RunInterrupted([RunResult(spec, False, INTERRUPTED) for spec in specs]) from None
    except EvalueringError as exc:
        print(f"evaluering: the wave could not be computed once ({exc}); each report computes on its own",
              file=sys.stderr)
        return
    for name, error in failures.items():
        print(f"evaluering: {name} could not be computed in advance ({error.splitlines()[0]}); "
              "its report computes on its own", file=sys.stderr)


def _validated_before(params, params_file: Path, data_dir: Path, out_dir: Path, wave: int,
                      districts: list[str] | None) -> bool:
    """True when the wave's results store holds every report this run draws from, computed from
    exactly these files (parameter file, data, code): those data passed validation then, and a
    re-render need not read and check them again (at city scale that is most of a re-render).
    """
    from .report.store import AREA_STORED, MONITORING_STORED, results_key, store_folder, stored_names_for

    try:
        names = ({params.district(d).key for d in districts} if districts
                 else {d.key for d in params.districts} | {MONITORING_STORED, AREA_STORED})
        key = results_key(params_file, data_dir, wave, params.survey.baseline_wave)
    except EvalueringError:
        return False  # an unknown district: the run names it after validating
    return names <= stored_names_for(store_folder(out_dir, wave), key)


def _cmd_run(args: argparse.Namespace) -> int:
    from .data.dataset import Dataset
    from .data.synthetic import generate
    from .data.validate import validate_directory
    from .runner import (
        RunContext,
        RunInterrupted,
        mark_started,
        plan_wave,
        run_all,
        sweep_stale_folders,
        update_status,
        write_index,
    )

    params_file, params = _params(args)
    data_dir, out_dir = Path(args.data), Path(args.out)
    if data_dir.exists() and not data_dir.is_dir():
        raise RequestError(f"{data_dir}: --data is a file, not a folder")
    if not any(data_dir.glob("register.*")) and not (data_dir / "register").is_dir():
        if data_dir.resolve() != DEFAULT_DATA.resolve():
            return _fail(f"{data_dir}: no input data found (expected register, survey, ... files)")
        print(f"No data in {data_dir}: generating the synthetic municipality (seed {DEFAULT_SEED}) ...")
        generate(params, data_dir, seed=DEFAULT_SEED)
    wave = args.wave or params.survey.waves[-1]
    tables = None  # validated input tables; None when the results store shows they were validated already
    if args.recompute or not _validated_before(params, params_file, data_dir, out_dir, wave, args.district):
        report = validate_directory(data_dir, params)
        if not report.ok:
            print(report.to_text(), file=sys.stderr)
            return _fail(f"{data_dir}: the input data break the input contract; no report was changed")
        delivered = sorted(int(w) for w in report.tables["survey"]["wave"].unique())
        if wave not in delivered:
            return _fail(f"{data_dir}: the survey table has no wave {wave} (waves present: {delivered})")
        tables = report.tables
    specs = plan_wave(params, params_file=params_file, data_dir=data_dir, notebooks_dir=Path(args.notebooks),
                      out_dir=out_dir, wave=wave, districts=args.district)
    _writable_folder(out_dir)
    jobs = args.jobs or os.cpu_count() or 1
    context = RunContext.for_data(params, data_dir, timeout=args.timeout, force=args.force or args.recompute,
                                  threads_per_run=max(1, (os.cpu_count() or 1) // min(jobs, len(specs))))
    sweep_stale_folders()
    with _signals_interrupt():
        mark_started(specs)
        write_index(out_dir, params)  # if this run is killed, the index already says the reports are older
        try:
            _compute_results(specs, params, tables and Dataset(**tables, source_dir=data_dir), context, jobs=jobs,
                             params_file=params_file, data_dir=data_dir, out_dir=out_dir, wave=wave,
                             recompute=args.recompute)
            results = run_all(specs, context, jobs=jobs)
        except RunInterrupted as stopped:
            update_status(stopped.results)
            write_index(out_dir, params)
            print("evaluering: interrupted; the reports not rebuilt were kept as they were", file=sys.stderr)
            return EXIT_INTERRUPTED
        update_status(results)
        workbook, workbook_error = _write_workbook(out_dir / str(wave), params, params_file, data_dir,
                                                   context.data_digest)
        index = write_index(out_dir, params)
    for result in results:
        print(result.describe())
    print(f"Index: {index}")
    if workbook is not None:
        print(f"Tables in Excel: {workbook}")
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"{len(failed)} of {len(results)} runs failed; their previous reports were kept:", file=sys.stderr)
        for result in failed:
            print(f"  {result.describe()}", file=sys.stderr)
    if workbook_error:
        print(f"evaluering: {workbook_error}", file=sys.stderr)
    return EXIT_FAILED if failed or workbook_error else EXIT_OK


def _write_workbook(wave_dir: Path, params: Params, params_file: Path, data_dir: Path,
                    data_digest: str) -> tuple[Path | None, str | None]:
    """Write the wave's Excel workbook from the reports in its folder: its path, or why it was not
    written (the previous one is kept).
    """
    from .runner.workbook import WorkbookError, write_wave_workbook

    try:
        return write_wave_workbook(wave_dir, params, params_file=params_file, data_dir=data_dir,
                                   data_digest=data_digest), None
    except WorkbookError as exc:
        return None, str(exc)


# --- parser and entry point --------------------------------------------------------------------


def _count(minimum: int):
    """An argparse type: a whole number of at least ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value
    return parse


def _params_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", help=f"parameter file (default: {DEFAULT_PARAMS}, Gladsaxe's)")


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser: ``validate``, ``synthetic`` and ``run`` with their options."""
    from .data.synthetic.settings import WORLDS

    parser = argparse.ArgumentParser(prog="evaluering", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="evaluate every district for a wave and render the HTML reports")
    _params_option(run)
    run.add_argument("--data", default=str(DEFAULT_DATA), help="input data directory (default: %(default)s; "
                     "synthetic data are generated there when it is empty)")
    run.add_argument("--wave", type=int, help="survey wave to evaluate (default: the latest in the parameters)")
    run.add_argument("--district", nargs="+", help="district keys or names (default: all)")
    run.add_argument("--out", default="reports", help="report directory (default: %(default)s)")
    run.add_argument("--notebooks", default="notebooks", help="notebook directory (default: %(default)s)")
    run.add_argument("--jobs", type=_count(1), help="notebooks run at the same time (default: the number of cores)")
    run.add_argument("--force", action="store_true", help="re-render reports whose inputs did not change (from the "
                     "wave's stored results when they were computed from the same inputs)")
    run.add_argument("--recompute", action="store_true", help="compute the wave's results again and re-render "
                     "every report, even when nothing changed")
    run.add_argument("--timeout", type=_count(1), default=1800,
                     help="seconds allowed per report, at least 1 (default: %(default)s)")
    run.set_defaults(func=_cmd_run)

    validate = sub.add_parser("validate", help="check an input directory against the input contract")
    validate.add_argument("directory")
    _params_option(validate)
    validate.set_defaults(func=_cmd_validate)

    data = sub.add_parser("data", help="data utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    synthetic = data_sub.add_parser("synthetic", help="generate the synthetic municipality")
    synthetic.add_argument("--seed", type=_count(0), default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    synthetic.add_argument("--out", default=str(DEFAULT_DATA), help="output directory (default: %(default)s)")
    _params_option(synthetic)
    synthetic.add_argument("--next-wave", action="store_true", help="also generate the next survey wave (2027)")
    synthetic.add_argument("--world", default="gladsaxe", choices=sorted(WORLDS),
                           help="gladsaxe (default) or heterogeneous: districts of different size, base rates far "
                                "from the rest, yearly area, institution and counter shocks")
    synthetic.add_argument("--no-effects", action="store_true",
                           help="plant no effects (every district x indicator is a null)")
    synthetic.add_argument("--force", action="store_true", help="overwrite a delivery already in --out")
    synthetic.set_defaults(func=_cmd_synthetic)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (see the module docstring)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        return args.func(args)
    except EvalueringError as exc:  # bad input or an impossible request: the message names file, column or key
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("evaluering: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (``evaluering validate DIR | head``): not a bug
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so that the interpreter's final flush is quiet
        return 0
    except Exception:
        traceback.print_exc()
        print(BUG_NOTE, file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
