"""``reveal info``: versions, dependencies, usable extras and devices, to paste into a bug report.

The facts come from :func:`reveal.core.sysinfo.system_info`; this module adds the two that the
import contracts keep out of ``reveal.core``: the PsychoJS release the online export targets
(:data:`reveal.experiments.psychojs.DEFAULT_PSYCHOJS_VERSION`) and torch's view of the devices,
imported only when the command runs, so that building the parser (``reveal --help``) imports
no torch.
"""
from __future__ import annotations

import importlib.util
import json

from ..core.extras import DISTRIBUTION
from ..core.sysinfo import distribution_version, system_info

__all__ = ["register", "gather", "torch_info", "format_info"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info", help="versions, dependencies, usable extras and devices, for a bug report",
        description="Print the toolkit's and Python's versions, the platform, which extras are usable, "
                    "the devices torch sees, the PsychoPy and PsychoJS versions and every dependency's "
                    "version: paste it into a bug report.")
    p.add_argument("--json", action="store_true", help="machine-readable output (JSON)")
    p.set_defaults(func=_info)


def torch_info() -> dict | None:
    """torch's version and the devices it sees; None when torch is not installed.

    Returns
    -------
    dict or None
        ``version``, ``cuda_available``, ``cuda_version`` (the CUDA torch was built for, None
        for a CPU build), ``cuda_devices`` (names), ``mps_available``; or ``version`` and
        ``error`` when torch is installed but fails to import.
    """
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        import torch
    except Exception as err:  # a broken install is itself a fact for the report
        return {"version": distribution_version("torch"), "error": f"{type(err).__name__}: {err}"}
    cuda = bool(torch.cuda.is_available())
    devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    mps = getattr(torch.backends, "mps", None)
    return {"version": str(torch.__version__), "cuda_available": cuda, "cuda_version": torch.version.cuda,
            "cuda_devices": devices,
            "mps_available": bool(mps is not None and getattr(mps, "is_available", lambda: False)())}


def gather() -> dict:
    """:func:`reveal.core.sysinfo.system_info` plus ``torch`` (:func:`torch_info`) and ``psychojs``."""
    from ..experiments.psychojs import DEFAULT_PSYCHOJS_VERSION

    info = system_info()
    info["torch"] = torch_info()
    info["psychojs"] = DEFAULT_PSYCHOJS_VERSION
    return info


def _extra_lines(extras: dict) -> list[str]:
    width = max((len(name) for name in extras), default=0)
    lines = []
    for name, state in extras.items():
        status = "usable" if state["usable"] else (f"missing: {', '.join(state['missing'])} "
                                                    f"(pip install '{DISTRIBUTION}[{name}]')")
        lines.append(f"  {name:<{width}}  {status}")
    return lines


def _device_lines(torch: dict | None) -> list[str]:
    if torch is None:
        return ["  torch not installed"]
    if "error" in torch:
        return [f"  torch {torch['version']} fails to import: {torch['error']}"]
    built = f"built for CUDA {torch['cuda_version']}" if torch["cuda_version"] else "CPU build"
    cuda = f"yes: {', '.join(torch['cuda_devices'])}" if torch["cuda_available"] else "no"
    return [f"  torch {torch['version']} ({built})", f"  CUDA  {cuda}",
            f"  MPS   {'yes' if torch['mps_available'] else 'no'}"]


def _dependency_lines(deps: dict) -> list[str]:
    width = max((len(name) for name in deps), default=0)
    versions = {name: dep["version"] or "not installed" for name, dep in deps.items()}
    vwidth = max((len(v) for v in versions.values()), default=0)
    lines = []
    for name, dep in deps.items():
        line = f"  {name:<{width}}  {versions[name]:<{vwidth}}"
        if not dep["required"]:
            line += f"  [{', '.join(dep['extras'])}]"
        lines.append(line.rstrip())
    return lines


def format_info(info: dict) -> str:
    """The readable text block of ``reveal info`` for :func:`gather`'s dict."""
    python, plat = info["python"], info["platform"]
    psychopy = f"PsychoPy {info['psychopy']}" if info["psychopy"] else "PsychoPy not installed"
    lines = [f"{DISTRIBUTION} {info['toolkit_version']}",
             f"Python {python['version']} ({python['executable']})",
             f"Platform {plat['platform']} ({plat['machine']})",
             "Extras:", *_extra_lines(info["extras"]),
             "Devices:", *_device_lines(info["torch"]),
             f"{psychopy}, export targets PsychoJS {info['psychojs']}",
             "Dependencies:", *_dependency_lines(info["dependencies"])]
    return "\n".join(lines)


def _info(args) -> int:
    info = gather()
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0
