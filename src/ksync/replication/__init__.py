"""The data side and its domain rules: naming, selection, topic attributes, loops, members."""
