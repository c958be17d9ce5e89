"""Write a scaled copy of the synthetic municipality: a Copenhagen-size or national-size register.

    python benchmarks/scale_data.py --scale 10 --out DIR                      # DIR/register.parquet
    python benchmarks/scale_data.py --scale 90 --out DIR --layout partitioned # DIR/register/year=YYYY/part-0.parquet
    python benchmarks/scale_data.py --scale 10 --out DIR --base BASE_DIR      # scale an existing delivery

The districts stay as they are; the comparison areas (areas without a district) are copied under
new area ids (``A079-k001``) and names, with their residents' person-years under new person ids
(``R001P0000123``: unique per copy, still text and pseudonymous). The number of copies is chosen so
that the register has about ``scale`` times as many person-years as the base (``scale - 1`` copies
would give fewer, since the districts are not copied: 10x gives 10 copies, 90x 102). ``areas`` is extended with the new
areas; ``survey``, ``institutions`` and ``visitors`` are copied unchanged, so the directory still
satisfies the input contract (``evaluering validate DIR``).

The register is streamed: it is written year by year, one copy at a time, with a pyarrow
ParquetWriter, so the generator's memory is that of the base register and does not grow with the
scale. ``scale.json`` in the output records the scale, the counts, the seconds and the peak RSS.
Without ``--base`` the base is the synthetic municipality generated for ``params/gladsaxe.yaml``
with seed 20240101 into ``OUT/../base`` (if it is not there yet). Never point ``--out`` into the
repository: a national register is about a gigabyte.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params" / "gladsaxe.yaml"
BASE_SEED = 20240101
UNCHANGED_TABLES = ("survey", "institutions", "visitors")
LAYOUTS = ("file", "partitioned")
ROW_GROUP_ROWS = 1_000_000  # copies are buffered up to this many rows before a row group is written


def ensure_base(base_dir: Path) -> Path:
    """The base delivery: generated with the bundled synthetic generator if ``base_dir`` has none."""
    if not (base_dir / "register.parquet").exists():
        from evaluering.config import load_params
        from evaluering.data.synthetic import generate

        generate(load_params(PARAMS), base_dir, seed=BASE_SEED)
    return base_dir


def copies_for(scale: float, base_rows: int, comparison_rows: int) -> int:
    """How many copies of the comparison areas give about ``scale`` times the base's person-years."""
    if scale < 1:
        raise ValueError(f"--scale must be at least 1, got {scale}")
    if scale > 1 and comparison_rows == 0:
        raise ValueError("the base register has no person-years in comparison areas to copy")
    return 0 if scale == 1 else max(1, round((scale - 1) * base_rows / comparison_rows))


def copy_area_id(area_id: str, copy: int) -> str:
    return f"{area_id}-k{copy:03d}"


def copy_person_prefix(copy: int) -> str:
    return f"R{copy:03d}"


def scaled_areas(areas: pa.Table, copies: int) -> pa.Table:
    """``areas`` plus ``copies`` copies of its comparison areas (no district), under new ids and names."""
    comparison = areas.filter(pc.is_null(areas["district"]))
    ids = comparison["area_id"].to_pylist()
    names = comparison["area_name"].to_pylist()
    new_ids = [copy_area_id(a, c) for c in range(1, copies + 1) for a in ids]
    new_names = [f"{n} (kopi {c})" for c in range(1, copies + 1) for n in names]
    extra = pa.table({"area_id": new_ids, "area_name": new_names, "district": [None] * len(new_ids)})
    extra = extra.cast(areas.schema.remove_metadata())
    return pa.concat_tables([areas.cast(areas.schema.remove_metadata()), extra])


def copy_rows(comparison: pa.Table, area_position: pa.Array, comparison_ids: list[str], copy: int) -> pa.Table:
    """The comparison person-years of one year under copy ``copy``'s person and area ids."""
    new_areas = pa.array([copy_area_id(a, copy) for a in comparison_ids], type=comparison["area_id"].type)
    id_type = comparison["person_id"].type
    person = pc.binary_join_element_wise(pa.scalar(copy_person_prefix(copy), id_type), comparison["person_id"],
                                         pa.scalar("", id_type))
    table = comparison.set_column(comparison.schema.get_field_index("person_id"), "person_id", person)
    return table.set_column(table.schema.get_field_index("area_id"), "area_id", new_areas.take(area_position))


