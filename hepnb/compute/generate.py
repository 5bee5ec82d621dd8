"""The skeleton every generator command shares (``hepnb pid generate``, ``tracks generate``, ``tau generate``).

A generator command checks everything it can before any work, then makes its table in seeded chunks on a
Dask cluster and writes it:

1. the output path (:func:`hepnb.paths.check_output`: suffix, writable, none of the inputs);
2. the size of the table against :data:`SIZE_LIMIT_BYTES`, the memory and the disks (:func:`check_size`,
   ``--yes`` to override);
3. the chunk cache (``--cache-dir``, or a temporary folder removed afterwards) and the cluster
   (``--scheduler``/``$HEPNB_SCHEDULER``, else a local cluster of ``--workers`` processes, at most one per
   chunk). The cache outlives the cluster: on Ctrl-C or SIGTERM the workers stop before the cache is removed;
4. the study's generator, in chunks;
5. the rows of the result that are NaN/inf, named, before anything is written
   (:func:`hepnb.io.check_finite_rows`);
6. the study's writer (atomic: a temporary name, then a rename).

A study's ``cli.py`` describes its generator with a :class:`GeneratorSpec` and calls :func:`generate_file`
with the parsed arguments of :func:`add_chunk_arguments` and ``--output``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hepnb.arguments import positive_int
from hepnb.compute.chunks import cache_root
from hepnb.compute.client import add_cluster_arguments, dask_client, local_workers
from hepnb.io import check_finite_rows
from hepnb.paths import check_output

if TYPE_CHECKING:
    import argparse

__all__ = ["SIZE_LIMIT_BYTES", "GeneratorSpec", "add_chunk_arguments", "add_size_argument", "check_folders",
           "check_size", "generate_file"]

#: The largest table a generator command makes without ``--yes``: 8 GiB, some 15-40 times the ``full`` profiles'
#: samples (PID 1.2 M tracks ≈ 0.27 GB, tracks 2.3 M ≈ 0.22 GB, tau 270 k events ≈ 0.5 GB).
SIZE_LIMIT_BYTES = 8 * 2**30


@dataclass(frozen=True)
class GeneratorSpec:
    """What a generator command makes, and how.

    Attributes
    ----------
    name
        The study's short name, for the temporary cache folder (``hepnb-<name>-…``).
    n_rows
        Rows (tracks, events) asked for, for the size estimate.
    row_bytes
        Bytes per row in memory, measured for the study's table.
    what
        The command's options and unit, for the size message (``"--n 1000 tracks"``).
    n_chunks
        Chunks the table is made of: the local cluster has at most this many workers.
    make
        ``make(cache, client) -> table``: the study's chunked generator, given the cache folder and the Dask
        client (``None``: in this process).
    write
        ``write(output, table) -> path``: the study's writer.
    finite_rows
        What the rows are, for :func:`hepnb.io.check_finite_rows` (``"simulated tracks"``); ``""`` for a
        table that is not flat columns (the tau jets), which is not checked.
    inputs
        Files the command reads (a field map): the output may not be any of them.
    """

    name: str
    n_rows: int
    row_bytes: float
    what: str
    n_chunks: int
    make: Callable[[Path, Any], Any]
    write: Callable[[Path, Any], Path]
    finite_rows: str = ""
    inputs: Sequence[str | os.PathLike[str]] = ()


def generate_file(args: argparse.Namespace, spec: GeneratorSpec) -> tuple[Path, Any]:
    """Check, generate in chunks, check the rows and write: the body of every generator command.

    Parameters
    ----------
    args
        The parsed arguments; it reads ``output``, ``yes``, ``cache_dir``, ``scheduler`` and ``workers``
        (``--output`` and :func:`add_chunk_arguments`).
    spec
        The study's generator.

    Returns
    -------
    (pathlib.Path, table)
        The file written, and the table (for the command's summary line).

    Raises
    ------
    ValueError
        A bad output path, a table too large without ``--yes``, or rows that are NaN/inf (nothing is written).
    """
    check_output(args.output, inputs=spec.inputs)
    check_folders(args.output, {"--cache-dir": args.cache_dir, "--hepmc-dir": getattr(args, "hepmc_dir", None)},
                  inputs=spec.inputs)
    check_size(spec.n_rows, spec.row_bytes, what=spec.what, yes=args.yes, output=args.output,
               cache_dir=args.cache_dir)
    with (cache_root(args.cache_dir, prefix=f"hepnb-{spec.name}-") as cache,
          dask_client(args.scheduler, workers=local_workers(args.workers, spec.n_chunks)) as client):
        table = spec.make(cache, client)
    if spec.finite_rows:
        check_finite_rows(table, what=spec.finite_rows)
    return spec.write(args.output, table), table


def check_folders(output: str | os.PathLike[str], folders: dict[str, str | os.PathLike[str] | None], *,
                  inputs: Sequence[str | os.PathLike[str]] = ()) -> None:
    """Refuse, before any work, a working folder (``--cache-dir``, ``--hepmc-dir``) that is the output file, holds
    it as a folder would, lies inside an input, or is an existing file.

    Raises
    ------
    ValueError
        Naming the option, the folder and the clash.
    """
    out = Path(output).resolve()
    for option, folder in folders.items():
        if folder is None:
            continue
        place = Path(folder).resolve()
        if place == out or out in place.parents:
            msg = f"{option} {folder} is (or lies inside) the output file {output}: choose another folder"
            raise ValueError(msg)
        if place.exists() and not place.is_dir():
            msg = f"{option} {folder} is an existing file, expected a folder"
            raise ValueError(msg)
        for source in inputs:
            src = Path(source).resolve()
            if place == src or src in place.parents:
                msg = f"{option} {folder} lies inside the input {source}: choose another folder"
                raise ValueError(msg)


def _size_text(n_bytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes / 1e3:.3g} kB"


def _free_bytes(path: Path) -> tuple[Path, int]:
    folder = path.absolute()
    while not folder.exists():
        folder = folder.parent
    return folder, shutil.disk_usage(folder).free


def check_size(
    n_rows: int,
    row_bytes: float,
    *,
    what: str,
    yes: bool = False,
    output: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    limit_bytes: int = SIZE_LIMIT_BYTES,
) -> int:
    """Estimate a generated table's size and refuse it, before any work, if it is too large (unless ``yes``).

    The table is about ``n_rows * row_bytes`` bytes; it is refused when that exceeds ``limit_bytes``
    (:data:`SIZE_LIMIT_BYTES`), when twice that (the chunks and the joined table) exceeds the memory available,
    or when the output's (and the chunk cache's) file system has less free space than the table needs.

    Parameters
    ----------
    n_rows
        Rows (tracks, events) asked for.
    row_bytes
        Bytes per row in memory, measured for the study's table.
    what
        The command's option and unit for the message, e.g. ``"--n 1000000000000 tracks"``.
    yes
        ``--yes``: start anyway.
    output, cache_dir
        The output file and the chunk cache (``None``: a temporary folder), whose file systems must hold it.
    limit_bytes
        The limit.

    Returns
    -------
    int
        The estimate in bytes.

    Raises
    ------
    ValueError
        Naming the estimate, each limit it breaks, and ``--yes``.
    """
    import psutil

    estimate = int(n_rows * row_bytes)
    problems = []
    if estimate > limit_bytes:
        problems.append(f"above the limit of {_size_text(limit_bytes)} for a generated table")
    available = psutil.virtual_memory().available
    if 2 * estimate > available:
        problems.append(f"the chunks and the joined table need about {_size_text(2 * estimate)} of memory, "
                        f"{_size_text(available)} is available")
    need: dict[int, tuple[Path, int, int]] = {}
    for place in (output, cache_dir if cache_dir is not None else tempfile.gettempdir()):
        if place is None:
            continue
        folder, free = _free_bytes(Path(place))
        device = folder.stat().st_dev
        _, _, have_need = need.get(device, (folder, free, 0))
        need[device] = (folder, free, have_need + estimate)
    for folder, free, needed in need.values():
        if needed > free:
            problems.append(f"{folder} has {_size_text(free)} free, {_size_text(needed)} is needed")
    if problems and not yes:
        msg = (f"{what} make a table of about {_size_text(estimate)}: {'; '.join(problems)}; nothing was started. "
               f"Ask for fewer, or pass --yes to start anyway")
        raise ValueError(msg)
    return estimate


def add_chunk_arguments(parser: argparse.ArgumentParser, *, unit: str, per_chunk: int) -> None:
    """Add the options of a chunked generator command: ``--<unit>-per-chunk``, ``--cache-dir``, ``--yes``
    (:func:`check_size`), and the cluster's ``--scheduler``/``--workers``
    (:func:`hepnb.compute.client.add_cluster_arguments`).

    Parameters
    ----------
    parser
        The command's parser.
    unit
        What a chunk counts (``"tracks"``, ``"events"``): the option is ``--<unit>-per-chunk``.
    per_chunk
        Its default.
    """
    parser.add_argument(f"--{unit}-per-chunk", type=positive_int, default=per_chunk,
                        help=f"{unit} per chunk (one task, one file)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="chunk cache, shared by the workers of a remote scheduler (default: a temporary folder)")
    add_size_argument(parser)
    add_cluster_arguments(parser)


def add_size_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--yes`` to a generator command: start even a table that :func:`check_size` refuses."""
    parser.add_argument("--yes", action="store_true",
                        help=f"generate even a table above {_size_text(SIZE_LIMIT_BYTES)} or above the memory or "
                             "disk space available (refused otherwise)")
