"""Results kept on disk beside the fingerprint of the settings that made them.

One cache serves every resumable job of the project (the demo's stages, Table 1's tasks, the
clean recognisers of the reconstruction attack): a record is reused only when the fingerprint
stored in it equals the fingerprint of the settings asked for now; a missing, unreadable or
foreign record is a miss, and the next save overwrites it (atomically).

Records are never unpickled: a codec writes either JSON (``"json"``) or a torch file loaded
with ``weights_only=True`` (``"torch"``: tensors, numbers, strings and containers of them).

>>> fingerprint({"seed": 0, "alpha": 1.0}) == fingerprint({"alpha": 1.0, "seed": 0})
True
>>> len(fingerprint({"seed": 0}, length=16))
16
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Mapping

from canopic.core.files import write_bytes

CODECS = ("json", "torch")


def fingerprint(settings: Mapping[str, Any], length: int = 64) -> str:
    """sha256 (hex, first ``length`` digits) of ``settings`` as canonical JSON (sorted keys).

    Values JSON cannot hold are written as their ``repr``.
    """
    text = json.dumps(settings, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


class FingerprintCache:
    """Named records in ``folder``, each ``{"fingerprint", "payload"}`` in one file.

    Parameters
    ----------
    folder : str or Path
        Where the records go (created on the first save).
    codec : str
        ``"json"`` (payload: JSON values; files ``<name>.json``) or ``"torch"`` (payload:
        tensors, numbers, strings, lists and dicts of them; files ``<name>.pt``, read with
        ``torch.load(weights_only=True)``).
    """

    def __init__(self, folder: "str | os.PathLike[str]", codec: str = "json"):
        if codec not in CODECS:
            raise ValueError(f"codec must be one of {CODECS}, got {codec!r}")
        self.folder = Path(folder)
        self.codec = codec

    def path(self, name: str) -> Path:
        """The file of record ``name``."""
        return self.folder / f"{name}.{'json' if self.codec == 'json' else 'pt'}"

    def load(self, name: str, expected: str) -> Any:
        """The payload of record ``name`` if its fingerprint is ``expected``, else None."""
        try:
            saved = self._read(self.path(name))
        except Exception:  # noqa: BLE001 - missing, corrupt or foreign: all are a miss
            return None
        if not isinstance(saved, dict) or saved.get("fingerprint") != expected:
            return None
        return saved.get("payload")

    def save(self, name: str, expected: str, payload: Any) -> Path:
        """Write ``payload`` as record ``name`` under fingerprint ``expected``; return its path."""
        record = {"fingerprint": expected, "payload": payload}
        if self.codec == "json":
            data = (json.dumps(record, indent=2) + "\n").encode("utf-8")
        else:
            import torch

            buffer = io.BytesIO()
            torch.save(record, buffer)
            data = buffer.getvalue()
        path = self.path(name)
        write_bytes(path, data)
        return path

    def _read(self, path: Path) -> Any:
        if self.codec == "json":
            return json.loads(path.read_text(encoding="utf-8"))
        import torch

        return torch.load(path, map_location="cpu", weights_only=True)


__all__ = ["CODECS", "FingerprintCache", "fingerprint"]
