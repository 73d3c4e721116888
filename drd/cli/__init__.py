"""The ``drd`` command line: argument parsing, output rendering, one module per command group.

Command modules import their heavy dependencies inside their handlers so that
``drd --help`` stays fast.
"""
