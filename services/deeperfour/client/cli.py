"""`deeperfour submit | status | watch | download | cancel`: the SDK on the command line.

The lead's cli.py calls `add_client_commands(subparsers)`; each command sets `args.func(args) -> int` and raises
DeeperFourError for problems meant for people.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from deeperfour.errors import DeeperFourError
from deeperfour.pipeline import table


def add_client_commands(subparsers) -> None:
    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--address",
            default=None,
            help="gateway host:port (default $DEEPERFOUR_GATEWAY_ADDRESS or 127.0.0.1:$DEEPERFOUR_GATEWAY_PORT)",
        )
        p.add_argument("--token", default=None, help="gateway token (default $DEEPERFOUR_GATEWAY_TOKEN)")
        p.add_argument(
            "--ca-file",
            default=None,
            help="PEM certificate(s) of the CA that signed a TLS gateway's certificate; implies --tls "
            "(default $DEEPERFOUR_GATEWAY_CA_FILE)",
        )
        p.add_argument(
            "--tls",
            action="store_true",
            default=None,
            help="connect with TLS, trusting the system's CAs (default $DEEPERFOUR_GATEWAY_TLS)",
        )
        p.add_argument(
            "--tls-server-name",
            default=None,
            help="the name in the gateway's certificate when it differs from the address's host, e.g. through "
            "kubectl port-forward (default $DEEPERFOUR_GATEWAY_TLS_SERVER_NAME)",
        )
        return p

    p = common(subparsers.add_parser("submit", help="send films to the distributed stack, one job per film"))
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="local films, folders (searched recursively), .txt files listing paths, or s3://<bucket>/<key> of an "
        "object in the stack's bucket",
    )
    p.add_argument("--stages", default=",".join(table.DEFAULT), help="comma-separated stages, in order")
    p.add_argument("--chunk-frames", type=int, default=0, help="frames per chunk (0: the orchestrator's default)")
    p.add_argument("--format", default="", help="output container (mp4, mkv, mov, ...)")
    p.add_argument("--wait", action="store_true", help="wait for the jobs, with a progress bar")
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="wait and download: the film here for one input; for several, into this folder (a folder's tree mirrored)",
    )
    p.set_defaults(func=_submit)

    p = common(subparsers.add_parser("status", help="show a job, or without an id the recent jobs with progress"))
    p.add_argument("job_id", nargs="?")
    p.add_argument("--limit", type=int, default=20, help="without an id: how many recent jobs (default: %(default)s)")
    p.add_argument("--all", action="store_true", help="without an id: every job the gateway holds")
    p.set_defaults(func=_status)

    p = common(subparsers.add_parser("watch", help="follow a job's progress until it ends"))
    p.add_argument("job_id")
    p.set_defaults(func=_watch)

    p = common(subparsers.add_parser("download", help="download a finished job's film"))
    p.add_argument("job_id")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_download)

    p = common(subparsers.add_parser("cancel", help="cancel a job"))
    p.add_argument("job_id")
    p.set_defaults(func=_cancel)


def _client(args):
    from deeperfour.client import Client

    return Client(
        args.address, token=args.token, tls=args.tls, ca_file=args.ca_file, tls_server_name=args.tls_server_name
    )


def _line(job) -> str:
    from deeperfour.distributed.jobs import state_name

    text = f"{job.job_id}  {state_name(job.state):9}  {job.chunks_done}/{job.chunks_total} chunks  {job.input_name}"
    if job.output_key:
        text += f"  -> {job.output_key}"
    if job.error:
        text += f"  error: {job.error}"
    return text


def _submit(args) -> int:
    """One job per film; one table of job ids. Inputs that cannot be sent are reported and the others go."""
    from deeperfour.pipeline import batch

    targets: list[tuple[str, batch.Found]] = []  # (what is sent, where it came from)
    for name in args.inputs:
        if name.startswith("s3://"):
            key_name = Path(name.rsplit("/", 1)[-1])
            targets.append((name, batch.Found(key_name, key_name)))
        else:
            targets += [(str(f.path), f) for f in batch.find([name])]
    if not targets:
        raise DeeperFourError(f"no film found in {', '.join(args.inputs)}")
    several = len(targets) > 1 or any(Path(i).is_dir() or i.endswith(batch.LIST_SUFFIX) for i in args.inputs)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    rows: list[tuple[str, str, str]] = []  # (input, job id, why none)
    jobs = []
    with _client(args) as client:
        for source, f in targets:
            photo = "a photo: the stack takes films (deeperfour modernize does photos)" if f.kind == "photo" else ""
            if not several and (f.problem or photo):
                raise DeeperFourError(f.problem or f"{source}: {photo}")
            if f.problem:
                rows.append((source, "", f"not sent: {f.problem}"))
                continue
            if photo:  # a folder's photos: passed over, not a failure
                rows.append((source, "", f"skipped: {photo}"))
                continue
            try:
                job = client.submit(source, stages=stages, chunk_frames=args.chunk_frames, output_format=args.format)
            except DeeperFourError as e:
                if not several or _gateway_down(e):  # the same for every film: said once
                    raise
                rows.append((source, "", f"not sent: {e}"))
                continue
            rows.append((source, job.id, ""))
            jobs.append((f, job))
        if not several:
            print(jobs[0][1].id)
        else:
            print(_table(("file", "job id"), [(r[0], r[1] or r[2]) for r in rows]))
        if args.wait or args.output:
            for f, job in jobs:
                job.wait(progress=True)
                if args.output:
                    print(job.download(_download_path(args.output, f, job, several)))
    return 1 if any(r[2].startswith("not sent") for r in rows) else 0


def _gateway_down(e: DeeperFourError) -> bool:
    """Unreachable or refusing the token (client/sdk.py's messages): no film can be sent."""
    return "is unreachable" in str(e) or "refused the call" in str(e)


def _download_path(output: str, f, job, several: bool) -> Path:
    """-o itself for one film; for several, the film's place in the mirrored tree under the folder -o."""
    if not several:
        return Path(output)
    ext = Path(job.info.output_key).suffix or f.path.suffix
    path = Path(output) / f.rel.with_suffix(ext)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _status(args) -> int:
    with _client(args) as client:
        if args.job_id:
            print(_line(client.job(args.job_id).info))
            return 0
        jobs = sorted(client.jobs(), key=lambda j: j.created_unix_ms, reverse=True)
        shown = jobs if args.all else jobs[: max(1, args.limit)]
        if not shown:
            print("no jobs")
            return 0
        now = time.time() * 1000
        rows = [_status_row(job, now) for job in shown]
        print(_table(("job id", "state", "progress", "frames", "submitted", "input"), rows))
        if len(shown) < len(jobs):
            print(f"{len(shown)} most recent of {len(jobs)} jobs (--all lists every one)")
    return 0


def _status_row(job, now_ms: float) -> tuple[str, ...]:
    from deeperfour.distributed.jobs import state_name

    done, total = job.chunks_done, job.chunks_total
    progress = f"{100 * done // total}% ({done}/{total} chunks)" if total else "-"
    name = job.input_name + (f"  error: {job.error}" if job.error else "")
    return (job.job_id, state_name(job.state), progress, str(job.frames_total or "-"), _ago(now_ms, job), name)


def _ago(now_ms: float, job) -> str:
    seconds = max(0, (now_ms - job.created_unix_ms) / 1000)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _table(head: tuple[str, ...], rows: list) -> str:
    widths = [max(len(str(r[k])) for r in [head, *rows]) for k in range(len(head))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip() for r in [head, *rows])


def _watch(args) -> int:
    from deeperfour.distributed.jobs import state_name

    with _client(args) as client:
        job = client.job(args.job_id)
        for event in job.watch():
            print(
                f"{state_name(event.state):9}  {event.chunks_done}/{event.chunks_total} chunks"
                + (f"  {event.message}" if event.message else ""),
                flush=True,
            )
        job.wait()
    return 0


def _download(args) -> int:
    with _client(args) as client:
        print(client.job(args.job_id).download(args.output))
    return 0


def _cancel(args) -> int:
    with _client(args) as client:
        print(_line(client.job(args.job_id).cancel().info))
    return 0
