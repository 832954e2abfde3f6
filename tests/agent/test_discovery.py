import json
import subprocess

import pytest

from qgjob.agent.discovery import discover
from qgjob.domain.values import InvalidValue

ADB = ("List of devices attached\nemulator-5554\tdevice\nR58M12ABCDE\tdevice\n"
       "192.168.1.7:5555\tdevice\nZX1G22\tunauthorized\n")
SIMCTL = json.dumps({"devices": {"iOS-17-2": [
    {"udid": "4F0E-11AA", "state": "Booted", "name": "iPhone 15"},
    {"udid": "9C3D-22BB", "state": "Shutdown", "name": "iPad"}]}})


def fake(outputs: dict[str, str]):  # type: ignore[no-untyped-def]
    return lambda argv: outputs[argv[0]]


def test_android_and_ios_devices() -> None:
    found = discover(which=lambda tool: f"/usr/bin/{tool}",
                     run=fake({"adb": ADB, "xcrun": SIMCTL}))
    assert [(d.name, d.target) for d in found] == [
        ("emulator-5554", "emulator"), ("R58M12ABCDE", "device"),
        ("192.168.1.7:5555", "device"), ("ios-4F0E-11AA", "emulator")]


def test_no_tools_says_so() -> None:
    with pytest.raises(InvalidValue, match=r"needs adb .* or xcrun"):
        discover(which=lambda tool: None)


def test_tools_but_no_devices() -> None:
    with pytest.raises(InvalidValue, match="no device is attached"):
        discover(which=lambda tool: "/usr/bin/adb" if tool == "adb" else None,
                 run=fake({"adb": "List of devices attached\n"}))


def test_a_failing_tool_is_reported() -> None:
    def broken(argv: list[str]) -> str:
        raise subprocess.CalledProcessError(1, argv, "daemon not running")

    with pytest.raises(InvalidValue, match="adb"):
        discover(which=lambda tool: "/usr/bin/adb" if tool == "adb" else None, run=broken)
