"""The executor: backups the auditor drives itself (ad hoc now; scheduled runs and other backends to come)."""
