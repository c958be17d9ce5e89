"""Command line: ``evaluering run``, ``evaluering validate DIR``, ``evaluering data synthetic``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .config import ConfigError, load_params

DEFAULT_PARAMS = Path("params/gladsaxe.yaml")
DEFAULT_DATA = Path("data/synthetic")
DEFAULT_SEED = 2021


def _fail(message: str) -> int:
    print(f"evaluering: {message}", file=sys.stderr)
    return 2


def _cmd_synthetic(args: argparse.Namespace) -> int:
    from .data.synthetic import generate

    params = load_params(args.params)
    planted = "none" if args.no_effects else "effects"
    try:
        out = generate(params, args.out, seed=args.seed, include_next_wave=args.next_wave, world=args.world,
                       planted=planted)
    except ValueError as error:
        return _fail(str(error))
    what = f"world {args.world}" + (", no planted effects" if args.no_effects else "")
    print(f"Synthetic data (seed {args.seed}, {what}) written to {out}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .data.validate import validate_directory

    params = load_params(args.params)
    report = validate_directory(Path(args.directory), params)
    print(report.to_text())
    return 0 if report.ok else 1


def _cmd_run(args: argparse.Namespace) -> int:
    from .data.synthetic import generate
    from .data.validate import validate_directory
    from .runner import RunContext, plan_wave, run_all, update_status, write_index

    params_file, data_dir, out_dir = Path(args.params), Path(args.data), Path(args.out)
    params = load_params(params_file)
    if not any(data_dir.glob("register.*")):
        if data_dir.resolve() != DEFAULT_DATA.resolve():
            return _fail(f"{data_dir}: no input data found (expected register, survey, ... files)")
        print(f"No data in {data_dir}: generating the synthetic municipality (seed {DEFAULT_SEED}) ...")
        generate(params, data_dir, seed=DEFAULT_SEED)
    report = validate_directory(data_dir, params)
    if not report.ok:
        print(report.to_text(), file=sys.stderr)
        return _fail(f"{data_dir}: the input data break the input contract; no report was changed")
    wave = args.wave or params.survey.waves[-1]
    delivered = sorted(int(w) for w in report.tables["survey"]["wave"].unique())
    if wave not in delivered:
        return _fail(f"{data_dir}: the survey table has no wave {wave} (waves present: {delivered})")
    try:
        specs = plan_wave(params, params_file=params_file, data_dir=data_dir, notebooks_dir=Path(args.notebooks),
                          out_dir=out_dir, wave=wave, districts=args.district)
    except (ValueError, ConfigError) as exc:
        return _fail(str(exc))
    jobs = args.jobs or os.cpu_count() or 1
    context = RunContext.for_data(params, data_dir, timeout=args.timeout, force=args.force,
                                  threads_per_run=max(1, (os.cpu_count() or 1) // min(jobs, len(specs))))
    results = run_all(specs, context, jobs=jobs)
    update_status(results)
    index = write_index(out_dir, params)
    for result in results:
        print(result.describe())
    print(f"Index: {index}")
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"{len(failed)} of {len(results)} runs failed; their previous reports were kept:", file=sys.stderr)
        for result in failed:
            print(f"  {result.describe()}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evaluering", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="evaluate every district for a wave and render the HTML reports")
    run.add_argument("--params", default=str(DEFAULT_PARAMS), help="parameter file (default: %(default)s)")
    run.add_argument("--data", default=str(DEFAULT_DATA), help="input data directory (default: %(default)s; "
                     "synthetic data are generated there when it is empty)")
    run.add_argument("--wave", type=int, help="survey wave to evaluate (default: the latest in the parameters)")
    run.add_argument("--district", nargs="+", help="district keys or names (default: all)")
    run.add_argument("--out", default="reports", help="report directory (default: %(default)s)")
    run.add_argument("--notebooks", default="notebooks", help="notebook directory (default: %(default)s)")
    run.add_argument("--jobs", type=int, help="notebooks run at the same time (default: the number of cores)")
    run.add_argument("--force", action="store_true", help="re-render reports whose inputs did not change")
    run.add_argument("--timeout", type=int, default=1800, help="seconds allowed per report (default: %(default)s)")
    run.set_defaults(func=_cmd_run)

    validate = sub.add_parser("validate", help="check an input directory against the input contract")
    validate.add_argument("directory")
    validate.add_argument("--params", default=str(DEFAULT_PARAMS), help="parameter file (default: %(default)s)")
    validate.set_defaults(func=_cmd_validate)

    data = sub.add_parser("data", help="data utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    synthetic = data_sub.add_parser("synthetic", help="generate the synthetic municipality")
    synthetic.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    synthetic.add_argument("--out", default=str(DEFAULT_DATA), help="output directory (default: %(default)s)")
    synthetic.add_argument("--params", default=str(DEFAULT_PARAMS), help="parameter file (default: %(default)s)")
    synthetic.add_argument("--next-wave", action="store_true", help="also generate the next survey wave (2027)")
    synthetic.add_argument("--world", default="gladsaxe",
                           help="gladsaxe (default) or heterogeneous: districts of different size, base rates far "
                                "from the rest, yearly area, institution and counter shocks")
    synthetic.add_argument("--no-effects", action="store_true",
                           help="plant no effects (every district x indicator is a null)")
    synthetic.set_defaults(func=_cmd_synthetic)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        return _fail(str(exc))
    except ValueError as exc:  # bad input data: the message names file, column and problem
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
