"""The bundled demo service: a realistic target for loadlens with switchable classic faults.

It sits beside the engine, not on top of it: nothing here imports the rest of loadlens.
"""

from __future__ import annotations

from loadlens.demo.app import create_app
from loadlens.demo.faults import FAULT_DESCRIPTIONS, FAULTS, Faults
from loadlens.demo.server import DemoServer, serve_forever

__all__ = ["FAULTS", "FAULT_DESCRIPTIONS", "DemoServer", "Faults", "create_app", "serve_forever"]
