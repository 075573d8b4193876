"""The ``reveal`` command line and the demo: the top layer, which calls every package's Python API.

:mod:`reveal.cli.main` is the console script; each subcommand has a module here that parses its
options, calls the API and prints. Nothing below imports this package.
"""
