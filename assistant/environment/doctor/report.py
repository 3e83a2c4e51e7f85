"""What the doctor produces: statuses, :class:`Problem`, :class:`Check`, :class:`DoctorReport`,
the exit status that summarises a report, and the JSON schema of ``tfhelp doctor --json``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

OK, WARNING, ERROR, INFO, UNKNOWN = "ok", "warning", "error", "info", "unknown"
_RANK = {OK: 0, INFO: 0, UNKNOWN: 1, WARNING: 2, ERROR: 3}

#: ``tfhelp doctor`` exit statuses (docs/ARCHITECTURE.md, README "Exit statuses").
EXIT_HEALTHY = 0       # no errors (warnings allowed)
EXIT_ERRORS = 1        # at least one error found
EXIT_UNUSABLE = 3      # the target interpreter is missing or cannot be started
EXIT_PROBE_FAILED = 4  # the target started but the probe hung, crashed or printed garbage

#: Sub-probes without which the doctor cannot judge the environment at all: when one of them
#: fails, the report is "probe failed", not "healthy".
ESSENTIAL_PROBES = ("basic", "packages")

#: Every rule id the doctor can name (each must exist in docs/rule-catalog.md; a test checks).
RULE_IDS = frozenset({
    "multiple-tf-distributions", "conda-pip-mixed-tensorflow", "pip-tensorflow-32bit-python",
    "pip-no-matching-tensorflow", "no-module-named-tensorflow", "keras3-under-old-tf",
    "keras-requires-tf-2-2", "tf-keras-missing-legacy-keras", "numpy2-abi-compiled-numpy1",
    "numpy-api-version-too-old", "protobuf-descriptors-cannot-be-created", "protobuf-builder-missing",
    "protobuf-gencode-runtime-mismatch", "cpu-illegal-instruction", "cpu-avx-required-abort",
    "cuda-drivers-not-found", "libcuda-not-found", "cuda-driver-insufficient",
    "gpu-compute-capability-too-low", "tf-cpu-only-build", "windows-native-gpu-after-2-10",
    "gpu-list-empty", "cuda-cudart-not-loaded", "cudnn-library-not-loaded", "cudnn-version-mismatch",
    "cuda-math-library-not-loaded", "cuinit-no-device", "cuinit-unknown-error-303",
})


@dataclass
class Problem:
    severity: str  # error | warning
    message: str
    rule: Optional[str] = None
    fix: Optional[str] = None
    commands: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"rule": self.rule, "severity": self.severity, "message": self.message, "fix": self.fix,
                "commands": list(self.commands)}


@dataclass
class Check:
    id: str
    title: str
    status: str = UNKNOWN
    found: str = ""
    details: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    def problem(self, severity: str, message: str, rule: Optional[str] = None, fix: Optional[str] = None,
                commands=()) -> Problem:
        if rule is not None and rule not in RULE_IDS:
            raise ValueError(f"doctor names an unregistered rule id {rule!r}")
        p = Problem(severity, message, rule, fix, list(commands))
        self.problems.append(p)
        self.raise_status(ERROR if severity == ERROR else WARNING)
        return p

    def raise_status(self, status: str) -> None:
        if self.status in (UNKNOWN, INFO, OK) or _RANK[status] > _RANK[self.status]:
            self.status = status

    def to_json(self) -> dict:
        return {"id": self.id, "title": self.title, "status": self.status, "found": self.found,
                "details": list(self.details), "problems": [p.to_json() for p in self.problems]}


@dataclass
class DoctorReport:
    probe: object  # ProbeResult
    checks: list
    seconds: float = 0.0
    compat_missing: list = field(default_factory=list)
    deep: Optional[dict] = None

    @property
    def status(self) -> str:
        worst = OK
        for c in self.checks:
            if c.status in (ERROR, WARNING) and _RANK[c.status] > _RANK[worst]:
                worst = c.status
        return worst

    @property
    def problems(self) -> list:
        return [(c, p) for c in self.checks for p in c.problems]

    @property
    def errors(self) -> int:
        return sum(1 for _, p in self.problems if p.severity == ERROR)

    @property
    def probe_failure(self) -> Optional[str]:
        """Why the target could not be judged, or None. ``unusable: ...`` when it could not even be
        started (not executable, not a program), ``failed: ...`` when it hung, crashed or answered
        with something that is not the probe's reply."""
        for name in ESSENTIAL_PROBES:
            r = self.probe.probes.get(name)
            if r is None or r.ok:
                continue
            if r.status == "unavailable":
                return f"unusable: {self.probe.target_python} cannot be started ({r.error or 'exec failed'})"
            what = {"timeout": "hung (no answer in time; killed)",
                    "crashed": f"crashed ({r.signal})",
                    "error": "answered with something that is not a probe result"
                             + (f": {r.error}" if r.error else "")}.get(r.status, r.status)
            return f"failed: the {name} probe {what}"
        return None

    @property
    def exit_status(self) -> int:
        """0 healthy (warnings allowed), 1 errors found, 3 target unusable, 4 probe failed."""
        failure = self.probe_failure
        if failure is not None:
            return EXIT_UNUSABLE if failure.startswith("unusable") else EXIT_PROBE_FAILED
        return EXIT_ERRORS if self.errors else EXIT_HEALTHY

    def to_json(self) -> dict:
        import tfhelp

        try:
            env = self.probe.to_environment().to_json()
        except Exception as e:  # pragma: no cover - defensive: the report must still come out
            env = {"error": f"{type(e).__name__}: {e}"}
        return {
            "tfhelp_version": tfhelp.__version__,
            "schema": 1,
            "target_python": self.probe.target_python,
            "status": self.status,
            "exit_status": self.exit_status,
            "probe_failure": self.probe_failure,
            "seconds": round(self.seconds, 3),
            "probe_seconds": round(self.probe.seconds, 3),
            "checks": [c.to_json() for c in self.checks],
            "problems": [dict(p.to_json(), check=c.id) for c, p in self.problems],
            "compat_missing": list(self.compat_missing),
            "environment": env,
            "deep": self.deep,
            "probe": self.probe.to_json(),
        }


