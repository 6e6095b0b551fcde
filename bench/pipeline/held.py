"""Load balance of -j: one input (a fifo named first) is held up for HOLD
seconds while the other files wait behind it in the output order; prints how
long the run still takes once the held input is released.  With jobs handed
to whichever worker is free, the other files were all scanned meanwhile.

Usage: held.py PICKLEJAIL JOBS HOLD PATH..."""
import os
import subprocess
import sys
import tempfile
import time


def main():
    binary, jobs, hold, paths = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
    with tempfile.TemporaryDirectory() as d:
        fifo = os.path.join(d, "held")
        os.mkfifo(fifo)
        p = subprocess.Popen([binary, "scan", "-j", jobs, "--format", "jsonl", fifo, *paths],
                             stdout=subprocess.DEVNULL)
        time.sleep(hold)
        t0 = time.time()
        with open(fifo, "wb") as f:
            f.write(b"N.")
        rc = p.wait()
        print("%.3f" % (time.time() - t0))
        return 0 if rc in (0, 1) else 1


if __name__ == "__main__":
    sys.exit(main())
