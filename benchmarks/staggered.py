"""Time the staggered DiD (``att_gt``) on R's ``mpdta`` data, next to the Python ``csdid`` package.

    python benchmarks/staggered.py               # our timings, and csdid's if it can be installed
    python benchmarks/staggered.py --no-csdid    # ours only

``csdid`` is not a dependency of this project: it is installed into a throwaway virtual
environment (``--csdid-venv``, reused on later runs) and run there in a subprocess on the same
data. If it cannot be installed (no network, no wheel), the script says so and goes on. The best
of ``--repeat`` runs is reported, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pandas as pd
from timing import best_of

from evaluering.did.staggered import att_gt

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "mpdta.csv"
CASES = {  # name -> (covariates, bootstrap)
    "no covariates, analytic SE": (None, False),
    "no covariates, bootstrap 999": (None, True),
    "lpop (dr), analytic SE": ("lpop", False),
    "lpop (dr), bootstrap 999": ("lpop", True),
}

CSDID_RUNNER = """
import contextlib, io, json, sys, time, warnings
import pandas as pd
warnings.simplefilter("ignore")
from csdid.att_gt import ATTgt
data = pd.read_csv(sys.argv[1]).rename(columns={"first_treat": "first.treat"})
repeat, cases, out = int(sys.argv[2]), json.loads(sys.argv[3]), {}
for name, (covariate, boot) in cases.items():
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            ATTgt(yname="lemp", tname="year", idname="countyreal", gname="first.treat", data=data,
                  xformla="lemp~" + (covariate or "1"), control_group="nevertreated").fit(
                      est_method="dr", bstrap=boot)
        best = min(best, time.perf_counter() - start)
    out[name] = best
print(json.dumps(out))
"""




def ours(data: pd.DataFrame, repeat: int) -> dict[str, float]:
    out = {}
    for name, (covariate, boot) in CASES.items():
        def step(covariate=covariate, boot=boot):
            att_gt(data, "lemp", "countyreal", "year", "first_treat", covariates=covariate, bootstrap=boot,
                   n_boot=999, seed=1)
        out[name] = best_of(step, repeat)
    res = att_gt(data, "lemp", "countyreal", "year", "first_treat", seed=1)
    for kind in ("simple", "group", "dynamic", "calendar"):
        out[f"aggregate {kind} (bootstrap)"] = best_of(lambda kind=kind: res.aggregate(kind), repeat)
    return out


def csdid_python(venv: Path) -> Path | None:
    """Python of a throwaway venv with csdid installed, or None (with the reason printed)."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import csdid"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"installing csdid into a throwaway venv at {venv} ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "csdid"], check=True, capture_output=True,
                       timeout=900)
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        print(f"csdid unavailable: could not install it ({type(exc).__name__}) {detail.decode()[-300:]}")
        return None
    return python


def run_csdid(python: Path, repeat: int) -> dict[str, float] | None:
    cases = json.dumps({name: list(case) for name, case in CASES.items()})
    proc = subprocess.run([str(python), "-c", CSDID_RUNNER, str(DATA), str(repeat), cases], capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode != 0:
        print(f"csdid unavailable: its run failed: {proc.stderr.strip()[-300:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-csdid", action="store_true", help="do not install or run csdid")
    parser.add_argument("--csdid-venv", type=Path, default=Path(tempfile.gettempdir()) / "evaluering-csdid-venv")
    args = parser.parse_args()

    data = pd.read_csv(DATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = ours(data, args.repeat)
    theirs = None
    if not args.no_csdid:
        python = csdid_python(args.csdid_venv)
        theirs = run_csdid(python, args.repeat) if python else None

    print(f"\natt_gt on mpdta ({data['countyreal'].nunique()} counties x {data['year'].nunique()} years), "
          f"never-treated comparison, best of {args.repeat} runs, milliseconds")
    print(f"{'case':36s} {'evaluering':>11s} {'csdid':>9s} {'ratio':>7s}")
    for name, seconds in mine.items():
        other = (theirs or {}).get(name)
        extra = f"{other * 1000:9.1f} {other / seconds:6.1f}x" if other else f"{'-':>9s} {'':>7s}"
        print(f"{name:36s} {seconds * 1000:11.1f} {extra}")
    if theirs is None and not args.no_csdid:
        print("(csdid unavailable: see above)")


if __name__ == "__main__":
    main()
