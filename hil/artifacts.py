"""Artifact file formats: ADC threshold tables (DAC codes) and SLM mask patterns.

Both have one canonical binary image (what travels over the wire and sits in a board slot);
threshold tables also read and write JSON and Intel HEX. Every parser validates fully and
raises ``ValueError`` naming the field, its value and the allowed range, so the host (before
sending) and the board (before committing) refuse the same things. Layouts are documented in
docs/artifact-formats.md.
"""
from __future__ import annotations

import io
import json
import os
import struct
from dataclasses import dataclass
import numpy as np

from canopic.core import files
from hil.framing import crc32

THRESHOLD_MAGIC = b"CNPT"
MASK_MAGIC = b"CNPM"
FORMAT_VERSION = 1
#: magic, format version, count, DAC bits, reserved, v_ref_low, v_ref_high, full_scale
_TABLE_HEADER = struct.Struct("<4sHHBBddd")
#: magic, format version, mask kind, bytes per level, level count, width, height,
#: pixel pitch (m), wavelength (m), value of the top level (rad or m)
_MASK_HEADER = struct.Struct("<4sHBBHIIddd")
MASK_KINDS = ("phase", "height")
MAX_MASK_SIDE = 16384


def _check_crc(data: bytes, what: str) -> bytes:
    if len(data) < 4:
        raise ValueError(f"{what}: {len(data)} bytes is too short to hold a CRC")
    (stored,) = struct.unpack_from("<I", data, len(data) - 4)
    actual = crc32(data[:-4])
    if stored != actual:
        raise ValueError(f"{what}: CRC-32 mismatch (stored 0x{stored:08X}, computed "
                         f"0x{actual:08X}); the file is damaged")
    return data[:-4]


# ----------------------------------------------------------------------------- thresholds
def _unframe(data: bytes, header: struct.Struct, magic: bytes, what: str) -> bytes:
    """The body of a binary image (without its CRC) after checking length, magic and CRC-32."""
    if len(data) < header.size + 4:
        raise ValueError(f"{what}: {len(data)} bytes is shorter than the {header.size + 4}-byte "
                         f"header and CRC")
    if data[:4] != magic:
        raise ValueError(f"{what}: magic {data[:4]!r} is not {magic!r}")
    return _check_crc(data, what)


