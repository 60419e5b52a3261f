"""The channeling API's error document (protocol.md Appendix B)."""
from __future__ import annotations


class ChannelError(Exception):
    """Sent back to the requesting session as {"Type":"Error","Code":..,"Message":..}."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def doc(self) -> dict[str, str]:
        return {"Type": "Error", "Code": self.code, "Message": self.message}


def bad_request(message: str) -> ChannelError:
    return ChannelError("bad_request", message)
