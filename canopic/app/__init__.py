"""The roof: the ``canopic`` command (:mod:`canopic.app.cli`), the demo and its report.

Nothing in the project imports this package; it may import everything.
"""
