#!/usr/bin/env python3
"""A host-side memory hog for auto.bats: write MIB MiB at RATE MiB/s, say
"hog: done" with the time it took, hold it HOLD seconds, exit 0.

    hog.py MIB RATE HOLD
"""
import sys
import time

CHUNK_MIB = 8


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    mib, rate, hold = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    held = []
    start = time.monotonic()
    for done in range(CHUNK_MIB, mib + CHUNK_MIB, CHUNK_MIB):
        # Repeating one byte is a memset: every page is written.
        held.append(b"\x5a" * (CHUNK_MIB << 20))
        late = start + done / rate - time.monotonic()
        if late > 0:
            time.sleep(late)
    print("hog: done, %d MiB in %.1f s" % (len(held) * CHUNK_MIB, time.monotonic() - start),
          flush=True)
    time.sleep(hold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
