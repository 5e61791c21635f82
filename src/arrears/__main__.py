"""``python -m arrears`` runs the command line."""

from arrears.cli import main

main()
