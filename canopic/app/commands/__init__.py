"""One module per group of ``canopic`` subcommands, each a thin parser over library calls.

Each module has ``register(subparsers)``; :data:`canopic.app.cli.COMMAND_MODULES` lists them.
"""
