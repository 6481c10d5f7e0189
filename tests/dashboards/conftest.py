import pytest


@pytest.fixture
def live(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (the rollup refreshes) as the test's writes commit."""

    class Live:
        def __enter__(self):
            self._capture = django_capture_on_commit_callbacks(execute=True)
            self._capture.__enter__()
            return self

        def __exit__(self, *exc):
            return self._capture.__exit__(*exc)

    return Live
