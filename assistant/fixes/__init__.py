"""Fix actions, planning, journal (undo)."""
