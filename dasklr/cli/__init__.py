"""The ``dasklr`` command: TOML configs validated before any work (``config``), the
commands (``main``), and the HTML report.
"""
