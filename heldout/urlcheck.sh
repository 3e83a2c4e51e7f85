#!/bin/sh
# usage: urlcheck.sh URL... ; prints "USED URL" for each report already cited by a rule, corpus
# entry, test or tool: those cases are no longer held out and are scored separately.
cd "$(dirname "$0")/.."
for u in "$@"; do grep -rqF "$u" rules corpus tests kb tools docs 2>/dev/null && echo "USED $u"; done; true
