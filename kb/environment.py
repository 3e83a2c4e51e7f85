"""What tfhelp knows about the user's machine, and how rules' ``when`` conditions read it.

An environment comes from a probe of the target interpreter (strong), from facts the pasted text
gives away (weak: a Python version in a path, "NumPy 2.0.0" in a message), or from nothing. A
condition on a package that the environment does not know is *unknown*, never false: a strong text
match must not be suppressed because we failed to learn a version.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

#: Every distribution that provides ``import tensorflow``. Conditions on ``tensorflow`` read the
#: first one installed, so a rule written for "tensorflow<2.18" also covers tensorflow-cpu users.
TF_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tf-nightly", "tf-nightly-cpu",
                    "tf-nightly-gpu", "tensorflow-intel", "tensorflow-macos", "tensorflow-aarch64",
                    "intel-tensorflow", "tensorflow-rocm")


#: Distributions that provide ``import keras`` (a condition on ``keras`` reads the first installed).
KERAS_DISTRIBUTIONS = ("keras", "keras-nightly")


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    out = []
    prev_sep = False
    for ch in name.strip().lower():
        if ch in "-_.":
            if not prev_sep:
                out.append("-")
            prev_sep = True
        else:
            out.append(ch)
            prev_sep = False
    return "".join(out)


@dataclass
class Environment:
    packages: dict = field(default_factory=dict)  # canonical name -> version string
    python: Optional[str] = None  # "3.11.7"
    platform: Optional[str] = None  # linux | windows | wsl | macos
    source: str = "none"  # probe | text | none
    facts: dict = field(default_factory=dict)  # gpu, driver, libraries, interpreter path, ...

    def __post_init__(self):
        self.packages = {canonical(k): str(v) for k, v in (self.packages or {}).items() if v}

    @classmethod
    def from_facts(cls, facts: dict) -> "Environment":
        """A weak environment from what the input text itself says."""
        if not facts:
            return cls()
        return cls(packages=dict(facts.get("packages", {})), python=facts.get("python"),
                   platform=facts.get("platform"), source="text",
                   facts={k: v for k, v in facts.items() if k not in ("packages", "python", "platform")})

    @property
    def known(self) -> bool:
        return bool(self.packages or self.python or self.platform)

    def version(self, dist: str) -> Optional[str]:
        """Installed version of ``dist``; ``tensorflow`` means whichever TF distribution is there."""
        dist = canonical(dist)
        if dist in self.packages:
            return self.packages[dist]
        aliases = TF_DISTRIBUTIONS if dist == "tensorflow" else KERAS_DISTRIBUTIONS if dist == "keras" else ()
        for alias in aliases:
            if alias in self.packages:
                return self.packages[alias]
        return None

    def tf_distributions(self) -> list:
        return [d for d in TF_DISTRIBUTIONS if d in self.packages]

    def merged(self, stronger: "Environment") -> "Environment":
        """Combine: values from ``stronger`` (usually the probe) win over ours."""
        packages = dict(self.packages)
        packages.update(stronger.packages)
        facts = dict(self.facts)
        facts.update(stronger.facts)
        source = stronger.source if stronger.source != "none" else self.source
        return Environment(packages=packages, python=stronger.python or self.python,
                           platform=stronger.platform or self.platform, source=source, facts=facts)

    def to_json(self) -> dict:
        return {"source": self.source, "python": self.python, "platform": self.platform,
                "packages": dict(sorted(self.packages.items())), "facts": self.facts}


def _spec_holds(spec: str, version: str) -> Optional[bool]:
    from tfhelp.kb.versions import spec_contains

    return spec_contains(spec, version)


def evaluate_when(when: Optional[dict], env: Optional[Environment]) -> Optional[bool]:
    """True when every known condition holds, False when any known one fails, None if unknown.

    Package specs: ``{"numpy": ">=2"}``; the special spec ``"absent"`` means not installed
    (known only from a probe, which lists everything). ``python`` is a specifier on the Python
    version; ``platform`` a list.
    """
    if not when:
        return True
    if env is None:
        return None
    results = []
    for dist, spec in (when.get("packages") or {}).items():
        installed = env.version(dist)
        if spec == "absent":
            if installed is not None:
                results.append(False)
            elif env.source == "probe":
                results.append(True)
            else:
                results.append(None)
            continue
        if installed is None:
            results.append(False if env.source == "probe" and spec != "*" else None)
            continue
        results.append(True if spec in ("", "*") else _spec_holds(spec, installed))
    if when.get("python"):
        results.append(_spec_holds(when["python"], env.python) if env.python else None)
    if when.get("platform"):
        plats = when["platform"]
        results.append((env.platform in plats) if env.platform else None)
    if any(r is False for r in results):
        return False
    if results and all(r is True for r in results):
        return True
    return None if results else True
