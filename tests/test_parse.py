"""Structure and facts read from inputs."""
from tfhelp.kb.normalize import clean_lines
from tfhelp.kb.parse import parse

CHAINED = """Traceback (most recent call last):
  File "/home/ana/miniconda3/envs/tf/lib/python3.8/site-packages/tensorflow/python/pywrap_tensorflow.py", line 64, in <module>
    from tensorflow.python._pywrap_tensorflow_internal import *
ImportError: DLL load failed while importing _pywrap_tensorflow_internal: The specified module could not be found.

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "C:\\Users\\ana\\train.py", line 1, in <module>
    import tensorflow as tf
ImportError: Traceback (most recent call last):
"""


def test_chained_tracebacks_and_user_frame():
    p = parse(clean_lines(CHAINED))
    assert [e.type for e in p.exceptions] == ["ImportError", "ImportError"]
    assert p.exceptions[0].message.startswith("DLL load failed")
    assert p.user_frame == ("C:\\Users\\ana\\train.py", 1)
    assert p.facts["python"] == "3.8"


def test_tf_log_lines_and_libraries():
    text = ("2023-05-01 10:11:12.123456: W tensorflow/compiler/xla/stream_executor/platform/default/dso_loader.cc:64] "
            "Could not load dynamic library 'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open shared object file\n"
            "I0000 00:00:1730000000.123456   12345 cuda_executor.cc:1015] successful NUMA node read from SysFS had negative value (-1)\n")
    p = parse(clean_lines(text))
    assert p.log_lines == [0, 1]
    assert p.facts["libraries"]["libcudart"] == "11.0"
    assert p.message_lines[0].startswith("Could not load dynamic library")


def test_ipython_traceback_header_is_not_an_exception():
    text = ("ImportError                               Traceback (most recent call last)\n"
            "Cell In[1], line 1\n----> 1 from keras.utils import np_utils\n\n"
            "ImportError: cannot import name 'np_utils' from 'keras.utils'\n")
    p = parse(clean_lines(text))
    assert [(e.type, e.line) for e in p.exceptions] == [("ImportError", 5)]


def test_numpy_version_from_banner_but_not_from_requirements():
    p = parse(clean_lines("A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.1.3 as it may crash."))
    assert p.facts["packages"]["numpy"] == "2.1.3"
    p = parse(clean_lines("ImportError: Keras requires TensorFlow 2.2 or higher."))
    assert "packages" not in p.facts
