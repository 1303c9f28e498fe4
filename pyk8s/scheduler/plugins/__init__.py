"""In-tree scheduler plugins, one module per plugin, each with upstream's name, semantics and messages.

Plugins import only pyk8s.api, pyk8s.base, pyk8s.client and pyk8s.scheduler.framework; registry.py maps
their names to factories.
"""
