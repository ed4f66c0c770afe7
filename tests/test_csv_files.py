"""CSV files as spreadsheet programs write them: BOM, Windows line endings, ``;``, near-empty columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import validated


def rows(n: int = 60) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(0)
    return [(f"{20 + i}", str(rng.choice(["Oslo", "Rome"])), "ab"[i % 2]) for i in range(n)]


def parsed(path: Path, *extra: str):
    from bmrun.data.csv import parse

    return parse(validated(["data=csv", f"data.path={path}", "data.target=label", "model=linear", *extra]).data)


def test_a_bom_and_windows_line_endings_are_read_as_meant(tmp_path):
    from bmrun.data.csv_reader import read_table

    text = "age,city,label\r\n" + "".join(f"{a},{c},{y}\r\n" for a, c, y in rows())
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert read_table(path).names == ["age", "city", "label"]  # no "\ufeffage"
    result = parsed(path)
    assert result.task.class_names == ("a", "b")  # not "b\r"
    assert result.raw.columns["numeric"] == ["age"] and set(result.raw.x_train["city"]) == {"Oslo", "Rome"}


@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_semicolon_or_tab_separated_file_is_detected(tmp_path, separator):
    from bmrun.data.csv_reader import read_table

    path = tmp_path / "europe.csv"
    path.write_text(separator.join(["age", "city", "label"]) + "\n"
                    + "".join(separator.join(row) + "\n" for row in rows()), encoding="utf-8")
    assert read_table(path).delimiter == separator  # also what bmrun-predict reads rows with
    result = parsed(path)
    assert result.raw.columns["numeric"] == ["age"] and result.raw.columns["categorical"] == ["city"]
    assert f"read as {separator!r}-separated" in result.raw.notes
    # given explicitly, the separator is used as it is, without a note
    assert "separated" not in parsed(path, f"data.delimiter='{separator}'").raw.notes
    # a comma file keeps its commas even when a value holds a ";"
    comma = tmp_path / "comma.csv"
    comma.write_text("age,city,label\n" + "".join(f"{a},{c};x,{y}\n" for a, c, y in rows()), encoding="utf-8")
    assert read_table(comma).delimiter == "," and "separated" not in parsed(comma).raw.notes


def test_a_column_missing_in_99_percent_of_rows_is_left_out_with_a_note(tmp_path):
    path = tmp_path / "sparse.csv"
    lines = [f"{a},{c},{'7.5' if i == 0 else ''},{'x' if i == 1 else 'NA'},{y}" for i, (a, c, y) in enumerate(rows(200))]
    path.write_text("age,city,rare,rare_kind,label\n" + "\n".join(lines) + "\n", encoding="utf-8")
    result = parsed(path)
    assert result.raw.columns["numeric"] == ["age"] and result.raw.columns["categorical"] == ["city"]
    assert "rare (99.5% missing; data.numeric=[rare] keeps it)" in result.raw.notes
    assert "rare_kind (99.5% missing; data.categorical=[rare_kind] keeps it)" in result.raw.notes
    kept = parsed(path, "data.numeric=[rare]").raw
    assert kept.columns["numeric"] == ["age", "rare"]  # declared: the user's call
