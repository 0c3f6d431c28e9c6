"""The ground floor: the types every layer shares and the pure parsers of their values.

Nothing here reads a file, a clock or a cluster, and nothing here imports another ``auditor`` package
(``auditor.errors`` aside): collect builds these types, analyse and checks judge them, output renders them.
"""
