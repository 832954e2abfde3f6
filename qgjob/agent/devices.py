"""Parsing `--devices emulator:3,device:1,browserstack:1` into named devices."""

from __future__ import annotations

from qgjob.domain.models import DeviceSpec
from qgjob.domain.values import InvalidValue, parse_count, parse_target
from qgjob.protocol.limits import MAX_DEVICES_PER_AGENT


def parse_devices(spec: str) -> list[DeviceSpec]:
    """`kind:count` pairs separated by commas; a bare kind means one device. Devices are
    named `<kind>-1`, `<kind>-2`, … in the order given."""
    devices: list[DeviceSpec] = []
    counters: dict[str, int] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        kind, _, count_text = part.partition(":")
        target = parse_target(kind)
        count = parse_count(count_text or "1", f"the device count in {part!r}")
        if len(devices) + count > MAX_DEVICES_PER_AGENT:
            raise InvalidValue(f"at most {MAX_DEVICES_PER_AGENT} devices per agent")
        for _ in range(count):
            counters[target] = counters.get(target, 0) + 1
            devices.append(DeviceSpec(name=f"{target}-{counters[target]}", target=target))
    if not devices:
        raise InvalidValue("no devices given; e.g. --devices emulator:2,device:1")
    return devices
