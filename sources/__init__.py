"""News sources: RSS/Atom feeds polled on a schedule and published to ``news.raw``, the
near-duplicate index they share, and the demo's news.

Pure parts (feed list, text cleaning, entry normalisation, address policy, robots.txt
decisions, back-off, bounded decompression) are small modules of plain functions; the
I/O lives at the edges: ``http`` (fetching), ``poll`` (one poll of one feed, wired to
injected stores and sinks) and ``scheduler`` (APScheduler).
"""
