"""``tfhelp gpu-test``: the GPU test ladder, from the NVIDIA driver to a cuDNN convolution."""
from __future__ import annotations

NAME = "gpu-test"
HELP = "test the GPU stack rung by rung (driver, CUDA, libraries, TensorFlow, matmul, conv)"
DESCRIPTION = ("Run each rung in its own subprocess of the target interpreter (--python) with its own "
               "timeout: NVML -> cuInit -> TF's CUDA/cuDNN libraries -> import tensorflow -> GPU listed -> "
               "matmul on /GPU:0 -> conv2d on /GPU:0, plus a CPU matmul. Stops the GPU part at the first "
               "failure and diagnoses its output. Exit status 1 unless every GPU and CPU rung passed "
               "(with --cpu-ok: unless every CPU rung passed).")


def register(parser) -> None:
    parser.add_argument("--cpu-ok", action="store_true",
                        help="exit 0 when the CPU rungs pass even if the GPU ones did not")
    parser.add_argument("--timeout", type=float, default=None, metavar="S", help="cap on each rung's timeout (seconds)")


def run(args, ctx) -> int:
    from tfhelp.assistant.environment.gpu_test import ladder_json, run_ladder

    target = ctx.default_python()
    cpu_ok = bool(getattr(args, "cpu_ok", False))
    if getattr(args, "json", False):
        res = run_ladder(target, timeout=getattr(args, "timeout", None))
        ctx.stdout.write(ladder_json(res) + "\n")
        return res.exit_code(cpu_ok)
    from tfhelp.assistant.render.doctor import _unicode_ok
    from tfhelp.assistant.render.gpu_test import header, render_ladder, rung_text

    console = ctx.console()
    u = _unicode_ok(console)
    console.print(header(target))
    res = run_ladder(target, timeout=getattr(args, "timeout", None), on_rung=lambda r: console.print(rung_text(r, u)))
    render_ladder(res, console, cpu_ok_flag=cpu_ok, live=True)
    return res.exit_code(cpu_ok)
