"""Collect: sources that turn a live API or a dump into an immutable :class:`Inventory`."""
