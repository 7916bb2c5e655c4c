"""`python -m kit` is the `ensemble-kit` command."""

from kit.cli import main

main()
