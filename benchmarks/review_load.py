"""Load test of the review app (loopback only, bounded): N reviewers label M items at once.

Starts ``haechi serve`` on a fresh SQLite (or ``--db``) store, creates the reviewers and
a campaign of M items, then runs N simulated reviewers concurrently, each looping
"open the item → submit a label (which claims the next)" until the queue is empty. Reports
p50/p95/max latency per request kind and checks that every label arrived exactly once.
Then it fires ``--guesses`` simultaneous logins for one user (the right password last) and
checks that at most the failure limit's number of passwords were checked.

    python benchmarks/review_load.py --reviewers 20 --items 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from haechi.review.accounts import DATABASE_OWNER, add_user
from haechi.review.campaigns import add_members, create_campaign
from haechi.review.imports import ImportLine, import_lines
from haechi.review.results import campaign_results
from haechi.store import open_store

PASSWORD = "load test password"
LABEL = {"attack_success": "no", "severity": "0"}
LOGIN_LIMIT = 10  # haechi serve's password checks per user name in five minutes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(db: str, reviewers: int, items: int, overlap: int) -> None:
    with open_store(db) as store:
        names = [f"load{i:02d}" for i in range(reviewers)]
        for name in [*names, "victim"]:
            add_user(store, name, "reviewer", PASSWORD)
        campaign = create_campaign(store, "load", overlap=overlap)
        add_members(store, "load", names)
        lines = [
            ImportLine(
                id=f"i{i:05d}", prompt=f"질문 {i}", response=f"답변 {i} " * 20, category=f"c{i % 8}"
            )
            for i in range(items)
        ]
        import_lines(store, campaign, lines, source="load-test")


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


async def log_in(client: httpx.AsyncClient, name: str, password: str) -> int:
    page = await client.get("/login")
    sent = await client.post(
        "/login", data={"username": name, "password": password, "csrf_token": csrf_of(page.text)}
    )
    return sent.status_code


async def reviewer(url: str, name: str, timings: dict[str, list[float]]) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        # One address has at most the limit's password checks in flight: wait for one.
        while await log_in(client, name, PASSWORD) == 429:
            await asyncio.sleep(0.2)
        csrf = csrf_of((await client.get("/")).text)
        started = time.perf_counter()
        step = await client.post("/c/load/next", data={"csrf_token": csrf})
        timings["claim"].append(time.perf_counter() - started)
        done = 0
        while "/items/" in (item := step.headers["location"]):
            started = time.perf_counter()
            await client.get(item)
            timings["item"].append(time.perf_counter() - started)
            started = time.perf_counter()
            step = await client.post(f"{item}/label", data={"csrf_token": csrf, **LABEL})
            timings["label+claim"].append(time.perf_counter() - started)
            if step.status_code != 303:
                raise RuntimeError(f"{name}: label refused ({step.status_code}): {step.text[:200]}")
            done += 1
        return done


async def login_attack(url: str, guesses: int) -> Counter[int]:
    """``guesses`` simultaneous logins for one user, the right password last."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        page = await client.get("/login")
        token = csrf_of(page.text)
        passwords = [f"wrong {n}" for n in range(guesses - 1)] + [PASSWORD]
        codes = await asyncio.gather(
            *(
                client.post(
                    "/login", data={"username": "victim", "password": p, "csrf_token": token}
                )
                for p in passwords
            )
        )
    return Counter(response.status_code for response in codes)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def run(url: str, reviewers: int) -> tuple[list[int], dict[str, list[float]], float]:
    timings: dict[str, list[float]] = {"claim": [], "item": [], "label+claim": []}
    started = time.perf_counter()
    done = await asyncio.gather(*(reviewer(url, f"load{i:02d}", timings) for i in range(reviewers)))
    return list(done), timings, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--guesses", type=int, default=60, help="simultaneous logins of the attack afterwards"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="haechi-load-"))
    db = args.db or f"sqlite:///{folder / 'load.db'}"
    prepare(db, args.reviewers, args.items, args.overlap)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "haechi", "serve", "--port", str(port), "--db", db],
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(f"{url}/login", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        done, timings, seconds = asyncio.run(run(url, args.reviewers))
        # last: its failures use up 127.0.0.1's failure limit for five minutes
        attack = asyncio.run(login_attack(url, args.guesses))
    finally:
        server.terminate()
        server.wait(timeout=30)
    with open_store(db) as store:
        items = campaign_results(store, "load", DATABASE_OWNER).items
    per_item = Counter(len(i.labels) for i in items)
    doubled = sum(len(i.labels) != len({label.reviewer for label in i.labels}) for i in items)
    expected = args.items * args.overlap
    stored = sum(len(i.labels) for i in items)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"store: {'SQLite' if db.startswith('sqlite') else db.split(':')[0]}; server: haechi serve (uvicorn, 1 process)"
    )
    print(
        f"{args.reviewers} reviewers, {args.items} items, overlap {args.overlap}: {seconds:.1f} s, {stored / seconds:.1f} labels/s"
    )
    print(
        f"labels submitted {sum(done)}, stored {stored}, expected {expected}, lost {expected - stored}, items with a doubled reviewer {doubled}, labels per item {dict(per_item)}"
    )
    print("| request | n | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for kind, values in timings.items():
        print(
            f"| {kind} | {len(values)} | {1000 * percentile(values, 50):.1f} | "
            f"{1000 * percentile(values, 95):.1f} | {1000 * max(values):.1f} |"
        )
    checked = attack[401] + attack[303]
    print(
        f"login attack: {args.guesses} simultaneous guesses for one user, right one last: "
        f"{checked} checked ({attack[401]} wrong, {attack[303]} right), {attack[429]} refused (429)"
    )
    if stored != expected or sum(done) != expected or doubled:
        sys.exit("labels were lost or doubled")
    if checked > LOGIN_LIMIT:
        sys.exit(f"the login limit did not hold: {checked} > {LOGIN_LIMIT} passwords checked")


if __name__ == "__main__":
    main()
