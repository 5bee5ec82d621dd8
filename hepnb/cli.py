"""The ``hepnb`` command: list, run, book, lab (and the studies' own subcommands)."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from hepnb.arguments import ip_address, port_number
from hepnb.book.registry import (
    PROFILES,
    RUNNER_PARAMETERS,
    ParameterError,
    StudyError,
    broken_studies,
    coerce_cli_value,
    get_study,
    list_studies,
)
from hepnb.compute.client import SchedulerError, add_cluster_arguments
from hepnb.compute.local import StartError

__all__ = ["main"]

#: Study families with commands of their own: ``hepnb.<family>.cli`` has ``HELP`` and ``COMMANDS`` (each adds one command to the family's subparsers).
FAMILIES: tuple[str, ...] = ("pid", "tracks", "tau")
KERNEL_NAME = "hepnb"


#: Exit status of a command stopped by SIGINT (Ctrl-C) or SIGTERM: 128 + the signal number, as a shell reports.
EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that a terminated command cleans up exactly as one stopped by
    Ctrl-C (temporary folders, staging folders, partial notebooks, local clusters)."""


def _cmd_list(args: argparse.Namespace) -> int:
    for name, study in list_studies().items():
        print(f"{name}  ({study.notebook.name})  {study.title}")
        profiles = [p for p in PROFILES if p == "default" or study.profile_file(p).is_file()]
        print(f"  profiles: {', '.join(profiles)}")
        for param in study.parameters.values():
            line = f"    {param.name}: {param.type_name} = {param.default!r}"
            if param.name in RUNNER_PARAMETERS:
                line += "  [set by hepnb run]"
            elif param.allowed.declared:
                line += f"  [{param.allowed}]"
            print(line + (f"  # {param.help}" if param.help else ""))
    for name, reason in broken_studies().items():
        print(f"{name}  (cannot be loaded)  {reason}")
    return 0


def _overrides(study_name: str, pairs: Sequence[Sequence[str]]) -> dict[str, object]:
    study = get_study(study_name)
    seen: dict[str, str] = {}
    for name, value in pairs:
        if name in seen:
            msg = f"parameter {name!r} is given twice with -p ({seen[name]!r} and {value!r}): give it once"
            raise ParameterError(msg)
        seen[name] = value
    return {name: coerce_cli_value(study, name, value) for name, value in pairs}


def _cmd_run(args: argparse.Namespace) -> int:
    from hepnb.book.runner import run_study

    overrides = _overrides(args.study, args.param)
    result = run_study(args.study, args.profile, overrides, output_dir=args.output,
                       results_dir=args.results_dir, log_output=args.log_output, scheduler=args.scheduler)
    print(f"executed notebook: {result.notebook}")
    print(f"results: {result.results / 'results.json'}  ({result.duration_s:.0f} s)")
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from hepnb.book.runner import run_many
    from hepnb.book.site import build_book

    if args.no_run and args.scheduler:
        msg = "--scheduler has nothing to do with --no-run (no notebook is executed); drop one of them"
        raise ValueError(msg)
    if not args.no_run:
        run_many([*list_studies(), *broken_studies()], args.profile or "default", jobs=args.jobs,
                 results_dir=args.results_dir, scheduler=args.scheduler)
    # --no-run without --profile builds at the profile of the executed notebooks present
    profile = args.profile or (None if args.no_run else "default")
    index = build_book(clean=args.clean, results_dir=args.results_dir, profile=profile)
    print(f"book built: {index}")
    return 0


