"""The scheduling framework: extension-point Protocols and Status (interface), node and pod data (types),
shared pure helpers plugins may use (helpers), and the runner that executes a profile's plugins (runtime).

Plugins depend on this package only; it never imports a plugin.
"""
