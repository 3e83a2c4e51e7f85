"""Score tfhelp on the held-out real reports: top-1 right for install/version problems,
abstention (no fatal/degraded diagnosis) for non-install problems.

Usage: score.py [--tfhelp PATH] [--verbose] [--batch N]

Figures are given for four groups, because each answers a different question:
  overall  every case;
  clean    cases no rule, corpus entry, test or tool cites (urlcheck.sh) and not marked `tuned`:
           the only figure that measures generalisation, since a cited or tuned case was seen;
  fresh    batch 3 (FRESH_BATCH), collected after batch 2's misses went to rule writers; nobody
           tuned on it, so it is the figure for a closing note;
  dev      batch 2: it was fresh once, but its misses' families were handed to rule writers, so
           it is now a development set, reported on its own line and never as fresh;
  tuned    cases whose family was handed to rule writers after they were missed (reported alone,
           never counted as clean).
Family -> accepted rule ids (regexes). Mapping families to ids is the only thing tuned here;
rules are never tuned on these texts. Misses are listed by id, family and top rule id only, so
the integrator can read them without reading the texts.
"""
import collections
import json
import pathlib
import re
import subprocess
import sys

import yaml

HERE = pathlib.Path(__file__).parent
# The newest batch nobody tuned on. When its misses are handed to rule writers, it becomes a dev
# batch (add it to DEV_BATCHES) and a new batch is collected; a batch is never fresh twice.
FRESH_BATCH = 3
DEV_BATCHES = {2}

