"""hil: flash threshold tables and mask patterns to a prototype board, and capture frames back.

Modules: ``framing`` (COBS frames, CRC-32), ``protocol`` (opcode, kind and error tables),
``artifacts`` (file formats), ``client`` (the host, on pyserial), ``board`` / ``flash_store``
(the emulated board), ``emulator`` (the board on a pty, in its own process), ``link`` and
``faults`` (in-process link with fault injection), ``ports`` (port discovery), ``tables``
(a learned design's flashable threshold tables), ``api`` (flash and capture in one call).

``hil.flash_and_verify(port, thresholds_file, mask_file)`` and ``hil.capture(port, scenes)``
are the two calls most scripts need. Names load on first use, so ``canopic --help`` stays fast.
"""
from canopic.core.lazy import lazy_exports

_EXPORTS = {"capture": "hil.api", "flash_and_verify": "hil.api", "scenes_to_uint8": "hil.api",
            "MaskPattern": "hil.artifacts", "ThresholdTable": "hil.artifacts",
            "BoardClient": "hil.client", "BoardError": "hil.protocol",
            "BoardTimeout": "hil.protocol", "ProtocolError": "hil.protocol"}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
