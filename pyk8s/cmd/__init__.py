"""Thin entry points: flags -> wiring -> run. The only package that imports several rooms."""
