"""Shown commands paste back into a POSIX shell as exactly the argv that would run."""
import shlex

from hypothesis import given, settings
from hypothesis import strategies as st

from tfhelp.assistant.fixes.argv import env_lines, pip_argv, quote


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                        min_size=1, max_size=30), min_size=1, max_size=5))
def test_posix_quote_round_trips(argv):
    assert shlex.split(quote(argv, "linux")) == argv


def test_pip_runs_through_the_target_interpreter():
    assert pip_argv("/v/bin/python", {"action": "pip_install", "packages": ["numpy<2"], "options": ["--upgrade"]}) == \
        ["/v/bin/python", "-m", "pip", "install", "--upgrade", "numpy<2"]
    assert pip_argv("/v/bin/python", {"action": "pip_uninstall", "packages": ["tensorflow-gpu"]}) == \
        ["/v/bin/python", "-m", "pip", "uninstall", "-y", "tensorflow-gpu"]


def test_readable_quotes_and_env_lines():
    assert quote(["python", "-c", "import a; print('x')"], "linux") == "python -c \"import a; print('x')\""
    assert env_lines({"name": "TF_CPP_MIN_LOG_LEVEL", "value": "2"}, "linux") == ["export TF_CPP_MIN_LOG_LEVEL=2"]
    assert env_lines({"name": "X", "value": "a b"}, "windows")[0] == "set X=a b"