@dataclass(frozen=True)
class ThresholdTable:
    """A flash-ADC threshold table as DAC codes.

    Attributes
    ----------
    codes : numpy.ndarray
        uint16 [count], strictly increasing, each below ``2 ** dac_bits``.
    dac_bits : int
        DAC resolution, 1..16 bits.
    v_ref_low, v_ref_high : float
        DAC reference range, V (code 0 and the full code range map onto it).
    full_scale : float
        ADC input full scale the thresholds are expressed in (15.0 for 4 bits).
    """

    codes: np.ndarray
    dac_bits: int
    v_ref_low: float
    v_ref_high: float
    full_scale: float = 15.0

    def __post_init__(self) -> None:
        codes = np.asarray(self.codes)
        if codes.ndim != 1 or codes.size == 0:
            raise ValueError(f"codes: expected a non-empty 1-D array, got shape {codes.shape}")
        if codes.dtype == bool or not np.issubdtype(codes.dtype, np.number):
            raise ValueError(f"codes: DAC codes must be integers, got {codes.tolist()[:4]}"
                             f"{' ...' if codes.size > 4 else ''}")
        if not 1 <= int(self.dac_bits) <= 16:
            raise ValueError(f"dac_bits: {self.dac_bits} is outside 1..16")
        if not np.issubdtype(codes.dtype, np.integer):
            if not np.all(np.isfinite(codes)) or np.any(codes != np.round(codes)):
                raise ValueError("codes: DAC codes must be integers")
        top = (1 << int(self.dac_bits)) - 1
        bad = np.flatnonzero((codes < 0) | (codes > top))
        if bad.size:
            raise ValueError(f"codes: code {codes[bad[0]]} at index {bad[0]} is outside the "
                             f"{self.dac_bits}-bit DAC range 0..{top}")
        steps = np.flatnonzero(np.diff(codes.astype(np.int64)) <= 0)
        if steps.size:
            i = steps[0]
            raise ValueError(f"codes: not strictly increasing: code {codes[i + 1]} at index "
                             f"{i + 1} follows {codes[i]} (allowed: each code above the last)")
        if not (np.isfinite(self.v_ref_low) and np.isfinite(self.v_ref_high)
                and self.v_ref_high > self.v_ref_low):
            raise ValueError(f"v_ref_low, v_ref_high: {self.v_ref_low}, {self.v_ref_high} V; "
                             f"need finite values with v_ref_high > v_ref_low")
        if not (np.isfinite(self.full_scale) and self.full_scale > 0):
            raise ValueError(f"full_scale: {self.full_scale} must be finite and > 0")
        object.__setattr__(self, "codes", codes.astype(np.uint16))
        object.__setattr__(self, "dac_bits", int(self.dac_bits))

    @property
    def count(self) -> int:
        """Number of thresholds."""
        return int(self.codes.size)

    # -- conversions with the analog package
    @classmethod
    def from_thresholds(cls, thresholds, dac_bits: int, v_ref_low: float, v_ref_high: float,
                        full_scale: float = 15.0) -> "ThresholdTable":
        """Quantise thresholds (ADC input units, [count]) to DAC codes with ``analog``."""
        import analog
        codes = analog.thresholds_to_dac_codes(np.asarray(thresholds, dtype=np.float64),
                                               dac_bits, v_ref_low, v_ref_high,
                                               full_scale=full_scale)
        return cls(np.asarray(codes), dac_bits, v_ref_low, v_ref_high, full_scale)

    @classmethod
    def from_design_bundle(cls, design: "str | os.PathLike[str]", dac_bits: int = 12,
                           v_ref_low: float = 0.0, v_ref_high: float = 1.0) -> "ThresholdTable":
        """The table of a learned design bundle's ADC (``canopic train``'s ``design/`` folder).

        ``dac_bits`` (1..16) and the reference range ``v_ref_low``..``v_ref_high`` (V) are the
        board DAC's; see :func:`design_thresholds` for the errors.
        """
        return cls.from_thresholds(design_thresholds(design), dac_bits, v_ref_low, v_ref_high)

    def thresholds(self) -> np.ndarray:
        """The thresholds these codes set, in ADC input units (float64 [count])."""
        import analog
        return np.asarray(analog.dac_codes_to_thresholds(
            self.codes, self.dac_bits, self.v_ref_low, self.v_ref_high,
            full_scale=self.full_scale), dtype=np.float64)

    def check_against(self, dac_bits: int, count: int, v_ref_low: float, v_ref_high: float,
                      full_scale: float, min_spacing: float = 0.0) -> None:
        """Raise ``ValueError`` unless this table fits a board with these properties
        (``min_spacing``: the ADC's smallest gap between thresholds, ADC input units)."""
        if self.count != count:
            raise ValueError(f"count: the table has {self.count} thresholds; the board's ADC "
                             f"needs exactly {count}")
        if self.dac_bits != dac_bits:
            raise ValueError(f"dac_bits: the table is for a {self.dac_bits}-bit DAC; the "
                             f"board's DAC has {dac_bits} bits")
        if (self.v_ref_low, self.v_ref_high) != (float(v_ref_low), float(v_ref_high)):
            raise ValueError(f"v_ref_low, v_ref_high: the table assumes {self.v_ref_low}.."
                             f"{self.v_ref_high} V; the board's DAC reference is {v_ref_low}.."
                             f"{v_ref_high} V")
        if self.full_scale != float(full_scale):
            raise ValueError(f"full_scale: the table's {self.full_scale} differs from the "
                             f"board's {full_scale}")
        if min_spacing > 0:
            thresholds = self.thresholds()
            gaps = np.diff(thresholds)
            close = np.flatnonzero(gaps < min_spacing - 1e-9)
            if close.size:
                i = close[0]
                raise ValueError(f"codes: thresholds {i} and {i + 1} ({thresholds[i]:.4g}, "
                                 f"{thresholds[i + 1]:.4g}) are {gaps[i]:.4g} apart; the "
                                 f"board's ADC needs at least {min_spacing:.4g}")

    # -- binary
    def to_bytes(self) -> bytes:
        """The canonical binary image (magic, header, uint16 codes, CRC-32)."""
        raw = _TABLE_HEADER.pack(THRESHOLD_MAGIC, FORMAT_VERSION, self.count, self.dac_bits, 0,
                                 self.v_ref_low, self.v_ref_high, self.full_scale)
        raw += self.codes.astype("<u2").tobytes()
        return raw + struct.pack("<I", crc32(raw))

    @classmethod
    def from_bytes(cls, data: bytes) -> "ThresholdTable":
        """Parse and validate a binary image; ``ValueError`` says what is wrong."""
        data = bytes(data)
        body = _unframe(data, _TABLE_HEADER, THRESHOLD_MAGIC, "threshold table")
        magic, version, count, dac_bits, _, low, high, full_scale = _TABLE_HEADER.unpack_from(body)
        if version != FORMAT_VERSION:
            raise ValueError(f"threshold table: format version {version} is not supported "
                             f"(this software reads {FORMAT_VERSION})")
        expected = _TABLE_HEADER.size + 2 * count
        if len(body) != expected:
            raise ValueError(f"count: header says {count} codes ({expected} bytes before the "
                             f"CRC) but the table has {len(body)} bytes")
        codes = np.frombuffer(body, dtype="<u2", count=count, offset=_TABLE_HEADER.size)
        return cls(codes, dac_bits, low, high, full_scale)

    # -- JSON
    def to_json(self) -> str:
        """JSON text with the codes (and, for reading, the header fields)."""
        return json.dumps({"format": "canopic-threshold-table", "version": FORMAT_VERSION,
                           "dac_bits": self.dac_bits, "v_ref_low": self.v_ref_low,
                           "v_ref_high": self.v_ref_high, "full_scale": self.full_scale,
                           "codes": [int(c) for c in self.codes]}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "ThresholdTable":
        """Parse JSON written by ``to_json`` (``codes``), or one giving float ``thresholds``
        with ``dac_bits``/``v_ref_low``/``v_ref_high`` (quantised with ``analog``)."""
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"threshold table JSON: {error}") from None
        if not isinstance(values, dict):
            raise ValueError("threshold table JSON: expected an object")
        if values.get("format", "canopic-threshold-table") != "canopic-threshold-table":
            raise ValueError(f"format: {values.get('format')!r} is not "
                             f"'canopic-threshold-table'")
        if values.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            raise ValueError(f"version: {values.get('version')!r} is not supported "
                             f"(this software reads {FORMAT_VERSION})")
        for key in ("dac_bits", "v_ref_low", "v_ref_high"):
            if key not in values:
                raise ValueError(f"threshold table JSON: missing field {key!r}")
        common = dict(dac_bits=_json_number(values, "dac_bits", int),
                      v_ref_low=_json_number(values, "v_ref_low", float),
                      v_ref_high=_json_number(values, "v_ref_high", float),
                      full_scale=_json_number(values, "full_scale", float, 15.0))
        if "codes" in values:
            return cls(np.asarray(values["codes"]), **common)
        if "thresholds" in values:
            return cls.from_thresholds(values["thresholds"], **common)
        raise ValueError("threshold table JSON: needs 'codes' or 'thresholds'")

    # -- Intel HEX
    def to_intel_hex(self, start_address: int = 0) -> str:
        """Intel HEX text of the binary image at ``start_address``."""
        from intelhex import IntelHex
        ih = IntelHex()
        ih.frombytes(self.to_bytes(), offset=start_address)
        out = io.StringIO()
        ih.write_hex_file(out, write_start_addr=False)
        return out.getvalue()

    @classmethod
    def from_intel_hex(cls, text: str) -> "ThresholdTable":
        """Parse Intel HEX holding one contiguous binary image."""
        from intelhex import IntelHex, IntelHexError
        ih = IntelHex()
        try:
            ih.loadhex(io.StringIO(text))
        except IntelHexError as error:
            raise ValueError(f"threshold table Intel HEX: {error}") from None
        segments = ih.segments()
        if len(segments) != 1:
            raise ValueError(f"threshold table Intel HEX: expected one contiguous segment, "
                             f"found {len(segments)}")
        start, stop = segments[0]
        return cls.from_bytes(ih.tobinstr(start=start, end=stop - 1))

    # -- files
    def save(self, path: "str | os.PathLike[str]") -> None:
        """Write atomically; the format follows the suffix: .json, .hex, else binary."""
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        if suffix == ".json":
            files.write_text(path, self.to_json())
        elif suffix in (".hex", ".ihex"):
            files.write_text(path, self.to_intel_hex())
        else:
            files.write_bytes(path, self.to_bytes())

    @classmethod
    def load(cls, path: "str | os.PathLike[str]") -> "ThresholdTable":
        """Read .json, .hex/.ihex or the binary format (by suffix; binary otherwise).

        Every problem is a ``ValueError`` that starts with the file's path.
        """
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        data = _read_file(path, "threshold table")
        try:
            if suffix == ".json":
                return cls.from_json(data.decode("utf-8"))
            if suffix in (".hex", ".ihex"):
                return cls.from_intel_hex(data.decode("ascii"))
            return cls.from_bytes(data)
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: not a text file ({error})") from None
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None


