"""CAnOPIC: design, simulate, learn and flash privacy-preserving cameras.

Three floors (docs/ARCHITECTURE.md):

- :mod:`canopic.core`, the ground: units, atomic files and hashes, file types, the data
  resolver, argument checks and the fingerprint cache. It imports nothing of ours.
- ``optics``, ``analog``, ``sensor``, ``learn`` and ``hil``, the middle: the library.
- :mod:`canopic.app`, the roof: the ``canopic`` command, the demo and its report. Nothing
  imports it.

``canopic.units``, ``canopic.files``, ``canopic.paths``, ``canopic.bundle`` and
``canopic.cli`` are deprecated aliases of their new homes, kept for one release.
"""
__version__ = "0.1.0"
