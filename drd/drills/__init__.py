"""Restore drills: restore into a DR cluster, prove the application works, measure, tear down, keep evidence."""
