"""The controller manager's controllers: one folder each, sharing only controllers.framework."""