FAMILIES = {
    "keras3-savedmodel-load": r"keras3-.*(savedmodel|saved-model|legacy-format|load)",
    "keras3-filepath-extension": r"keras3-(save-filepath-extension|.*extension|.*checkpoint)",
    "keras3-h5-load": r"keras3-.*(h5|legacy|load|unrecognized)|keras-model-config-version-mismatch",
    "keras-newer-saved-older-loaded": r"keras.*(newer|version-mismatch|saved-by|batch-shape)|keras2-load-keras3-saved-model|keras-unknown-layer-functional",
    "keras-optimizer-mixing": r"keras.*optimizer|tf-keras.*mix|keras3-.*(mix|optimizer)",
    "keras3-optimizers-legacy": r"keras3-optimizers-legacy",
    "keras-lambda-safe-mode": r"lambda|safe-mode",
    "apple-metal-symbol": r"metal|apple|macos",
    "apple-metal-no-wheel": r"metal|apple|macos",
    "apple-metal-no-kernel": r"metal|apple|macos|no-gpu-kernel|opkernel",
    "ml-dtypes-mismatch": r"ml-dtypes|symbols-pip-pin-conflict",
    "new-gpu-ptx": r"ptx|compute-capability|blackwell|new-gpu|sm-?120",
    "typing-extensions-pin": r"typing-extensions|symbols-pip-pin-conflict",
    "blas-streamexecutor": r"blas|cublas",
    "dnn-library-init-failed": r"dnn-library|cudnn",
    "tf-addon-undefined-symbol": r"(tensorflow-io|tf-io|tensorflow-text|addon).*(undefined|symbol|abi|version)|undefined-symbol",
    "wsl-libcuda-symlink": r"wsl.*libcuda|libcuda.*symlink|symbolic-link",
    "glibcxx-too-old": r"glibcxx|glibc|libstdc",
    "tfa-keras3": r"addons|tfa|keras-src-engine|private-keras|keras3-.*private|keras-engine",
    "pip-no-matching-tf": r"pip-no-matching|apple|macos|pip-tensorflow-pinned",
    "numpy2-abi": r"numpy2-abi|numpy-array-api|numpy-multiarray|numpy2",
    "cudart-not-loaded": r"cudart|cuda-cannot-dlopen",
    "tf1-placeholder": r"tf1-placeholder",
    "keras-np-utils": r"np-utils",
    "tf-python-eager-missing": r"tf-python-eager|keras-missing-tf-python",
    "protobuf-descriptors": r"protobuf-descriptors",
    "transformers-keras3": r"transformers|tf-keras|keras3",
    "tf-keras-missing": r"tf-keras-missing|legacy-keras|tf-keras",
    "numpy-too-old": r"numpy-api-version-too-old|numpy-multiarray|numpy.*old|symbols-package-too-old",
    "keras3-compat-v1-layers": r"keras3-tf-compat-v1|compat-v1-layers|keras3",
    "keras-tf-mismatch": r"keras.*(tf|tensorflow).*(mismatch|newer|older|version|requires|symbol|attribute)|keras-missing-tf|keras-requires"
                         # the import-category rules for a Keras 2.x beside a TF it does not match
                         # (ids and titles from `tfhelp rules list`; added 2026-12-03 with batch 3)
                         r"|keras-cannot-import|keras-cannot-be-imported|keras-api-v2-missing|keras-metric-already-exists"
                         r"|tf-compat-v2-no-internal|keras3-under-old-tf",
    # added with batch 2 (2026-12-03); each maps a failure family to rule ids, never to texts
    "keras-private-module": r"keras-engine|keras-src|keras3-.*(private|internal|compat)|symbols-removed|legacy-keras|tf-keras",
    "keras3-kerastensor": r"kerastensor",
    "keras3-layer-args": r"keras3-layer-keras2-argument|keras3-.*argument",
    "keras-generation-mixing": r"mix|generation|tf-keras|legacy-keras",
    "numpy-removed-alias": r"numpy-removed-alias|numpy2-removed|symbols-removed-(name|attribute)",
    "protobuf-runtime-too-old": r"protobuf-(gencode|runtime|builder)|symbols-package-too-old",
    "cudnn-version-mismatch": r"cudnn-version-mismatch|xla-dnn-library",
    "cuda-libs-not-loaded": r"cudart|cuda-cannot-dlopen|cuda-math-library|cudnn-library-not-loaded",
    "cpu-avx-required": r"cpu-illegal-instruction|cpu-avx-required|no-avx",
    "avx-notice-harmless": r"cpu-avx-notice|cpu-feature-guard",
    "apple-illegal-instruction": r"macos|apple|metal|illegal-instruction|avx",
    "apple-macos-wheel": r"tensorflow-macos|macos|apple|metal|pip-no-matching",
    "tf1-other-api": r"tf1-",
    "protobuf-pin-conflict": r"protobuf|symbols-pip-pin-conflict",
    "tf-keras-tf-mismatch": r"tf-keras|symbols-pip-pin-conflict|keras.*(tf|tensorflow).*(mismatch|version)|tf-compat-v2-no-internal|keras-missing-tf",
    "ptx-driver-too-old": r"unsupported-ptx|cuda-driver-insufficient|ptx",
    "xla-ptxas": r"xla-ptxas|ptx",
    "xla-libdevice": r"libdevice",
    "keras-older-saved-newer-loaded": r"keras-model-config-version-mismatch|keras3-.*(load|legacy|h5|keras-src-engine)|keras-engine|version-mismatch",
    # added with batch 3 (2026-12-03); chosen from the rule-id list and each thread's resolution
    "keras-optimizer-decay": r"optimizer-decay|decay",
    "keras-optimizer-lr-renamed": r"lr-renamed|optimizer-lr",
    "tfa-version-mismatch": r"addons|tfa",
    "libcuda-not-found": r"libcuda|cuda-drivers-not-found|cuinit|driver",
    "cuinit-failure": r"cuinit|cuda-drivers-not-found|libcuda|driver|wsl|gpu-list-empty",
    "gpu-not-visible": r"gpu-list-empty|tf-cpu-only|windows-native-gpu|cuda-|cudnn-|libcuda|driver|cuinit|gpu-",
    "and-cuda-extra-unavailable": r"and-cuda|pip-no-matching",
    "keras3-input-shape-warning": r"input-shape",
    "keras3-save-format": r"keras3-.*(save|format|extension)",
    "keras3-hub-layer": r"keras3-hub|hub-layer|kerastensor|tf-keras",
    "keras-too-old": r"symbols-package-too-old|keras.*too-old",
    "keras-tf-pip-conflict": r"symbols-pip-pin-conflict|keras3-under-old-tf|keras.*(tf|tensorflow).*(mismatch|version|pin|conflict)|pip.*(conflict|pin)",
    "tf-too-old": r"symbols-package-too-old|symbols-removed|tf-too-old|tensorflow-too-old",
    "tf-text-tf-mismatch": r"tensorflow-text|tf-text|addon|tf-extension|undefined-symbol|symbols-(package|pip|removed|addon)",
    "register-factory-noise": r"unable-register-factory",
    "numpy-symbolic-tensor": r"numpy-symbolic-tensor",
    "numpy-pin-conflict": r"symbols-pip-pin-conflict|numpy.*(pin|conflict)",
    "apple-optimizer-slow": r"metal|apple|macos|optimizer-mixed|optimizers-legacy",
    "protobuf-gencode-warning": r"protobuf-gencode",
}


