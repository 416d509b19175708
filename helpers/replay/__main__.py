"""``python -m helpers.replay``: the replay server in the foreground."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import room
from .config import DEFAULT_PORT, Faults, Latency, Mode, ReplayConfig
from .server import LOOPBACK, serve_forever


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.replay",
        description="Serve the Azure OpenAI REST API from recorded responses.",
    )
    parser.add_argument("--host", help="address to bind (default: loopback; a room must name one)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument(
        "--mode",
        choices=[m.value for m in Mode],
        default=os.environ.get("REPLAY_MODE", Mode.REPLAY.value),
        help="replay: recordings only; lenient: simulate on a miss; record: forward and save",
    )
    parser.add_argument(
        "--recordings",
        type=Path,
        action="append",
        help="recordings file or folder (repeatable; default notebooks/recordings)",
    )
    parser.add_argument("--record-to", type=Path, help="file record mode appends to")
    parser.add_argument("--upstream", help="Azure OpenAI endpoint to forward to (record mode)")
    parser.add_argument("--api-key", help="key clients must present (default $REPLAY_API_KEY)")
    parser.add_argument(
        "--config", type=Path, help="YAML file: deployments, rate_limits, seed (see config.py)"
    )
    parser.add_argument(
        "--rate-limits",
        action="store_true",
        help="enforce each deployment's requests/tokens per minute with 429s",
    )
    parser.add_argument(
        "--latency",
        metavar="TTFT_MS[,PER_TOKEN_MS]",
        help="pace every answer: time to first token, then per token (e.g. 400,15)",
    )
    parser.add_argument(
        "--faults",
        metavar="P[:KIND,...]",
        help="fail each request with probability P (kinds: 500,503,408,429,reset,hang,cut)",
    )
    parser.add_argument(
        "--simulate", type=Path, help="YAML file of simulator settings (same keys as --config)"
    )
    parser.add_argument("--seed", type=int, help="seed for ids and simulated randomness")
    parser.add_argument(
        "--room",
        type=int,
        metavar="N",
        help="a classroom: accept learners 1..N's keys (python -m helpers.replay.room N), "
        "each with its own state and quotas, and refuse the default key",
    )
    parser.add_argument(
        "--room-secret", type=Path, default=room.DEFAULT_SECRET, help="the room's secret file"
    )
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> ReplayConfig:
    """Defaults, then REPLAY_* variables, then the config file, then the flags."""
    config = ReplayConfig.from_env(
        mode=args.mode,
        recordings=args.recordings,
        record_to=args.record_to,
        upstream=args.upstream or os.environ.get("REPLAY_UPSTREAM"),
        api_key=args.api_key,
    )
    if args.config:
        config = config.with_file(args.config)
    if args.simulate:
        config = config.with_file(args.simulate)
    updates: dict[str, object] = {}
    if args.latency:
        first, _, per_token = args.latency.partition(",")
        updates["latency"] = Latency(
            time_to_first_token_ms=float(first), per_token_ms=float(per_token or 0)
        )
    if args.faults:
        probability, _, kinds = args.faults.partition(":")
        spec: dict[str, object] = {"probability": float(probability)}
        if kinds:
            spec["kinds"] = tuple(k.strip() for k in kinds.split(","))
        updates["faults"] = Faults.model_validate(spec)
    if args.rate_limits:
        updates["rate_limits"] = config.rate_limits.model_copy(update={"enforce": True})
    if args.seed is not None:
        updates["seed"] = args.seed
    if args.room is not None:
        if args.room < 1:
            raise ValueError("--room takes the number of learners (1 or more)")
        updates["room_keys"] = room.room_keys(room.read_secret(args.room_secret), args.room)
    return ReplayConfig.model_validate({**config.model_dump(), **updates})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.room is not None and args.host is None:
        print(
            "a room needs an explicit address: --host 0.0.0.0 (every interface) or the address "
            "learners reach (make serve-room ROOM_HOST=...)",
            file=sys.stderr,
        )
        return 2
    host = args.host or LOOPBACK
    try:
        config = build_config(args)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if config.mode.records and not config.upstream:
        print("record mode needs --upstream (or REPLAY_UPSTREAM)", file=sys.stderr)
        return 2
    room_size = f", a room of {len(config.room_keys)} learners" if config.room_keys else ""
    print(
        f"replay server ({config.mode.value}{room_size}) on http://{host}:{args.port}; "
        f"deployments: {', '.join(sorted(config.deployments))}",
        flush=True,
    )
    serve_forever(config, host, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
