"""Custom rules written in CEL over the audited data (the scan document's entries); see docs/custom-rules.md."""
