"""The one exception type for problems a user can cause and fix."""


class InputError(Exception):
    """Bad input: the message says what is wrong, where (file, line, sample, variant), what to do.

    The CLI prints it without a traceback and exits with status 2.
    """
