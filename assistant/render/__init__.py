"""Rendering only: turns results from kb/ and assistant/ into rich Text. No logic decides anything here."""
