"""The kernel a report's notebook runs in: IPython's kernel without its debugger.

A report's kernel is started by its worker, runs the notebook's cells and is stopped; nobody
attaches a debugger to it. ipykernel imports debugpy at start whenever it is installed (about a
third of a second of every report's kernel start, on the way to every report); here that import
fails, so ipykernel starts as it does where debugpy is not installed. Otherwise it is
``python -m ipykernel_launcher`` with its history in memory, as nbclient starts an IPython kernel.

The spec is given to the worker's kernel manager directly (:class:`ReportKernelSpecs`): a run
writes no kernel spec and changes nothing in the user's Jupyter set-up.
"""

from __future__ import annotations

import sys

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

__all__ = ["KERNEL_NAME", "ReportKernelSpecs", "kernel_argv", "main"]

KERNEL_NAME = "evaluering-rapport"


def kernel_argv() -> list[str]:
    """The command that starts a report's kernel (``{connection_file}`` filled in by jupyter_client)."""
    return [sys.executable, "-m", "evaluering.runner.kernel", "-f", "{connection_file}",
            "--HistoryManager.hist_file=:memory:"]


class ReportKernelSpecs(KernelSpecManager):
    """The kernel specs jupyter_client finds, and :data:`KERNEL_NAME`, the report kernel."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        """The report kernel's spec for :data:`KERNEL_NAME`, else the one jupyter_client finds."""
        if kernel_name != KERNEL_NAME:
            return super().get_kernel_spec(kernel_name)
        return KernelSpec(name=KERNEL_NAME, argv=kernel_argv(), display_name="Python 3 (evaluering, rapport)",
                          language="python", metadata={"debugger": False})


def main() -> None:
    """Start ipykernel as ``ipykernel_launcher`` does, with debugpy made unimportable first."""
    sys.modules["debugpy"] = None  # importing it now raises ImportError: ipykernel starts without a debugger
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
