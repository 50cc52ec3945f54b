"""The frames between the service and its engine worker processes: a 4-byte big-endian length, then a pickle
(both ends are this package; nothing else writes to these pipes)."""

from __future__ import annotations

import pickle
import struct
from typing import IO, Any

READY = "ready"
LENGTH = struct.Struct(">I")


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame, or None at the end of the stream."""
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        return None
    (length,) = LENGTH.unpack(head)
    data = stream.read(length)
    return data if len(data) == length else None


def frame(payload: Any) -> bytes:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    return LENGTH.pack(len(data)) + data
