"""Finding the board's serial port with ``serial.tools.list_ports``."""
from __future__ import annotations

from typing import List, Optional


def parse_usb_id(value: "str | int | None", name: str) -> Optional[int]:
    """Read a USB vendor/product id given as hex ("0x0483", "0483") or an int."""
    if value is None or isinstance(value, int):
        return value
    try:
        number = int(str(value), 16)
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a hexadecimal USB id (e.g. 0x0483)") from None
    if not 0 <= number <= 0xFFFF:
        raise ValueError(f"{name}: 0x{number:X} is outside 0x0000..0xFFFF")
    return number


def find_ports(vid: Optional[int] = None, pid: Optional[int] = None,
               serial_number: Optional[str] = None, usb_only: bool = True) -> list:
    """Serial ports matching the filters (``ListPortInfo`` objects), sorted by device.

    Parameters
    ----------
    vid, pid : int, optional
        USB vendor and product ids.
    serial_number : str, optional
        USB serial number (exact match).
    usb_only : bool
        Keep only ports with a USB vendor id (boards enumerate as USB CDC/UART bridges).
    """
    from serial.tools import list_ports
    found = []
    for info in list_ports.comports():
        if usb_only and info.vid is None:
            continue
        if vid is not None and info.vid != vid:
            continue
        if pid is not None and info.pid != pid:
            continue
        if serial_number is not None and info.serial_number != serial_number:
            continue
        found.append(info)
    return sorted(found, key=lambda info: info.device)


def describe(info) -> str:
    """One line about a port: device, VID:PID, serial number, description."""
    ids = f"{info.vid:04X}:{info.pid:04X}" if info.vid is not None else "----:----"
    return f"{info.device}  {ids}  serial={info.serial_number or '-'}  {info.description or ''}"


def choose_port(vid: Optional[int] = None, pid: Optional[int] = None,
                serial_number: Optional[str] = None) -> str:
    """The one port matching the filters; ``ValueError`` listing candidates otherwise."""
    found = find_ports(vid, pid, serial_number)
    if len(found) == 1:
        return found[0].device
    filters = ", ".join(f"{k}={v}" for k, v in (("vid", vid), ("pid", pid),
                                                  ("serial_number", serial_number)) if v)
    if not found:
        raise ValueError(f"port: 'auto' found no USB serial port{' matching ' + filters if filters else ''}"
                         f"; give --port PATH (or --port emulator)")
    listing: List[str] = [describe(info) for info in found]
    raise ValueError(f"port: 'auto' found {len(found)} candidates; pick one with --port or "
                     f"narrow with --vid/--pid/--serial-number:\n  " + "\n  ".join(listing))
