"""The tfhelp engine: load rules, normalise input, match, rank, report.

Nothing in this package imports TensorFlow or Keras, prints, or touches a terminal, so it can be
used as a library and runs where the user's TensorFlow is broken or absent.
"""
