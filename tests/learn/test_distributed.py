"""torchrun: two CPU ranks (gloo) train one camera on their own shards and stay in lock-step.

Each rank sees a different half of the training images, so the ranks' parameters agree at the
end only if every optimiser step used the gradient averaged over both ranks.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

RANK_SCRIPT = textwrap.dedent("""
    import os, sys
    import torch
    torch.set_num_threads(1)
    from learn import runs
    from learn.alternating import world

    out = sys.argv[1]
    config = runs.load_run_config(os.path.join(out, "config_in.json"))
    result = runs.train(config, os.path.join(out, "run"), progress=False)
    rank, size = world()
    trainer = result.trainer
    state = {"world_size": size,
             "faces": int(trainer.data.faces.shape[0]),
             "camera": trainer.camera.state_dict(),
             "recogniser": trainer.recogniser.state_dict(),
             "detector": trainer.detector.state_dict()}
    torch.save(state, os.path.join(out, f"rank{rank}.pt"))
""")


def _torchrun() -> "list[str] | None":
    path = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    return [path] if path else None


@pytest.mark.skipif(not torch.distributed.is_available() or not _torchrun(),
                    reason="torch.distributed / torchrun not available")
def test_two_ranks_stay_in_lock_step(tmp_path: Path):
    from learn import runs

    config = runs.smoke_config(alternations=1)
    (tmp_path / "config_in.json").write_text(json.dumps(config.to_dict()))
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(_torchrun() + ["--standalone", "--nproc_per_node", "2", str(script),
                                         str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [state["world_size"] for state in ranks] == [2, 2]
    single = runs._training_data(config, torch.device("cpu"), 0, 1).faces.shape[0]
    assert [state["faces"] for state in ranks] == [-(-single // 2)] * 2   # equal shards
    assert ranks[0]["faces"] < single
    for part in ("camera", "recogniser", "detector"):
        for key, value in ranks[0][part].items():
            torch.testing.assert_close(ranks[1][part][key], value, rtol=1e-5, atol=1e-6,
                                       msg=lambda m: f"{part}.{key} differs between ranks: {m}")
    assert (tmp_path / "run" / "design" / "design.json").exists()   # rank 0 wrote the bundle
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 1
