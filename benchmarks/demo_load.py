"""The demo under load: several clients at once through Gradio's HTTP API, some sending good
photos, some unreadable files, images over the pixel limit and files over the size limit.

It starts `python -m colorizer demo` in a process of its own on a free port, runs `--clients`
threads of `--rounds` requests each (gradio_client, the API a script would use), and reports
the requests served, how each kind ended, and the server's peak resident memory (VmHWM).
Target: every good request served, every bad one refused with its caption, memory under the
bound (docs/usage.md, "Security").

    python -m benchmarks.demo_load [--clients 4] [--rounds 3]
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from research.report import markdown_table

from .colorize_memory import photo
from .common import command, machine, one_colour_png, write_result

ROOT = Path(__file__).resolve().parents[1]


def make_uploads(folder):
    """{kind: path}: what the clients send."""
    uploads = {"good photo (1600 x 1200 JPEG)": folder / "good.jpg",
               "unreadable (text named .jpg)": folder / "bad.jpg",
               "over the pixel limit (9000 x 9000 PNG)": folder / "huge.png",
               "over the file size limit (30 MB)": folder / "heavy.png"}
    photo(1600, 1200, 0).save(uploads["good photo (1600 x 1200 JPEG)"], quality=90)
    uploads["unreadable (text named .jpg)"].write_text("not an image")
    one_colour_png(uploads["over the pixel limit (9000 x 9000 PNG)"], 9000)
    noise = np.random.default_rng(0).integers(0, 256, (3000, 3500, 3), dtype=np.uint8)
    Image.fromarray(noise).save(uploads["over the file size limit (30 MB)"], compress_level=0)
    return uploads


def start_demo(port):
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen([sys.executable, "-m", "colorizer", "demo", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("the demo stopped before answering") from None
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the demo did not answer within 120 s")


def peak_rss_mib(pid):
    """The process's peak resident set so far (Linux: VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def raw_upload(url, path):
    """How the server answers `path` posted straight to Gradio's upload route, as a client that
    does not check the size itself would send it."""
    import urllib.error
    import uuid

    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\""
            f"{Path(path).name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() \
        + Path(path).read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{url}gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": "multipart/form-data; boundary="
                                              + boundary})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return f"HTTP {r.status}"
    except urllib.error.HTTPError as e:
        return f"refused: HTTP {e.code}"
    except (urllib.error.URLError, ConnectionError) as e:     # closed while the body was sent
        return f"refused: connection closed by the server ({getattr(e, 'reason', e)})"


def one_request(client, path):
    """(outcome, seconds): served (a colorized file back), refused (a caption instead), or
    error (Gradio refused the upload, or anything else went wrong)."""
    from gradio_client import handle_file

    t0 = time.perf_counter()
    try:
        gallery, files = client.predict([handle_file(str(path))], "shipped colorizer", 0.38,
                                        1.0, api_name="/colorize")[:2]
    except ValueError as e:             # gradio_client checks the server's max_file_size itself
        if "exceeds the maximum file size" in str(e):
            return "refused by the client (server's max_file_size)", time.perf_counter() - t0
        return f"error: {type(e).__name__}", time.perf_counter() - t0
    except Exception as e:              # the client raises its own kinds for a refused upload
        return f"error: {type(e).__name__}", time.perf_counter() - t0
    outcome = "served" if files else "refused: " + (gallery[0].get("caption") or "").split(
        ": ", 1)[-1]
    return outcome, time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3, help="requests per client and kind")
    p.add_argument("--name", default="demo_load")
    args = p.parse_args(argv)

    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        uploads = make_uploads(Path(tmp))
        proc, url = start_demo(port)
        try:
            idle = peak_rss_mib(proc.pid)
            results, lock = [], threading.Lock()

            def client_thread(i):
                client = Client(url, verbose=False, download_files=str(Path(tmp) / f"dl{i}"))
                kinds = list(uploads)
                for _ in range(args.rounds):
                    for kind in kinds[i % len(kinds):] + kinds[:i % len(kinds)]:
                        outcome, seconds = one_request(client, uploads[kind])
                        with lock:
                            results.append((kind, outcome, seconds))

            t0 = time.perf_counter()
            threads = [threading.Thread(target=client_thread, args=(i,))
                       for i in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            heavy = "over the file size limit (30 MB)"
            for _ in range(args.rounds):
                t1 = time.perf_counter()
                results.append((heavy + ", posted raw", raw_upload(url, uploads[heavy]),
                                time.perf_counter() - t1))
            good = "good photo (1600 x 1200 JPEG)"
            outcome, seconds = one_request(Client(url, verbose=False,
                                                  download_files=str(Path(tmp) / "dl-last")),
                                           uploads[good])
            results.append((good + ", after the raw posts", outcome, seconds))
            peak = peak_rss_mib(proc.pid)
        finally:                        # the server never outlives the benchmark
            proc.terminate()
            proc.wait(timeout=30)
    counts = Counter((kind, outcome) for kind, outcome, _ in results)
    rows = [{"upload": kind, "outcome": outcome, "requests": n,
             "median s": float(np.median([s for k, o, s in results if (k, o) == (kind, outcome)]))}
            for (kind, outcome), n in sorted(counts.items())]
    summary = {"requests": len(results), "clients": args.clients, "wall s": wall,
               "good served": counts[(good, "served")],
               "good failed": sum(n for (k, o), n in counts.items()
                                  if k.startswith(good) and o != "served"),
               "server idle RSS MiB": idle, "server peak RSS MiB": peak}
    print(rows, summary, flush=True)
    m = machine()
    text = "\n".join([
        "# The demo under load",
        "",
        f"`{command('benchmarks.demo_load', argv)}`, {m['date']}, {m['cpu']}, {m['cores']} "
        f"cores; {args.clients} clients at once through Gradio's HTTP API (gradio_client), "
        "each sending every kind of upload "
        f"{args.rounds} times, then the 30 MB file posted straight to Gradio's upload route "
        "(as a client that does not check sizes would); the demo with its default limits (one "
        "request colorized at a time, the rest queued).",
        "",
        markdown_table(rows, ["upload", "outcome", "requests", "median s"]),
        "",
        markdown_table([summary], list(summary)),
    ])
    print(text)
    write_result(args.name, {"machine": m, "rows": rows, "summary": summary}, text)


if __name__ == "__main__":
    main()