def run(tfhelp, text):
    """One diagnosis through the real CLI, as a user's paste would go (JSON so ids are exact)."""
    p = subprocess.run([tfhelp, "--json", "diagnose", "-"], input=text.encode(), capture_output=True, timeout=60)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {"error": p.stderr.decode(errors="replace")[-300:], "diagnoses": []}


def cited_urls(cases):
    """URLs some rule, corpus entry, test or tool cites: those cases are no longer held out."""
    out = subprocess.run([str(HERE / "urlcheck.sh")] + [c["url"] for c in cases], capture_output=True, text=True).stdout
    return {line.split(None, 1)[1] for line in out.splitlines() if line.startswith("USED ")}


def judge(case, out):
    """(ok, kind, top id, first three ids) for one case."""
    diags = out.get("diagnoses") or []
    ids = [d["id"] for d in diags[:3]]
    top = ids[0] if ids else None
    if case.get("abstain"):
        return not any(d.get("severity") in ("fatal", "degraded") for d in diags), "abstain", top, ids
    if case["family"] not in FAMILIES:
        raise SystemExit(f"{case['id']}: family {case['family']!r} has no entry in FAMILIES")
    return bool(top) and re.search(FAMILIES[case["family"]], top) is not None, "install", top, ids


def groups_of(case, cited):
    """The figure groups a case counts in (see the module docstring)."""
    gs = ["overall"]
    if case.get("tuned"):
        gs.append("tuned")
    elif case["url"] not in cited:
        gs.append("clean")
    if case.get("batch") == FRESH_BATCH:
        gs.append("fresh")
        if not case.get("tuned") and case["url"] not in cited:
            gs.append("fresh-clean")
    elif case.get("batch") in DEV_BATCHES:
        gs.append("dev")
    return gs


def pct(r, n):
    return f"{r}/{n} = {100 * r / n:.0f}%" if n else "0/0"


def report(tally, groups):
    for g in groups:
        for kind in ("install", "abstain"):
            eras = {e: tally[(g, kind, e)] for e in ("older", "recent") if tally[(g, kind, e)][1]}
            if not eras:
                continue
            r = sum(a for a, _ in eras.values()); n = sum(b for _, b in eras.values())
            parts = "  ".join(f"{e} {pct(*v)}" for e, v in eras.items())
            print(f"{g:11} {kind:8} all {pct(r, n):14}  {parts}")


def main():
    tfhelp = sys.argv[sys.argv.index("--tfhelp") + 1] if "--tfhelp" in sys.argv else "tfhelp"
    verbose = "--verbose" in sys.argv
    batch = int(sys.argv[sys.argv.index("--batch") + 1]) if "--batch" in sys.argv else None
    cases = yaml.safe_load(open(HERE / "reports.yaml"))["cases"]
    if batch is not None:
        cases = [c for c in cases if c.get("batch", 1) == batch]
    cited = cited_urls(cases)
    tally = collections.defaultdict(lambda: [0, 0])
    misses = []
    for c in cases:
        ok, kind, top, ids = judge(c, run(tfhelp, c["text"]))
        for g in groups_of(c, cited):
            tally[(g, kind, c["era"])][0] += ok
            tally[(g, kind, c["era"])][1] += 1
        if not ok:
            misses.append((c, top, ids))
        if verbose:
            print("OK  " if ok else "MISS", c["id"], c["family"], "->", ids)
    report(tally, ["overall", "clean", "fresh", "fresh-clean", "dev", "tuned"])
    fresh_cited = sum(1 for c in cases if c.get("batch") == FRESH_BATCH and c["url"] in cited)
    if fresh_cited:
        print(f"note: {fresh_cited} fresh case(s) are now cited by the project (counted as fresh, not clean)")
    for c, top, ids in misses:
        b = c.get("batch", 1)
        tag = "fresh" if b == FRESH_BATCH else ("dev" if b in DEV_BATCHES else "batch1")
        if c.get("tuned"):
            tag += ",tuned"
        print(f"miss [{tag}] {c['id']} {c['family']} -> {top}", ids[1:] if len(ids) > 1 else "")


if __name__ == "__main__":
    main()
