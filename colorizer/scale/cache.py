"""An on-disk cache of a folder's images as float16 L*a*b*: decoded once, in parallel, reused.

A cache entry is a folder outside the data folder (nothing in the data folder is ever written):
`lab-<fingerprint>.npy`, an (N, 3, S, S) float16 array, and `index.json`, which names the data
folder, the side S, a fingerprint of the folder's files (names, sizes, modification times), the
array, the readable images' names and rows, and the unreadable files. A changed folder is
decoded again; training reads its batches from the array, so memory stays flat however many
images there are.

Safe under crashes and neighbours: each builder writes its own temporary files and renames them
into place, so a killed build leaves no entry behind and two processes building one entry both
succeed; an entry that does not match its index (a cut-short array, a damaged index) is rebuilt
with one warning, never read.
"""

import hashlib
import json
import multiprocessing
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..config import ColorizerError
from ..console import LOUD
from ..data import (
    LabImages,
    _decode,
    list_images,
    report_decoding,
    resolve_data_dir,
    rgb_to_lab,
)
from ..devices import to_device
from ..files import private_folder, temporary_name, write_json

VERSION = 2               # of the entry's layout; another version is rebuilt
_CHUNK = 128              # images a decoding worker converts and writes at a time
_INDEX = "index.json"
_DTYPE = np.float16


def cache_root(path=None):
    """Where cache entries live: an explicit folder, else $COLORIZER_CACHE, else
    $XDG_CACHE_HOME/colorizer, else ~/.cache/colorizer."""
    if path is None:
        path = os.environ.get("COLORIZER_CACHE")
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "colorizer"
    return Path(path).expanduser().resolve()


def cached_images(data_dir, size, root=None, workers=None, report=LOUD):
    """LabImages of every readable image of `data_dir` at size x size, read from its cache
    entry, which is built (or rebuilt, when the folder's files changed) first."""
    folder = resolve_data_dir(data_dir).resolve()
    return cached_folder(folder, list_images(folder), size, root, workers, report)


def cached_folder(folder, files, size, root=None, workers=None, report=LOUD):
    """cached_images of a resolved folder whose files are listed (data.open_images' way in)."""
    entry = _entry(cache_root(root), folder, size)
    stamp = fingerprint(files)
    index = _usable_index(entry, folder, size)
    if index is None or index["fingerprint"] != stamp:
        if index is not None:
            report.say(f"the files of {folder} changed since they were cached: decoding them "
                       "again")
        index = _build(entry, folder, files, stamp, size, workers, report)
    lab = DiskLab(entry / index["array"], np.asarray(index["rows"], dtype=np.int64), size)
    return LabImages(index["names"], lab, index["skipped"])


def fingerprint(files):
    """A digest of a folder's files as listed (name, size, modification time): any file added,
    removed, replaced or edited changes it."""
    h = hashlib.sha256()
    for name, path in files.items():
        st = path.stat()
        h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class DiskLab:
    """(N, 3, S, S) float32 L*a*b* read on demand from a cache entry's float16 array.

    Indexing with a slice or a tensor of rows reads just those rows; the file is mapped only
    while it is read, so the process keeps no image it is not using. Any other index (such as
    `[:, :1]`, as LabImages.L does) reads every row first: for small sets only.
    """
    path: Path
    rows: np.ndarray                  # the array's row of each image, in order
    size: int
    device: torch.device = torch.device("cpu")

    @property
    def shape(self):
        return (len(self.rows), 3, self.size, self.size)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            return self[:][key]
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        rows = self.rows[key]
        order = np.argsort(rows, kind="stable")         # read the file front to back
        array = np.load(self.path, mmap_mode="r")
        block = np.empty((len(rows), 3, self.size, self.size), dtype=_DTYPE)
        block[order] = array[rows[order]]
        del array                                       # unmapped: its pages leave this process
        # float16 to the device (pinned, without waiting), made float32 there
        return to_device(torch.from_numpy(block), self.device).float()

    def at_rows(self, index):
        """The images at positions `index`, still on disk."""
        return replace(self, rows=self.rows[np.asarray(index)])

    def to(self, device):
        """The same rows, delivered on `device` when read."""
        return replace(self, device=torch.device(device))


def _entry(root, folder, size):
    """The cache entry of a folder at a side: named after the folder, keyed by its full path."""
    if root == folder or folder in root.parents:
        raise ColorizerError(f"the cache may not live inside the data folder: {root} is in "
                             f"{folder} (pass --cache-dir DIR or set COLORIZER_CACHE)")
    key = hashlib.sha256(f"{folder}\0{size}".encode()).hexdigest()[:12]
    return root / f"{folder.name}-{size}px-{key}"


