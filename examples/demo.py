"""`make demo`: the WebRTC demo (see examples/webrtc_demo/README.md).

The in-process demos stay runnable on their own:
``python -m examples.echo.client`` and ``python -m examples.data_stream.main``.
"""

from __future__ import annotations

import asyncio
import sys

from .webrtc_demo.run import main

if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
