"""The shipped rule base: one YAML file per rule under ``<category>/<id>.yaml``.

This is a package only so the rules travel inside the wheel and can be found with
:mod:`importlib.resources` from any working directory.
"""
