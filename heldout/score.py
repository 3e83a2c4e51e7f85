"""Score tfhelp on the held-out real reports: top-1 right for install/version problems,
abstention (no fatal/degraded diagnosis) for non-install problems.

Usage: score.py [--tfhelp PATH] [--verbose]
Family -> accepted rule ids (regexes). Mapping families to ids is the only thing tuned here;
rules are never tuned on these texts.
"""
import json, re, subprocess, sys, yaml, collections, pathlib

FAMILIES = {
    "keras3-savedmodel-load": r"keras3-.*(savedmodel|saved-model|legacy-format|load)",
    "keras3-filepath-extension": r"keras3-(save-filepath-extension|.*extension|.*checkpoint)",
    "keras3-h5-load": r"keras3-.*(h5|legacy|load|unrecognized)|keras-model-config-version-mismatch",
    "keras-newer-saved-older-loaded": r"keras.*(newer|version-mismatch|saved-by|batch-shape)",
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
    "numpy-too-old": r"numpy-api-version-too-old|numpy-multiarray|numpy.*old",
    "keras3-compat-v1-layers": r"keras3-tf-compat-v1|compat-v1-layers|keras3",
    "keras-tf-mismatch": r"keras.*(tf|tensorflow).*(mismatch|newer|older|version|requires|symbol|attribute)|keras-missing-tf|keras-requires",
}


def run(tfhelp, text):
    p = subprocess.run([tfhelp, "--json", "diagnose", "-"], input=text.encode(), capture_output=True, timeout=60)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {"error": p.stderr.decode(errors="replace")[-300:], "diagnoses": []}


def main():
    tfhelp = "tfhelp"
    if "--tfhelp" in sys.argv:
        tfhelp = sys.argv[sys.argv.index("--tfhelp") + 1]
    verbose = "--verbose" in sys.argv
    cases = yaml.safe_load(open(pathlib.Path(__file__).with_name("reports.yaml")))["cases"]
    used = set(subprocess.run([str(pathlib.Path(__file__).with_name("urlcheck.sh"))] + [c["url"] for c in cases], capture_output=True, text=True).stdout.split()) - {"USED"}
    tally = collections.defaultdict(lambda: [0, 0])
    misses = []
    for c in cases:
        out = run(tfhelp, c["text"])
        diags = out.get("diagnoses") or []
        real = [d for d in diags if d.get("severity") in ("fatal", "degraded")]
        top = diags[0]["id"] if diags else None
        if c.get("abstain"):
            ok = not real
            key = ("abstain", c["era"])
        else:
            ok = bool(top) and re.search(FAMILIES[c["family"]], top) is not None
            key = ("install", c["era"])
        tally[key][0] += ok
        tally[key][1] += 1
        if c["url"] not in used:
            ck = (key[0] + "-clean", key[1]); tally[ck][0] += ok; tally[ck][1] += 1
        if not ok:
            misses.append((c["id"], c["family"], top, [d["id"] for d in diags[:3]]))
        if verbose:
            print(("OK  " if ok else "MISS"), c["id"], c["family"], "->", [d["id"] for d in diags[:3]])
    for k in sorted(tally):
        r, n = tally[k]
        print(f"{k[0]:8} {k[1]:7} {r}/{n} = {100 * r / n:.0f}%")
    inst = [tally[k] for k in tally if k[0] == "install"]
    cl = [tally[k] for k in tally if k[0] == "install-clean"]
    print(f"install-clean all {sum(a for a,_ in cl)}/{sum(b for _,b in cl)}")
    r = sum(a for a, _ in inst); n = sum(b for _, b in inst)
    print(f"install all       {r}/{n} = {100 * r / n:.0f}%")
    for m in misses:
        print("miss:", *m)


if __name__ == "__main__":
    main()
