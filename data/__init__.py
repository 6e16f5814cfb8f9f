"""The bundled data sets (data/README.md), installed as the package ``canopic_data``.

This file only makes ``data/`` a package that ``pip install .`` can ship (setup.cfg maps
``canopic_data`` onto this folder); nothing imports it. Find the data with
``canopic.core.paths.data_dir()``, which also honours ``$CANOPIC_DATA``.
"""
