"""The skeleton every generator command shares (``hepnb pid generate``, ``tracks generate``, ``tau generate``).

A generator command checks everything it can before any work, then makes its table in seeded chunks on a
Dask cluster and writes it:

1. the output path (:func:`hepnb.paths.check_output`: suffix, writable, none of the inputs);
2. the size of the table against the limit, the memory and the disks (:func:`hepnb.compute.chunks.check_size`,
   ``--yes`` to override);
3. the chunk cache (``--cache-dir``, or a temporary folder removed afterwards) and the cluster
   (``--scheduler``/``$HEPNB_SCHEDULER``, else a local cluster of ``--workers`` processes, at most one per
   chunk). The cache outlives the cluster: on Ctrl-C or SIGTERM the workers stop before the cache is removed;
4. the study's generator, in chunks;
5. the rows of the result that are NaN/inf, named, before anything is written
   (:func:`hepnb.io.check_finite_rows`);
6. the study's writer (atomic: a temporary name, then a rename).

A study's ``cli.py`` describes its generator with a :class:`GeneratorSpec` and calls :func:`generate_file`
with the parsed arguments of :func:`hepnb.compute.chunks.add_chunk_arguments` and ``--output``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hepnb.compute.chunks import cache_root, check_size
from hepnb.compute.client import dask_client, local_workers
from hepnb.io import check_finite_rows
from hepnb.paths import check_output

if TYPE_CHECKING:
    import argparse

__all__ = ["GeneratorSpec", "generate_file"]


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
        (``--output`` and :func:`hepnb.compute.chunks.add_chunk_arguments`).
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
    check_size(spec.n_rows, spec.row_bytes, what=spec.what, yes=args.yes, output=args.output,
               cache_dir=args.cache_dir)
    with (cache_root(args.cache_dir, prefix=f"hepnb-{spec.name}-") as cache,
          dask_client(args.scheduler, workers=local_workers(args.workers, spec.n_chunks)) as client):
        table = spec.make(cache, client)
    if spec.finite_rows:
        check_finite_rows(table, what=spec.finite_rows)
    return spec.write(args.output, table), table