def design_thresholds(design: "str | os.PathLike[str]") -> np.ndarray:
    """A design bundle's thresholds [count] in ADC input units (float64), sha256 sums checked.

    Raises ValueError for a folder that is not a design bundle or a design without an ADC.
    """
    from sensor.design_bundle import load_design_bundle

    bundle = load_design_bundle(design)
    if bundle.thresholds is None:
        raise ValueError(f"design {os.fspath(design)!r}: the camera has no ADC (no "
                         f"thresholds.npz), so there is no threshold table to export")
    return np.asarray(bundle.thresholds, dtype=np.float64)


# ----------------------------------------------------------------------------- masks
@dataclass(frozen=True)
class MaskPattern:
    """A mask pattern to show on a spatial light modulator.

    Attributes
    ----------
    levels : numpy.ndarray
        Integer [height, width], each in 0..level_count-1.
    level_count : int
        Number of phase (or height) levels, 2..65535.
    kind : str
        ``"phase"`` (level k shows phase ``k / level_count * top_value`` rad) or ``"height"``
        (level k is the relief height ``k / level_count * top_value`` m).
    pixel_pitch : float
        SLM / mask pixel pitch, m.
    wavelength : float
        Design wavelength, m.
    top_value : float
        Phase span (rad, usually 2*pi) or the height of a 2*pi phase step (m).
    """

    levels: np.ndarray
    level_count: int
    kind: str = "phase"
    pixel_pitch: float = 8e-6
    wavelength: float = 532e-9
    top_value: float = 2 * np.pi

    def __post_init__(self) -> None:
        levels = np.asarray(self.levels)
        if levels.ndim != 2 or 0 in levels.shape:
            raise ValueError(f"levels: expected a non-empty 2-D array, got shape {levels.shape}")
        if max(levels.shape) > MAX_MASK_SIDE:
            raise ValueError(f"levels: shape {levels.shape} exceeds {MAX_MASK_SIDE} pixels a side")
        if not np.issubdtype(levels.dtype, np.integer):
            raise ValueError(f"levels: expected integers, got dtype {levels.dtype}")
        if not 2 <= int(self.level_count) <= 65535:
            raise ValueError(f"level_count: {self.level_count} is outside 2..65535")
        low, high = int(levels.min()), int(levels.max())
        if low < 0 or high >= self.level_count:
            raise ValueError(f"levels: values span {low}..{high}; allowed 0.."
                             f"{int(self.level_count) - 1} for {self.level_count} levels")
        if self.kind not in MASK_KINDS:
            raise ValueError(f"kind: {self.kind!r} is not one of {MASK_KINDS}")
        for name in ("pixel_pitch", "wavelength", "top_value"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name}: {value} must be finite and > 0")
        dtype = np.uint8 if self.level_count <= 256 else np.uint16
        object.__setattr__(self, "levels", levels.astype(dtype))
        object.__setattr__(self, "level_count", int(self.level_count))

    @property
    def shape(self) -> "tuple[int, int]":
        """(height, width) in pixels."""
        return tuple(self.levels.shape)

    def to_bytes(self) -> bytes:
        """The canonical binary image (magic, header, row-major levels, CRC-32)."""
        height, width = self.levels.shape
        raw = _MASK_HEADER.pack(MASK_MAGIC, FORMAT_VERSION, MASK_KINDS.index(self.kind),
                                self.levels.dtype.itemsize, self.level_count, width, height,
                                self.pixel_pitch, self.wavelength, self.top_value)
        raw += self.levels.astype(self.levels.dtype.newbyteorder("<")).tobytes()
        return raw + struct.pack("<I", crc32(raw))

    @classmethod
    def from_bytes(cls, data: bytes) -> "MaskPattern":
        """Parse and validate a binary image; ``ValueError`` says what is wrong."""
        data = bytes(data)
        body = _unframe(data, _MASK_HEADER, MASK_MAGIC, "mask pattern")
        (_, version, kind, itemsize, level_count, width, height, pitch, wavelength,
         top) = _MASK_HEADER.unpack_from(body)
        if version != FORMAT_VERSION:
            raise ValueError(f"mask pattern: format version {version} is not supported "
                             f"(this software reads {FORMAT_VERSION})")
        if kind >= len(MASK_KINDS):
            raise ValueError(f"kind: code {kind} is outside 0..{len(MASK_KINDS) - 1}")
        wanted = 1 if level_count <= 256 else 2
        if itemsize != wanted:
            raise ValueError(f"bytes per level: {itemsize}; {level_count} levels need {wanted}")
        if not (0 < width <= MAX_MASK_SIDE and 0 < height <= MAX_MASK_SIDE):
            raise ValueError(f"width, height: {width} x {height} outside 1..{MAX_MASK_SIDE}")
        expected = _MASK_HEADER.size + width * height * itemsize
        if len(body) != expected:
            raise ValueError(f"width, height: {width} x {height} needs {expected} bytes before "
                             f"the CRC; the pattern has {len(body)}")
        dtype = np.dtype("<u1") if itemsize == 1 else np.dtype("<u2")
        levels = np.frombuffer(body, dtype=dtype, offset=_MASK_HEADER.size).reshape(height, width)
        return cls(levels, level_count, MASK_KINDS[kind], pitch, wavelength, top)

    def check_against(self, width: int, height: int, max_levels: int) -> None:
        """Raise ``ValueError`` unless this pattern fits an SLM of this size and depth."""
        if self.shape != (height, width):
            raise ValueError(f"width, height: the mask is {self.shape[1]} x {self.shape[0]} "
                             f"pixels; the board's SLM is {width} x {height}")
        if self.level_count > max_levels:
            raise ValueError(f"level_count: {self.level_count} levels; the board's SLM shows "
                             f"at most {max_levels}")

    def save(self, path: "str | os.PathLike[str]") -> None:
        """Write the binary image atomically."""
        files.write_bytes(path, self.to_bytes())

    @classmethod
    def load(cls, path: "str | os.PathLike[str]") -> "MaskPattern":
        """Read the binary format, or an .npz with ``levels`` and ``level_count`` arrays (and
        optional ``kind``, ``pixel_pitch``, ``wavelength``, ``top_value``).

        Every problem is a ``ValueError`` that starts with the file's path.
        """
        if not os.fspath(path).lower().endswith(".npz"):
            data = _read_file(path, "mask pattern")
            try:
                return cls.from_bytes(data)
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from None
        archive = files.read_npz(path, "mask pattern")
        if "levels" not in archive or "level_count" not in archive:
            raise ValueError(f"{path}: an .npz mask needs 'levels' and 'level_count'; it has "
                             f"{sorted(archive)}")
        try:
            extra = {key: (_scalar(archive, key, str) if key == "kind"
                           else _scalar(archive, key, float))
                     for key in ("kind", "pixel_pitch", "wavelength", "top_value")
                     if key in archive}
            return cls(archive["levels"], _scalar(archive, "level_count", int), **extra)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None