def _usable_index(entry, folder, size):
    """The entry's index when the entry can be read as it says; None when there is none, it is
    of an older layout, or it does not match its array (then with one warning: it is rebuilt)."""
    try:
        index = json.loads((entry / _INDEX).read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as e:
        return _stale(entry, f"unreadable index ({e})")
    if not isinstance(index, dict):
        return _stale(entry, "an index that is not a JSON object")
    if index.get("version") != VERSION:
        return None
    try:
        if index["folder"] != str(folder) or index["size"] != size:
            return _stale(entry, f"built for {index['folder']} at {index['size']} px")
        problem = _index_problem(index) or _array_problem(entry / index["array"],
                                                          tuple(index["shape"]))
    except (KeyError, TypeError) as e:
        problem = f"its index lacks {e}"
    return _stale(entry, problem) if problem else index


def _index_problem(index):
    """What in an index cannot be trusted (None if nothing): its array must be a plain file
    name of this entry's, its rows whole numbers inside the array, one per name."""
    array, rows, n = index["array"], index["rows"], index["shape"][0]
    if not isinstance(array, str) or Path(array).name != array or array in ("", ".", "..") \
            or "\\" in array or not array.endswith(".npy"):
        return f"an array named {array!r}, not a plain .npy file name of its own"
    if len(index["names"]) != len(rows):
        return "its index lists names and rows that differ in number"
    if not all(type(r) is int and 0 <= r < n for r in rows):
        return f"rows outside its array's 0..{n - 1}"
    return None


def _array_problem(path, shape):
    """Why the .npy file at `path` is not a complete float16 array of `shape` (None if it is)."""
    try:
        with open(path, "rb") as f:
            fmt = np.lib.format
            read = (fmt.read_array_header_1_0 if fmt.read_magic(f) == (1, 0)
                    else fmt.read_array_header_2_0)
            found, _, dtype = read(f)
            start = f.tell()
        length = path.stat().st_size
    except (OSError, ValueError) as e:
        return f"unreadable array ({e})"
    if tuple(found) != shape or dtype != _DTYPE:
        return f"an array of {found} {dtype} where its index says {shape} {np.dtype(_DTYPE)}"
    if length < start + int(np.prod(shape)) * np.dtype(_DTYPE).itemsize:
        return f"an array cut short ({length} bytes)"
    return None


def _stale(entry, problem):
    """No index: say once why the entry is decoded again."""
    warnings.warn(f"the image cache {entry} does not match its index ({problem}): rebuilding it",
                  stacklevel=4)
    return None


def _build(entry, folder, files, stamp, size, workers, report):
    """Decode every file into the entry's array at `size` px, in `workers` processes (None: one
    per core); write and return its index."""
    names = list(files)
    shape = (len(names), 3, size, size)
    array = f"lab-{stamp[:16]}.npy"         # the same files give the same name and contents
    try:
        private_folder(entry)                   # decoded photos: for their owner's eyes only
        part = temporary_name(entry / array)            # this builder's own
        np.lib.format.open_memmap(part, mode="w+", dtype=_DTYPE, shape=shape)
        os.chmod(part, 0o600)
    except OSError as e:
        raise ColorizerError(f"cannot write the image cache in {entry}: {e.strerror or e} "
                             "(pass --cache-dir DIR or set COLORIZER_CACHE)") from None
    jobs = [(part, start, [(n, str(files[n])) for n in names[start:start + _CHUNK]], size)
            for start in range(0, len(names), _CHUNK)]
    report.say(f"decoding {len(names)} files of {folder} into {entry}")
    try:
        good, bad, resized = _decode_all(jobs, len(names), workers, report)
        report_decoding(folder, len(names), good, bad, resized, size)
        os.replace(part, entry / array)
    finally:
        part.unlink(missing_ok=True)
    index = {"version": VERSION, "folder": str(folder), "size": size, "fingerprint": stamp,
             "array": array, "shape": list(shape),
             "names": [n for _, n in good], "rows": [r for r, _ in good],
             "skipped": bad, "resized": len(resized)}
    write_json(entry / _INDEX, index, private=True)
    _remove_other_arrays(entry, keep=array)
    return index


def _decode_all(jobs, total, workers, report):
    """Run the decoding jobs: sorted (row, name) of the readable images, the unreadable names and
    the resized ones."""
    good, bad, resized = [], [], []
    with report.bar(total=total, desc="cache", unit="img") as bar:
        for rows, names_ok, names_bad, names_resized in _run(jobs, workers):
            good += zip(rows, names_ok)
            bad += names_bad
            resized += names_resized
            bar.update(len(names_ok) + len(names_bad))
    return sorted(good), sorted(bad), sorted(resized)


def _remove_other_arrays(entry, keep):
    """The arrays of the folder's earlier versions (and of older layouts) go: an entry holds one."""
    for old in [*entry.glob("lab-*.npy"), entry / "lab.npy"]:
        if old.name != keep:
            old.unlink(missing_ok=True)


def _run(jobs, workers):
    """Each job's result, from a pool of worker processes (in this process for one worker)."""
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        yield from map(_decode_chunk, jobs)
        return
    # fork where there is one: the workers need no fresh interpreter (nor a second torch import)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ctx.Pool(workers) as pool:
        yield from pool.imap_unordered(_decode_chunk, jobs)


def _decode_chunk(job):
    """Decode one run of files into their rows of the array: (rows, names) of the readable
    ones, the unreadable names, the resized names."""
    part, start, named_paths, size = job
    row = {name: start + i for i, (name, _) in enumerate(named_paths)}
    bad, resized = [], []
    decoded = list(_decode([(n, Path(p)) for n, p in named_paths], size, bad, resized))
    if decoded:
        lab = rgb_to_lab(np.stack([rgb for _, rgb in decoded]), _DTYPE).numpy()
        array = np.load(part, mmap_mode="r+")
        rows = [row[name] for name, _ in decoded]
        array[rows] = lab
        array.flush()
        del array
    return [row[n] for n, _ in decoded], [n for n, _ in decoded], bad, resized

