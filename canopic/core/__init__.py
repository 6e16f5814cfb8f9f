"""The ground floor: helpers every package shares; imports nothing of the project.

- :mod:`canopic.core.units`: "532nm" -> 5.32e-7 (one parser from human quantities to SI).
- :mod:`canopic.core.files`: atomic writes, JSON and npz without pickle, sha256.
- :mod:`canopic.core.filetypes`: the file suffixes the tool reads (images, videos).
- :mod:`canopic.core.paths`: where the bundled data lives (the one data resolver).
- :mod:`canopic.core.bundle`: reader of the bundled JPEG-in-npz image sets.
- :mod:`canopic.core.checks`: argument checks that name the parameter, value and range.
- :mod:`canopic.core.cache`: results kept beside the fingerprint of the settings that made them.
"""
