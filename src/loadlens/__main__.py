"""`python -m loadlens`."""

from __future__ import annotations

from loadlens.cli.main import main

main()
