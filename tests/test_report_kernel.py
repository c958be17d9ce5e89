"""The report kernel (evaluering.runner.kernel): IPython's kernel without the debugger import."""

from __future__ import annotations

import json

from jupyter_client.manager import KernelManager

from evaluering.runner.kernel import KERNEL_NAME, ReportKernelSpecs


def _run(km: KernelManager, code: str) -> str:
    """Execute ``code`` in the kernel and return what it printed."""
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        printed = []
        client.execute_interactive(code, timeout=60, output_hook=lambda msg: printed.append(
            msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None)
        return "".join(printed)
    finally:
        client.stop_channels()


def test_the_report_kernel_runs_cells_without_importing_debugpy(tmp_path):
    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ReportKernelSpecs())
    km.start_kernel(cwd=str(tmp_path))
    try:
        printed = _run(km, "import sys, json\n"
                           "loaded = sys.modules.get('debugpy') is not None\n"
                           "print(json.dumps({'debugpy': loaded, 'sum': sum(range(5))}))")
    finally:
        km.shutdown_kernel(now=True)
    assert json.loads(printed) == {"debugpy": False, "sum": 10}


def test_other_kernel_names_are_found_as_jupyter_finds_them():
    specs = ReportKernelSpecs()
    assert specs.get_kernel_spec("python3").argv[1:3] == ["-m", "ipykernel_launcher"]
    assert specs.get_kernel_spec(KERNEL_NAME).argv[1:4] == ["-m", "evaluering.runner.kernel", "-f"]
