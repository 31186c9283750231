"""finsent: settings and the command line that wire the packages together."""

__version__ = "0.1.0"