def year_chunks(year_table: pa.Table, comparison_ids: list[str], copies: int) -> Iterator[pa.Table]:
    """The base person-years of one year, then each copy's, merged into chunks of about ROW_GROUP_ROWS."""
    in_comparison = pc.is_in(year_table["area_id"], value_set=pa.array(comparison_ids, year_table["area_id"].type))
    comparison = year_table.filter(in_comparison)
    area_position = pc.index_in(comparison["area_id"], value_set=pa.array(comparison_ids,
                                                                           comparison["area_id"].type))
    buffer, rows = [year_table], year_table.num_rows
    for copy in range(1, copies + 1):
        if rows >= ROW_GROUP_ROWS:
            yield pa.concat_tables(buffer)
            buffer, rows = [], 0
        buffer.append(copy_rows(comparison, area_position, comparison_ids, copy))
        rows += comparison.num_rows
    if buffer:
        yield pa.concat_tables(buffer)


def write_register(register: pa.Table, out: Path, comparison_ids: list[str], copies: int, layout: str) -> int:
    """Stream the scaled register to ``out`` (one file, or Hive-partitioned by year); returns its rows."""
    years = sorted(pc.unique(register["year"]).to_pylist())
    rows = 0
    if layout == "file":
        target = out / "register.parquet"
        with pq.ParquetWriter(target, register.schema) as writer:
            for year in years:
                for chunk in year_chunks(register.filter(pc.equal(register["year"], year)), comparison_ids, copies):
                    writer.write_table(chunk, row_group_size=len(chunk))
                    rows += chunk.num_rows
        return rows
    # Hive style: the year is in the path (year=2024), not in the files.
    schema = register.schema.remove_metadata()
    schema = schema.remove(schema.get_field_index("year"))
    for year in years:
        part = out / "register" / f"year={year}"
        part.mkdir(parents=True)
        year_table = register.filter(pc.equal(register["year"], year))
        with pq.ParquetWriter(part / "part-0.parquet", schema) as writer:
            for chunk in year_chunks(year_table, comparison_ids, copies):
                chunk = chunk.drop_columns(["year"]).cast(schema)
                writer.write_table(chunk, row_group_size=len(chunk))
                rows += chunk.num_rows
    return rows


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def write_scaled(base_dir: Path, out: Path, scale: float, layout: str = "file", force: bool = False) -> dict:
    """Write the delivery at ``scale`` into ``out``; returns what ``scale.json`` records."""
    if layout not in LAYOUTS:
        raise ValueError(f"--layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if out.exists():
        if not force:
            raise FileExistsError(f"{out} exists; use --force to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    start = time.perf_counter()
    register = pq.read_table(base_dir / "register.parquet")
    areas = pq.read_table(base_dir / "areas.parquet")
    comparison_ids = pc.filter(areas["area_id"], pc.is_null(areas["district"])).to_pylist()
    value_set = pa.array(comparison_ids, register["area_id"].type)
    comparison_rows = pc.sum(pc.is_in(register["area_id"], value_set=value_set)).as_py()
    copies = copies_for(scale, register.num_rows, comparison_rows)
    new_areas = scaled_areas(areas, copies)
    pq.write_table(new_areas, out / "areas.parquet")
    for table in UNCHANGED_TABLES:
        shutil.copy2(base_dir / f"{table}.parquet", out / f"{table}.parquet")
    rows = write_register(register, out, comparison_ids, copies, layout)
    register_path = out / ("register.parquet" if layout == "file" else "register")
    record = {
        "scale": scale,
        "layout": layout,
        "base": str(base_dir),
        "copies_of_comparison_areas": copies,
        "areas": new_areas.num_rows,
        "person_years": rows,
        "register_bytes": disk_bytes(register_path),
        "seconds": round(time.perf_counter() - start, 1),
        "generator_peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
    }
    (out / "scale.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, required=True, help="about this many times the base's person-years")
    parser.add_argument("--out", type=Path, required=True, help="the new data directory (outside the repository)")
    parser.add_argument("--base", type=Path, help="the delivery to scale (default: OUT/../base, generated if missing)")
    parser.add_argument("--layout", choices=LAYOUTS, default="file",
                        help="register.parquet (today's loader reads that) or register/year=YYYY/part-0.parquet")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    args = parser.parse_args()
    out = args.out.resolve()
    if out.is_relative_to(ROOT):
        parser.error(f"--out {out} is inside the repository; write scaled data to a scratch directory")
    base = ensure_base((args.base or out.parent / "base").resolve())
    record = write_scaled(base, out, args.scale, args.layout, args.force)
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
