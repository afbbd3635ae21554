class GraphduelError(Exception):
    """An error the user can fix; shown as one or two lines, no traceback."""

    exit_code = 1


class ConfigError(GraphduelError):
    """A value the run cannot use (bad config, or one the chosen runtime or machine can't honour)."""

    exit_code = 2
