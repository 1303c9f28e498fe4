"""Generic verb handlers, written once for every resource (upstream's endpoints/handlers)."""
