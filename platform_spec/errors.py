"""The one error type bad platform input raises."""


class SpecError(ValueError):
    """A value in the platform description is invalid.

    The message is a single line that names the field and the offending value,
    so ``app.py`` can print it as it is and exit without a traceback.
    """

    def __init__(self, field: str, value: object, problem: str) -> None:
        super().__init__(f"{field}: {problem} (got {value!r})")
        self.field = field
        self.value = value
        self.problem = problem
