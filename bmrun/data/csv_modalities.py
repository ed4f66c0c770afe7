"""Several modalities in one table (``data=csv`` with ``data.images`` or a list of ``data.text``).

A CSV row may carry image paths (``data.images=[photo]``, relative to the CSV's folder), free
texts (``data.text=[title, description]``) and the numeric and categorical columns a table has.
This module reads those columns for :mod:`bmrun.data.csv`: it checks the paths while parsing
(no TensorFlow: only the first image's header is read, for the image size), decodes the images
when the run loads its data (:func:`decoded`, through :mod:`bmrun.data.image_decode`), (each
modality's encoding is fitted by :mod:`bmrun.data.modal_fit`) and reads new rows the same
way for ``bmrun-predict`` (:func:`read_rows`).

Images are kept resident as float16 pixels, ``NaN`` where a row's image is absent (an empty
cell, a missing or unreadable file): the model swaps those for a learned "absent" embedding.
Tables whose decoded images exceed ``data.memory_budget`` keep their paths instead and the input
pipeline decodes them every epoch (:mod:`bmrun.data.image_column`). ``data.drop_modality`` leaves one modality out (the ablation runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np

from bmrun.data import csv_reader as reader
from bmrun.errors import ConfigError, DataError
from bmrun.rules import choice
from bmrun.data.image_files import image_header
from bmrun.data.image_column import existing, streamed, unreadable

MODALITIES = ("image", "text", "table")


def is_multimodal(cfg: Any) -> bool:
    """Image columns, or ``data.text`` given as a list: the row is several modalities."""
    return bool(cfg.images) or (cfg.text is not None and not isinstance(cfg.text, str))


def text_columns(cfg: Any) -> list[str]:
    if cfg.text is None:
        return []
    return [cfg.text] if isinstance(cfg.text, str) else [str(name) for name in cfg.text]


def check_keys(cfg: Any) -> None:
    """The multimodal keys of a ``data=csv`` config (no file read).

    Raises:
        ConfigError: A column listed as text and as image, twice, or as the target; a bad
            ``image_size``, ``on_bad_file``, ``drop_modality`` or ``memory_budget``.
    """
    # bmrun.data.image_folder brings omegaconf: only when this runs, keeps --help light
    from bmrun.data.image_folder import parse_bytes

    choice("on_bad_file", cfg.on_bad_file, ("missing", "error"))
    choice("drop_modality", cfg.drop_modality, ("none",) + MODALITIES)
    parse_bytes(cfg.memory_budget)
    if cfg.image_size is not None and (len(cfg.image_size) != 2 or min(cfg.image_size) < 1):
        raise ConfigError("image_size", f"is [height, width] in pixels, got {list(cfg.image_size)}")
    texts, images = text_columns(cfg), [str(name) for name in cfg.images]
    for name in set(texts) & set(images):
        raise ConfigError("images", f"{name!r} is listed both in data.text and in data.images; a column is one "
                                    f"modality: keep it in one list.")
    for key, names in (("text", texts), ("images", images)):
        if len(set(names)) != len(names):
            raise ConfigError(key, f"lists a column twice: {names}")
        if cfg.target in names:
            raise ConfigError(key, f"lists the target {cfg.target!r}; the column to predict is no input.")
    if cfg.drop_modality != "none" and not is_multimodal(cfg):
        raise ConfigError("drop_modality", "leaves one modality out of a table with several (data.images=[...] or "
                                           "data.text=[...]); this table has one.")


@dataclass
class Modal:
    """Which columns of the file are which modality (after ``data.drop_modality``)."""

    kinds: dict  # table columns: name -> numeric | categorical
    texts: list
    images: list
    notes: list
    image_shape: Optional[tuple] = None
    folder: Path = field(default_factory=Path)


def columns_of(table: reader.Table, cfg: Any) -> Modal:
    """The modality of each column; the image size from ``data.image_size`` or the first image."""
    texts, images = text_columns(cfg), [str(name) for name in cfg.images]
    for name in texts + images:
        table.require(name, "text" if name in texts else "images")
    kinds, notes = reader.column_kinds(table, target=cfg.target, text=None, categorical=cfg.categorical,
                                       numeric=cfg.numeric, drop=list(cfg.drop) + texts + images)
    dropped = cfg.drop_modality
    modal = Modal({} if dropped == "table" else kinds, [] if dropped == "text" else texts,
                  [] if dropped == "image" else images, notes, folder=table.path.parent)
    if not (modal.kinds or modal.texts or modal.images):
        raise DataError(f"{table.path}: data.drop_modality={dropped} leaves no input column besides the target.")
    if modal.images:
        modal.image_shape = _image_shape(table, modal, cfg)
    return modal


def _image_shape(table: reader.Table, modal: Modal, cfg: Any) -> tuple:
    for name in modal.images:
        for path in image_paths(table, name, modal.folder):
            if path and Path(path).is_file():
                height, width, channels = image_header(Path(path))
                if cfg.image_size is not None:
                    height, width = (int(d) for d in cfg.image_size)
                return height, width, channels
    raise DataError(f"{table.path}: no file of the image column(s) {', '.join(map(repr, modal.images))} exists "
                    f"(paths are read relative to {modal.folder}); check the paths or leave the column out.")


def image_paths(table: reader.Table, name: str, folder: Path) -> np.ndarray:
    """The column's paths resolved inside ``folder`` (``""`` where the cell is empty).

    Raises:
        DataError: A path that leads outside the CSV's folder tree (no reading arbitrary files).
    """
    root = folder.resolve()
    paths = []
    for value, line in zip(table.columns[name], table.lines):
        if reader.is_missing(value):
            paths.append("")
            continue
        path = (root / value.strip()).resolve()
        if path != root and root not in path.parents:
            raise DataError(f"{table.path}, line {line}: the image path {value!r} of column {name!r} leads outside "
                            f"the CSV's folder {root}; image paths must stay inside it (no reading arbitrary "
                            f"files). Move the images under that folder.")
        paths.append(str(path))
    return np.array(paths, dtype=object)


def features(table: reader.Table, modal: Modal, keys: dict) -> dict:
    """Every input column keyed by its safe name: numbers, strings, image paths."""
    x = {keys[name]: reader.numeric_values(table, name) if kind == reader.NUMERIC
         else reader.string_values(table, name) for name, kind in modal.kinds.items()}
    for name in modal.texts:
        x[keys[name]] = reader.string_values(table, name)
    for name in modal.images:
        x[keys[name]] = image_paths(table, name, table.path.parent)
    return x


def layout(modal: Modal, keys: dict, cfg: Any) -> dict:
    """What ``prepare()`` fits (:mod:`bmrun.data.modal_fit`) and the loader decodes (:func:`decoded`)."""
    table = {kind: [n for n, k in modal.kinds.items() if k == kind] for kind in (reader.NUMERIC, reader.CATEGORICAL)}
    return {"modalities": True, **table, "texts": list(modal.texts), "images": list(modal.images),
            "keys": {name: keys[name] for name in list(modal.kinds) + modal.texts + modal.images},
            "image_shape": list(modal.image_shape) if modal.image_shape else None,
            "vocab_size": int(cfg.vocab_size), "max_len": int(cfg.max_len)}


def describe_layout(lay: dict) -> str:
    parts = [f"{len(lay[k])} {k}" for k in (reader.NUMERIC, reader.CATEGORICAL) if lay[k]]
    parts += [f"{len(lay['texts'])} text"] if lay["texts"] else []
    parts += [f"{len(lay['images'])} image ({'x'.join(map(str, lay['image_shape']))})"] if lay["images"] else []
    return ", ".join(parts) + " columns"


def decoded(raw, cfg: Any):
    """``raw`` with each image column's paths replaced by float16 pixels (NaN: no image), or, when
    they would exceed ``data.memory_budget``, by a streamed :class:`~bmrun.data.image_column.ImageColumn`.

    Raises:
        DataError: With ``data.on_bad_file=error`` a missing or unreadable file; an image column
            none of whose files is readable.
    """
    # bmrun.data.image_folder brings omegaconf: only when this runs, keeps --help light
    from bmrun.data.image_folder import parse_bytes

    lay = raw.columns
    if not lay or not lay.get("modalities") or not lay["images"]:
        return raw
    shape = tuple(lay["image_shape"])
    rows = len(raw.y_train) + len(raw.y_test)
    size = rows * len(lay["images"]) * int(np.prod(shape)) * 2
    stream = size > parse_bytes(cfg.memory_budget)
    x_train, x_test, notes = dict(raw.x_train), dict(raw.x_test), [raw.notes] if raw.notes else []
    if stream:
        notes.append(f"images streamed from disk (decoded size {size / 2**20:.0f} MiB > data.memory_budget="
                     f"{cfg.memory_budget})")
    for name in lay["images"]:
        key = lay["keys"][name]
        absent = 0
        for x in (x_train, x_test):
            x[key], missing = (streamed if stream else pixels)(x[key], shape, name, strict=cfg.on_bad_file == "error")
            absent += missing
        column = x_train[key]
        present = column.present if stream else np.isfinite(column.reshape(len(column), -1)[:, 0])
        if not present.any():
            raise DataError(f"no image of column {name!r} could be read in the training rows (every file is missing "
                            f"or unreadable); check the paths (relative to the CSV's folder) or leave the column out.")
        if absent:
            notes.append(f"{absent} rows without a readable {name} image (learned 'absent' embedding)")
    return replace(raw, x_train=x_train, x_test=x_test, notes="; ".join(notes))


def pixels(paths: np.ndarray, shape: tuple, name: str, *, strict: bool) -> tuple[np.ndarray, int]:
    """Decoded float16 images of ``paths`` (NaN where absent) and how many are absent."""
    # bmrun.data.image_decode loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.data.image_decode import check_files

    out = np.full((len(paths), *shape), np.nan, np.float16)
    index = existing(paths, name, strict=strict)
    if len(index):
        check = check_files(np.array([paths[i] for i in index], dtype=str), shape, keep_pixels=True)
        if strict and len(check.bad):
            unreadable(paths[index[check.bad[0]]])
        for start in range(0, len(check.ok), 4096):  # float16 in chunks: no float32 copy of every image
            rows = index[check.ok[start:start + 4096]]
            out[rows] = check.images[start:start + 4096].astype(np.float16)
    return out, int(len(paths) - (np.isfinite(out.reshape(len(out), -1)[:, 0]).sum() if len(out) else 0))


def read_rows(modalities: dict, path: Path) -> tuple[dict, list]:
    """A CSV's rows as the model's input (``bmrun-predict``): image paths relative to its folder.

    Raises:
        DataError: The file lacks a column the model reads, or a path leaves its folder.
    """
    table = reader.read_table(path)
    needed = [c["name"] for part in ("texts", "images") for c in modalities[part]]
    columns = modalities["table"] or {}
    needed += [c["name"] for part in ("numeric", "categorical") for c in columns.get(part, [])]
    absent = [repr(name) for name in needed if name not in table.columns]
    if absent:
        raise DataError(f"{table.path}: the model needs the column(s) {', '.join(absent)}, which the header lacks "
                        f"(it has {', '.join(map(repr, table.names))}); leave a value empty when it is missing.")
    x = {c["key"]: reader.numeric_values(table, c["name"]) for c in columns.get("numeric", [])}
    x.update({c["key"]: reader.string_values(table, c["name"]) for c in columns.get("categorical", [])})
    x.update({c["key"]: reader.string_values(table, c["name"]) for c in modalities["texts"]})
    for c in modalities["images"]:
        images, _ = pixels(image_paths(table, c["name"], table.path.parent), tuple(c["shape"]), c["name"],
                           strict=False)
        x[c["key"]] = images.astype(np.float32)
    return x, [f"{path}:{line}" for line in table.lines]
