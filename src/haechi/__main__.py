"""``python -m haechi`` runs the command line."""

from haechi.cli.app import main

main()
