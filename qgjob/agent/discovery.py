"""`--devices auto`: the Android devices and emulators `adb devices` lists, and the booted iOS
simulators `xcrun simctl` lists, when those tools are installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable

from qgjob.domain.models import DeviceSpec
from qgjob.domain.values import NAME_MAX, InvalidValue, TargetName

Runner = Callable[[list[str]], str]
_SAFE = re.compile(r"[^A-Za-z0-9._:@-]")


def _run(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=True).stdout


def discover(which: Callable[[str], str | None] = shutil.which, run: Runner = _run
             ) -> list[DeviceSpec]:
    """The attached devices; InvalidValue saying what is missing when there are none."""
    tools = [tool for tool in ("adb", "xcrun") if which(tool)]
    if not tools:
        raise InvalidValue("--devices auto needs adb (Android) or xcrun (iOS) on PATH; "
                           "neither is installed here. Name devices instead, e.g. "
                           "--devices emulator:2,device:1")
    devices: list[DeviceSpec] = []
    problems: list[str] = []
    for tool, find in (("adb", _android), ("xcrun", _ios)):
        if tool not in tools:
            continue
        try:
            devices += find(run)
        except (OSError, subprocess.SubprocessError, ValueError) as problem:
            problems.append(f"{tool}: {problem}")
    if not devices:
        detail = "; ".join(problems) if problems else "no device is attached or booted"
        raise InvalidValue(f"--devices auto found no devices ({', '.join(tools)}): {detail}")
    return devices


def _android(run: Runner) -> list[DeviceSpec]:
    found = []
    for line in run(["adb", "devices"]).splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1] == "device":  # skip "offline", "unauthorized"
            serial = parts[0]
            target: TargetName = "emulator" if serial.startswith("emulator-") else "device"
            found.append(DeviceSpec(name=_name(serial), target=target))
    return found


def _ios(run: Runner) -> list[DeviceSpec]:
    listing = json.loads(run(["xcrun", "simctl", "list", "devices", "booted", "--json"]))
    return [DeviceSpec(name=_name(f"ios-{device['udid']}"), target="emulator")
            for runtime in listing.get("devices", {}).values() for device in runtime
            if device.get("state") == "Booted"]


def _name(raw: str) -> str:
    """Device names follow the API's rules (a serial like 192.168.1.7:5555 is fine)."""
    return _SAFE.sub("-", raw)[:NAME_MAX] or "device"
