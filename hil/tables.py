"""Flashable ADC threshold tables from a learned design bundle.

A design bundle (``canopic train``'s ``design/`` folder, :mod:`sensor.design_bundle`) holds
thresholds in ADC input units. A board's flash ADC takes them as DAC codes: this module
quantises them (:meth:`hil.artifacts.ThresholdTable.from_design_bundle`) and writes the table in
every format a board tool reads (binary, JSON, Intel HEX; docs/artifact-formats.md), each read
back and compared, plus ``manifest.json``::

    schema            "canopic.threshold-tables/1"
    design            the bundle's folder, its design.json sha256, alpha and seed
    dac               bits, v_ref_low / v_ref_high (V), full_scale (ADC input units)
    thresholds        the design's thresholds [count], ADC input units
    codes             the DAC codes [count]
    realised          the thresholds the codes set [count]; max_error = max |realised - design|
    files             one entry per table file: path, format, bytes, sha256

>>> from hil.tables import export_tables                     # doctest: +SKIP
>>> manifest = export_tables("runs/c4/design", "runs/c4/tables", dac_bits=12)
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from canopic.core import files
from hil.artifacts import ThresholdTable, design_thresholds

MANIFEST_SCHEMA = "canopic.threshold-tables/1"
#: Table formats by file suffix: the board's binary image, JSON and Intel HEX.
TABLE_FORMATS = {"bin": "binary image (docs/artifact-formats.md)", "json": "JSON",
                 "hex": "Intel HEX of the binary image"}


def export_tables(design: "str | os.PathLike[str]", out: "str | os.PathLike[str]",
                  dac_bits: int = 12, v_ref_low: float = 0.0, v_ref_high: float = 1.0,
                  formats=tuple(TABLE_FORMATS), overwrite: bool = False) -> dict:
    """Write a design bundle's threshold table as ``out/thresholds.<format>`` and a manifest.

    Every file is read back and must give the same codes; the folder is written whole or not
    at all. Returns the manifest (also ``out/manifest.json``; keys in the module docstring).
    """
    unknown = [f for f in formats if f not in TABLE_FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats: {list(formats)!r}; allowed: a non-empty subset of "
                         f"{list(TABLE_FORMATS)}")
    wanted = design_thresholds(design)
    table = ThresholdTable.from_thresholds(wanted, dac_bits, v_ref_low, v_ref_high)
    design = Path(design)
    realised = table.thresholds()
    with files.staged_folder(out, overwrite) as staging:
        entries = []
        for suffix in formats:
            path = Path(staging) / f"thresholds.{suffix}"
            table.save(path)
            again = ThresholdTable.load(path)
            if not np.array_equal(again.codes, table.codes):
                raise RuntimeError(f"{path.name}: the table does not read back identically")
            entries.append({"path": path.name, "format": TABLE_FORMATS[suffix],
                            "bytes": path.stat().st_size, "sha256": files.sha256_file(path)})
        manifest = {
            "schema": MANIFEST_SCHEMA,
            "design": {"folder": str(design),
                       "design_json_sha256": files.sha256_file(design / "design.json")},
            "dac": {"bits": table.dac_bits, "v_ref_low": table.v_ref_low,
                    "v_ref_high": table.v_ref_high, "full_scale": table.full_scale,
                    "units": "V for v_ref, ADC input units for thresholds"},
            "thresholds": wanted.tolist(),
            "codes": [int(c) for c in table.codes],
            "realised": realised.tolist(),
            "max_error": float(np.max(np.abs(realised - wanted))),
            "files": entries,
        }
        files.write_json(Path(staging) / "manifest.json", manifest)
    return manifest


__all__ = ["MANIFEST_SCHEMA", "TABLE_FORMATS", "export_tables"]
