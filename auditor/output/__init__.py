"""Output: the scan document (JSON), the console table, and later metrics and reports."""
