"""The batch ladder stops at the engine's own default maximum unless --max-batch lifts it."""

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.profile import engine
from planner.serving.scenario import Scenario
from planner.serving.space import DEFAULT_MAX_BATCH, default_space
from planner.serving.workload import Workload

CAT = Catalogue()


def _scenario(engine_name):
    return Scenario(CAT.hardware("hgx-h200"), model("llama-3.1-8b"), Workload(isl=1024, osl=256),
                    engine(engine_name))


def test_engine_defaults_cap_the_batch_ladder():
    # vLLM's max_num_seqs is 1024 on >= 70 GiB GPUs; TensorRT-LLM's max_batch_size 2048
    # (planner/engine/data/*.toml [sources]); SGLang and the default profile have no fixed cap.
    assert max(default_space(_scenario("vllm")).batch) == 1024
    assert max(default_space(_scenario("trtllm")).batch) == 2048
    assert max(default_space(_scenario("sglang")).batch) == DEFAULT_MAX_BATCH == 4096
    assert max(default_space(_scenario("default")).batch) == 4096


def test_max_batch_lifts_the_engine_cap():
    # A what-if past the engine's default (vLLM started with --max-num-seqs 4096).
    assert max(default_space(_scenario("vllm"), max_batch=4096).batch) == 4096
    assert max(default_space(_scenario("vllm"), max_batch=64).batch) == 64
