"""Transfers under injected faults: >= 1,000 in-process (virtual clock) transfers with random
byte corruption, dropped and duplicated frames (up to 20 % of frames each way) and power cuts at
every flash step; zero corrupt commits, every transfer ends in success or a clear error within
its time budget. Kills of a real emulator process over a pty are in test_pty.py."""
import hashlib
import random


from hil import protocol as p
from hil.client import BoardClient
from hil.faults import FaultRates
from hil.link import InProcessLink
from tests.hil.conftest import mask, table

TRANSFERS = 1000


def active_sha(link: InProcessLink, kind: p.Kind):
    """SHA-256 of what the active slot really holds (None if nothing committed)."""
    data = link.board.store.read_active(kind)
    return None if data is None else hashlib.sha256(data).digest()


def test_thousand_transfers_under_faults_never_corrupt_a_slot(tmp_path, small_board):
    rng = random.Random(1234)
    outcomes = {"ok": 0, "error": 0}
    errors = []
    corrupt = 0
    done = 0
    round_index = 0
    while done < TRANSFERS:
        # a new link (fault mix) every 50 transfers: 0..20 % per fault kind and direction
        level = rng.choice([0.0, 0.05, 0.1, 0.2])
        rates = FaultRates(drop=level * rng.random(), duplicate=level * rng.random(),
                           corrupt=level * rng.random())
        link = InProcessLink(str(tmp_path / "flash"), small_board, to_board=rates,
                             to_host=rates, crash_rate=level / 10, reboot_rate=level / 10,
                             seed=round_index)
        client = BoardClient(link, progress=False, retries=8)
        client.hello()
        for _ in range(50):
            kind = rng.choice([p.Kind.THRESHOLDS, p.Kind.MASK])
            artifact = table(done) if kind == p.Kind.THRESHOLDS else mask(done)
            data = artifact.to_bytes()
            old = active_sha(link, kind)
            start = link.clock()
            try:
                client.flash(kind, data)
                outcomes["ok"] += 1
                assert active_sha(link, kind) == hashlib.sha256(data).digest()
            except p.ProtocolError as error:
                outcomes["error"] += 1
                errors.append(str(error))
                assert str(error).startswith("Failed to "), error
            elapsed = link.clock() - start
            # a clear end within the budget (+ the wire time of the one frame in flight)
            assert elapsed <= client.last_budget + client.wire_time(256), (elapsed, client.last_budget)
            now = active_sha(link, kind)
            if now not in (old, hashlib.sha256(data).digest()):
                corrupt += 1
            done += 1
        round_index += 1
    assert corrupt == 0
    assert outcomes["ok"] + outcomes["error"] == TRANSFERS
    # a link this bad still completes nearly everything (the rest are clear errors)
    assert outcomes["ok"] >= 0.95 * TRANSFERS, (outcomes, errors[:5])
    print(outcomes, errors[:3])
