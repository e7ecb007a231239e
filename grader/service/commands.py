"""The service's commands: `bptt-grade serve` and `bptt-grade token create|import`.
Each is called by grader.cli only once the `service` extra is known to be installed."""
import csv
import io
import sys
from pathlib import Path

from grader.errors import EXIT_PASSED, UsageError

ROSTER_HEADERS = ("student", "name", "id")


def _store(args):
    from grader.service.store import Store, database_url
    Path(args.data).mkdir(parents=True, exist_ok=True)
    return Store.open(database_url(Path(args.data), args.database))


def cmd_serve(args) -> int:
    import importlib.util

    import uvicorn

    from grader.service.app import Settings, create_app
    if args.scheduler is not None:
        from grader.batch import INSTALL_DISTRIBUTED
        if importlib.util.find_spec("distributed") is None:
            raise UsageError(f"--scheduler needs Dask distributed: {INSTALL_DISTRIBUTED}")
        from grader.cluster import check_address
        check_address(args.scheduler)
    store = _store(args)
    try:
        first = not store.has_instructor()
        token = store.create_token("instructor", "instructor") if first else None
    finally:
        store.close()
    settings = Settings(Path(args.data), args.database, args.workers, args.max_upload_kb, args.rate_limit,
                        args.policy, scheduler=args.scheduler)
    host = f"[{args.host}]" if ":" in args.host else args.host
    if token:
        print(f"bptt-grade serve: the first instructor token was created; log in at\n"
              f"    http://{host}:{args.port}/login?token={token}\n"
              "(keep it secret; `bptt-grade token create` makes more)", flush=True)
    else:
        print(f"bptt-grade serve: http://{host}:{args.port}/ (log in with your token)", flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, access_log=False, log_level="warning",
                timeout_graceful_shutdown=60)
    return EXIT_PASSED


def cmd_token_create(args) -> int:
    store = _store(args)
    try:
        token = store.create_token(args.name, args.role)
    finally:
        store.close()
    print(token)
    print(f"bptt-grade: a {args.role} token for {args.name!r}; it is shown only this once", file=sys.stderr)
    return EXIT_PASSED


def roster_names(text: str) -> list[str]:
    """The first column of each non-empty line; a first line headed student, name or id is skipped."""
    rows = [row for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    if rows and rows[0][0].strip().lower() in ROSTER_HEADERS:
        rows = rows[1:]
    names = [row[0].strip() for row in rows]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"the roster names {', '.join(map(repr, repeated))} more than once; keep one line each")
    return names


def cmd_token_import(args) -> int:
    try:
        text = Path(args.roster).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read the roster {args.roster}: {error}") from None
    names = roster_names(text)
    store = _store(args)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["student", "token"])
    try:
        for name in names:
            out.writerow([name, store.create_token(name, "student")])
    finally:
        store.close()
    print(f"bptt-grade: {len(names)} student tokens; they are shown only this once", file=sys.stderr)
    return EXIT_PASSED
