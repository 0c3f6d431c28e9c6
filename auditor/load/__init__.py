"""Loaders of the data the pure layers judge by: the rule catalog (``rules/*.yaml``) and the compliance
frameworks (``rules/frameworks/*.yaml``). Reading files happens here; ``analyse`` and ``checks`` receive the
loaded types."""
