"""CAnOPIC: the command-line door and the few helpers every package shares.

This package is the thin top layer: ``canopic.cli`` dispatches subcommands to the package that
owns each job; ``canopic.units`` parses lengths such as "532nm" to SI; ``canopic.files`` writes
files atomically and hashes them. ``units`` and ``files`` import nothing of ours, so every
package may use them.
"""
__version__ = "0.1.0"