def _read_file(path: "str | os.PathLike[str]", what: str) -> bytes:
    """The bytes of ``path``; ``ValueError`` naming the path for a folder or a missing file."""
    if os.path.isdir(path):
        raise ValueError(f"{what}: {os.fspath(path)} is a folder; expected a file")
    if not os.path.isfile(path):
        raise ValueError(f"{what}: {os.fspath(path)} does not exist")
    with open(path, "rb") as handle:
        return handle.read()


def _json_number(values: dict, key: str, kind, default=None):
    """``values[key]`` as ``kind`` (int or float); ``ValueError`` naming the field otherwise."""
    value = values.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            kind is int and value != int(value)):
        raise ValueError(f"{key}: {value!r} is not {'an integer' if kind is int else 'a number'}")
    return kind(value)


def _scalar(archive: dict, key: str, kind):
    """Array ``key`` of an .npz archive as one ``kind`` value; ``ValueError`` names the key."""
    value = np.asarray(archive[key])
    if value.ndim != 0:
        raise ValueError(f"{key}: expected one value, got an array of shape {list(value.shape)}")
    if kind is not str and (value.dtype == bool or not np.issubdtype(value.dtype, np.number)):
        raise ValueError(f"{key}: expected a number, got {value.item()!r}")
    if kind is int and value != np.round(value):
        raise ValueError(f"{key}: expected an integer, got {value.item()!r}")
    return kind(value.item())


def parse_artifact(kind: int, data: bytes) -> "ThresholdTable | MaskPattern":
    """Parse the binary image of an artifact of ``kind`` (``hil.protocol.Kind``)."""
    from hil.protocol import Kind
    if kind == Kind.THRESHOLDS:
        return ThresholdTable.from_bytes(data)
    if kind == Kind.MASK:
        return MaskPattern.from_bytes(data)
    raise ValueError(f"kind: {kind} is not an artifact kind")