#: JSON Schema (draft 2020-12 subset) of ``tfhelp doctor --json``; documented in docs/doctor-json.md.
_STR_OR_NULL = {"type": ["string", "null"]}
PROBLEM_SCHEMA = {
    "type": "object", "required": ["rule", "severity", "message", "fix", "commands"],
    "properties": {"rule": _STR_OR_NULL, "severity": {"enum": [ERROR, WARNING]}, "message": {"type": "string"},
                   "fix": _STR_OR_NULL, "commands": {"type": "array", "items": {"type": "string"}},
                   "check": {"type": "string"}},
}
DOCTOR_JSON_SCHEMA = {
    "type": "object",
    "required": ["tfhelp_version", "schema", "target_python", "status", "exit_status", "probe_failure",
                 "seconds", "probe_seconds", "checks", "problems", "compat_missing", "environment", "deep",
                 "probe"],
    "properties": {
        "tfhelp_version": {"type": "string"},
        "schema": {"enum": [1]},
        "target_python": {"type": "string"},
        "status": {"enum": [OK, WARNING, ERROR]},
        "exit_status": {"enum": [EXIT_HEALTHY, EXIT_ERRORS, EXIT_UNUSABLE, EXIT_PROBE_FAILED]},
        "probe_failure": _STR_OR_NULL,
        "seconds": {"type": "number"},
        "probe_seconds": {"type": "number"},
        "checks": {"type": "array", "items": {
            "type": "object", "required": ["id", "title", "status", "found", "details", "problems"],
            "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                           "status": {"enum": [OK, WARNING, ERROR, INFO, UNKNOWN]}, "found": {"type": "string"},
                           "details": {"type": "array", "items": {"type": "string"}},
                           "problems": {"type": "array", "items": PROBLEM_SCHEMA}}}},
        "problems": {"type": "array", "items": dict(PROBLEM_SCHEMA, required=PROBLEM_SCHEMA["required"] + ["check"])},
        "compat_missing": {"type": "array", "items": {"type": "string"}},
        "environment": {"type": "object", "required": ["source", "python", "platform", "packages", "facts"],
                        "properties": {"source": {"enum": ["probe"]}, "python": _STR_OR_NULL,
                                       "platform": {"enum": ["linux", "windows", "wsl", "macos", None]},
                                       "packages": {"type": "object"}, "facts": {"type": "object"}}},
        "deep": {"type": ["object", "null"]},
        "probe": {"type": "object", "required": ["schema", "target_python", "probes"],
                  "properties": {"probes": {"type": "object"}}},
    },
}
