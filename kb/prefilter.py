"""Which rules could possibly match a text: one pass over the text for all rules' anchors.

Scoring every rule against every input would make cost grow with the rule base. Instead each rule
names literal anchors, all anchors go into one Aho-Corasick automaton (pyahocorasick), and one
scan of the lowercased text yields the candidate rules. Without pyahocorasick a plain substring
loop gives the same answer, only slower for large rule bases.
"""
from __future__ import annotations


class AnchorIndex:
    def __init__(self, anchor_map: dict):
        self.anchor_map = anchor_map  # anchor -> [rule index]
        self._automaton = None
        try:
            import ahocorasick
        except ImportError:  # pragma: no cover - exercised by the pure-Python test
            ahocorasick = None
        if ahocorasick is not None and anchor_map:
            a = ahocorasick.Automaton()
            for anchor, idx in anchor_map.items():
                a.add_word(anchor, tuple(idx))
            a.make_automaton()
            self._automaton = a

    def rules_in(self, lower_text: str) -> set:
        hit: set = set()
        if self._automaton is not None:
            seen = set()
            for _end, idx in self._automaton.iter(lower_text):
                if idx not in seen:
                    seen.add(idx)
                    hit.update(idx)
            return hit
        for anchor, idx in self.anchor_map.items():
            if anchor in lower_text:
                hit.update(idx)
        return hit
