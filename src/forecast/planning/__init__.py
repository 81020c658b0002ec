"""The planner's loop: product hierarchy, reconciliation, overrides, monitoring, value added."""
