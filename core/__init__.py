"""What every package of finsent may use, and that imports none of them: the error of a
configuration file that cannot be used, YAML with line numbers, one-line error text,
and the log lines of an outage. The bottom layer of ``docs/architecture.md``. (Not
``common``: Streamlit puts the dashboard's folder first on ``sys.path``, where
``dashboard/common.py`` would take that name.)"""