def _cmd_lab(args: argparse.Namespace) -> int:
    from hepnb.book.registry import notebooks_dir

    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL_NAME,
                    "--display-name", "Python (hepnb)"], check=True, capture_output=True)
    cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks_dir()}",
           f"--ServerApp.ip={args.ip}", f"--ServerApp.port={args.port}", "--ServerApp.port_retries=0",
           f"--ServerApp.open_browser={'True' if args.browser else 'False'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI run as root
        cmd.append("--allow-root")
    if args.token is not None:
        cmd.append(f"--IdentityProvider.token={args.token}")
    os.execv(sys.executable, cmd)
    return 0  # pragma: no cover - execv does not return


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hepnb", description="The hepnb analysis book: run studies, build the book.")
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of an unexpected error (also: {DEBUG_ENV}=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    p_list = sub.add_parser("list", help="studies, their parameters (from the notebooks) and profiles")
    p_list.set_defaults(func=_cmd_list)

    p_run = sub.add_parser("run", help="execute one study notebook with papermill")
    p_run.add_argument("study", help="study name (see `hepnb list`)")
    p_run.add_argument("--profile", default="default", choices=PROFILES)
    p_run.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                       help="override a parameter (typed as YAML: 3, 0.5, true, [1, 2]; strings as-is)")
    p_run.add_argument("--output", type=Path, default=None, help="folder of the executed notebook (default: book/executed)")
    p_run.add_argument("--results-dir", type=Path, default=None, help="root of the results tree (default: results/)")
    p_run.add_argument("--log-output", action="store_true", help="stream cell output to the terminal")
    add_cluster_arguments(p_run, workers=False)
    p_run.set_defaults(func=_cmd_run)

    p_book = sub.add_parser("book", help="run every study (bounded pool), then build the HTML book")
    p_book.add_argument("--profile", default=None, choices=PROFILES,
                        help="profile to run and build at (default: default; with --no-run, that of the pages)")
    p_book.add_argument("--jobs", type=int, default=1, help="studies executed at once")
    p_book.add_argument("--no-run", action="store_true", help="only build, from the executed notebooks present")
    p_book.add_argument("--clean", action="store_true", help="remove _build first")
    p_book.add_argument("--results-dir", type=Path, default=None)
    add_cluster_arguments(p_book, workers=False)
    p_book.set_defaults(func=_cmd_book)

    p_lab = sub.add_parser("lab", help="JupyterLab on notebooks/ with the hepnb kernel registered")
    p_lab.add_argument("--port", type=port_number, default=8888, help="TCP port (1 to 65535; default 8888)")
    p_lab.add_argument("--ip", type=ip_address, default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p_lab.add_argument("--token", default=None, help="server token (default: a random one)")
    p_lab.add_argument("--browser", action="store_true", help="open a browser")
    p_lab.set_defaults(func=_cmd_lab)

    for family in FAMILIES:
        try:
            module = importlib.import_module(f"hepnb.{family}.cli")
        except ModuleNotFoundError as err:
            if err.name != f"hepnb.{family}.cli":
                raise
            continue
        family_parser = sub.add_parser(family, help=module.HELP)
        commands = family_parser.add_subparsers(dest=f"{family}_command", required=True)
        for add_command in module.COMMANDS:
            add_command(commands)
    return parser


#: Environment variable that, set to anything but 0, shows the traceback of an unexpected error (as ``--debug``).
DEBUG_ENV = "HEPNB_DEBUG"
#: Dask's configuration of its loggers' level, as an environment variable (read by the workers too).
DASK_LOG_ENV = "DASK_LOGGING__DISTRIBUTED"
#: Longest message of a refused input (a 580 MB "one-line" message was possible before).
MESSAGE_LIMIT = 1000
#: Longest message of a failed run (it quotes the failing cell's error).
RUN_MESSAGE_LIMIT = 4000


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    del frame
    signal.signal(signum, signal.SIG_IGN)  # a second SIGTERM does not interrupt the clean-up of the first
    raise Terminated


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block, SIGTERM raises :class:`Terminated` in the main thread (as SIGINT raises
    ``KeyboardInterrupt``), so that every ``finally`` and context manager on the way out runs."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (main() called from a thread): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hepnb`` console script; returns the exit status.

    Exit status: 0 on success, 2 for input refused before any work (a bad parameter, path, file or scheduler),
    1 for a failure during the work (a notebook that raised, a disk that is full), 130 after Ctrl-C and 143 after
    SIGTERM (both clean up what the command had started: temporary and staging folders, partial files).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    if not debug:  # Dask's own log lines (worker restarts, closed connections) would bury the one-line message
        os.environ.setdefault(DASK_LOG_ENV, "critical")
    try:
        with _sigterm_as_interrupt():
            return int(args.func(args))
    except (StudyError, ParameterError, SchedulerError, StartError, FileNotFoundError, ValueError) as err:
        print(f"hepnb: error: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as err:  # RunError, BookError; a full disk, a permission refused
        print(f"hepnb: error: {_one_line(str(err), RUN_MESSAGE_LIMIT)}", file=sys.stderr)
        return 1
    except MemoryError as err:
        print(f"hepnb: error: out of memory{f' ({err})' if str(err) else ''}; try a smaller sample", file=sys.stderr)
        return 1
    except Terminated:
        print("hepnb: terminated (SIGTERM); temporary files were removed", file=sys.stderr)
        return EXIT_SIGTERM
    except KeyboardInterrupt:
        print("hepnb: interrupted; temporary files were removed", file=sys.stderr)
        return EXIT_SIGINT
    except Exception as err:  # the boundary: one line, a traceback only when asked for
        if debug:
            raise
        print(f"hepnb: error: unexpected {type(err).__name__}: {_one_line(str(err))} (run with --debug for the "
              "traceback)", file=sys.stderr)
        return 1


def _one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """A message in one line of at most ``limit`` characters (whitespace runs joined, the middle cut)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    keep = (limit - 5) // 2
    return f"{flat[:keep]} […] {flat[-keep:]}"


if __name__ == "__main__":
    sys.exit(main())
