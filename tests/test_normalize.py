"""The normaliser repairs pasted text and never raises (hypothesis properties included)."""
from hypothesis import given, settings
from hypothesis import strategies as st

from tfhelp.kb.normalize import MAX_LINE, clean_lines, clean_text, fold, repair_line


def test_seed_web_copy_damage_is_repaired():
    assert repair_line(r"AttributeError: module 'keras.backend.tensorflow\_backend' has no attribute '\_ is\_tf\_ 1'") == \
        "AttributeError: module 'keras.backend.tensorflow_backend' has no attribute '_is_tf_1'"
    assert repair_line(r"ImportError: cannot import name 'np\\\_utils'") == "ImportError: cannot import name 'np_utils'"
    assert repair_line(r"ModuleNotFoundError: No module named 'tensorflow\.python.eager'") == \
        "ModuleNotFoundError: No module named 'tensorflow.python.eager'"


def test_smart_quotes_zero_width_and_nbsp():
    assert repair_line("No module named \u2018tensorflow\u2019\u200b") == "No module named 'tensorflow'"
    assert repair_line("a\u00a0b") == "a b"


def test_spaces_in_normal_quoted_text_are_kept():
    assert repair_line("ValueError: 'a b' is not valid") == "ValueError: 'a b' is not valid"
    assert repair_line("KeyError: 'my column'") == "KeyError: 'my column'"


def test_ansi_crlf_and_progress_bars():
    raw = b"\x1b[0;31mImportError\x1b[0m: boom\r\n1/10 [==>...] \r2/10 [====>..]\r\n\x1b]8;;http://x\x07link\x1b]8;;\x07"
    assert clean_lines(raw) == ["ImportError: boom", "1/10 [==>...]", "2/10 [====>..]", "link"]


def test_invalid_utf8_and_nul():
    assert clean_lines(b"bad \xff\xfe byte\x00s") == ["bad \ufffd\ufffd bytes"]


def test_long_lines_are_capped():
    assert len(clean_lines("x" * (MAX_LINE * 3))[0]) == MAX_LINE


def test_fold_makes_repeats_equal():
    a = fold("2023-01-01 10:00:00.123: W tensorflow/x.cc:64] OOM at 0x7f00aa in /home/a/b.py line 12")
    b = fold("2024-05-02 11:11:11.999: W tensorflow/x.cc:64] OOM at 0x7fffff in /home/c/d.py line 99")
    assert a == b


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_never_raises_on_bytes(data):
    lines = clean_lines(data)
    assert all("\x1b" not in line and "\x00" not in line for line in lines)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=1000))
def test_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


def test_windows_paths_are_not_unescaped():
    assert repair_line(r"C:\x\keras\__init__.py") == r"C:\x\keras\__init__.py"
    line = r'File "C:\Users\ana\anaconda3\lib\site-packages\tensorflow\_api\v2\__init__.py", line 3'
    assert repair_line(line) == line
    assert repair_line(r"site-packages\keras\__init__.py") == r"site-packages\keras\__init__.py"
    assert repair_line(r"\\server\share\x.py") == r"\\server\share\x.py"


def test_escaped_underscores_in_library_file_names_are_undone():
    """A web copy escapes every underscore of a name; a Windows path escapes none after its
    separator. cudart64\\_110.dll and libtensorflow\\_io.so are names, keras\\__init__.py a path."""
    assert repair_line(r"Could not load dynamic library 'cudart64\_110.dll'") == \
        "Could not load dynamic library 'cudart64_110.dll'"
    assert repair_line(r"/usr/lib/site-packages/tensorflow\_io/python/ops/libtensorflow\_io.so: undefined symbol") \
        == "/usr/lib/site-packages/tensorflow_io/python/ops/libtensorflow_io.so: undefined symbol"
    assert repair_line(r"keras\__init__.py") == r"keras\__init__.py"
    assert repair_line(r"C:\Users\me\_x.dll") == r"C:\Users\me\_x.dll"
    assert repair_line(r"dir\_a\b.py") == r"dir\_a\b.py"
