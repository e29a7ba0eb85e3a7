"""The ``haechi`` command line: typer shells over the library, one module per command group."""
