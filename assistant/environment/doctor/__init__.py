"""``tfhelp doctor``: check a probed environment component by component.

Input: a :class:`~tfhelp.assistant.environment.probe.ProbeResult`. Output: a
:class:`~.report.DoctorReport`, one :class:`~.report.Check` per component. Each problem names the
rule id from docs/rule-catalog.md that the same situation produces as an error message, and a fix;
when that rule's first fix has pip steps, the doctor shows exactly those (the same first fix as
``diagnose``, ``run``, ``fix`` and the REPL).

Where things are (each check fits on a screen):

=================  ==========================================================================
``report.py``      statuses, Problem / Check / DoctorReport, exit statuses, JSON schema
``context.py``     :class:`Doctor`, the facts every check reads; pip commands; TF wheel pins
``compat.py``      tolerant adapter over the compatibility model :mod:`tfhelp.kb.compat`
``system.py``      platform, Python, CPU, environment variables, the probe's own health
``tensorflow.py``  the TensorFlow installation, Keras, the real ``import tensorflow``
``deps.py``        NumPy, protobuf and TensorFlow's other pinned requirements
``gpu.py``         NVIDIA driver, GPUs, compute capability, cuInit
``cudalibs.py``    CUDA / cuDNN libraries the build needs against those that load
``run.py``         probe + checks in display order: :func:`run_doctor`, :func:`diagnose`
=================  ==========================================================================

Two sources of version truth, used together: the installed TensorFlow wheel's own
``Requires-Dist`` pins (exact for that build) and the compatibility model, which also knows where
the pins were too loose (TF 2.14 allows NumPy 2 and then fails to import with it) and the CUDA /
driver / compute capability facts that no pin expresses. Nothing here prints; rendering lives in
:mod:`tfhelp.assistant.render.doctor`.
"""
from __future__ import annotations

from tfhelp.assistant.environment.doctor.compat import Compat
from tfhelp.assistant.environment.doctor.context import (conflicting_tf_distributions, declared_requirements,
                                                         parse_sm, pip_cmd, soname_major)
from tfhelp.assistant.environment.doctor.gpu import CU_ERRORS
from tfhelp.assistant.environment.doctor.report import (DOCTOR_JSON_SCHEMA, ERROR, EXIT_ERRORS, EXIT_HEALTHY,
                                                        EXIT_PROBE_FAILED, EXIT_UNUSABLE, INFO, OK, PROBLEM_SCHEMA,
                                                        RULE_IDS, UNKNOWN, WARNING, Check, DoctorReport, Problem)
from tfhelp.assistant.environment.doctor.run import CHECKS, diagnose, diagnose_text, run_doctor

_soname_major = soname_major  # the GPU ladder's older name for it

__all__ = ["CHECKS", "CU_ERRORS", "DOCTOR_JSON_SCHEMA", "PROBLEM_SCHEMA", "RULE_IDS", "Check", "Compat",
           "DoctorReport", "Problem", "OK", "WARNING", "ERROR", "INFO", "UNKNOWN", "EXIT_HEALTHY", "EXIT_ERRORS",
           "EXIT_UNUSABLE", "EXIT_PROBE_FAILED", "conflicting_tf_distributions", "declared_requirements",
           "diagnose", "diagnose_text", "parse_sm", "pip_cmd", "run_doctor"]
