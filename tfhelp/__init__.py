"""tfhelp: offline diagnosis of broken TensorFlow / Keras / CUDA / NumPy setups.

The importable engine lives in :mod:`tfhelp.kb`; the command line, REPL, runner, probe and
fix applier in :mod:`tfhelp.assistant`; the shipped rule base in :mod:`tfhelp.rules`.
Nothing here imports TensorFlow or Keras: tfhelp must work where they are broken.
"""

__version__ = "0.1.0"
