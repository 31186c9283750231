"""Companies named in news items: a registry of entities and the resolver that finds them.

``registry`` builds the entities from index constituents (``pytickersymbols``, offline)
and curated YAML; ``resolve`` finds their names, aliases and tickers in a title and body,
precision before recall. It imports only ``core``.
"""
